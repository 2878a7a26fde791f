//! `NAME:TAG` image references, parsed one way everywhere: the CLI's `--image`, Python's
//! `images=`, `spec.images` entries of `manifest.yaml`, and the operator image.

use std::fmt;
use std::str::FromStr;

/// An image of a Solution named by repository and tag, e.g. `base-server:1.0.2`.
///
/// Parsed at the *last* colon, as container tools do (a tag never holds a colon; a name
/// may, before a `/`, in a registry's `host:port`); both sides must be non-empty and the tag
/// must not hold a `/`.
///
/// ```
/// use iso_core::solution::ImageRef;
/// let r: ImageRef = "base-server:1.0.2".parse().unwrap();
/// assert_eq!((r.name.as_str(), r.tag.as_str()), ("base-server", "1.0.2"));
/// assert_eq!(r.to_string(), "base-server:1.0.2");
/// assert!("base-server".parse::<ImageRef>().is_err());
/// assert!(":1.0".parse::<ImageRef>().is_err());
/// let r: ImageRef = "registry:5000/app:v1".parse().unwrap();
/// assert_eq!(r.name, "registry:5000/app");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ImageRef {
    /// The repository name (`images/<name>/` in the archive).
    pub name: String,
    /// The tag (`images/<name>/<tag>/`).
    pub tag: String,
}

impl ImageRef {
    /// A reference from its two parts (not checked).
    pub fn new(name: impl Into<String>, tag: impl Into<String>) -> Self {
        ImageRef {
            name: name.into(),
            tag: tag.into(),
        }
    }

    /// Whether this names `name` and `tag`.
    pub fn is(&self, name: &str, tag: &str) -> bool {
        self.name == name && self.tag == tag
    }
}

/// A string that is not `NAME:TAG`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not \"NAME:TAG\"")]
pub struct BadImageRef(pub String);

impl FromStr for ImageRef {
    type Err = BadImageRef;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.rsplit_once(':')
            .filter(|(n, t)| !n.is_empty() && !t.is_empty() && !t.contains('/'))
            .map(|(n, t)| ImageRef::new(n, t))
            .ok_or_else(|| BadImageRef(s.to_string()))
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

impl From<(String, String)> for ImageRef {
    fn from((name, tag): (String, String)) -> Self {
        ImageRef { name, tag }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_colon_and_non_empty_parts() {
        assert_eq!("a:b".parse(), Ok(ImageRef::new("a", "b")));
        assert_eq!("a:b:c".parse(), Ok(ImageRef::new("a:b", "c")));
        for bad in ["", "a", "a:", ":b", "a:b/c", ":"] {
            assert_eq!(
                bad.parse::<ImageRef>(),
                Err(BadImageRef(bad.into())),
                "{bad}"
            );
        }
    }
}
