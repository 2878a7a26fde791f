//! `isolution pack`: a Solution ISO built in one pass from a source tree and the images a
//! packager already has, reproducibly, with `SHA256SUMS` and (optionally) its minisign or
//! SSH signature.
//!
//! What goes in:
//! - every file and directory of the source tree (`manifest.yaml`, `operator/deploy/...`,
//!   anything else), with owner root, modes kept (read for all, execute kept), times from
//!   `SOURCE_DATE_EPOCH` when set; a `manifest.yaml` written from the name, version and
//!   display name when the tree has none;
//! - each image (from a layout, an archive, a `dir:` copy, or a registry: [`remote`] downloads
//!   those first into a private temporary directory, removed when `pack` returns) as
//!   `images/<name>/<tag>/` in the layout MetalK8s serves (skopeo `dir:`:
//!   `manifest.json` in Docker v2 schema 2, `version`, blobs named by their hex digest), an
//!   OCI manifest converted as `skopeo copy --format v2s2` converts it ([`convert`]); a blob
//!   used by several tags is stored once (hard links: one extent, several names) and hashed as
//!   it is written: bytes that do not match their digest stop the build; a multi-platform
//!   image (OCI index or Docker manifest list) is kept with every platform, as
//!   `skopeo copy --all --format v2s2` writes it: `manifest.json` is a Docker manifest list,
//!   each platform's manifest is `<hex>.manifest.json` beside it, and the blobs of every
//!   platform are there, each once (MetalK8s's registry serves no list: the registry config
//!   leaves such a tag out, as MetalK8s's generator does, and `validate --strict` warns);
//!   with [`PackOptions::platform`] (`--platform OS/ARCH[/VARIANT]`) it is instead reduced to
//!   that platform's manifest and packed as a single v2s2 image, byte for byte what
//!   `skopeo copy --override-arch ARCH --format v2s2` writes, which MetalK8s serves;
//! - `registry-config.inc.j2`, byte for byte what MetalK8s's generator writes with
//!   `--omit-constants`; `SHA256SUMS` over every file; `SHA256SUMS.minisig` with a minisign
//!   key, `SHA256SUMS.sig` with an SSH key ([`Signer`]).
//!
//! The ISO (level 3, Rock Ridge, Joliet, primary names as MetalK8s reads them) is written by
//! [`iso_core::write`] to a temporary file beside the output, renamed when complete.

pub mod convert;
pub mod remote;
pub mod sign;
pub mod source;
pub mod sshsign;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use iso_core::solution::sums::{render_sums, Sums};
use iso_core::write::{IsoBuilder, Meta, Source, WriteError, WriteOptions};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

pub use convert::PlatformChoice;
pub use sign::{KeyError, MinisignSecretKey, Signer};
pub use source::{BlobFrom, ImageSource, ImageSpec, LoadedImage};
pub use sshsign::{SshKeyError, SshSecretKey};

/// Content of the `version` file of a skopeo `dir:` copy.
pub const DIR_VERSION: &[u8] = b"Directory Transport Version: 1.1\n";

const DISPLAY_NAME: &str = "solutions.metalk8s.scality.com/display-name";
const SUMS: &str = "SHA256SUMS";
/// The message of the I/O error that carries a stop through the writer.
const STOPPED: &str = "stopped by the progress callback";
const SUMS_MINISIG: &str = "SHA256SUMS.minisig";
const SUMS_SSHSIG: &str = "SHA256SUMS.sig";

