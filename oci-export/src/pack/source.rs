//! Where `pack` takes images from: an OCI layout (`oci:DIR[:REF]`), an OCI archive
//! (`oci-archive:FILE[:REF]`), a `docker save` archive (`docker-archive:FILE[:REF]`), a skopeo
//! `dir:` copy (`dir:DIR`) or a registry (`docker://HOST/NAME:TAG`, downloaded first by
//! [`super::remote`] into a temporary OCI layout), each optionally preceded by `NAME:TAG=` to
//! choose the name and tag it gets in the Solution.
//!
//! Loading reads the index and manifest (bounded), checks them against their digests, turns an
//! OCI manifest into Docker v2 schema 2 ([`super::convert`]) and lists where each blob's bytes
//! are. When the chosen manifest is an OCI index or a Docker manifest list (from a layout, an
//! archive, or a skopeo `copy --all` `dir:` copy, whose instances are `<hex>.manifest.json`),
//! every platform's manifest is read and checked against the list's digest and size (at most
//! [`super::convert::MAX_PLATFORMS`], [`MAX_LIST_BYTES`] in all), converted, and the list
//! becomes a Docker manifest list as `skopeo copy --all --format v2s2` writes it; a nested
//! index, an artifact, an entry without a platform or a non-sha256 digest is refused by name.
//! With a platform choice (`pack --platform OS/ARCH[/VARIANT]`, [`ImageSpec::load_for`]), a
//! list or an index is instead reduced to that platform's manifest (only it and its blobs are
//! read), packed as a single image, as `skopeo copy --override-os/--override-arch/
//! --override-variant` chooses it.
//! The blobs themselves are read once, when the ISO is written, and hashed as they are copied.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::convert::{self, Converted};
use super::{io_err, PackError};

/// Largest manifest, index or `manifest.json` read into memory.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// Largest total of a list or index and its instance manifests read into memory.
pub const MAX_LIST_BYTES: u64 = 16 << 20;

/// An image to pack: where it comes from, and the name and tag it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// `NAME` of `NAME:TAG=`, else derived from the source.
    pub name: Option<String>,
    /// `TAG` of `NAME:TAG=`, else derived from the source.
    pub tag: Option<String>,
    /// Where the image is.
    pub source: ImageSource,
}

/// The transports `pack` reads, as skopeo spells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// `oci:DIR[:REF]`: an OCI image layout; `REF` matches `org.opencontainers.image.ref.name`.
    Oci {
        /// The layout directory.
        dir: PathBuf,
        /// The reference, when given.
        reference: Option<String>,
    },
    /// `oci-archive:FILE[:REF]`: a tar of an OCI image layout.
    OciArchive {
        /// The archive.
        file: PathBuf,
        /// The reference, when given.
        reference: Option<String>,
    },
    /// `docker-archive:FILE[:REF]`: what `docker save` (or skopeo) writes; `REF` is one of
    /// its `RepoTags`.
    DockerArchive {
        /// The archive.
        file: PathBuf,
        /// The reference, when given.
        reference: Option<String>,
    },
    /// `dir:DIR`: a skopeo `dir:` copy (`manifest.json`, blobs named by their hex digest).
    Dir {
        /// The directory.
        dir: PathBuf,
    },
    /// `docker://HOST[:PORT]/PATH/NAME[:TAG][@sha256:...]`: an image in a registry, downloaded
    /// by [`super::pack`] (see [`super::remote`]) into a private temporary OCI layout before it
    /// is loaded.
    Docker {
        /// The reference.
        reference: super::remote::RemoteRef,
    },
}

impl FromStr for ImageSpec {
    type Err = PackError;

    /// `[NAME:TAG=]TRANSPORT:...`.
    ///
    /// ```
    /// use oci_export::pack::source::{ImageSource, ImageSpec};
    /// let s: ImageSpec = "web:1.0=oci:./layout:latest".parse()?;
    /// assert_eq!((s.name.as_deref(), s.tag.as_deref()), (Some("web"), Some("1.0")));
    /// assert_eq!(
    ///     s.source,
    ///     ImageSource::Oci { dir: "./layout".into(), reference: Some("latest".into()) }
    /// );
    /// # Ok::<(), oci_export::pack::PackError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, PackError> {
        let bad = |why: &str| PackError::ImageSpec {
            spec: s.to_string(),
            why: why.to_string(),
        };
        const TRANSPORTS: [&str; 5] =
            ["oci:", "oci-archive:", "docker-archive:", "dir:", "docker:"];
        let prefixed = !TRANSPORTS.iter().any(|t| s.starts_with(t));
        let (name, tag, rest) = match s.split_once('=') {
            Some((nt, rest)) if prefixed => {
                let (n, t) = nt
                    .rsplit_once(':')
                    .ok_or_else(|| bad("NAME:TAG= needs both a name and a tag"))?;
                check_name(n).map_err(|w| bad(&w))?;
                check_tag(t).map_err(|w| bad(&w))?;
                (Some(n.to_string()), Some(t.to_string()), rest)
            }
            _ => (None, None, s),
        };
        let (transport, arg) = rest
            .split_once(':')
            .ok_or_else(|| bad("expected TRANSPORT:..., e.g. oci:DIR:TAG"))?;
        // As containers/image: the path ends at the first colon.
        let path_ref = |arg: &str| -> (PathBuf, Option<String>) {
            match arg.split_once(':') {
                Some((p, r)) if !r.is_empty() => (PathBuf::from(p), Some(r.to_string())),
                Some((p, _)) => (PathBuf::from(p), None),
                None => (PathBuf::from(arg), None),
            }
        };
        if arg.is_empty() {
            return Err(bad("the path is empty"));
        }
        let source = match transport {
            "oci" => {
                let (dir, reference) = path_ref(arg);
                ImageSource::Oci { dir, reference }
            }
            "oci-archive" => {
                let (file, reference) = path_ref(arg);
                ImageSource::OciArchive { file, reference }
            }
            "docker-archive" => {
                let (file, reference) = path_ref(arg);
                ImageSource::DockerArchive { file, reference }
            }
            "dir" => ImageSource::Dir {
                dir: PathBuf::from(arg),
            },
            "docker" => {
                let reference = super::remote::RemoteRef::parse(arg).map_err(|w| bad(&w))?;
                if tag.is_none() && reference.tag.is_none() {
                    return Err(bad(
                        "a reference by digest has no tag: give NAME:TAG= before docker://",
                    ));
                }
                ImageSource::Docker { reference }
            }
            other => {
                return Err(bad(&format!(
                    "unknown transport {other:?} (oci, oci-archive, docker-archive, dir, docker)"
                )))
            }
        };
        Ok(ImageSpec { name, tag, source })
    }
}

