//! The container images under `images/<name>/<tag>/` (skopeo `dir:` copies), their blobs, and
//! digest verification on several threads.

use std::collections::{BTreeMap, HashMap};

use oci_spec::image::{ImageIndex, ImageManifest};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{read_capped, Finding, Rule};
use crate::iso9660::{Contents, DirEntry, FileId, Image, Namespace};
use crate::sha256x2;

/// What `manifest.json` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ManifestKind {
    /// `application/vnd.docker.distribution.manifest.v2+json`: what MetalK8s serves.
    DockerV2S2,
    /// `application/vnd.oci.image.manifest.v1+json`.
    OciManifest,
    /// `application/vnd.docker.distribution.manifest.list.v2+json`.
    DockerList,
    /// `application/vnd.oci.image.index.v1+json`.
    OciIndex,
    /// Anything else.
    Other,
}

impl ManifestKind {
    /// A Docker manifest list or an OCI index.
    pub fn is_list(self) -> bool {
        matches!(self, ManifestKind::DockerList | ManifestKind::OciIndex)
    }
}

/// Media types.
pub mod media {
    /// Docker v2 schema 2 manifest.
    pub const DOCKER_V2S2: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
}

/// A descriptor: what a manifest says of a blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlobRef {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
}

/// One per-platform manifest of a manifest list or index: skopeo `copy --all` stores it
/// beside the list as `<hex>.manifest.json`.
#[derive(Clone, Debug, Serialize)]
pub struct PlatformManifest {
    /// The manifest itself, as the list describes it.
    pub manifest: BlobRef,
    /// `os/architecture[/variant]` from the list (empty when the list gives none).
    pub platform: String,
    /// What it is (an image manifest: nested lists are refused).
    pub kind: ManifestKind,
    /// Its config blob.
    pub config: Option<BlobRef>,
    /// Its layers, in order.
    pub layers: Vec<BlobRef>,
}

/// One image tag directory.
#[derive(Clone, Debug, Serialize)]
pub struct ContainerImage {
    /// Repository name (the directory under `images/`).
    pub name: String,
    /// Tag (the directory under the name).
    pub tag: String,
    /// `images/<name>/<tag>`.
    pub path: String,
    /// `sha256:` of the raw `manifest.json` bytes (empty when absent).
    pub manifest_digest: String,
    /// Size of `manifest.json`.
    pub manifest_size: u64,
    /// Media type as declared (or implied by the schema).
    pub media_type: String,
    /// What it is.
    pub kind: ManifestKind,
    /// The config blob.
    pub config: Option<BlobRef>,
    /// The layers, in order.
    pub layers: Vec<BlobRef>,
    /// For lists and indexes: the per-platform manifests (`<hex>.manifest.json` files).
    pub children: Vec<BlobRef>,
    /// For lists and indexes: what each per-platform manifest says, in the list's order (one
    /// per child whose file could be read and parsed; the others are findings).
    pub platforms: Vec<PlatformManifest>,
    /// Content of the `version` file.
    pub version_file: Option<String>,
    /// Bytes of the distinct blobs this image references.
    pub blob_bytes: u64,
}

impl ContainerImage {
    /// Every blob this tag needs, manifests of lists excepted: the config and layers, and for a
    /// list or index each per-platform manifest with its config and layers (a blob shared by
    /// several platforms comes once per platform).
    pub fn blob_refs(&self) -> impl Iterator<Item = &BlobRef> {
        self.children.iter().chain(self.content_refs())
    }

    /// The configs and layers this tag needs: its own, or for a list or index those of every
    /// per-platform manifest (the blobs a registry stores as blobs; repeats possible).
    pub fn content_refs(&self) -> impl Iterator<Item = &BlobRef> {
        self.config.iter().chain(&self.layers).chain(
            self.platforms
                .iter()
                .flat_map(|p| p.config.iter().chain(&p.layers)),
        )
    }

