//! Export a Solution's images to an OCI image layout, straight from the mapped ISO.
//!
//! Blobs are copied byte for byte, hashed while they are written, and refused if the digest or
//! size differs from the descriptor; each is written to a temporary name and renamed only when
//! complete and verified, so an interrupted export (even `kill -9`) leaves no half blob, and a
//! second run completes it without rewriting blobs already there. Manifests keep their exact
//! bytes, so their digests do not change.
//!
//! # Exporting into an existing directory
//!
//! `DIR`, `DIR/blobs` and `DIR/blobs/sha256` must be real directories: a symbolic link (or a
//! file) at one of them is refused ([`ExportError::NotADirectory`]), so no blob is written
//! outside `DIR`. Temporary files are created exclusively under names private to the
//! process, never through a symbolic link, and renamed over their final name (a link there
//! is replaced, not followed). A blob file already in the layout is re-read and counts as
//! present only when its content hashes to its name; a wrong one is replaced and reported
//! ([`ExportReport::replaced`]). [`LayoutOptions::trust_existing`] skips that re-read (a
//! regular file of the right size counts as present).
//!
//! # How Docker media types sit in the layout
//!
//! Solution images are Docker v2 schema 2 manifests. The layout keeps them as they are and puts,
//! for each ref, a one-entry OCI image index in `index.json` that lists the original manifest
//! (with its Docker media type and the platform from its config). Readers that only look for
//! OCI media types in `index.json` (Debian's skopeo 1.9.3) follow the OCI index to the manifest;
//! newer containers/image and containerd read it too. The ref name is the annotation
//! `org.opencontainers.image.ref.name` = `<image>:<tag>` (e.g. `base-server:1.0.2`), so
//! `skopeo copy oci:DIR:base-server:1.0.2 ...` reads it.

use std::collections::BTreeMap;
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use iso_core::solution::{media, ManifestKind, Solution};
use serde_json::{json, Value};

use super::select::{label, needed_blobs, select_images, Needed};
use super::write::{
    blob_matches, digest_of, io_error as io, partial_prefix, parts_len, remove_leftovers,
    write_blob, write_blob_pair, Expected, TempFile, Tick,
};
use crate::Stopped;

/// The annotation carrying a ref name in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A file system operation on the destination failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The destination path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The archive could not be read.
    #[error(transparent)]
    Image(#[from] iso_core::Error),
    /// A blob's bytes do not match its descriptor (nothing was kept).
    #[error("{image}: blob {digest}: {reason}")]
    Corrupt {
        /// `name:tag`.
        image: String,
        /// The descriptor's digest.
        digest: String,
        /// What differed.
        reason: String,
    },
    /// An image asked for, or a blob it needs, is not in the archive.
    #[error("{0}")]
    NotFound(String),
    /// An image kind this exporter does not handle yet.
    #[error("{image}: {what} is not supported yet")]
    Unsupported {
        /// `name:tag`.
        image: String,
        /// What.
        what: String,
    },
    /// A directory of the layout (`DIR`, `DIR/blobs` or `DIR/blobs/sha256`) is a symbolic
    /// link or not a directory: refused, nothing is written through it.
    #[error(
        "{}: {what}, not a directory (the directories of an OCI layout must be real \
         directories: nothing is written through a symbolic link)",
        path.display()
    )]
    NotADirectory {
        /// The path.
        path: PathBuf,
        /// What is there (`a symbolic link`, `a file`...).
        what: String,
    },
    /// The progress callback asked to stop ([`ControlFlow::Break`]): built from
    /// [`crate::Stopped`], as the registry client's `PushError::Stopped` is.
    #[error("export {}", crate::Stopped)]
    Stopped,
}

impl From<Stopped> for ExportError {
    fn from(_: Stopped) -> Self {
        ExportError::Stopped
    }
}

/// One image written.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportedImage {
    /// The ref name in `index.json`.
    pub ref_name: String,
    /// The manifest digest (unchanged from the archive).
    pub manifest_digest: String,
    /// The manifest's media type.
    pub media_type: String,
    /// The digest of the one-entry OCI index that `index.json` points at.
    pub index_digest: String,
}

