//! OCI image manifests turned into Docker v2 schema 2, byte for byte as
//! `skopeo copy --format v2s2` writes them (containers/image, Debian's skopeo 1.9.3).
//!
//! The conversion changes media types only: the config blob and the layers keep their bytes
//! and digests; OCI annotations, `subject` and `artifactType` have no place in schema 2 and are
//! dropped. The manifest is written as Go's `encoding/json` marshals containers/image's
//! `Schema2` structure (fields in that order, no spaces, `urls` only when there are some), so
//! the new digest is the one a packager using skopeo gets.

use iso_core::solution::media;
use serde::Deserialize;

/// Media type of a Docker image configuration.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker layer, gzip.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker layer, uncompressed tar.
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign layer (non-distributable), uncompressed.
pub const DOCKER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar";
/// Docker foreign layer (non-distributable), gzip.
pub const DOCKER_FOREIGN_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Why a manifest cannot become Docker v2 schema 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// Not JSON, or not the shape of an image manifest.
    #[error("not an image manifest: {0}")]
    Malformed(String),
    /// An OCI artifact (its config is not an image configuration).
    #[error("an OCI artifact, not an image (config media type {0:?}): Docker v2 schema 2 cannot carry it")]
    Artifact(String),
    /// A layer type schema 2 has no media type for (zstd, or unknown).
    #[error(
        "layer {digest} has media type {media_type:?}, which Docker v2 schema 2 cannot carry{hint}"
    )]
    Layer {
        /// The layer's digest.
        digest: String,
        /// Its media type.
        media_type: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// A manifest type other than an OCI or Docker image manifest.
    #[error("manifest media type {0:?} is neither an OCI image manifest nor Docker v2 schema 2")]
    Unsupported(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: Option<u32>,
    media_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: i64,
    #[serde(default)]
    urls: Option<Vec<String>>,
}

/// What [`to_v2s2`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Converted {
    /// Already Docker v2 schema 2: keep the bytes (and the digest).
    Unchanged,
    /// An OCI image manifest, rewritten: these are the new manifest's bytes.
    Rewritten(Vec<u8>),
}

