//! The container images under `images/<name>/<tag>/` (skopeo `dir:` copies), their blobs, and
//! digest verification on several threads.

use std::collections::{BTreeMap, HashMap};

use oci_spec::image::{ImageIndex, ImageManifest};
use serde::Serialize;

use super::{read_capped, Finding, Rule};
use crate::digest::{is_sha256_hex, sha256_of, sha256_part, to_digest, Digest};
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
    /// The digest, as the descriptor gives it and oci-spec parsed it (`sha256:<hex>` for
    /// every blob a Solution can hold; another algorithm names no blob file). Serialised as
    /// its string.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
}

impl BlobRef {
    /// The hex part of [`BlobRef::digest`] when it is a SHA-256 digest: the name of its blob
    /// file in a tag directory.
    pub fn sha256_hex(&self) -> Option<&str> {
        sha256_part(&self.digest)
    }
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
    pub config: BlobRef,
    /// Its layers, in order.
    pub layers: Vec<BlobRef>,
}

/// What a tag's `manifest.json` describes, by what it is.
///
/// [`ContainerImage::kind`] and this agree: [`ManifestKind::DockerV2S2`] and
/// [`ManifestKind::OciManifest`] are [`ImageContent::Single`], [`ManifestKind::DockerList`]
/// and [`ManifestKind::OciIndex`] are [`ImageContent::List`], and [`ManifestKind::Other`]
/// (no `manifest.json`, or one that was refused: both are findings) is
/// [`ImageContent::Unknown`].
#[derive(Clone, Debug)]
pub enum ImageContent {
    /// No usable manifest: `manifest.json` is absent or could not be parsed as a schema 2
    /// image manifest, list or index. The tag references no blob.
    Unknown,
    /// An image manifest (Docker v2 schema 2 or OCI).
    Single {
        /// The config blob.
        config: BlobRef,
        /// The layers, in order.
        layers: Vec<BlobRef>,
    },
    /// A manifest list or index.
    List {
        /// The per-platform manifests (`<hex>.manifest.json` files), as the list names them.
        children: Vec<BlobRef>,
        /// What each per-platform manifest says, in the list's order (one per child whose
        /// file could be read and parsed; the others are findings).
        platforms: Vec<PlatformManifest>,
    },
}

impl ImageContent {
    /// The config blob of an image manifest (`None` for a list or an unknown manifest).
    pub fn config(&self) -> Option<&BlobRef> {
        match self {
            ImageContent::Single { config, .. } => Some(config),
            _ => None,
        }
    }

    /// The layers of an image manifest (empty for a list or an unknown manifest).
    pub fn layers(&self) -> &[BlobRef] {
        match self {
            ImageContent::Single { layers, .. } => layers,
            _ => &[],
        }
    }

    /// The per-platform manifests a list names (empty for anything else).
    pub fn children(&self) -> &[BlobRef] {
        match self {
            ImageContent::List { children, .. } => children,
            _ => &[],
        }
    }

    /// The per-platform manifests of a list that could be read (empty for anything else).
    pub fn platforms(&self) -> &[PlatformManifest] {
        match self {
            ImageContent::List { platforms, .. } => platforms,
            _ => &[],
        }
    }
}

/// One image tag directory.
///
/// Serialised (`isolution inspect --json`) flat, with `manifest_digest` as `""` when there
/// is no `manifest.json` and the content as `config`, `layers`, `children` and `platforms`
/// (`null` and empty lists for what the manifest kind does not have).
#[derive(Clone, Debug)]
pub struct ContainerImage {
    /// Repository name (the directory under `images/`).
    pub name: String,
    /// Tag (the directory under the name).
    pub tag: String,
    /// `images/<name>/<tag>`.
    pub path: String,
    /// `sha256:` of the raw `manifest.json` bytes (`None` when there is none).
    pub manifest_digest: Option<Digest>,
    /// Size of `manifest.json`.
    pub manifest_size: u64,
    /// Media type as declared (or implied by the schema).
    pub media_type: String,
    /// What it is.
    pub kind: ManifestKind,
    /// What the manifest describes (agrees with `kind`: see [`ImageContent`]).
    pub content: ImageContent,
    /// Content of the `version` file.
    pub version_file: Option<String>,
    /// Bytes of the distinct blobs this image references.
    pub blob_bytes: u64,
}