/// A distribution repository path component, as MetalK8s serves `images/<name>`:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, at most 128 bytes.
pub fn check_name(n: &str) -> Result<(), String> {
    let b = n.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    let mut ok = !b.is_empty() && b.len() <= 128;
    while ok {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            ok = false;
            break;
        }
        if i == b.len() {
            break;
        }
        match b[i] {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => ok = false,
        }
    }
    if ok {
        Ok(())
    } else {
        Err(format!(
            "image name {n:?} is not a valid repository name (lowercase letters and digits, \
             separated by '.', '_', '__' or dashes)"
        ))
    }
}

/// A distribution tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn check_tag(t: &str) -> Result<(), String> {
    let b = t.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {t:?} is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
        ))
    }
}

/// Where a blob's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobFrom {
    /// A whole file.
    File(PathBuf),
    /// A member of an archive: its data starts at `offset`.
    Member {
        /// The archive.
        archive: PathBuf,
        /// Offset of the member's data.
        offset: u64,
    },
    /// Bytes already in memory (small: configs read to be checked).
    Bytes(std::sync::Arc<[u8]>),
}

/// One blob of an image: its SHA-256 (hex), its size and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// SHA-256 of the bytes, lowercase hex: the file name in `images/<name>/<tag>/`.
    pub hex: String,
    /// Size in bytes.
    pub size: u64,
    /// Where the bytes are.
    pub from: BlobFrom,
}

/// An image ready to be written as `images/<name>/<tag>/`.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// Repository name.
    pub name: String,
    /// Tag.
    pub tag: String,
    /// `manifest.json` as written (Docker v2 schema 2).
    pub manifest: Vec<u8>,
    /// `sha256:` of `manifest`.
    pub digest: String,
    /// `sha256:` of the source's manifest when it was converted (its digest changed).
    pub converted_from: Option<String>,
    /// The config and the layers, each once (of every platform, for a list).
    pub blobs: Vec<Blob>,
    /// For a multi-platform image (`manifest` is a Docker manifest list): each platform's
    /// manifest, in the list's order, written beside it as `<hex>.manifest.json`. Empty for
    /// a single image.
    pub platforms: Vec<LoadedPlatform>,
    /// With a platform choice ([`ImageSpec::load_for`]), when the source is a list or an
    /// index: `sha256:` of that list, whose entry for the platform is this image.
    pub from_list: Option<String>,
    /// With a platform choice: the chosen entry's `os/architecture[/variant]` (from a list),
    /// or, for a single image whose configuration names a platform the choice does not
    /// take, that platform (packed as it is: see `platform_mismatch`).
    pub platform: Option<String>,
    /// With a platform choice: a single image whose configuration names another platform
    /// (it is packed as it is; pack notes it).
    pub platform_mismatch: bool,
}