/// What an export did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ExportReport {
    /// Images written.
    pub images: Vec<ExportedImage>,
    /// Blobs written by this run.
    pub blobs_written: usize,
    /// Blobs already present (from an earlier run or another image), checked and not
    /// rewritten.
    pub blobs_present: usize,
    /// Bytes written by this run.
    pub bytes_written: u64,
    /// Blob files that were already in the layout with the wrong content (or were not
    /// regular files), and were written again: as many as [`ExportReport::replaced`]
    /// (counted in [`ExportReport::blobs_written`] too).
    pub blobs_replaced: usize,
    /// The digests of those blobs (`sha256:<hex>`), sorted.
    pub replaced: Vec<String>,
}

/// How [`export_oci_opts`] writes a layout.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct LayoutOptions {
    /// Rewrite Docker manifests to OCI media types (new manifest digests, reported; for
    /// consumers that need OCI types).
    pub oci_media_types: bool,
    /// Count a blob file already in the layout as present when it is a regular file of the
    /// right size, without re-reading it to check its digest (faster on a layout this tool
    /// wrote and nothing else touched; a wrong blob then stays).
    pub trust_existing: bool,
}

/// The destination of a layout export: its root, its blob directory, and whether blobs
/// already there are trusted without a re-read.
struct Dest<'a> {
    root: &'a Path,
    blobs: PathBuf,
    trust: bool,
}

/// Progress for a progress bar: bytes done and to do.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Bytes handled so far.
    pub done: u64,
    /// Bytes to handle in all.
    pub total: u64,
}

/// [`put_blob`] for a manifest or index held in memory (small: no progress).
fn put_made(
    dest: &Dest<'_>,
    bytes: &[u8],
    digest: &str,
    label: &str,
    report: &mut ExportReport,
) -> Result<(), ExportError> {
    put_blob(
        dest,
        &[bytes],
        &Expected::new(digest, bytes.len() as u64, label)?,
        report,
        &mut |_| ControlFlow::Continue(()),
    )
}

/// Writes `parts` as `blobs/sha256/<hex>` unless that file holds them already (see
/// [`blob_matches`]: re-hashed unless trusted). A wrong file there is replaced: the new
/// blob is written to a temporary file and renamed over it (see [`write_blob`]: hashed
/// while written, renamed only when the digest and size match), and reported.
fn put_blob(
    dest: &Dest<'_>,
    parts: &[&[u8]],
    want: &Expected<'_>,
    report: &mut ExportReport,
    progress: Tick<'_>,
) -> Result<(), ExportError> {
    let path = dest.blobs.join(want.hex);
    let len = parts_len(parts);
    let there = fs::symlink_metadata(&path).is_ok();
    if there && blob_matches(&path, want, dest.trust) {
        report.blobs_present += 1;
        return Ok(Stopped::on_break(progress(len))?);
    }
    write_blob(&dest.blobs, parts, want, progress)?;
    report.blobs_written += 1;
    report.bytes_written += len;
    if there {
        report.blobs_replaced += 1;
        report.replaced.push(want.digest.to_string());
    }
    Ok(())
}

/// The one-entry OCI index that `index.json` points at for image `i`: it lists the archive's
/// manifest as it is (Docker media type included) with the platform from the image config.
pub(crate) fn ref_index(solution: &Solution<'_, '_>, i: usize) -> Vec<u8> {
    let img = &solution.images[i];
    let config: Value = img
        .config()
        .and_then(|d| solution.blob(i, &d.digest))
        .and_then(|c| serde_json::from_slice(&c.to_vec()).ok())
        .unwrap_or(Value::Null);
    let mut platform = json!({
        "architecture": config.get("architecture").and_then(Value::as_str).unwrap_or("amd64"),
        "os": config.get("os").and_then(Value::as_str).unwrap_or("linux"),
    });
    if let Some(v) = config.get("variant").and_then(Value::as_str) {
        platform["variant"] = json!(v);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": [{
            "mediaType": img.media_type,
            "digest": img.manifest_digest_str(),
            "size": img.manifest_size,
            "platform": platform,
        }],
    });
    serde_json::to_vec(&index).unwrap_or_default()
}

