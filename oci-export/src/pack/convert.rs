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
use sha2::Digest as _;

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

/// Most platforms a manifest list or index may name.
pub const MAX_PLATFORMS: usize = 64;

/// Why a manifest list or index cannot become a Docker manifest list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// Not JSON, or not the shape of a list or index.
    #[error("not a manifest list or index: {0}")]
    Malformed(String),
    /// More than [`MAX_PLATFORMS`] entries.
    #[error("the list names {0} manifests, more than {MAX_PLATFORMS}")]
    TooMany(usize),
    /// An entry pack cannot keep: a nested index, an artifact, no platform, a digest that is
    /// not sha256, a manifest that does not convert.
    #[error("entry {index} ({digest}): {why}")]
    Entry {
        /// Its position in the list, from 0.
        index: usize,
        /// Its digest.
        digest: String,
        /// Why.
        why: String,
    },
    /// No entry for the platform chosen (`pack --platform`).
    #[error("no instance for {wanted} (the list has: {})", available.join(", "))]
    NoPlatform {
        /// The platform chosen, `os/architecture[/variant]`.
        wanted: String,
        /// The platforms of the list, in its order.
        available: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct List {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Vec<ListEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListEntry {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: i64,
    #[serde(default)]
    urls: Option<Vec<String>>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(rename = "os.version", default)]
    os_version: Option<String>,
    #[serde(rename = "os.features", default)]
    os_features: Option<Vec<String>>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    features: Option<Vec<String>>,
}

/// One entry of a list or index, as [`list_entries`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInstance {
    /// The manifest's digest, as the list gives it (a checked `sha256:` digest).
    pub digest: String,
    /// Its size, as the list gives it.
    pub size: u64,
    /// `os/architecture[/variant]`.
    pub platform: String,
}

/// Whether `bytes` is a manifest list or an index: a Docker list or OCI index media type, or
/// no media type and a `manifests` array (an OCI index may omit its media type).
pub fn is_list(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde::de::IgnoredAny>,
        config: Option<serde::de::IgnoredAny>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(p) => match p.media_type.as_deref() {
            Some(media::OCI_INDEX | media::DOCKER_LIST) => true,
            None => p.manifests.is_some() && p.config.is_none(),
            Some(_) => false,
        },
        Err(_) => false,
    }
}

fn parse_list(bytes: &[u8]) -> Result<List, ListError> {
    let l: List = serde_json::from_slice(bytes).map_err(|e| ListError::Malformed(e.to_string()))?;
    if l.schema_version != Some(2) {
        return Err(ListError::Malformed(format!(
            "schemaVersion is {:?}, not 2",
            l.schema_version
        )));
    }
    match l.media_type.as_deref() {
        None | Some(media::OCI_INDEX | media::DOCKER_LIST) => {}
        Some(other) => {
            return Err(ListError::Malformed(format!(
                "media type {other:?} is neither an OCI index nor a Docker manifest list"
            )))
        }
    }
    if l.manifests.len() > MAX_PLATFORMS {
        return Err(ListError::TooMany(l.manifests.len()));
    }
    if l.manifests.is_empty() {
        return Err(ListError::Malformed("it names no manifest".into()));
    }
    for (index, e) in l.manifests.iter().enumerate() {
        let bad = |why: String| ListError::Entry {
            index,
            digest: e.digest.clone(),
            why,
        };
        match e.media_type.as_str() {
            media::OCI_MANIFEST | media::DOCKER_V2S2 => {}
            media::OCI_INDEX | media::DOCKER_LIST => {
                return Err(bad(format!(
                    "a nested list ({}): an index of indexes cannot be kept",
                    e.media_type
                )))
            }
            "" => return Err(bad("no mediaType".into())),
            other => {
                return Err(bad(format!(
                    "media type {other:?} is not an image manifest (an artifact?): Docker v2 \
                     schema 2 cannot carry it"
                )))
            }
        }
        let hex_ok = e.digest.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if !hex_ok {
            return Err(bad("the digest is not a sha256 digest".into()));
        }
        if e.size < 0 {
            return Err(bad(format!("size {} is negative", e.size)));
        }
        if e.platform.is_none() {
            return Err(bad(
                "no platform (skopeo would label it with the platform of the machine it runs on)"
                    .into(),
            ));
        }
    }
    Ok(l)
}