/// Converts the image manifest `bytes` to Docker v2 schema 2 as skopeo does, or says why it
/// cannot. A schema 2 manifest is [`Converted::Unchanged`].
///
/// ```
/// use oci_export::pack::convert::{to_v2s2, Converted};
/// let oci = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
///   "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":2},
///   "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:bb","size":3}]}"#;
/// let Converted::Rewritten(v2s2) = to_v2s2(oci)? else { unreachable!() };
/// assert_eq!(
///     std::str::from_utf8(&v2s2)?,
///     concat!(
///         r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","#,
///         r#""config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:aa"},"#,
///         r#""layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":3,"digest":"sha256:bb"}]}"#
///     )
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn to_v2s2(bytes: &[u8]) -> Result<Converted, ConvertError> {
    let m: Manifest =
        serde_json::from_slice(bytes).map_err(|e| ConvertError::Malformed(e.to_string()))?;
    if m.schema_version != Some(2) {
        return Err(ConvertError::Malformed(format!(
            "schemaVersion is {:?}, not 2",
            m.schema_version
        )));
    }
    match m.media_type.as_deref() {
        Some(media::DOCKER_V2S2) => return Ok(Converted::Unchanged),
        None | Some(media::OCI_MANIFEST) => {}
        Some(other) => return Err(ConvertError::Unsupported(other.to_string())),
    }
    if m.config.media_type != OCI_CONFIG {
        return Err(ConvertError::Artifact(m.config.media_type));
    }
    let mut out = String::with_capacity(bytes.len());
    out.push_str(r#"{"schemaVersion":2,"mediaType":"#);
    go_string(&mut out, media::DOCKER_V2S2);
    out.push_str(r#","config":"#);
    descriptor(&mut out, DOCKER_CONFIG, &m.config);
    out.push_str(r#","layers":["#);
    for (i, l) in m.layers.iter().enumerate() {
        let media_type = match l.media_type.as_str() {
            "application/vnd.oci.image.layer.v1.tar+gzip" => DOCKER_LAYER_GZIP,
            "application/vnd.oci.image.layer.v1.tar" => DOCKER_LAYER_TAR,
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" => DOCKER_FOREIGN_GZIP,
            "application/vnd.oci.image.layer.nondistributable.v1.tar" => DOCKER_FOREIGN,
            other => {
                let hint = if other.contains("zstd") {
                    ": recompress it with gzip (skopeo copy --dest-compress-format gzip) first"
                } else {
                    ""
                };
                return Err(ConvertError::Layer {
                    digest: l.digest.clone(),
                    media_type: other.to_string(),
                    hint,
                });
            }
        };
        if i > 0 {
            out.push(',');
        }
        descriptor(&mut out, media_type, l);
    }
    out.push_str("]}");
    Ok(Converted::Rewritten(out.into_bytes()))
}

/// A `Schema2Descriptor`: media type, size, digest, then `urls` when not empty.
fn descriptor(out: &mut String, media_type: &str, d: &Descriptor) {
    out.push_str(r#"{"mediaType":"#);
    go_string(out, media_type);
    out.push_str(r#","size":"#);
    out.push_str(&d.size.to_string());
    out.push_str(r#","digest":"#);
    go_string(out, &d.digest);
    if let Some(urls) = d.urls.as_ref().filter(|u| !u.is_empty()) {
        out.push_str(r#","urls":["#);
        for (i, u) in urls.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            go_string(out, u);
        }
        out.push(']');
    }
    out.push('}');
}

/// A string as Go's `encoding/json` (1.19, which Debian's skopeo is built with) writes it:
/// HTML-safe (`<`, `>`, `&` escaped), U+2028 and U+2029 escaped, control characters other
/// than `\n`, `\r`, `\t` as `\u00XX`.
pub(crate) fn go_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn oci(layer_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":2}},"layers":[{{"mediaType":"{layer_type}","digest":"sha256:bb","size":3,"urls":["http://x/<a>&"],"annotations":{{"k":"v"}}}}],"annotations":{{"a":"b"}}}}"#
        )
    }

    #[test]
    fn layer_types() {
        let Converted::Rewritten(b) =
            to_v2s2(oci("application/vnd.oci.image.layer.v1.tar").as_bytes()).unwrap()
        else {
            panic!()
        };
        let s = String::from_utf8(b).unwrap();
        assert!(s.contains(DOCKER_LAYER_TAR), "{s}");
        assert!(
            s.contains(r#""urls":["http://x/\u003ca\u003e\u0026"]"#),
            "{s}"
        );
        assert!(!s.contains("annotations"), "{s}");
        let e = to_v2s2(oci("application/vnd.oci.image.layer.v1.tar+zstd").as_bytes());
        assert!(
            matches!(&e, Err(ConvertError::Layer { hint, .. }) if hint.contains("gzip")),
            "{e:?}"
        );
        let e = to_v2s2(oci("application/x-unknown").as_bytes());
        assert!(matches!(e, Err(ConvertError::Layer { .. })), "{e:?}");
    }

    #[test]
    fn refusals() {
        let artifact = oci("application/vnd.oci.image.layer.v1.tar").replace(
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.example+json",
        );
        assert!(matches!(
            to_v2s2(artifact.as_bytes()),
            Err(ConvertError::Artifact(_))
        ));
        assert!(matches!(
            to_v2s2(b"{\"schemaVersion\":1}"),
            Err(ConvertError::Malformed(_))
        ));
        assert!(matches!(to_v2s2(b"[]"), Err(ConvertError::Malformed(_))));
        let docker = oci("application/vnd.oci.image.layer.v1.tar").replace(
            "application/vnd.oci.image.manifest.v1+json",
            media::DOCKER_V2S2,
        );
        assert_eq!(to_v2s2(docker.as_bytes()), Ok(Converted::Unchanged));
    }
}