/// A Docker manifest list as an OCI index: the same entries (media types, digests, platforms),
/// the index media type. What an OCI layout's `index.json` can name for it (see
/// [`export_oci`]).
pub(crate) fn docker_list_as_oci_index(list: &[u8]) -> Result<Vec<u8>, String> {
    let mut v: Value =
        serde_json::from_slice(list).map_err(|e| format!("list is not JSON: {e}"))?;
    v["mediaType"] = json!(media::OCI_INDEX);
    serde_json::to_vec(&v).map_err(|e| e.to_string())
}

/// What `index.json` names for a list: the list as stored, or the OCI index made from it.
struct ListRef {
    digest: String,
    size: usize,
    media_type: String,
}

impl ListRef {
    fn reference(&self, label: &str) -> Value {
        json!({
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
            "annotations": { REF_NAME: label },
        })
    }
}

/// Writes a list's per-platform manifests and the list itself (its config and layer blobs are
/// already written), and says what `index.json` names:
/// - an OCI index: itself, as stored;
/// - a Docker manifest list: an OCI index with the same entries (Docker media types, digests
///   and platforms unchanged), as the one-entry index does for a single Docker manifest:
///   OCI layout readers (skopeo's `oci:` among them) only follow OCI index media types from
///   `index.json`. The list's own bytes are written too.
///
/// With `oci_media_types`, the Docker manifests are rewritten to OCI media types (new
/// digests) and the index names those.
fn export_list(
    solution: &Solution<'_, '_>,
    dest: &Dest<'_>,
    i: usize,
    list: &[u8],
    oci_media_types: bool,
    report: &mut ExportReport,
) -> Result<ListRef, ExportError> {
    let img = &solution.images[i];
    let label = label(img);
    let corrupt = |digest: &str, reason: String| ExportError::Corrupt {
        image: label.clone(),
        digest: digest.to_string(),
        reason,
    };
    let rewrite = img.kind == ManifestKind::DockerList
        || (oci_media_types
            && img
                .platforms()
                .iter()
                .any(|p| p.kind == ManifestKind::DockerV2S2));
    let mut list_json: Value = if rewrite {
        serde_json::from_slice(list)
            .map_err(|e| corrupt(img.manifest_digest_str(), e.to_string()))?
    } else {
        Value::Null
    };
    for (n, pm) in img.platforms().iter().enumerate() {
        let d = pm.manifest.digest.as_ref();
        let c = solution.blob(i, d).ok_or_else(|| {
            ExportError::NotFound(format!("{label}: manifest {d} is not in the archive"))
        })?;
        put_blob(
            dest,
            c.parts(),
            &Expected::new(d, pm.manifest.size, &label)?,
            report,
            &mut |_| ControlFlow::Continue(()),
        )?;
        // Only a Docker manifest rewritten to OCI types changes its entry in the list.
        if !(oci_media_types && pm.kind == ManifestKind::DockerV2S2) {
            continue;
        }
        let converted = to_oci_manifest(&c.to_vec()).map_err(|r| corrupt(d, r))?;
        let digest = digest_of(&converted);
        put_made(dest, &converted, &digest, &label, report)?;
        // `platforms` follows the list's order, one per child (check_platforms).
        if let Some(entry) = list_json.get_mut("manifests").and_then(|m| m.get_mut(n)) {
            entry["mediaType"] = json!(media::OCI_MANIFEST);
            entry["digest"] = json!(digest);
            entry["size"] = json!(converted.len());
        }
    }
    if rewrite {
        if img.kind == ManifestKind::DockerList {
            put_made(dest, list, img.manifest_digest_str(), &label, report)?;
        }
        list_json["mediaType"] = json!(media::OCI_INDEX);
        let bytes = serde_json::to_vec(&list_json)
            .map_err(|e| corrupt(img.manifest_digest_str(), e.to_string()))?;
        let digest = digest_of(&bytes);
        put_made(dest, &bytes, &digest, &label, report)?;
        return Ok(ListRef {
            digest,
            size: bytes.len(),
            media_type: media::OCI_INDEX.to_string(),
        });
    }
    put_made(dest, list, img.manifest_digest_str(), &label, report)?;
    Ok(ListRef {
        digest: img.manifest_digest_str().to_string(),
        size: list.len(),
        media_type: img.media_type.clone(),
    })
}