    /// Whether this is a manifest list or an index.
    pub fn is_list(&self) -> bool {
        self.kind.is_list()
    }

    /// For a list or index: how many of its per-platform manifests could not be read (they
    /// are findings); a list with any is not exported or pushed.
    pub fn missing_platforms(&self) -> usize {
        self.children.len().saturating_sub(self.platforms.len())
    }
}

/// A blob file in a tag directory.
#[derive(Clone, Debug)]
pub(crate) struct BlobFile<'data> {
    pub path: String,
    /// The digest its name claims (`<hex>` or `<hex>.tar`), if it has that form.
    pub name_hex: Option<String>,
    pub id: Option<FileId>,
    pub size: u64,
    pub contents: Option<Contents<'data>>,
    /// Index of the image directory it sits in.
    pub image: usize,
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn blob_ref(d: &oci_spec::image::Descriptor) -> BlobRef {
    BlobRef {
        digest: d.digest().to_string(),
        size: d.size(),
        media_type: d.media_type().to_string(),
    }
}

/// What a `manifest.json` says.
#[derive(Clone, Debug, Serialize)]
pub struct ParsedManifest {
    /// What it is.
    pub kind: ManifestKind,
    /// Media type as declared (or implied by the schema).
    pub media_type: String,
    /// The config blob (image manifests).
    pub config: Option<BlobRef>,
    /// The layers (image manifests).
    pub layers: Vec<BlobRef>,
    /// The per-platform manifests (lists and indexes).
    pub children: Vec<BlobRef>,
    /// Their platforms, `os/architecture[/variant]` (empty when not given), one per child.
    pub child_platforms: Vec<String>,
}

/// Why [`parse_image_manifest`] refused a `manifest.json`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageManifestError {
    /// Not JSON at all.
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    /// JSON, but not a schema 2 image manifest, list or index (by `schemaVersion` and
    /// `mediaType`).
    #[error(
        "schemaVersion {schema:?}, mediaType {media_type:?}: not a schema 2 image manifest or index"
    )]
    Unsupported {
        /// `schemaVersion`, when it is a number.
        schema: Option<u64>,
        /// `mediaType` as declared (empty when absent).
        media_type: String,
    },
    /// A manifest list or index that does not follow its schema.
    #[error("not a valid index: {0}")]
    Index(serde_json::Error),
    /// An image manifest that does not follow its schema.
    #[error("not a valid image manifest: {0}")]
    Manifest(serde_json::Error),
}

/// Parses the raw bytes of an image manifest, manifest list or index (Docker or OCI). The
/// bytes are never re-serialised: digests are taken over them as they are.
pub fn parse_image_manifest(bytes: &[u8]) -> Result<ParsedManifest, ImageManifestError> {
    let head: serde_json::Value =
        serde_json::from_slice(bytes).map_err(ImageManifestError::Json)?;
    let declared = head.get("mediaType").and_then(|v| v.as_str()).unwrap_or("");
    let schema = head.get("schemaVersion").and_then(|v| v.as_u64());
    let is_index = head.get("manifests").is_some();
    let kind = match declared {
        media::DOCKER_V2S2 => ManifestKind::DockerV2S2,
        media::OCI_MANIFEST => ManifestKind::OciManifest,
        media::DOCKER_LIST => ManifestKind::DockerList,
        media::OCI_INDEX => ManifestKind::OciIndex,
        "" if is_index => ManifestKind::OciIndex,
        "" => ManifestKind::OciManifest,
        _ => ManifestKind::Other,
    };
    if schema != Some(2) || kind == ManifestKind::Other {
        return Err(ImageManifestError::Unsupported {
            schema,
            media_type: declared.to_string(),
        });
    }
    let media_type = match (declared, kind) {
        ("", ManifestKind::OciIndex) => media::OCI_INDEX.to_string(),
        ("", _) => media::OCI_MANIFEST.to_string(),
        (d, _) => d.to_string(),
    };
    let mut p = ParsedManifest {
        kind,
        media_type,
        config: None,
        layers: Vec::new(),
        children: Vec::new(),
        child_platforms: Vec::new(),
    };
    match kind {
        ManifestKind::DockerList | ManifestKind::OciIndex => {
            let ix: ImageIndex =
                serde_json::from_slice(bytes).map_err(ImageManifestError::Index)?;
            p.children = ix.manifests().iter().map(blob_ref).collect();
            p.child_platforms = ix.manifests().iter().map(platform_of).collect();
        }
        _ => {
            let m: ImageManifest =
                serde_json::from_slice(bytes).map_err(ImageManifestError::Manifest)?;
            p.config = Some(blob_ref(m.config()));
            p.layers = m.layers().iter().map(blob_ref).collect();
        }
    }
    Ok(p)
}