/// The serialised form of a [`ContainerImage`]: the flat shape it always had.
#[derive(Serialize)]
struct ContainerImageJson<'a> {
    name: &'a str,
    tag: &'a str,
    path: &'a str,
    manifest_digest: &'a str,
    manifest_size: u64,
    media_type: &'a str,
    kind: ManifestKind,
    config: Option<&'a BlobRef>,
    layers: &'a [BlobRef],
    children: &'a [BlobRef],
    platforms: &'a [PlatformManifest],
    version_file: &'a Option<String>,
    blob_bytes: u64,
}

impl Serialize for ContainerImage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ContainerImageJson {
            name: &self.name,
            tag: &self.tag,
            path: &self.path,
            manifest_digest: self.manifest_digest_str(),
            manifest_size: self.manifest_size,
            media_type: &self.media_type,
            kind: self.kind,
            config: self.config(),
            layers: self.layers(),
            children: self.children(),
            platforms: self.platforms(),
            version_file: &self.version_file,
            blob_bytes: self.blob_bytes,
        }
        .serialize(serializer)
    }
}

impl ContainerImage {
    /// Every blob this tag needs, manifests of lists excepted: the config and layers, and for a
    /// list or index each per-platform manifest with its config and layers (a blob shared by
    /// several platforms comes once per platform).
    pub fn blob_refs(&self) -> impl Iterator<Item = &BlobRef> {
        self.children().iter().chain(self.content_refs())
    }

    /// The configs and layers this tag needs: its own, or for a list or index those of every
    /// per-platform manifest (the blobs a registry stores as blobs; repeats possible).
    pub fn content_refs(&self) -> impl Iterator<Item = &BlobRef> {
        self.config().into_iter().chain(self.layers()).chain(
            self.platforms()
                .iter()
                .flat_map(|p| std::iter::once(&p.config).chain(&p.layers)),
        )
    }

    /// Whether this is a manifest list or an index.
    pub fn is_list(&self) -> bool {
        self.kind.is_list()
    }

    /// For a list or index: how many of its per-platform manifests could not be read (they
    /// are findings); a list with any is not exported or pushed.
    pub fn missing_platforms(&self) -> usize {
        self.children().len().saturating_sub(self.platforms().len())
    }

    /// [`ContainerImage::manifest_digest`] as a string: `sha256:<hex>`, or empty when there
    /// is no `manifest.json`.
    pub fn manifest_digest_str(&self) -> &str {
        self.manifest_digest.as_ref().map_or("", AsRef::as_ref)
    }

    /// The config blob of an image manifest (`None` for a list, or when the manifest is
    /// missing or refused).
    pub fn config(&self) -> Option<&BlobRef> {
        self.content.config()
    }

    /// The layers of an image manifest (empty for a list, or when the manifest is missing or
    /// refused).
    pub fn layers(&self) -> &[BlobRef] {
        self.content.layers()
    }

    /// For a list or index: the per-platform manifests it names (empty otherwise).
    pub fn children(&self) -> &[BlobRef] {
        self.content.children()
    }