/// One platform of a multi-platform image.
#[derive(Debug, Clone)]
pub struct LoadedPlatform {
    /// `os/architecture[/variant]`, from the list.
    pub platform: String,
    /// The manifest as written (Docker v2 schema 2).
    pub manifest: Vec<u8>,
    /// `sha256:` of `manifest`: the list's entry, and the file `<hex>.manifest.json`.
    pub digest: String,
    /// `sha256:` of the source's manifest when it was converted.
    pub converted_from: Option<String>,
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn bad_source(path: &Path, why: impl Into<String>) -> PackError {
    PackError::Source {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// Reads a small file (manifest, index), refusing more than [`MAX_MANIFEST_BYTES`].
fn read_small(path: &Path) -> Result<Vec<u8>, PackError> {
    let f = File::open(path).map_err(io_err(path, "open"))?;
    let mut v = Vec::new();
    f.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut v)
        .map_err(io_err(path, "read"))?;
    if v.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(bad_source(
            path,
            format!("larger than {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    Ok(v)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptors {
    config: Desc,
    layers: Vec<Desc>,
}

#[derive(Deserialize)]
struct Desc {
    digest: String,
    size: u64,
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The hex of a `sha256:` digest, checked.
fn sha256_hex<'a>(digest: &'a str, at: &Path) -> Result<&'a str, PackError> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| bad_source(at, format!("digest {digest:?} is not a sha256 digest")))
}

/// A layout's files: a directory, or the members of a tar.
trait Layout {
    fn describe(&self) -> &Path;
    fn read(&self, rel: &str) -> Result<Vec<u8>, PackError>;
    fn blob(&self, hex: &str, size: u64) -> Result<BlobFrom, PackError>;
}

struct DirLayout(PathBuf);

impl Layout for DirLayout {
    fn describe(&self) -> &Path {
        &self.0
    }
    fn read(&self, rel: &str) -> Result<Vec<u8>, PackError> {
        read_small(&self.0.join(rel))
    }
    fn blob(&self, hex: &str, size: u64) -> Result<BlobFrom, PackError> {
        let p = self.0.join("blobs/sha256").join(hex);
        file_blob(p, size)
    }
}

fn file_blob(p: PathBuf, size: u64) -> Result<BlobFrom, PackError> {
    let md = std::fs::symlink_metadata(&p).map_err(io_err(&p, "stat"))?;
    if !md.is_file() {
        return Err(bad_source(&p, "not a regular file"));
    }
    if md.len() != size {
        return Err(bad_source(
            &p,
            format!("{} bytes, but its descriptor says {size}", md.len()),
        ));
    }
    Ok(BlobFrom::File(p))
}

/// A tar's regular members: path -> (data offset, size).
struct TarLayout {
    file: PathBuf,
    members: BTreeMap<String, (u64, u64)>,
}

impl TarLayout {
    fn open(file: &Path) -> Result<TarLayout, PackError> {
        let f = File::open(file).map_err(io_err(file, "open"))?;
        let mut ar = tar::Archive::new(f);
        let mut members = BTreeMap::new();
        let mut links = Vec::new();
        let entries = ar.entries_with_seek().map_err(io_err(file, "read"))?;
        for e in entries {
            let e = e.map_err(io_err(file, "read"))?;
            let path = e.path().map_err(io_err(file, "read"))?;
            let path = path.to_string_lossy().trim_start_matches("./").to_string();
            let ty = e.header().entry_type();
            if ty.is_file() {
                members.insert(path, (e.raw_file_position(), e.size()));
            } else if ty.is_symlink() || ty.is_hard_link() {
                if let Ok(Some(t)) = e.link_name() {
                    links.push((path, ty.is_symlink(), t.to_string_lossy().into_owned()));
                }
            }
            if members.len() + links.len() > 1_000_000 {
                return Err(bad_source(file, "more than 1,000,000 members"));
            }
        }
        // docker save's `<id>/layer.tar -> ../<hex>.tar`: one level of links, resolved.
        for (path, sym, target) in links {
            let resolved = if sym {
                let base = Path::new(&path).parent().unwrap_or(Path::new(""));
                normalize(&base.join(&target))
            } else {
                Some(target.trim_start_matches("./").to_string())
            };
            if let Some(m) = resolved.and_then(|t| members.get(&t).copied()) {
                members.insert(path, m);
            }
        }
        Ok(TarLayout {
            file: file.to_path_buf(),
            members,
        })
    }

    fn member(&self, rel: &str) -> Result<(u64, u64), PackError> {
        self.members
            .get(rel)
            .copied()
            .ok_or_else(|| bad_source(&self.file, format!("no member {rel:?}")))
    }

    fn read_member(&self, rel: &str) -> Result<Vec<u8>, PackError> {
        let (off, size) = self.member(rel)?;
        if size > MAX_MANIFEST_BYTES {
            return Err(bad_source(
                &self.file,
                format!("{rel}: larger than {MAX_MANIFEST_BYTES} bytes"),
            ));
        }
        read_range(&self.file, off, size)
    }
}

/// `a/./b/../c` as `a/c`; `None` when it climbs out.
fn normalize(p: &Path) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop()?;
            }
            _ => return None,
        }
    }
    Some(out.join("/"))
}

fn read_range(file: &Path, offset: u64, size: u64) -> Result<Vec<u8>, PackError> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(file).map_err(io_err(file, "open"))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(io_err(file, "seek"))?;
    let mut v = Vec::new();
    f.take(size)
        .read_to_end(&mut v)
        .map_err(io_err(file, "read"))?;
    if v.len() as u64 != size {
        return Err(bad_source(file, "archive cut short"));
    }
    Ok(v)
}

impl Layout for TarLayout {
    fn describe(&self) -> &Path {
        &self.file
    }
    fn read(&self, rel: &str) -> Result<Vec<u8>, PackError> {
        self.read_member(rel)
    }
    fn blob(&self, hex: &str, size: u64) -> Result<BlobFrom, PackError> {
        let rel = format!("blobs/sha256/{hex}");
        let (offset, len) = self.member(&rel)?;
        if len != size {
            return Err(bad_source(
                &self.file,
                format!("{rel}: {len} bytes, but its descriptor says {size}"),
            ));
        }
        Ok(BlobFrom::Member {
            archive: self.file.clone(),
            offset,
        })
    }
}