/// `os/architecture[/variant]` of a list's descriptor (empty when it gives no platform).
fn platform_of(d: &oci_spec::image::Descriptor) -> String {
    match d.platform() {
        None => String::new(),
        Some(pl) => {
            let mut s = format!("{}/{}", pl.os(), pl.architecture());
            if let Some(v) = pl.variant() {
                s.push('/');
                s.push_str(v);
            }
            s
        }
    }
}

/// Walks `images/`, reading every `manifest.json` and listing blob files.
pub(crate) fn inventory<'data>(
    image: &Image<'data>,
    ns: Namespace,
    findings: &mut Vec<Finding>,
) -> crate::Result<(Vec<ContainerImage>, Vec<BlobFile<'data>>)> {
    let mut images = Vec::new();
    let mut blobs = Vec::new();
    let Ok(root) = image.lookup(ns, "images") else {
        return Ok((images, blobs));
    };
    if !root.is_dir() {
        return Ok((images, blobs));
    }
    let mut names: Vec<DirEntry<'data>> = image.read_dir(&root)?.collect::<crate::Result<_>>()?;
    names.retain(DirEntry::is_dir);
    names.sort_by(|a, b| a.name().cmp(b.name()));
    for n in names {
        let mut tags: Vec<DirEntry<'data>> = image.read_dir(&n)?.collect::<crate::Result<_>>()?;
        tags.retain(DirEntry::is_dir);
        tags.sort_by(|a, b| a.name().cmp(b.name()));
        for t in tags {
            let path = format!("images/{}/{}", n.name(), t.name());
            let idx = images.len();
            let img = read_tag(image, &t, n.name(), &path, idx, &mut blobs, findings)?;
            images.push(img);
        }
    }
    Ok((images, blobs))
}

/// Reads one tag directory: its files, its `version` file, its `manifest.json` (and, for a
/// list or index, the per-platform manifests), and checks that every blob named is present
/// with the size its descriptor gives. Digests are checked later, by [`verify`].
fn read_tag<'data>(
    image: &Image<'data>,
    dir: &DirEntry<'data>,
    name: &str,
    path: &str,
    idx: usize,
    blobs: &mut Vec<BlobFile<'data>>,
    findings: &mut Vec<Finding>,
) -> crate::Result<ContainerImage> {
    let mut img = ContainerImage::empty(name, dir.name(), path);
    let (manifest, version_file) = read_tag_files(image, dir, path, idx, blobs, findings)?;
    img.version_file = version_file;
    check_version_file(img.version_file.as_deref(), path, findings);
    let Some(bytes) = manifest else {
        findings.push(Finding::new(
            Rule::ImageManifestMissing,
            format!("{path}/manifest.json"),
            "no manifest.json: this tag cannot be pulled",
        ));
        return Ok(img);
    };
    img.manifest_digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    img.manifest_size = bytes.len() as u64;
    let mpath = format!("{path}/manifest.json");
    let parsed = match parse_image_manifest(&bytes) {
        Ok(p) => p,
        Err(e) => {
            findings.push(Finding::new(
                Rule::ImageManifestInvalid,
                &mpath,
                e.to_string(),
            ));
            return Ok(img);
        }
    };
    img.kind = parsed.kind;
    img.media_type = parsed.media_type;
    img.config = parsed.config;
    img.layers = parsed.layers;
    img.children = parsed.children;
    if img.kind != ManifestKind::DockerV2S2 {
        findings.push(Finding::new(
            Rule::ImageNotV2s2,
            &mpath,
            format!(
                "{}: MetalK8s's registry serves only {} (copy with skopeo --format v2s2)",
                img.media_type,
                media::DOCKER_V2S2
            ),
        ));
    }
    // Presence and size of every referenced blob (cheap; digests are checked by `verify`).
    let mine: HashMap<&str, &BlobFile<'_>> = blobs
        .iter()
        .filter(|b| b.image == idx)
        .filter_map(|b| Some((b.name_hex.as_deref()?, b)))
        .collect();
    read_platforms(&mut img, &parsed.child_platforms, &mine, &mpath, findings);
    img.blob_bytes = check_blobs(&img, &mine, path, findings);
    Ok(img)
}