    /// For a list or index: what each per-platform manifest that could be read says, in the
    /// list's order (empty otherwise).
    pub fn platforms(&self) -> &[PlatformManifest] {
        self.content.platforms()
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

fn blob_ref(d: &oci_spec::image::Descriptor) -> BlobRef {
    BlobRef {
        digest: d.digest().clone(),
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
    /// What it describes (agrees with `kind`).
    pub content: ParsedContent,
}

/// What a parsed `manifest.json` describes.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParsedContent {
    /// An image manifest.
    Single {
        /// The config blob.
        config: BlobRef,
        /// The layers, in order.
        layers: Vec<BlobRef>,
    },
    /// A manifest list or index.
    List {
        /// The per-platform manifests.
        children: Vec<BlobRef>,
        /// Their platforms, `os/architecture[/variant]` (empty when not given), one per child.
        child_platforms: Vec<String>,
    },
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
    let content = if kind.is_list() {
        let ix: ImageIndex = serde_json::from_slice(bytes).map_err(ImageManifestError::Index)?;
        ParsedContent::List {
            children: ix.manifests().iter().map(blob_ref).collect(),
            child_platforms: ix.manifests().iter().map(platform_of).collect(),
        }
    } else {
        let m: ImageManifest =
            serde_json::from_slice(bytes).map_err(ImageManifestError::Manifest)?;
        ParsedContent::Single {
            config: blob_ref(m.config()),
            layers: m.layers().iter().map(blob_ref).collect(),
        }
    };
    Ok(ParsedManifest {
        kind,
        media_type,
        content,
    })
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
    img.manifest_digest = Some(to_digest(&sha256_of(&bytes)));
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
    img.content = match parsed.content {
        ParsedContent::Single { config, layers } => ImageContent::Single { config, layers },
        ParsedContent::List {
            children,
            child_platforms,
        } => {
            let platforms = read_platforms(&children, &child_platforms, &mine, &mpath, findings);
            ImageContent::List {
                children,
                platforms,
            }
        }
    };
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
            manifest_digest: None,
            manifest_size: 0,
            media_type: String::new(),
            kind: ManifestKind::Other,
            content: ImageContent::Unknown,
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
                    name_hex: is_sha256_hex(stem).then(|| stem.to_string()),
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

/// Reads and parses the per-platform manifests of a list or index (`children`, whose
/// platforms are `child_platforms`) from their files in the tag directory (`mine`, by digest).
/// `mpath` is the list's `manifest.json`.
fn read_platforms(
    children: &[BlobRef],
    child_platforms: &[String],
    mine: &HashMap<&str, &BlobFile<'_>>,
    mpath: &str,
    findings: &mut Vec<Finding>,
) -> Vec<PlatformManifest> {
    let mut platforms = Vec::new();
    // Each distinct manifest is read once: a list naming one twice is refused (and would
    // otherwise multiply the work and memory by the number of repeats).
    let mut listed = std::collections::HashSet::new();
    let mut repeated = std::collections::HashSet::new();
    for (n, child) in children.iter().enumerate() {
        let hex = child.sha256_hex().unwrap_or("");
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
        let Some((kind, config, layers)) = read_platform_manifest(b, findings) else {
            continue;
        };
        platforms.push(PlatformManifest {
            manifest: child.clone(),
            platform: child_platforms.get(n).cloned().unwrap_or_default(),
            kind,
            config,
            layers,
        });
    }
    platforms
}

/// Reads and parses one per-platform manifest file (its kind, config and layers), or reports
/// why it cannot be used (too large, not a manifest, a nested list). `None` too when it is
/// unreadable: `verify` reports that.
fn read_platform_manifest(
    b: &BlobFile<'_>,
    findings: &mut Vec<Finding>,
) -> Option<(ManifestKind, BlobRef, Vec<BlobRef>)> {
    let cpath = &b.path;
    if let Some(f) = super::too_large(b.size, cpath) {
        findings.push(f);
        return None;
    }
    let bytes = b.contents.as_ref().map(Contents::to_vec)?;
    match parse_image_manifest(&bytes) {
        Ok(ParsedManifest {
            kind,
            content: ParsedContent::Single { config, layers },
            ..
        }) => Some((kind, config, layers)),
        Ok(ParsedManifest {
            content: ParsedContent::List { .. },
            ..
        }) => {
            findings.push(Finding::new(
                Rule::ImageManifestInvalid,
                cpath,
                "a list or index inside a list or index (nested lists are not supported)",
            ));
            None
        }
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
    img.config()
        .into_iter()
        .chain(img.layers())
        .map(|r| (r, None, ""))
        .chain(img.children().iter().map(|r| (r, None, ".manifest.json")))
        .chain(img.platforms().iter().flat_map(|p| {
            std::iter::once(&p.config)
                .chain(&p.layers)
                .map(move |r| (r, Some(p.manifest.sha256_hex().unwrap_or("")), ""))
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
        let hex = r.sha256_hex().unwrap_or("");
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
            .any(|r| Some(r.sha256_hex().unwrap_or("")) == b.name_hex.as_deref());
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