/// What can go wrong while packing.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// An `--image` argument that does not parse.
    #[error("--image {spec:?}: {why}")]
    ImageSpec {
        /// The argument.
        spec: String,
        /// Why.
        why: String,
    },
    /// A source (layout, archive, directory) that cannot be used.
    #[error("{}: {why}", path.display())]
    Source {
        /// The source.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Reading a source failed.
    #[error("{}: cannot {what}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The error (in the message, not a `source()`: `{:#}` would print it twice).
        error: std::io::Error,
    },
    /// Two images, or an image and the source tree, want the same `images/<name>/<tag>`.
    #[error("images/{0} is given twice")]
    Duplicate(String),
    /// No `manifest.yaml` and no `--name`/`--version` to write one, or both.
    #[error("{0}")]
    Manifest(String),
    /// The source tree holds what a Solution cannot (symlinks, devices).
    #[error("{}: {why}", path.display())]
    Tree {
        /// The entry.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Writing the ISO failed (nothing is left under the output's name).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The progress callback asked to stop (nothing is left under the output's name).
    #[error(transparent)]
    Stopped(#[from] crate::Stopped),
    /// A `docker://` image could not be downloaded (nothing is left behind: the temporary
    /// directory is removed).
    #[error(transparent)]
    Remote(#[from] remote::RemoteError),
}

/// What to pack.
#[derive(Debug, Default)]
pub struct PackOptions {
    /// The source tree (`manifest.yaml`, `operator/`, anything else).
    pub src: Option<PathBuf>,
    /// Images to add.
    pub images: Vec<ImageSpec>,
    /// `metadata.name` for a `manifest.yaml` written by pack.
    pub name: Option<String>,
    /// `spec.version` for a written `manifest.yaml`.
    pub version: Option<String>,
    /// The display name for a written `manifest.yaml` (default: the name).
    pub display_name: Option<String>,
    /// The volume id (default: `<display name> <version>`, as MetalK8s's example, cut to 32).
    pub volume_id: Option<String>,
    /// Every time in the image (default: [`iso_core::write::source_date_epoch_from_env`]).
    pub source_date_epoch: Option<i64>,
    /// Signs `SHA256SUMS` (minisign or SSH).
    pub signer: Option<Signer>,
    /// How `docker://` images are downloaded (registries, credentials, time limits).
    pub remote: remote::RemoteOptions,
    /// `--platform OS/ARCH[/VARIANT]`: every multi-platform image is reduced to that
    /// platform's manifest, packed as a single Docker v2 schema 2 image (what MetalK8s's
    /// registry serves); a list without it is refused. See [`ImageSpec::load_for`].
    pub platform: Option<convert::PlatformChoice>,
}

/// An image as packed.
#[derive(Debug, Clone, Serialize)]
pub struct PackedImage {
    /// Repository name.
    pub name: String,
    /// Tag.
    pub tag: String,
    /// Digest of `manifest.json` as written.
    pub digest: String,
    /// The source manifest's digest when it was converted to Docker v2 schema 2.
    pub converted_from: Option<String>,
    /// Number of blobs (config and layers; of every platform, each once, for a list).
    pub blobs: usize,
    /// For a multi-platform image (`digest` is then a Docker manifest list's): each platform,
    /// in the list's order. Empty (and absent from JSON) for a single image.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PackedPlatform>,
    /// With `--platform`, when the source is a list or an index: its digest (this image is
    /// its entry for the platform). Absent from JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_list: Option<String>,
    /// With `--platform`: the platform chosen from the list, or the platform a single
    /// image's configuration names when `--platform` does not take it (`platform_mismatch`).
    /// Absent from JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// With `--platform`: a single image whose configuration names another platform (packed
    /// as it is). Absent from JSON when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub platform_mismatch: bool,
}

/// One platform of a multi-platform image, as packed.
#[derive(Debug, Clone, Serialize)]
pub struct PackedPlatform {
    /// `os/architecture[/variant]`.
    pub platform: String,
    /// Digest of its manifest as written (`<hex>.manifest.json`).
    pub digest: String,
    /// The source manifest's digest when it was converted to Docker v2 schema 2.
    pub converted_from: Option<String>,
}

/// What [`pack`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PackReport {
    /// The ISO.
    pub output: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The volume id.
    pub volume_id: String,
    /// Files in the image (hard links counted once per name).
    pub files: usize,
    /// Images added from `--image`.
    pub images: Vec<PackedImage>,
    /// Distinct blobs stored (each once).
    pub distinct_blobs: usize,
    /// Bytes of those blobs.
    pub blob_bytes: u64,
    /// `registry-config.inc.j2` of the source tree replaced by the generated one.
    pub replaced_registry_config: bool,
    /// Key id of the signature, when signed: minisign's key id, or the SSH key's fingerprint
    /// (`SHA256:...`).
    pub signed_by: Option<String>,
    /// The signature's scheme, when signed: `minisign` or `ssh`.
    pub signature_scheme: Option<&'static str>,
    /// What a packager should know that does not stop the build (a single image whose
    /// configuration names another platform than `--platform`).
    pub notes: Vec<String>,
}

/// A file of the source tree, hashed when collected.
struct TreeFile {
    path: PathBuf,
    size: u64,
    sha256: [u8; 32],
    meta: Meta,
}

enum TreeEntry {
    Dir(Meta),
    File(TreeFile),
    /// A hard link to an earlier file of the tree (by its path in the image).
    Link(String),
}

fn tree_err(path: &Path, why: impl Into<String>) -> PackError {
    PackError::Tree {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

pub(crate) fn io_err<'a>(
    path: &'a Path,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> PackError + 'a {
    move |error| PackError::Io {
        path: path.to_path_buf(),
        what,
        error,
    }
}

/// Modes as a Solution should carry them: owner root, readable by all, execute kept.
fn normal_meta(md: &std::fs::Metadata, sde: Option<i64>) -> Meta {
    use std::os::unix::fs::MetadataExt;
    let exec = md.is_dir() || md.mode() & 0o111 != 0;
    let mode = if exec { 0o755 } else { 0o644 };
    Meta::new(mode).at(sde.unwrap_or(md.mtime()))
}

fn sha256_file(path: &Path) -> Result<([u8; 32], u64), PackError> {
    let mut f = File::open(path).map_err(io_err(path, "open"))?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h).map_err(io_err(path, "read"))?;
    Ok((h.finalize().into(), n))
}

/// The source tree, by path in the image, sorted; hard links found by (device, inode).
fn collect_tree(src: &Path, sde: Option<i64>) -> Result<BTreeMap<String, TreeEntry>, PackError> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut stack = vec![(src.to_path_buf(), String::new(), 0u32)];
    while let Some((dir, rel, depth)) = stack.pop() {
        if depth > 64 {
            return Err(tree_err(&dir, "more than 64 directory levels"));
        }
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io_err(&dir, "list"))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err(&dir, "list"))?;
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let name = name
                .to_str()
                .ok_or_else(|| tree_err(&path, "the name is not UTF-8"))?
                .to_string();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if rel.is_empty() && [SUMS, SUMS_MINISIG, SUMS_SSHSIG].contains(&r.as_str()) {
                // Written by pack, over what it packs.
                continue;
            }
            let md = std::fs::symlink_metadata(&path).map_err(io_err(&path, "stat"))?;
            if md.is_dir() {
                out.insert(r.clone(), TreeEntry::Dir(normal_meta(&md, sde)));
                stack.push((path, r, depth + 1));
            } else if md.is_file() {
                if md.nlink() > 1 {
                    if let Some(first) = inodes.get(&(md.dev(), md.ino())) {
                        out.insert(r, TreeEntry::Link(first.clone()));
                        continue;
                    }
                    inodes.insert((md.dev(), md.ino()), r.clone());
                }
                let (sha256, size) = sha256_file(&path)?;
                out.insert(
                    r,
                    TreeEntry::File(TreeFile {
                        path,
                        size,
                        sha256,
                        meta: normal_meta(&md, sde),
                    }),
                );
            } else {
                return Err(tree_err(
                    &path,
                    "not a regular file or directory (a Solution holds only those)",
                ));
            }
        }
    }
    // Hard links are resolved in walk order, which is not sorted order across directories:
    // make each group point at its first path in sorted order, so the result does not depend
    // on the walk.
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (p, e) in &out {
        if let TreeEntry::Link(first) = e {
            groups.entry(first.clone()).or_default().push(p.clone());
        }
    }
    for (first, links) in groups {
        let Some(min) = links.iter().min().filter(|m| **m < first).cloned() else {
            continue;
        };
        if let (Some(TreeEntry::File(f)), true) = (out.remove(&first), true) {
            out.insert(min.clone(), TreeEntry::File(f));
            out.insert(first, TreeEntry::Link(min.clone()));
            for l in links.into_iter().filter(|l| *l != min) {
                out.insert(l, TreeEntry::Link(min.clone()));
            }
        }
    }
    Ok(out)
}