/// Writes two blobs at once, hashing them interleaved on this core (see [`write_blob_pair`]);
/// falls back to [`put_blob`] for blobs already present, stored in several extents, or whose
/// size or digest is not what a pair needs.
fn put_blob_pair<'s, 'd>(
    dest: &Dest<'_>,
    a: &Needed<'s, 'd>,
    b: &Needed<'s, 'd>,
    report: &mut ExportReport,
    tick: Tick<'_>,
) -> Result<(), ExportError> {
    let dir = &dest.blobs;
    let (Some((da, ea)), Some((db, eb))) = (pairable(dir, a), pairable(dir, b)) else {
        for n in [a, b] {
            let want = Expected::new(n.desc.digest.as_ref(), n.desc.size, &n.label)?;
            put_blob(dest, n.contents.parts(), &want, report, tick)?;
        }
        return Ok(());
    };
    write_blob_pair(dir, (da, &ea), (db, &eb), tick)?;
    report.blobs_written += 2;
    report.bytes_written += (da.len() + db.len()) as u64;
    Ok(())
}

/// Blob `n`'s bytes and what they must be, when it can be written as one of a pair: stored
/// in one extent, of its descriptor's size, a sha256 digest, nothing at its name in `dir`
/// yet (what is there is checked by [`put_blob`]).
fn pairable<'n>(dir: &Path, n: &'n Needed<'_, '_>) -> Option<(&'n [u8], Expected<'n>)> {
    let data = n.contents.as_slice()?;
    let want = Expected::new(n.desc.digest.as_ref(), n.desc.size, &n.label).ok()?;
    let free = fs::symlink_metadata(dir.join(want.hex)).is_err();
    (data.len() as u64 == want.size && free).then_some((data, want))
}

/// What the writer threads of [`write_blobs`] share.
struct Writers<'j, 's, 'd> {
    dest: &'j Dest<'j>,
    /// The blobs, largest first.
    order: Vec<&'j Needed<'s, 'd>>,
    /// The next blob to take (set past the end to stop the others after an error).
    next: AtomicUsize,
    /// Bytes done.
    done: AtomicU64,
    /// Set when the progress callback asks to stop: every worker abandons its blobs.
    stop: AtomicBool,
    /// The workers' reports, and the first error.
    merged: Mutex<(ExportReport, Option<ExportError>)>,
}

impl<'j, 's, 'd> Writers<'j, 's, 'd> {
    fn new(dest: &'j Dest<'j>, jobs: &'j [Needed<'s, 'd>]) -> Self {
        let mut order: Vec<&Needed<'_, '_>> = jobs.iter().collect();
        // Largest first, so that neighbours (written as pairs) have similar sizes; equal
        // sizes in digest order.
        order.sort_by(|a, b| {
            let (da, db): (&str, &str) = (a.desc.digest.as_ref(), b.desc.digest.as_ref());
            (b.contents.len(), da).cmp(&(a.contents.len(), db))
        });
        Writers {
            dest,
            order,
            next: AtomicUsize::new(0),
            done: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            merged: Mutex::new((ExportReport::default(), None)),
        }
    }