/// The entries of the list or index `bytes`, checked: at most [`MAX_PLATFORMS`], each an image
/// manifest (OCI or Docker v2 schema 2: a nested list, an artifact or an unknown type is
/// refused, naming the entry) with a `sha256:` digest and a platform.
pub fn list_entries(bytes: &[u8]) -> Result<Vec<ListInstance>, ListError> {
    let l = parse_list(bytes)?;
    Ok(l.manifests
        .iter()
        .map(|e| ListInstance {
            digest: e.digest.clone(),
            size: e.size.unsigned_abs(),
            platform: e.platform.as_ref().map(platform_name).unwrap_or_default(),
        })
        .collect())
}

fn platform_name(p: &Platform) -> String {
    let mut s = format!("{}/{}", p.os, p.architecture);
    if let Some(v) = p.variant.as_deref().filter(|v| !v.is_empty()) {
        s.push('/');
        s.push_str(v);
    }
    s
}

/// A platform to choose from multi-platform images, `OS/ARCH[/VARIANT]` (e.g. `linux/amd64`,
/// `linux/arm64/v8`), as `skopeo copy --override-os OS --override-arch ARCH
/// [--override-variant VARIANT]` chooses one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlatformChoice {
    /// `os` (e.g. `linux`).
    pub os: String,
    /// `architecture` (e.g. `amd64`, `arm64`).
    pub architecture: String,
    /// `variant` (e.g. `v8`), when given.
    pub variant: Option<String>,
}

impl std::str::FromStr for PlatformChoice {
    type Err = String;

    /// `OS/ARCH[/VARIANT]`, each part made of ASCII letters, digits, `.`, `_` and `-`.
    ///
    /// ```
    /// use oci_export::pack::convert::PlatformChoice;
    /// let p: PlatformChoice = "linux/arm64/v8".parse()?;
    /// assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "arm64"));
    /// assert_eq!(p.variant.as_deref(), Some("v8"));
    /// assert!("linux".parse::<PlatformChoice>().is_err());
    /// # Ok::<(), String>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 64
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if ok(os) && ok(arch) => {
                let variant = match parts.get(2) {
                    Some(v) if ok(v) => Some(v.to_string()),
                    Some(_) => None,
                    None => None,
                };
                if parts.len() == 3 && variant.is_none() {
                    return Err(format!("platform {s:?}: the variant is not a valid name"));
                }
                Ok(PlatformChoice {
                    os: os.to_string(),
                    architecture: arch.to_string(),
                    variant,
                })
            }
            _ => Err(format!(
                "platform {s:?} is not OS/ARCH[/VARIANT] (e.g. linux/amd64, linux/arm64/v8)"
            )),
        }
    }
}

impl std::fmt::Display for PlatformChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

impl PlatformChoice {
    /// The variants accepted, best first, as containers/image's `WantedPlatforms` lists
    /// them: a variant given, then the ones its architecture's known variants say it runs
    /// (`arm` `v7` also takes `v6` and `v5`), then none; no variant given: none, then the
    /// architecture's base variant (`arm64`: `v8`).
    pub fn variants(&self) -> Vec<&str> {
        let known: &[&str] = match self.architecture.as_str() {
            "arm" => &["v7", "v6", "v5"],
            "arm64" => &["v8"],
            _ => &[],
        };
        match self.variant.as_deref() {
            Some(v) => {
                let mut out: Vec<&str> = match known.iter().position(|k| *k == v) {
                    Some(i) => known[i..].to_vec(),
                    None => vec![v],
                };
                out.push("");
                out
            }
            None => {
                let mut out = vec![""];
                if self.architecture == "arm64" {
                    out.push("v8");
                }
                out
            }
        }
    }