/// `(name, tag)` from a reference such as `repo/name:tag` or `tag`.
fn split_reference(reference: &str, fallback_name: &str) -> (String, String) {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    match last.rsplit_once(':') {
        Some((n, t)) if !n.is_empty() => (n.to_string(), t.to_string()),
        _ => (fallback_name.to_string(), reference.to_string()),
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl ImageSpec {
    /// Reads what the source says of the image (not its blobs), converted to Docker v2
    /// schema 2 (a list or an index with every platform).
    pub fn load(&self) -> Result<LoadedImage, PackError> {
        self.load_for(None)
    }

    /// As [`ImageSpec::load`]; with a platform choice, a list or an index is reduced to the
    /// manifest of that platform (chosen as [`convert::choose_instance`] chooses it: only
    /// that manifest and its blobs are read), converted as a single image, as
    /// `skopeo copy --override-os OS --override-arch ARCH [--override-variant VARIANT]
    /// --format v2s2` does; a list with no entry for it is refused, naming the platforms it
    /// has. A single image is loaded as it is (its configuration naming another platform is
    /// noted in [`LoadedImage::platform_mismatch`]).
    pub fn load_for(
        &self,
        platform: Option<&convert::PlatformChoice>,
    ) -> Result<LoadedImage, PackError> {
        let mut chosen: Option<(String, String)> = None;
        let (derived, manifest, blobs, at) = match &self.source {
            ImageSource::Oci { dir, reference } => {
                let l = DirLayout(dir.clone());
                let (d, m, b) =
                    load_layout(&l, reference.as_deref(), &stem(dir), platform, &mut chosen)?;
                (d, m, b, dir.clone())
            }
            ImageSource::OciArchive { file, reference } => {
                let l = TarLayout::open(file)?;
                let (d, m, b) =
                    load_layout(&l, reference.as_deref(), &stem(file), platform, &mut chosen)?;
                (d, m, b, file.clone())
            }
            ImageSource::DockerArchive { file, reference } => {
                let (d, m, b) = load_docker_archive(file, reference.as_deref())?;
                (d, m, b, file.clone())
            }
            ImageSource::Dir { dir } => {
                let (d, m, b) = load_dir(dir, platform, &mut chosen)?;
                (d, m, b, dir.clone())
            }
            ImageSource::Docker { reference } => {
                return Err(bad_source(
                    Path::new(&reference.to_string()),
                    "a registry image is downloaded first (pack does it, see pack::remote), \
                     then loaded from its temporary layout",
                ))
            }
        };
        let name = self.name.clone().or(derived.0).ok_or_else(|| {
            bad_source(
                &at,
                "cannot tell the image's name: give NAME:TAG= before the source",
            )
        })?;
        let tag = self.tag.clone().or(derived.1).ok_or_else(|| {
            bad_source(
                &at,
                "cannot tell the image's tag: give NAME:TAG= before the source",
            )
        })?;
        check_name(&name).map_err(|w| bad_source(&at, w))?;
        check_tag(&tag).map_err(|w| bad_source(&at, w))?;
        let source_digest = sha256_digest(&manifest);
        if chosen.is_none() && convert::is_list(&manifest) {
            let (list, platforms, blobs) = convert_list(&manifest, blobs, &at)?;
            let (manifest, converted_from) = match list {
                Converted::Unchanged => (manifest, None),
                Converted::Rewritten(m) => (m, Some(source_digest)),
            };
            return Ok(LoadedImage {
                name,
                tag,
                digest: sha256_digest(&manifest),
                manifest,
                converted_from,
                blobs,
                platforms,
                from_list: None,
                platform: None,
                platform_mismatch: false,
            });
        }
        let (manifest, converted_from) =
            match convert::to_v2s2(&manifest).map_err(|e| bad_source(&at, e.to_string()))? {
                Converted::Unchanged => (manifest, None),
                Converted::Rewritten(m) => (m, Some(source_digest)),
            };
        let digest = sha256_digest(&manifest);
        // A single image and a platform choice: its configuration's platform, noted when
        // the choice does not take it.
        let (from_list, platform, platform_mismatch) = match (chosen, platform) {
            (Some((list, p)), _) => (Some(list), Some(p), false),
            (None, Some(want)) => match blobs.first().and_then(config_platform) {
                Some((os, arch, variant)) if !want.accepts(&os, &arch, &variant) => {
                    let mut p = format!("{os}/{arch}");
                    if !variant.is_empty() {
                        p.push('/');
                        p.push_str(&variant);
                    }
                    (None, Some(p), true)
                }
                _ => (None, None, false),
            },
            (None, None) => (None, None, false),
        };
        Ok(LoadedImage {
            name,
            tag,
            manifest,
            digest,
            converted_from,
            blobs,
            platforms: Vec::new(),
            from_list,
            platform,
            platform_mismatch,
        })
    }
}

/// The `os`, `architecture` and `variant` (`""`: none) of an image configuration blob, when it
/// is small ([`MAX_MANIFEST_BYTES`]), readable, matches its digest and says them.
fn config_platform(config: &Blob) -> Option<(String, String, String)> {
    if config.size > MAX_MANIFEST_BYTES {
        return None;
    }
    let bytes = match &config.from {
        BlobFrom::File(p) => read_small(p).ok()?,
        BlobFrom::Member { archive, offset } => read_range(archive, *offset, config.size).ok()?,
        BlobFrom::Bytes(b) => b.to_vec(),
    };
    if sha256_digest(&bytes) != format!("sha256:{}", config.hex) {
        return None;
    }
    #[derive(Deserialize)]
    struct C {
        #[serde(default)]
        os: String,
        #[serde(default)]
        architecture: String,
        #[serde(default)]
        variant: Option<String>,
    }
    let c: C = serde_json::from_slice(&bytes).ok()?;
    if c.os.is_empty() || c.architecture.is_empty() {
        return None;
    }
    Some((c.os, c.architecture, c.variant.unwrap_or_default()))
}

/// With a platform choice, the list or index `list` (already checked against its digest)
/// reduced to the chosen entry: its manifest, read by `read(hex)` and checked against the
/// entry's digest and size, and its blobs, located by `blob`; `chosen` gets the list's digest
/// and the entry's platform.
fn choose_from_list(
    list: &[u8],
    at: &Path,
    want: &convert::PlatformChoice,
    chosen: &mut Option<(String, String)>,
    read: impl FnOnce(&str) -> Result<Vec<u8>, PackError>,
    blob: &mut dyn FnMut(&str, u64) -> Result<BlobFrom, PackError>,
) -> Result<(Vec<u8>, Vec<Blob>), PackError> {
    let bad = |e: convert::ListError| bad_source(at, format!("manifest list: {e}"));
    let entries = convert::list_entries(list).map_err(bad)?;
    let i = convert::choose_instance(list, want).map_err(bad)?;
    let Some(e) = entries.get(i) else {
        return Err(bad_source(at, format!("manifest list: no entry {i}")));
    };
    let hex = sha256_hex(&e.digest, at)?;
    if e.size > MAX_MANIFEST_BYTES {
        return Err(bad_source(
            at,
            format!(
                "manifest list: entry {i} ({}): larger than {MAX_MANIFEST_BYTES} bytes",
                e.digest
            ),
        ));
    }
    let m = read(hex)?;
    if m.len() as u64 != e.size || sha256_digest(&m) != e.digest {
        return Err(bad_source(
            at,
            format!(
                "manifest list: entry {i} ({}): its manifest does not match the list's \
                 descriptor (size or digest)",
                e.digest
            ),
        ));
    }
    let blobs = manifest_blobs(&m, at, blob)?;
    *chosen = Some((sha256_digest(list), e.platform.clone()));
    Ok((m, blobs))
}

/// A list or index and what a source found for it (each instance manifest as
/// [`BlobFrom::Bytes`], checked against its digest, then the instances' blobs), converted:
/// the list as written, its platforms, and the blobs without the instance manifests.
fn convert_list(
    list: &[u8],
    found: Vec<Blob>,
    at: &Path,
) -> Result<(Converted, Vec<LoadedPlatform>, Vec<Blob>), PackError> {
    let bad = |e: convert::ListError| bad_source(at, format!("manifest list: {e}"));
    let entries = convert::list_entries(list).map_err(bad)?;
    let mut instances: BTreeMap<String, std::sync::Arc<[u8]>> = BTreeMap::new();
    let mut blobs = Vec::new();
    for b in found {
        match &b.from {
            BlobFrom::Bytes(bytes)
                if entries
                    .iter()
                    .any(|e| e.digest.strip_prefix("sha256:") == Some(b.hex.as_str())) =>
            {
                instances.insert(b.hex.clone(), bytes.clone());
            }
            _ => blobs.push(b),
        }
    }
    let c = convert::list_to_v2s2(list, |i| {
        let hex = entries.get(i)?.digest.strip_prefix("sha256:")?;
        instances.get(hex).map(|b| &b[..])
    })
    .map_err(bad)?;
    let mut platforms = Vec::with_capacity(entries.len());
    for (e, conv) in entries.iter().zip(c.instances) {
        let hex = e.digest.strip_prefix("sha256:").unwrap_or_default();
        let (manifest, converted_from) = match conv {
            Converted::Unchanged => match instances.get(hex) {
                Some(b) => (b.to_vec(), None),
                None => return Err(bad_source(at, format!("{}: missing", e.digest))),
            },
            Converted::Rewritten(m) => (m, Some(e.digest.clone())),
        };
        platforms.push(LoadedPlatform {
            platform: e.platform.clone(),
            digest: sha256_digest(&manifest),
            manifest,
            converted_from,
        });
    }
    Ok((c.list, platforms, blobs))
}

/// For the list or index `list` (already checked against its digest): each instance
/// manifest, read by `read(hex, size)` and checked against its entry's digest and size
/// (bounded: [`MAX_LIST_BYTES`] in all), as [`BlobFrom::Bytes`], then each instance's config
/// and layers located by `blob`, every blob once.
fn list_blobs(
    list: &[u8],
    at: &Path,
    mut read: impl FnMut(&str, u64) -> Result<Vec<u8>, PackError>,
    mut blob: impl FnMut(&str, u64) -> Result<BlobFrom, PackError>,
) -> Result<Vec<Blob>, PackError> {
    let entries =
        convert::list_entries(list).map_err(|e| bad_source(at, format!("manifest list: {e}")))?;
    let mut total = list.len() as u64;
    let mut out: Vec<Blob> = Vec::new();
    let mut manifests = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let hex = sha256_hex(&e.digest, at)?;
        if out.iter().any(|b| b.hex == hex) {
            continue;
        }
        let why =
            |w: String| bad_source(at, format!("manifest list: entry {i} ({}): {w}", e.digest));
        if e.size > MAX_MANIFEST_BYTES {
            return Err(why(format!("larger than {MAX_MANIFEST_BYTES} bytes")));
        }
        total += e.size;
        if total > MAX_LIST_BYTES {
            return Err(why(format!(
                "the list and its manifests are larger than {MAX_LIST_BYTES} bytes"
            )));
        }
        let m = read(hex, e.size)?;
        if m.len() as u64 != e.size || sha256_digest(&m) != e.digest {
            return Err(why(
                "its manifest does not match the list's descriptor (size or digest)".into(),
            ));
        }
        let m: std::sync::Arc<[u8]> = m.into();
        manifests.push(m.clone());
        out.push(Blob {
            hex: hex.to_string(),
            size: e.size,
            from: BlobFrom::Bytes(m),
        });
    }
    for m in manifests {
        for b in manifest_blobs(&m, at, &mut blob)? {
            if !out.iter().any(|o| o.hex == b.hex) {
                out.push(b);
            }
        }
    }
    Ok(out)
}

type Derived = (Option<String>, Option<String>);

/// The config and layers a manifest names, each once, located by `blob`.
fn manifest_blobs(
    manifest: &[u8],
    at: &Path,
    blob: &mut dyn FnMut(&str, u64) -> Result<BlobFrom, PackError>,
) -> Result<Vec<Blob>, PackError> {
    let d: Descriptors =
        serde_json::from_slice(manifest).map_err(|e| bad_source(at, format!("manifest: {e}")))?;
    let mut out: Vec<Blob> = Vec::new();
    for desc in std::iter::once(&d.config).chain(d.layers.iter()) {
        let hex = sha256_hex(&desc.digest, at)?;
        if out.iter().any(|b| b.hex == hex) {
            continue;
        }
        let from = blob(hex, desc.size)?;
        out.push(Blob {
            hex: hex.to_string(),
            size: desc.size,
            from,
        });
    }
    Ok(out)
}

fn load_layout(
    l: &dyn Layout,
    reference: Option<&str>,
    fallback_name: &str,
    platform: Option<&convert::PlatformChoice>,
    picked: &mut Option<(String, String)>,
) -> Result<(Derived, Vec<u8>, Vec<Blob>), PackError> {
    let at = l.describe().to_path_buf();
    let layout = l.read("oci-layout")?;
    let v: serde_json::Value =
        serde_json::from_slice(&layout).map_err(|e| bad_source(&at, format!("oci-layout: {e}")))?;
    if v.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
        return Err(bad_source(
            &at,
            "oci-layout: imageLayoutVersion is not 1.0.0",
        ));
    }
    let index: Index = serde_json::from_slice(&l.read("index.json")?)
        .map_err(|e| bad_source(&at, format!("index.json: {e}")))?;
    let chosen: Vec<&IndexEntry> = match reference {
        Some(r) => index
            .manifests
            .iter()
            .filter(|m| m.annotations.get(REF_NAME).map(String::as_str) == Some(r))
            .collect(),
        None => index.manifests.iter().collect(),
    };
    let entry = match chosen.as_slice() {
        [one] => *one,
        [] => {
            return Err(bad_source(
                &at,
                match reference {
                    Some(r) => format!("no image named {r:?} in index.json{}", names(&index)),
                    None => "index.json lists no image".to_string(),
                },
            ))
        }
        _ => {
            return Err(bad_source(
                &at,
                format!(
                    "index.json lists several images: name one as oci:PATH:REF{}",
                    names(&index)
                ),
            ))
        }
    };
    let is_list = entry.media_type == iso_core::solution::media::OCI_INDEX
        || entry.media_type == iso_core::solution::media::DOCKER_LIST;
    let hex = sha256_hex(&entry.digest, &at)?;
    if entry.size > MAX_MANIFEST_BYTES {
        return Err(bad_source(&at, "manifest larger than 4 MiB"));
    }
    let manifest = l.read(&format!("blobs/sha256/{hex}"))?;
    if manifest.len() as u64 != entry.size || sha256_digest(&manifest) != entry.digest {
        return Err(bad_source(
            &at,
            format!("manifest blob {hex} does not match its descriptor (size or digest)"),
        ));
    }
    let (manifest, blobs) = match (is_list || convert::is_list(&manifest), platform) {
        (true, Some(want)) => choose_from_list(
            &manifest,
            &at,
            want,
            picked,
            |h| l.read(&format!("blobs/sha256/{h}")),
            &mut |h, s| l.blob(h, s),
        )?,
        (true, None) => {
            let blobs = list_blobs(
                &manifest,
                &at,
                |h, _| l.read(&format!("blobs/sha256/{h}")),
                |h, s| l.blob(h, s),
            )?;
            (manifest, blobs)
        }
        (false, _) => {
            let blobs = manifest_blobs(&manifest, &at, &mut |h, s| l.blob(h, s))?;
            (manifest, blobs)
        }
    };
    let derived = match reference.or(entry.annotations.get(REF_NAME).map(String::as_str)) {
        Some(r) => {
            let (n, t) = split_reference(r, fallback_name);
            (Some(n), Some(t))
        }
        None => (Some(fallback_name.to_string()), None),
    };
    Ok((derived, manifest, blobs))
}