impl ContainerImage {
    /// A tag directory with nothing read yet.
    fn empty(name: &str, tag: &str, path: &str) -> Self {
        ContainerImage {
            name: name.to_string(),
            tag: tag.to_string(),
            path: path.to_string(),
            manifest_digest: String::new(),
            manifest_size: 0,
            media_type: String::new(),
            kind: ManifestKind::Other,
            config: None,
            layers: Vec::new(),
            children: Vec::new(),
            platforms: Vec::new(),
            version_file: None,
            blob_bytes: 0,
        }
    }
}

/// Lists the files of tag directory `dir` (at `path`, image number `idx`): returns the bytes
/// of `manifest.json` and the text of `version` (when present and not too large), and adds
/// every other file but signatures to `blobs`.
fn read_tag_files<'data>(
    image: &Image<'data>,
    dir: &DirEntry<'data>,
    path: &str,
    idx: usize,
    blobs: &mut Vec<BlobFile<'data>>,
    findings: &mut Vec<Finding>,
) -> crate::Result<(Option<Vec<u8>>, Option<String>)> {
    let mut manifest = None;
    let mut version_file = None;
    for e in image.read_dir(dir)? {
        let e = e?;
        let fpath = format!("{path}/{}", e.name());
        if !e.is_file() {
            continue;
        }
        match e.name() {
            "manifest.json" => manifest = read_capped(image, &e, &fpath, findings)?,
            "version" => {
                version_file = read_capped(image, &e, &fpath, findings)?
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            }
            n if n.starts_with("signature-") => {}
            n => {
                let stem = n
                    .strip_suffix(".manifest.json")
                    .or_else(|| n.strip_suffix(".tar"))
                    .unwrap_or(n);
                blobs.push(BlobFile {
                    path: fpath,
                    name_hex: is_hex64(stem).then(|| stem.to_string()),
                    id: e.file_id(),
                    size: e.size(),
                    contents: image.contents(&e).ok(),
                    image: idx,
                });
            }
        }
    }
    Ok((manifest, version_file))
}

/// The `image.version-file` finding, unless `version` is skopeo's `dir:` transport version 1.
fn check_version_file(version: Option<&str>, path: &str, findings: &mut Vec<Finding>) {
    match version {
        Some(v) if v.starts_with("Directory Transport Version: 1.") => {}
        v => findings.push(Finding::new(
            Rule::ImageVersionFile,
            format!("{path}/version"),
            match v {
                None => "no version file (skopeo writes \"Directory Transport Version: 1.1\")"
                    .to_string(),
                Some(v) => format!(
                    "version file says {:?}, expected \"Directory Transport Version: 1.x\"",
                    v.trim_end()
                ),
            },
        )),
    }
}