    /// Whether an image of `os`/`architecture`/`variant` (`""`: none) is one this choice
    /// takes (os and architecture equal, the variant one of [`PlatformChoice::variants`]).
    pub fn accepts(&self, os: &str, architecture: &str, variant: &str) -> bool {
        os == self.os && architecture == self.architecture && self.variants().contains(&variant)
    }
}

/// The entry of the list or index `bytes` that `want` chooses, as containers/image chooses
/// an instance: for each accepted variant in order ([`PlatformChoice::variants`]), the first
/// entry of that os, architecture and variant. Its position, from 0, and its
/// `os/architecture[/variant]`; [`ListError::NoPlatform`] naming the platforms the list has
/// when none fits. The list is checked as [`list_entries`] checks it.
pub fn choose_instance(bytes: &[u8], want: &PlatformChoice) -> Result<usize, ListError> {
    let l = parse_list(bytes)?;
    for v in want.variants() {
        for (i, e) in l.manifests.iter().enumerate() {
            let Some(p) = &e.platform else { continue };
            if p.os == want.os
                && p.architecture == want.architecture
                && p.variant.as_deref().unwrap_or("") == v
            {
                return Ok(i);
            }
        }
    }
    Err(ListError::NoPlatform {
        wanted: want.to_string(),
        available: l
            .manifests
            .iter()
            .filter_map(|e| e.platform.as_ref().map(platform_name))
            .collect(),
    })
}

/// A list or index converted to a Docker manifest list: [`list_to_v2s2`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertedList {
    /// The list: [`Converted::Unchanged`] when the source is a Docker list whose instances
    /// all stay as they are (skopeo keeps its bytes).
    pub list: Converted,
    /// Each entry's manifest, in the list's order: as [`to_v2s2`] converts it.
    pub instances: Vec<Converted>,
}