fn names(index: &Index) -> String {
    let n: Vec<&str> = index
        .manifests
        .iter()
        .filter_map(|m| m.annotations.get(REF_NAME).map(String::as_str))
        .collect();
    if n.is_empty() {
        String::new()
    } else {
        format!(" (it has: {})", n.join(", "))
    }
}

fn load_dir(
    dir: &Path,
    platform: Option<&convert::PlatformChoice>,
    chosen: &mut Option<(String, String)>,
) -> Result<(Derived, Vec<u8>, Vec<Blob>), PackError> {
    let manifest = read_small(&dir.join("manifest.json"))?;
    // A skopeo `copy --all` copy: the list, and each instance as `<hex>.manifest.json`.
    let (manifest, blobs) = match (convert::is_list(&manifest), platform) {
        (true, Some(want)) => choose_from_list(
            &manifest,
            dir,
            want,
            chosen,
            |h| read_small(&dir.join(format!("{h}.manifest.json"))),
            &mut |h, s| file_blob(dir.join(h), s),
        )?,
        (true, None) => {
            let blobs = list_blobs(
                &manifest,
                dir,
                |h, _| read_small(&dir.join(format!("{h}.manifest.json"))),
                |h, s| file_blob(dir.join(h), s),
            )?;
            (manifest, blobs)
        }
        (false, _) => {
            let blobs = manifest_blobs(&manifest, dir, &mut |h, s| file_blob(dir.join(h), s))?;
            (manifest, blobs)
        }
    };
    // `.../images/<name>/<tag>` as a Solution source tree holds it.
    let abs = std::fs::canonicalize(dir).map_err(io_err(dir, "resolve"))?;
    let tag = abs.file_name().map(|s| s.to_string_lossy().into_owned());
    let name = abs
        .parent()
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned());
    Ok(((name, tag), manifest, blobs))
}