/// Reads and parses the per-platform manifests of a list or index (`img.children`, whose
/// platforms are `child_platforms`) from their files in the tag directory (`mine`, by digest),
/// into `img.platforms`. `mpath` is the list's `manifest.json`.
fn read_platforms(
    img: &mut ContainerImage,
    child_platforms: &[String],
    mine: &HashMap<&str, &BlobFile<'_>>,
    mpath: &str,
    findings: &mut Vec<Finding>,
) {
    // Each distinct manifest is read once: a list naming one twice is refused (and would
    // otherwise multiply the work and memory by the number of repeats).
    let mut listed = std::collections::HashSet::new();
    let mut repeated = std::collections::HashSet::new();
    for (n, child) in img.children.iter().enumerate() {
        let hex = child.digest.strip_prefix("sha256:").unwrap_or("");
        if !listed.insert(hex) {
            if !repeated.insert(hex) {
                continue; // reported once per digest
            }
            findings.push(Finding::new(
                Rule::ImageManifestInvalid,
                mpath,
                format!("the list names {} more than once", child.digest),
            ));
            continue;
        }
        let Some(b) = mine.get(hex) else {
            continue; // reported by `check_blobs` as image.blob-missing
        };
        let Some(parsed) = read_platform_manifest(b, findings) else {
            continue;
        };
        img.platforms.push(PlatformManifest {
            manifest: child.clone(),
            platform: child_platforms.get(n).cloned().unwrap_or_default(),
            kind: parsed.kind,
            config: parsed.config,
            layers: parsed.layers,
        });
    }
}

/// Reads and parses one per-platform manifest file, or reports why it cannot be used (too
/// large, not a manifest, a nested list). `None` too when it is unreadable: `verify` reports
/// that.
fn read_platform_manifest(b: &BlobFile<'_>, findings: &mut Vec<Finding>) -> Option<ParsedManifest> {
    let cpath = &b.path;
    if let Some(f) = super::too_large(b.size, cpath) {
        findings.push(f);
        return None;
    }
    let bytes = b.contents.as_ref().map(Contents::to_vec)?;
    match parse_image_manifest(&bytes) {
        Ok(p) if p.kind.is_list() => {
            findings.push(Finding::new(
                Rule::ImageManifestInvalid,
                cpath,
                "a list or index inside a list or index (nested lists are not supported)",
            ));
            None
        }
        Ok(p) => Some(p),
        Err(e) => {
            findings.push(Finding::new(
                Rule::ImageManifestInvalid,
                cpath,
                e.to_string(),
            ));
            None
        }
    }
}

/// Every descriptor of `img` with the per-platform manifest naming it (`None`: the tag's own
/// `manifest.json`) and the suffix of its file name (`.manifest.json` for per-platform
/// manifests).
fn referenced_blobs(
    img: &ContainerImage,
) -> impl Iterator<Item = (&BlobRef, Option<&str>, &'static str)> {
    img.config
        .iter()
        .chain(&img.layers)
        .map(|r| (r, None, ""))
        .chain(img.children.iter().map(|r| (r, None, ".manifest.json")))
        .chain(img.platforms.iter().flat_map(|p| {
            p.config.iter().chain(&p.layers).map(move |r| {
                (
                    r,
                    Some(p.manifest.digest.strip_prefix("sha256:").unwrap_or("")),
                    "",
                )
            })
        }))
}