    /// Counts `n` bytes done and asks `tick` whether to go on (every worker stops once one
    /// was told to).
    fn count(&self, n: u64, tick: &mut dyn FnMut() -> ControlFlow<()>) -> ControlFlow<()> {
        self.done.fetch_add(n, Ordering::Relaxed);
        if self.stop.load(Ordering::Relaxed) || tick().is_break() {
            self.stop.store(true, Ordering::Relaxed);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// One worker: takes the next two blobs (of neighbouring sizes) until none is left or
    /// one fails, then merges what it did. `tick` tells the reporting thread that bytes
    /// were done.
    fn work(&self, tick: &mut dyn FnMut() -> ControlFlow<()>) {
        let mut local = ExportReport::default();
        let mut err = None;
        loop {
            let k = self.next.fetch_add(2, Ordering::Relaxed);
            let Some(a) = self.order.get(k) else {
                break;
            };
            let mut count = |n: u64| self.count(n, tick);
            let r = match self.order.get(k + 1) {
                Some(b) => put_blob_pair(self.dest, a, b, &mut local, &mut count),
                None => {
                    Expected::new(a.desc.digest.as_ref(), a.desc.size, &a.label).and_then(|want| {
                        put_blob(self.dest, a.contents.parts(), &want, &mut local, &mut count)
                    })
                }
            };
            if let Err(e) = r {
                err = Some(e);
                self.next.store(usize::MAX / 2, Ordering::Relaxed); // stop the others
                break;
            }
        }
        let mut m = self.merged.lock().unwrap_or_else(|p| p.into_inner());
        m.0.blobs_written += local.blobs_written;
        m.0.blobs_present += local.blobs_present;
        m.0.bytes_written += local.bytes_written;
        m.0.blobs_replaced += local.blobs_replaced;
        m.0.replaced.append(&mut local.replaced);
        if m.1.is_none() {
            m.1 = err;
        }
    }
}

/// Writes the distinct blobs on every core (each blob hashed while written), reporting
/// progress from the calling thread.
fn write_blobs(
    dest: &Dest<'_>,
    jobs: &[Needed<'_, '_>],
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<ExportReport, ExportError> {
    let total: u64 = jobs.iter().map(|j| j.contents.len()).sum();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 16)
        .min(jobs.len().div_ceil(2).max(1));
    let w = Writers::new(dest, jobs);
    let at = |w: &Writers<'_, '_, '_>| Progress {
        done: w.done.load(Ordering::Relaxed),
        total,
    };
    // One worker per core takes the next blobs; the calling thread only reports progress,
    // told by each worker after each chunk (so no worker waits on the callback, and the
    // blobs are shared by threads that all start at once).
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<()>();
        for _ in 0..threads {
            let (tx, w) = (tx.clone(), &w);
            s.spawn(move || {
                w.work(&mut || {
                    let _ = tx.send(());
                    ControlFlow::Continue(())
                })
            });
        }
        drop(tx);
        // Until every worker is done (their senders dropped).
        for () in rx {
            if !w.stop.load(Ordering::Relaxed) && progress(at(&w)).is_break() {
                w.stop.store(true, Ordering::Relaxed);
            }
        }
    });
    if w.stop.load(Ordering::Relaxed) {
        return Err(Stopped.into());
    }
    let last = at(&w);
    let (report, err) = w.merged.into_inner().unwrap_or_else(|p| p.into_inner());
    match err {
        Some(e) => Err(e),
        None => Stopped::on_break(progress(last))
            .map(|()| report)
            .map_err(Into::into),
    }
}