/// A YAML scalar, quoted when plain would change its meaning.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// The `manifest.yaml` pack writes: the display name both where MetalK8s's documentation
/// puts it and where MetalK8s reads it (a top-level `annotations`).
pub fn manifest_yaml(
    name: &str,
    version: &str,
    display_name: &str,
    images: &[(String, String)],
) -> String {
    let mut s = format!(
        "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  annotations:\n    {DISPLAY_NAME}: {dn}\n  name: {n}\nannotations:\n  {DISPLAY_NAME}: {dn}\nspec:\n",
        dn = yaml_str(display_name),
        n = yaml_str(name),
    );
    if !images.is_empty() {
        s.push_str("  images:\n");
        for (n, t) in images {
            s.push_str(&format!("  - {}\n", yaml_str(&format!("{n}:{t}"))));
        }
    }
    let operator = format!("{name}-operator");
    if let Some((n, t)) = images.iter().find(|(n, _)| *n == operator) {
        s.push_str(&format!(
            "  operator:\n    image:\n      name: {}\n      tag: {}\n",
            yaml_str(n),
            yaml_str(t)
        ));
    }
    s.push_str(&format!("  version: {}\n", yaml_str(version)));
    s
}

/// Opens a blob's bytes for reading: the file, or the archive positioned at the member.
fn open_blob(from: &BlobFrom, size: u64) -> std::io::Result<Box<dyn Read + Send>> {
    Ok(match from {
        BlobFrom::File(p) => Box::new(File::open(p)?.take(size)),
        BlobFrom::Member { archive, offset } => {
            let mut f = File::open(archive)?;
            f.seek(SeekFrom::Start(*offset))?;
            Box::new(f.take(size))
        }
        BlobFrom::Bytes(b) => Box::new(std::io::Cursor::new(b.clone())),
    })
}