/// Checks that every blob `img` references is in its directory (`mine`, by digest) with the
/// size its descriptor gives; returns the bytes of the distinct blobs found.
fn check_blobs(
    img: &ContainerImage,
    mine: &HashMap<&str, &BlobFile<'_>>,
    path: &str,
    findings: &mut Vec<Finding>,
) -> u64 {
    let mut seen = BTreeMap::new();
    // A descriptor repeated by the same manifest (a list naming a manifest twice, a layer
    // used twice) is checked, and reported, once.
    let mut checked = std::collections::HashSet::new();
    for (r, by, suffix) in referenced_blobs(img) {
        let hex = r.digest.strip_prefix("sha256:").unwrap_or("");
        if !checked.insert((hex, by, r.size)) {
            continue;
        }
        let named_by = || match by {
            None => "manifest.json".to_string(),
            Some(h) => format!("{h}.manifest.json"),
        };
        match mine.get(hex) {
            None => findings.push(Finding::new(
                Rule::ImageBlobMissing,
                format!("{path}/{hex}{suffix}"),
                format!(
                    "{} names blob {} ({} bytes), which is not in {path}/",
                    named_by(),
                    r.digest,
                    r.size
                ),
            )),
            Some(b) => {
                if b.size != r.size {
                    findings.push(Finding::new(
                        Rule::ImageBlobSize,
                        &b.path,
                        format!("{} bytes, but {} says {}", b.size, named_by(), r.size),
                    ));
                }
                seen.insert(hex.to_string(), b.size);
            }
        }
    }
    seen.values().sum()
}

/// The result of [`Solution::verify_digests`](super::Solution::verify_digests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestCheck {
    /// A finding per blob file whose content does not match its name or the descriptors
    /// naming it, or cannot be read.
    pub findings: Vec<Finding>,
    /// Bytes hashed (each distinct blob once).
    pub hashed_bytes: u64,
    /// Distinct blobs hashed (hard links are one blob).
    pub hashed_blobs: usize,
}

/// Hashes each distinct blob file once, on `threads` threads (0: available parallelism), and
/// compares with names and descriptors.
pub(crate) fn verify(
    images: &[ContainerImage],
    blobs: &[BlobFile<'_>],
    threads: usize,
) -> DigestCheck {
    // Distinct blobs: hard links (same extent) are hashed once.
    let mut unique: Vec<usize> = Vec::new();
    let mut by_id: HashMap<FileId, usize> = HashMap::new();
    let mut alias: Vec<usize> = vec![0; blobs.len()];
    for (i, b) in blobs.iter().enumerate() {
        match b.id.and_then(|id| by_id.get(&id).copied()) {
            Some(u) => alias[i] = u,
            None => {
                if let Some(id) = b.id {
                    by_id.insert(id, unique.len());
                }
                alias[i] = unique.len();
                unique.push(i);
            }
        }
    }
    let items: Vec<Option<&Contents<'_>>> =
        unique.iter().map(|&i| blobs[i].contents.as_ref()).collect();
    let digests: Vec<Option<String>> = sha256x2::digest_all(&items, threads)
        .into_iter()
        .map(|d| d.map(hex::encode))
        .collect();
    let hashed_bytes = unique.iter().map(|&i| blobs[i].size).sum();
    let mut findings = Vec::new();
    for (i, b) in blobs.iter().enumerate() {
        let Some(actual) = &digests[alias[i]] else {
            findings.push(Finding::new(
                Rule::ImageBlobDigest,
                &b.path,
                "content unreadable (extent outside the image)",
            ));
            continue;
        };
        let img = &images[b.image];
        let referenced = img
            .blob_refs()
            .any(|r| Some(r.digest.strip_prefix("sha256:").unwrap_or("")) == b.name_hex.as_deref());
        match &b.name_hex {
            Some(name) if name == actual => {}
            Some(name) if referenced => findings.push(Finding::new(
                Rule::ImageBlobDigest,
                &b.path,
                format!("content has sha256 {actual}, but the manifest names sha256:{name}"),
            )),
            Some(name) => findings.push(Finding::new(
                Rule::ImageBlobName,
                &b.path,
                format!("named {name}, but its content has sha256 {actual}"),
            )),
            None => findings.push(Finding::new(
                Rule::ImageBlobName,
                &b.path,
                format!("an unexpected file in an image directory (not a sha256 name; content sha256 {actual})"),
            )),
        }
    }
    DigestCheck {
        findings,
        hashed_bytes,
        hashed_blobs: unique.len(),
    }
}