/// Exports `images` (`(name, tag)`; empty: every image) of `solution` to the OCI layout at
/// `dest` (created if needed; an existing layout is completed and its `index.json` updated:
/// the blobs already there are re-hashed, and a wrong one is replaced and reported, see
/// [`ExportReport::replaced`]; `dest`, `dest/blobs` and `dest/blobs/sha256` must be real
/// directories, see [`ExportError::NotADirectory`]).
///
/// `progress` is called with the bytes done and to do; when it returns
/// [`ControlFlow::Break`], every writer thread abandons its blob (temporary files removed),
/// `index.json` is left as it was, and the result is [`ExportError::Stopped`]. The blobs
/// already complete stay, verified, and a later export into `dest` reuses them.
pub fn export_oci(
    solution: &Solution<'_, '_>,
    dest: &Path,
    images: &[(String, String)],
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<ExportReport, ExportError> {
    export_oci_with(solution, dest, images, false, progress)
}

/// A Docker v2 schema 2 manifest rewritten with OCI media types (manifest, config, layers);
/// the config and layer blobs are unchanged, the manifest (and so its digest) is new.
pub fn to_oci_manifest(docker: &[u8]) -> Result<Vec<u8>, String> {
    let mut v: Value =
        serde_json::from_slice(docker).map_err(|e| format!("manifest is not JSON: {e}"))?;
    v["mediaType"] = json!(media::OCI_MANIFEST);
    if let Some(c) = v.get_mut("config") {
        c["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    }
    if let Some(Value::Array(layers)) = v.get_mut("layers") {
        for l in layers {
            let t = l.get("mediaType").and_then(Value::as_str).unwrap_or("");
            let oci = match t {
                "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
                    "application/vnd.oci.image.layer.v1.tar+gzip"
                }
                "application/vnd.docker.image.rootfs.diff.tar" => {
                    "application/vnd.oci.image.layer.v1.tar"
                }
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
                }
                "application/vnd.docker.image.rootfs.foreign.diff.tar" => {
                    "application/vnd.oci.image.layer.nondistributable.v1.tar"
                }
                other => {
                    return Err(format!(
                        "layer media type {other:?} has no OCI equivalent here"
                    ))
                }
            };
            l["mediaType"] = json!(oci);
        }
    }
    serde_json::to_vec(&v).map_err(|e| e.to_string())
}

/// [`export_oci`], optionally rewriting Docker manifests to OCI media types
/// (`oci_media_types`: new manifest digests, reported; for consumers that need OCI types).
pub fn export_oci_with(
    solution: &Solution<'_, '_>,
    dest: &Path,
    images: &[(String, String)],
    oci_media_types: bool,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<ExportReport, ExportError> {
    let opts = LayoutOptions {
        oci_media_types,
        ..LayoutOptions::default()
    };
    export_oci_opts(solution, dest, images, &opts, progress)
}

/// [`export_oci`] with [`LayoutOptions`]: OCI media types, and whether blobs already in
/// `dest` are trusted without a re-read.
pub fn export_oci_opts(
    solution: &Solution<'_, '_>,
    dest: &Path,
    images: &[(String, String)],
    opts: &LayoutOptions,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<ExportReport, ExportError> {
    let selected = select_images(solution, images)?;
    let dest = prepare(dest, opts.trust_existing)?;
    // Distinct blobs of the selected images, written on every core.
    let jobs = needed_blobs(solution, &selected)?;
    let mut report = write_blobs(&dest, &jobs, progress)?;
    let mut refs: BTreeMap<String, Value> = BTreeMap::new();
    for &i in &selected {
        let (name, reference, image) =
            export_image(solution, &dest, i, opts.oci_media_types, &mut report)?;
        refs.insert(name, reference);
        report.images.push(image);
    }
    write_index(dest.root, refs)?;
    report.replaced.sort();
    Ok(report)
}

/// Creates `path` if it is missing, and checks that it is a real directory (not a symbolic
/// link to one).
fn real_dir(path: &Path) -> Result<(), ExportError> {
    match fs::create_dir(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(path)(e)),
    }
    let m = fs::symlink_metadata(path).map_err(io(path))?;
    let t = m.file_type();
    if t.is_dir() {
        return Ok(());
    }
    let what = if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a file"
    } else {
        "a special file"
    };
    Err(ExportError::NotADirectory {
        path: path.to_owned(),
        what: what.to_string(),
    })
}

/// Creates the layout's directories (each a real directory: see [`real_dir`]) and
/// `oci-layout`, and removes the temporary files that interrupted runs left (their names
/// are never referenced).
fn prepare(root: &Path, trust: bool) -> Result<Dest<'_>, ExportError> {
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let blobs = root.join("blobs/sha256");
    for dir in [root, &root.join("blobs"), &blobs] {
        real_dir(dir)?;
    }
    remove_leftovers(&blobs, "");
    remove_leftovers(root, &partial_prefix("index.json"));
    remove_leftovers(root, &partial_prefix("oci-layout"));
    let layout = root.join("oci-layout");
    if !fs::symlink_metadata(&layout).is_ok_and(|m| m.is_file()) {
        // Missing (or not a file: a link there is replaced, not followed).
        let mut tmp = TempFile::private(root, "oci-layout")?;
        tmp.write_all(b"{\"imageLayoutVersion\":\"1.0.0\"}")?;
        tmp.persist(&layout)?;
    }
    Ok(Dest { root, blobs, trust })
}