#[derive(Deserialize)]
struct SaveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn hash_member(t: &TarLayout, rel: &str) -> Result<(String, u64, BlobFrom), PackError> {
    use std::io::{Seek, SeekFrom};
    let (offset, size) = t.member(rel)?;
    let mut f = File::open(&t.file).map_err(io_err(&t.file, "open"))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(io_err(&t.file, "seek"))?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f.take(size), &mut h).map_err(io_err(&t.file, "read"))?;
    if n != size {
        return Err(bad_source(&t.file, format!("{rel}: archive cut short")));
    }
    Ok((
        hex::encode(h.finalize()),
        size,
        BlobFrom::Member {
            archive: t.file.clone(),
            offset,
        },
    ))
}

/// A `docker save` archive: its layers are uncompressed tars, so the manifest written for it
/// is built here, with the layers' own digests. Unlike skopeo, which labels such layers
/// `tar.gzip`, they are labelled `application/vnd.docker.image.rootfs.diff.tar`, what they
/// are: the manifest's digest differs from skopeo's for that reason.
fn load_docker_archive(
    file: &Path,
    reference: Option<&str>,
) -> Result<(Derived, Vec<u8>, Vec<Blob>), PackError> {
    let t = TarLayout::open(file)?;
    let entries: Vec<SaveEntry> = serde_json::from_slice(&t.read_member("manifest.json")?)
        .map_err(|e| bad_source(file, format!("manifest.json: {e}")))?;
    let chosen: Vec<&SaveEntry> = entries
        .iter()
        .filter(|e| {
            reference.is_none_or(|r| {
                e.repo_tags.iter().flatten().any(|t| {
                    t == r
                        || t.strip_prefix("docker.io/") == Some(r)
                        || t.strip_prefix("docker.io/library/") == Some(r)
                })
            })
        })
        .collect();
    let e = match chosen.as_slice() {
        [one] => *one,
        [] => return Err(bad_source(file, "no such image in manifest.json")),
        _ => {
            return Err(bad_source(
                file,
                "several images in manifest.json: name one as docker-archive:FILE:NAME:TAG",
            ))
        }
    };
    let (chex, csize, cfrom) = hash_member(&t, &e.config)?;
    let mut blobs = vec![Blob {
        hex: chex.clone(),
        size: csize,
        from: cfrom,
    }];
    let mut layers = Vec::new();
    for l in &e.layers {
        let (hex, size, from) = hash_member(&t, l)?;
        layers.push((hex.clone(), size));
        if !blobs.iter().any(|b| b.hex == hex) {
            blobs.push(Blob { hex, size, from });
        }
    }
    let mut m = String::new();
    m.push_str(r#"{"schemaVersion":2,"mediaType":"#);
    convert::go_string(&mut m, iso_core::solution::media::DOCKER_V2S2);
    m.push_str(&format!(
        r#","config":{{"mediaType":"{}","size":{csize},"digest":"sha256:{chex}"}},"layers":["#,
        convert::DOCKER_CONFIG
    ));
    for (i, (hex, size)) in layers.iter().enumerate() {
        if i > 0 {
            m.push(',');
        }
        m.push_str(&format!(
            r#"{{"mediaType":"{}","size":{size},"digest":"sha256:{hex}"}}"#,
            convert::DOCKER_LAYER_TAR
        ));
    }
    m.push_str("]}");
    let derived = match reference.or(e
        .repo_tags
        .as_ref()
        .and_then(|t| t.first())
        .map(String::as_str))
    {
        Some(r) => {
            let (n, t) = split_reference(r, &stem(file));
            (Some(n), Some(t))
        }
        None => (Some(stem(file)), None),
    };
    Ok((derived, m.into_bytes(), blobs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn specs() {
        let s: ImageSpec = "oci:/a/b".parse().unwrap();
        assert_eq!(s.name, None);
        assert_eq!(
            s.source,
            ImageSource::Oci {
                dir: "/a/b".into(),
                reference: None
            }
        );
        let s: ImageSpec = "x:1=docker-archive:f.tar:repo/x:2".parse().unwrap();
        assert_eq!(s.tag.as_deref(), Some("1"));
        assert_eq!(
            s.source,
            ImageSource::DockerArchive {
                file: "f.tar".into(),
                reference: Some("repo/x:2".into())
            }
        );
        let s: ImageSpec = "docker://h:5000/a/x:1".parse().unwrap();
        assert_eq!((s.name.as_deref(), s.tag.as_deref()), (None, None));
        assert!(matches!(s.source, ImageSource::Docker { .. }));
        assert!("docker://h/x@sha256:0".parse::<ImageSpec>().is_err());
        let by_digest = format!("docker://h.io/x@sha256:{}", "a".repeat(64));
        assert!(
            by_digest.parse::<ImageSpec>().is_err(),
            "no tag: NAME:TAG= needed"
        );
        let s: ImageSpec = format!("x:1={by_digest}").parse().unwrap();
        assert_eq!(
            (s.name.as_deref(), s.tag.as_deref()),
            (Some("x"), Some("1"))
        );
        assert!("nope:x".parse::<ImageSpec>().is_err());
        assert!("X:1=oci:d".parse::<ImageSpec>().is_err());
        assert!("x=oci:d".parse::<ImageSpec>().is_err());
        assert!("x:1=oci:".parse::<ImageSpec>().is_err());
    }

    #[test]
    fn list_bounds() {
        // Four distinct manifests of 4 MiB: with the list, more than 16 MiB in all.
        let big: Vec<Vec<u8>> = (0..4u8)
            .map(|i| {
                let mut v = vec![b' '; MAX_MANIFEST_BYTES as usize];
                v[0] = b'0' + i;
                v
            })
            .collect();
        let entries: Vec<String> = big
            .iter()
            .map(|b| {
                format!(
                    r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}}"#,
                    sha256_digest(b),
                    b.len()
                )
            })
            .collect();
        let list = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            entries.join(",")
        );
        let mut reads = 0;
        let e = list_blobs(
            list.as_bytes(),
            Path::new("L"),
            |h, _| {
                reads += 1;
                Ok(big
                    .iter()
                    .find(|b| sha256_digest(b).ends_with(h))
                    .unwrap()
                    .clone())
            },
            |_, _| Ok(BlobFrom::Bytes(Vec::new().into())),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("entry 3") && e.contains("larger than 16777216"),
            "{e}"
        );
        assert_eq!(reads, 3, "the fourth manifest is not read");
        // One manifest larger than 4 MiB, refused before it is read.
        let list = list.replace(
            &format!(r#""size":{}"#, MAX_MANIFEST_BYTES),
            &format!(r#""size":{}"#, MAX_MANIFEST_BYTES + 1),
        );
        let e = list_blobs(
            list.as_bytes(),
            Path::new("L"),
            |_, _| unreachable!(),
            |_, _| unreachable!(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("entry 0") && e.contains("larger than 4194304"),
            "{e}"
        );
    }

    #[test]
    fn names_and_tags() {
        for ok in ["a", "a.b", "a_b", "a__b", "a-b", "base-server", "x9"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "A", "a/b", "-a", "a-", "a..b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for ok in ["1.0.2", "latest", "_x", "V1-rc.1"] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a:b", &"x".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
        assert_eq!(
            split_reference("docker.io/example/base-server:1.0.2", "f"),
            ("base-server".into(), "1.0.2".into())
        );
        assert_eq!(split_reference("1.0", "f"), ("f".into(), "1.0".into()));
        assert_eq!(normalize(Path::new("a/../b.tar")), Some("b.tar".into()));
        assert_eq!(normalize(Path::new("../b.tar")), None);
    }
}