/// Converts the list or index `bytes` to a Docker manifest list as
/// `skopeo copy --all --format v2s2` does (containers/image's `OCI1Index.ToSchema2List`, then
/// Go's `encoding/json`): each instance converted by [`to_v2s2`], the entries in the same
/// order pointing at the converted instances (media type, size and digest), `urls` and the
/// platform kept (architecture, os, `os.version`, `os.features`, variant; `features` too
/// from a Docker list), annotations dropped. `instance(i)` gives the bytes of entry `i`
/// (already checked against its digest and size by the caller).
pub fn list_to_v2s2<'a>(
    bytes: &[u8],
    mut instance: impl FnMut(usize) -> Option<&'a [u8]>,
) -> Result<ConvertedList, ListError> {
    let l = parse_list(bytes)?;
    let mut instances = Vec::with_capacity(l.manifests.len());
    let mut out = String::with_capacity(bytes.len() + 256);
    out.push_str(r#"{"schemaVersion":2,"mediaType":"#);
    go_string(&mut out, media::DOCKER_LIST);
    out.push_str(r#","manifests":["#);
    let from_docker = l.media_type.as_deref() == Some(media::DOCKER_LIST);
    let mut changed = !from_docker;
    for (index, e) in l.manifests.iter().enumerate() {
        let bad = |why: String| ListError::Entry {
            index,
            digest: e.digest.clone(),
            why,
        };
        let m = instance(index).ok_or_else(|| bad("its manifest is missing".into()))?;
        let c = to_v2s2(m).map_err(|err| bad(err.to_string()))?;
        let (size, digest) = match &c {
            Converted::Unchanged => (e.size, e.digest.clone()),
            Converted::Rewritten(b) => {
                changed = true;
                (
                    i64::try_from(b.len()).unwrap_or(i64::MAX),
                    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b))),
                )
            }
        };
        if e.media_type != media::DOCKER_V2S2 {
            changed = true;
        }
        instances.push(c);
        if index > 0 {
            out.push(',');
        }
        out.push_str(r#"{"mediaType":"#);
        go_string(&mut out, media::DOCKER_V2S2);
        out.push_str(r#","size":"#);
        out.push_str(&size.to_string());
        out.push_str(r#","digest":"#);
        go_string(&mut out, &digest);
        strings(&mut out, "urls", e.urls.as_deref());
        out.push_str(r#","platform":{"architecture":"#);
        let Some(p) = &e.platform else {
            return Err(bad("no platform".into()));
        };
        go_string(&mut out, &p.architecture);
        out.push_str(r#","os":"#);
        go_string(&mut out, &p.os);
        if let Some(v) = p.os_version.as_deref().filter(|v| !v.is_empty()) {
            out.push_str(r#","os.version":"#);
            go_string(&mut out, v);
        }
        strings(&mut out, "os.features", p.os_features.as_deref());
        if let Some(v) = p.variant.as_deref().filter(|v| !v.is_empty()) {
            out.push_str(r#","variant":"#);
            go_string(&mut out, v);
        }
        if from_docker {
            strings(&mut out, "features", p.features.as_deref());
        }
        out.push_str("}}");
    }
    out.push_str("]}");
    Ok(ConvertedList {
        list: if changed {
            Converted::Rewritten(out.into_bytes())
        } else {
            Converted::Unchanged
        },
        instances,
    })
}

/// `,"key":[...]` when `v` is not empty (Go's `omitempty` on a slice).
fn strings(out: &mut String, key: &str, v: Option<&[String]>) {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return;
    };
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":[");
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_string(out, s);
    }
    out.push(']');
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

    fn list(media_type: Option<&str>, entry_type: &str, extra: &str) -> String {
        let mt = media_type
            .map(|m| format!(r#""mediaType":"{m}","#))
            .unwrap_or_default();
        format!(
            r#"{{"schemaVersion":2,{mt}"manifests":[{{"mediaType":"{entry_type}","digest":"sha256:{}","size":7,"platform":{{"os":"linux","architecture":"arm64","variant":"v8","features":["sse4"]{extra}}}}}],"annotations":{{"a":"b"}}}}"#,
            "a".repeat(64)
        )
    }

    #[test]
    fn lists() {
        let docker = oci("application/vnd.oci.image.layer.v1.tar").replace(
            "application/vnd.oci.image.manifest.v1+json",
            media::DOCKER_V2S2,
        );
        let l = list(Some(media::DOCKER_LIST), media::DOCKER_V2S2, "");
        assert!(is_list(l.as_bytes()));
        assert!(!is_list(docker.as_bytes()));
        // A Docker list whose instances stay: its bytes are kept.
        let c = list_to_v2s2(l.as_bytes(), |_| Some(docker.as_bytes())).unwrap();
        assert_eq!(c.list, Converted::Unchanged);
        assert_eq!(
            list_entries(l.as_bytes()).unwrap()[0].platform,
            "linux/arm64/v8"
        );
        // An OCI instance: the Docker list is rewritten, `features` kept; from an OCI index
        // (media type given or not) `features` is not carried (as containers/image).
        let inst = oci("application/vnd.oci.image.layer.v1.tar+gzip");
        let l = list(Some(media::DOCKER_LIST), media::OCI_MANIFEST, "");
        let Converted::Rewritten(b) = list_to_v2s2(l.as_bytes(), |_| Some(inst.as_bytes()))
            .unwrap()
            .list
        else {
            panic!()
        };
        let b = String::from_utf8(b).unwrap();
        assert!(b.contains(r#""variant":"v8","features":["sse4"]}"#), "{b}");
        assert!(
            !b.contains("annotations") && !b.contains(&"a".repeat(64)),
            "{b}"
        );
        for mt in [Some(media::OCI_INDEX), None] {
            let l = list(mt, media::OCI_MANIFEST, r#","os.version":"1""#);
            assert!(is_list(l.as_bytes()));
            let c = list_to_v2s2(l.as_bytes(), |_| Some(inst.as_bytes())).unwrap();
            let Converted::Rewritten(b) = c.list else {
                panic!()
            };
            let b = String::from_utf8(b).unwrap();
            assert!(
                b.ends_with(r#""platform":{"architecture":"arm64","os":"linux","os.version":"1","variant":"v8"}}]}"#),
                "{b}"
            );
        }
        // Refusals name the entry.
        let nested = list(Some(media::OCI_INDEX), media::OCI_INDEX, "");
        let e = list_to_v2s2(nested.as_bytes(), |_| None).unwrap_err();
        assert!(
            matches!(&e, ListError::Entry { index: 0, why, .. } if why.contains("nested")),
            "{e}"
        );
        let missing = list(Some(media::OCI_INDEX), media::OCI_MANIFEST, "");
        let e = list_to_v2s2(missing.as_bytes(), |_| None).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        let zstd = oci("application/vnd.oci.image.layer.v1.tar+zstd");
        let e = list_to_v2s2(missing.as_bytes(), |_| Some(zstd.as_bytes())).unwrap_err();
        assert!(e.to_string().contains("zstd"), "{e}");
        let many = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            vec![r#"{"mediaType":"x","digest":"d","size":1}"#; MAX_PLATFORMS + 1].join(",")
        );
        assert_eq!(
            list_entries(many.as_bytes()),
            Err(ListError::TooMany(MAX_PLATFORMS + 1))
        );
    }

    #[test]
    fn platform_choice() {
        let entry = |arch: &str, variant: &str, n: u8| {
            let v = if variant.is_empty() {
                String::new()
            } else {
                format!(r#","variant":"{variant}""#)
            };
            format!(
                r#"{{"mediaType":"{}","digest":"sha256:{}","size":7,"platform":{{"os":"linux","architecture":"{arch}"{v}}}}}"#,
                media::OCI_MANIFEST,
                format!("{n:x}").repeat(64)
            )
        };
        let l = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            [
                entry("arm", "v6", 1),
                entry("arm", "v7", 2),
                entry("arm64", "", 3),
                entry("arm64", "v8", 4),
                entry("amd64", "", 5),
            ]
            .join(",")
        );
        let choose = |p: &str| choose_instance(l.as_bytes(), &p.parse().unwrap());
        assert_eq!(choose("linux/arm/v7"), Ok(1));
        assert_eq!(choose("linux/arm/v6"), Ok(0));
        // arm64: an entry without a variant first, then v8; arm64/v8: v8 first.
        assert_eq!(choose("linux/arm64"), Ok(2));
        assert_eq!(choose("linux/arm64/v8"), Ok(3));
        // A variant no entry has: one without a variant.
        assert_eq!(choose("linux/amd64/v3"), Ok(4));
        let available: Vec<String> = [
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm64",
            "linux/arm64/v8",
            "linux/amd64",
        ]
        .map(String::from)
        .to_vec();
        for none in ["linux/arm", "linux/arm/v5", "linux/s390x", "windows/amd64"] {
            let e = choose(none).unwrap_err();
            assert_eq!(
                e,
                ListError::NoPlatform {
                    wanted: none.into(),
                    available: available.clone()
                }
            );
            assert!(
                e.to_string().ends_with(
                    "(the list has: linux/arm/v6, linux/arm/v7, linux/arm64, linux/arm64/v8, \
                     linux/amd64)"
                ),
                "{e}"
            );
        }
        // Without arm64's entry with no variant, arm64 takes v8 (its base variant).
        let l2 = format!(
            r#"{{"schemaVersion":2,"manifests":[{},{}]}}"#,
            entry("amd64", "", 5),
            entry("arm64", "v8", 4)
        );
        let want: PlatformChoice = "linux/arm64".parse().unwrap();
        assert_eq!(choose_instance(l2.as_bytes(), &want), Ok(1));
        assert!(want.accepts("linux", "arm64", "v8") && want.accepts("linux", "arm64", ""));
        assert!(!want.accepts("linux", "arm64", "v9") && !want.accepts("linux", "amd64", ""));
        for bad in [
            "", "linux", "linux/", "/x", "a/b/c/d", "a/b c", "a/b/", "a/b/v 1",
        ] {
            assert!(bad.parse::<PlatformChoice>().is_err(), "{bad}");
        }
        assert_eq!(
            "linux/arm/v7"
                .parse::<PlatformChoice>()
                .unwrap()
                .to_string(),
            "linux/arm/v7"
        );
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