/// Writes image `i`'s manifests (its config and layer blobs are already written) and says
/// what `index.json` names for it: `(ref name, index entry, report line)`.
fn export_image(
    solution: &Solution<'_, '_>,
    dest: &Dest<'_>,
    i: usize,
    oci_media_types: bool,
    report: &mut ExportReport,
) -> Result<(String, Value, ExportedImage), ExportError> {
    let img = &solution.images[i];
    let label = label(img);
    let manifest = solution.manifest_bytes(i)?;
    let reference = |media_type: &str, digest: &str, size: usize| {
        json!({
            "mediaType": media_type,
            "digest": digest,
            "size": size,
            "annotations": { REF_NAME: label },
        })
    };
    if img.is_list() {
        let r = export_list(solution, dest, i, &manifest, oci_media_types, report)?;
        let (manifest_digest, media_type) = if oci_media_types {
            (r.digest.clone(), r.media_type.clone())
        } else {
            (
                img.manifest_digest_str().to_string(),
                img.media_type.clone(),
            )
        };
        let entry = r.reference(&label);
        let image = ExportedImage {
            ref_name: label.clone(),
            manifest_digest,
            media_type,
            index_digest: r.digest,
        };
        return Ok((label, entry, image));
    }
    put_made(dest, &manifest, img.manifest_digest_str(), &label, report)?;
    if oci_media_types && img.kind == ManifestKind::DockerV2S2 {
        // Rewritten to OCI media types: a new manifest, a new digest.
        let converted = to_oci_manifest(&manifest).map_err(|reason| ExportError::Corrupt {
            image: label.clone(),
            digest: img.manifest_digest_str().to_string(),
            reason,
        })?;
        let digest = digest_of(&converted);
        put_made(dest, &converted, &digest, &label, report)?;
        let entry = reference(media::OCI_MANIFEST, &digest, converted.len());
        let image = ExportedImage {
            ref_name: label.clone(),
            manifest_digest: digest.clone(),
            media_type: media::OCI_MANIFEST.to_string(),
            index_digest: digest,
        };
        return Ok((label, entry, image));
    }
    let index_bytes = ref_index(solution, i);
    let index_digest = digest_of(&index_bytes);
    put_made(dest, &index_bytes, &index_digest, &label, report)?;
    let entry = reference(media::OCI_INDEX, &index_digest, index_bytes.len());
    let image = ExportedImage {
        ref_name: label.clone(),
        manifest_digest: img.manifest_digest_str().to_string(),
        media_type: img.media_type.clone(),
        index_digest,
    };
    Ok((label, entry, image))
}

/// Writes `index.json`: the refs of earlier runs that this run did not rewrite, then `refs`.
/// Written to a private temporary file (`.index.json.partial-<pid>-<n>`) and renamed when
/// complete. An `index.json` that is not a regular file (a symbolic link) is not read, and
/// is replaced.
fn write_index(dest: &Path, refs: BTreeMap<String, Value>) -> Result<(), ExportError> {
    let index_path = dest.join("index.json");
    let regular = fs::symlink_metadata(&index_path).is_ok_and(|m| m.is_file());
    let mut manifests: Vec<Value> = regular
        .then(|| fs::read(&index_path).ok())
        .flatten()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("manifests").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    manifests.retain(|m| {
        m.get("annotations")
            .and_then(|a| a.get(REF_NAME))
            .and_then(Value::as_str)
            .is_none_or(|r| !refs.contains_key(r))
    });
    manifests.extend(refs.into_values());
    let index =
        json!({ "schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests });
    let mut tmp = TempFile::private(dest, "index.json")?;
    tmp.write_all(&serde_json::to_vec_pretty(&index).unwrap_or_default())?;
    tmp.persist(&index_path)
}