/// A source that copies `size` bytes and checks, before it returns, that they hash to
/// `sha256`; otherwise the write fails (and the ISO is not kept).
fn hashed_source(
    label: String,
    size: u64,
    sha256: [u8; 32],
    stop: Arc<AtomicBool>,
    open: impl FnMut() -> std::io::Result<Box<dyn Read + Send>> + Send + 'static,
) -> Source {
    let mut open = open;
    Source::writer(size, move |w: &mut dyn Write| {
        let mut r = open()?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            if stop.load(Ordering::Relaxed) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    STOPPED,
                ));
            }
            let want = buf.len().min(usize::try_from(left).unwrap_or(buf.len()));
            let n = r.read(&mut buf[..want])?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{label}: ended {left} bytes early"),
                ));
            }
            h.update(&buf[..n]);
            w.write_all(&buf[..n])?;
            left -= n as u64;
        }
        if <[u8; 32]>::from(h.finalize()) != sha256 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{label}: its bytes do not match their sha256 (changed or corrupt)"),
            ));
        }
        Ok(())
    })
}

fn hex32(hex: &str) -> Option<[u8; 32]> {
    let v = hex::decode(hex).ok()?;
    v.try_into().ok()
}

/// Builds the Solution ISO at `output` (written beside it under a temporary name, renamed
/// when complete). `progress` gets the bytes written and the total; answering
/// [`ControlFlow::Break`] stops the build ([`PackError::Stopped`], nothing left behind).
pub fn pack(
    opts: PackOptions,
    output: &Path,
    progress: impl FnMut(u64, u64) -> ControlFlow<()> + Send + 'static,
) -> Result<PackReport, PackError> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut progress = progress;
    let stop_flag = stop.clone();
    let mut progress = move |done: u64, total: u64| {
        if progress(done, total).is_break() {
            stop_flag.store(true, Ordering::Relaxed);
        }
    };
    let sde = match opts.source_date_epoch {
        Some(t) => Some(t),
        None => iso_core::write::source_date_epoch_from_env()?,
    };
    // Images first: a bad one fails before any file is read. Registry images are downloaded
    // first, into a private temporary directory that lives until the ISO is written (dropped,
    // so removed, when this function returns, whatever it returns).
    let (specs, _downloaded) = remote::download(
        &opts.images,
        &opts.remote,
        opts.platform.as_ref(),
        &mut |d, t| {
            progress(d, t);
            if stop.load(Ordering::Relaxed) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    let mut images = Vec::new();
    for (spec, given) in specs.iter().zip(&opts.images) {
        let loaded = spec.load_for(opts.platform.as_ref());
        images.push(loaded.map_err(|e| remote::relabel(e, given))?);
    }
    // The order of `--image` does not change the result.
    images.sort_by(|a, b| (&a.name, &a.tag).cmp(&(&b.name, &b.tag)));
    let tree = match &opts.src {
        Some(src) => collect_tree(src, sde)?,
        None => BTreeMap::new(),
    };
    let mut taken = BTreeSet::new();
    for i in &images {
        let key = format!("{}/{}", i.name, i.tag);
        if !taken.insert(key.clone()) || tree.contains_key(&format!("images/{key}")) {
            return Err(PackError::Duplicate(key));
        }
    }
    // The manifest: the tree's, or written from the options.
    let written_manifest = match (tree.get("manifest.yaml"), &opts.name, &opts.version) {
        (Some(_), None, None) => None,
        (Some(_), _, _) => {
            return Err(PackError::Manifest(
                "the source tree has a manifest.yaml: --name and --version write one, give \
                 one or the other"
                    .into(),
            ))
        }
        (None, Some(n), Some(v)) => {
            let pairs: Vec<(String, String)> = images
                .iter()
                .map(|i| (i.name.clone(), i.tag.clone()))
                .collect();
            let dn = opts.display_name.clone().unwrap_or_else(|| n.clone());
            Some(manifest_yaml(n, v, &dn, &pairs))
        }
        (None, _, _) => {
            return Err(PackError::Manifest(
                "no manifest.yaml: put one in the source tree, or give --name and --version".into(),
            ))
        }
    };
    let manifest_text = match &written_manifest {
        Some(m) => m.clone(),
        None => match tree.get("manifest.yaml") {
            Some(TreeEntry::File(f)) if f.size <= source::MAX_MANIFEST_BYTES => {
                std::fs::read_to_string(&f.path).map_err(io_err(&f.path, "read"))?
            }
            _ => {
                return Err(PackError::Manifest(
                    "manifest.yaml is not a readable file".into(),
                ))
            }
        },
    };
    let volume_id = opts.volume_id.clone().unwrap_or_else(|| {
        let v: serde_yaml::Value = serde_yaml::from_str(&manifest_text).unwrap_or_default();
        let name = v["metadata"]["name"].as_str().unwrap_or("Solution");
        let dn = v["annotations"][DISPLAY_NAME]
            .as_str()
            .or(v["metadata"]["annotations"][DISPLAY_NAME].as_str())
            .unwrap_or(name);
        let version = match &v["spec"]["version"] {
            serde_yaml::Value::String(s) => s.clone(),
            _ => String::new(),
        };
        format!("{dn} {version}").trim().to_string()
    });
    let volume_id: String = volume_id
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(32)
        .collect();

    let t = sde.unwrap_or(0);
    let dir_meta = Meta::new(0o755).at(t);
    let file_meta = Meta::new(0o644).at(t);
    let mut b = IsoBuilder::new(WriteOptions {
        volume_id: volume_id.clone(),
        source_date_epoch: sde,
        ..WriteOptions::default()
    });
    b.set_progress(progress);
    let mut sums = Sums::default();
    let mut files = 0usize;

    // The source tree.
    let mut served: Vec<(String, String, String)> = Vec::new();
    let mut replaced_registry_config = false;
    for (rel, e) in &tree {
        match e {
            TreeEntry::Dir(m) => b.add_dir(rel, *m)?,
            TreeEntry::File(f) => {
                if rel == "registry-config.inc.j2" {
                    replaced_registry_config = true;
                    continue;
                }
                let p = f.path.clone();
                b.add_file(
                    rel,
                    f.meta,
                    hashed_source(rel.clone(), f.size, f.sha256, stop.clone(), move || {
                        Ok(Box::new(File::open(&p)?) as Box<dyn Read + Send>)
                    }),
                )?;
                sums.entries.insert(rel.clone(), f.sha256);
                files += 1;
            }
            TreeEntry::Link(first) => {
                b.add_hardlink(rel, first)?;
                if let Some(TreeEntry::File(f)) = tree.get(first) {
                    sums.entries.insert(rel.clone(), f.sha256);
                }
                files += 1;
            }
        }
        // Images the tree already holds are served too.
        let file = match e {
            TreeEntry::File(f) => Some(f),
            TreeEntry::Link(first) => match tree.get(first) {
                Some(TreeEntry::File(f)) => Some(f),
                _ => None,
            },
            TreeEntry::Dir(_) => None,
        };
        if let (Some(rest), Some(f)) = (rel.strip_prefix("images/"), file) {
            if let Some((nt, "manifest.json")) = rest.rsplit_once('/') {
                if let Some((n, tag)) = nt.split_once('/') {
                    let bytes = std::fs::read(&f.path).map_err(io_err(&f.path, "read"))?;
                    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                    if v["mediaType"] == iso_core::solution::media::DOCKER_V2S2 {
                        served.push((
                            n.into(),
                            tag.into(),
                            format!("sha256:{}", hex::encode(f.sha256)),
                        ));
                    }
                }
            }
        }
    }
    if let Some(m) = &written_manifest {
        b.add_file(
            "manifest.yaml",
            file_meta,
            Source::bytes(m.clone().into_bytes()),
        )?;
        sums.entries
            .insert("manifest.yaml".into(), Sha256::digest(m.as_bytes()).into());
        files += 1;
    }

    // The images: each blob stored once, hard-linked from every other tag using it.
    let mut first_path: BTreeMap<String, String> = BTreeMap::new();
    let mut first_manifest: BTreeMap<String, String> = BTreeMap::new();
    let mut blob_bytes = 0u64;
    let mut packed = Vec::new();
    let mut notes = Vec::new();
    let mut made_dirs: BTreeSet<String> = tree
        .iter()
        .filter(|(_, e)| matches!(e, TreeEntry::Dir(_)))
        .map(|(p, _)| p.clone())
        .collect();
    for img in &images {
        for d in [
            "images".to_string(),
            format!("images/{}", img.name),
            format!("images/{}/{}", img.name, img.tag),
        ] {
            if made_dirs.insert(d.clone()) {
                b.add_dir(&d, dir_meta)?;
            }
        }
        let base = format!("images/{}/{}", img.name, img.tag);
        let mpath = format!("{base}/manifest.json");
        b.add_file(&mpath, file_meta, Source::bytes(img.manifest.clone()))?;
        sums.entries
            .insert(mpath, Sha256::digest(&img.manifest).into());
        let vpath = format!("{base}/version");
        b.add_file(&vpath, file_meta, Source::bytes(DIR_VERSION))?;
        sums.entries
            .insert(vpath, Sha256::digest(DIR_VERSION).into());
        files += 2;
        // A list's platforms, as skopeo `copy --all` stores them: `<hex>.manifest.json`,
        // each once per tag, hard-linked across tags.
        let mut written: BTreeSet<&str> = BTreeSet::new();
        for p in &img.platforms {
            let hex = p.digest.trim_start_matches("sha256:");
            if !written.insert(hex) {
                continue;
            }
            let path = format!("{base}/{hex}.manifest.json");
            match first_manifest.get(hex) {
                Some(first) => b.add_hardlink(&path, first)?,
                None => {
                    b.add_file(&path, file_meta, Source::bytes(p.manifest.clone()))?;
                    first_manifest.insert(hex.to_string(), path.clone());
                }
            }
            sums.entries
                .insert(path, Sha256::digest(&p.manifest).into());
            files += 1;
        }
        for blob in &img.blobs {
            let path = format!("{base}/{}", blob.hex);
            let Some(sha) = hex32(&blob.hex) else {
                return Err(PackError::Duplicate(path));
            };
            match first_path.get(&blob.hex) {
                Some(first) => b.add_hardlink(&path, first)?,
                None => {
                    let from = blob.from.clone();
                    let size = blob.size;
                    b.add_file(
                        &path,
                        file_meta,
                        hashed_source(
                            format!("blob sha256:{}", blob.hex),
                            size,
                            sha,
                            stop.clone(),
                            move || open_blob(&from, size),
                        ),
                    )?;
                    first_path.insert(blob.hex.clone(), path.clone());
                    blob_bytes += size;
                }
            }
            sums.entries.insert(path, sha);
            files += 1;
        }
        // MetalK8s's registry serves Docker v2 schema 2 manifests only: its generator skips
        // a list, and so does the registry config written here.
        if img.platforms.is_empty() {
            served.push((img.name.clone(), img.tag.clone(), img.digest.clone()));
        }
        packed.push(PackedImage {
            name: img.name.clone(),
            tag: img.tag.clone(),
            digest: img.digest.clone(),
            converted_from: img.converted_from.clone(),
            blobs: img.blobs.len(),
            platforms: img
                .platforms
                .iter()
                .map(|p| PackedPlatform {
                    platform: p.platform.clone(),
                    digest: p.digest.clone(),
                    converted_from: p.converted_from.clone(),
                })
                .collect(),
            from_list: img.from_list.clone(),
            platform: img.platform.clone(),
            platform_mismatch: img.platform_mismatch,
        });
        if img.platform_mismatch {
            notes.push(format!(
                "images/{}/{}: a single-platform image whose configuration says {}, not {} \
                 (--platform): packed as it is",
                img.name,
                img.tag,
                img.platform.as_deref().unwrap_or("?"),
                opts.platform
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ));
        }
    }

    // registry-config.inc.j2, SHA256SUMS and its signature.
    let triples: Vec<(&str, &str, &str)> = served
        .iter()
        .map(|(n, t, d)| (n.as_str(), t.as_str(), d.as_str()))
        .collect();
    let config = iso_core::solution::registry_config_for(&triples);
    b.add_file(
        "registry-config.inc.j2",
        file_meta,
        Source::bytes(config.clone().into_bytes()),
    )?;
    sums.entries.insert(
        "registry-config.inc.j2".into(),
        Sha256::digest(config.as_bytes()).into(),
    );
    files += 1;
    let sums_text = render_sums(&sums);
    let mut signed_by = None;
    if let Some(key) = &opts.signer {
        let comment = format!("timestamp:{t}\tfile:{SUMS}\thashed");
        let sig = key.sign(sums_text.as_bytes(), &comment);
        b.add_file(
            key.signature_file(),
            file_meta,
            Source::bytes(sig.into_bytes()),
        )?;
        signed_by = Some(key.key_id());
        files += 1;
    }
    b.add_file(SUMS, file_meta, Source::bytes(sums_text.into_bytes()))?;
    files += 1;
    let bytes = match b.write_file(output) {
        Ok(n) => n,
        Err(_) if stop.load(Ordering::Relaxed) => return Err(crate::Stopped.into()),
        Err(e) => return Err(e.into()),
    };
    Ok(PackReport {
        output: output.to_path_buf(),
        bytes,
        volume_id,
        files,
        images: packed,
        distinct_blobs: first_path.len(),
        blob_bytes,
        replaced_registry_config,
        signature_scheme: opts.signer.as_ref().map(Signer::scheme),
        signed_by,
        notes,
    })
}
