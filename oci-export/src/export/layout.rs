//! Export a Solution's images to an OCI image layout, straight from the mapped ISO.
//!
//! Blobs are copied byte for byte, hashed while they are written, and refused if the digest or
//! size differs from the descriptor; each is written to a temporary name and renamed only when
//! complete and verified, so an interrupted export (even `kill -9`) leaves no half blob, and a
//! second run completes it without rewriting blobs already there. Manifests keep their exact
//! bytes, so their digests do not change.
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
use std::fs::{self, File};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use iso_core::solution::{media, ManifestKind, Solution};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub(crate) use super::select::{check_platforms, select_images};

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
    /// The progress callback asked to stop ([`ControlFlow::Break`]).
    #[error("export stopped by the progress callback")]
    Stopped,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |error| ExportError::Io {
        path: path.to_owned(),
        error,
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
    /// Blobs already present (from an earlier run or another image), not rewritten.
    pub blobs_present: usize,
    /// Bytes written by this run.
    pub bytes_written: u64,
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
    dest: &Path,
    bytes: &[u8],
    digest: &str,
    label: &str,
    report: &mut ExportReport,
) -> Result<(), ExportError> {
    put_blob(
        dest,
        &[bytes],
        digest,
        bytes.len() as u64,
        label,
        report,
        &mut |_| ControlFlow::Continue(()),
    )
}

/// Writes `bytes` (in parts) as `blobs/sha256/<hex>` if not already there, hashing while
/// writing and renaming only when the digest and size match.
fn put_blob(
    dest: &Path,
    parts: &[&[u8]],
    digest: &str,
    size: u64,
    label: &str,
    report: &mut ExportReport,
    progress: &mut dyn FnMut(u64) -> ControlFlow<()>,
) -> Result<(), ExportError> {
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        })
        .ok_or_else(|| ExportError::Corrupt {
            image: label.into(),
            digest: digest.into(),
            reason: "not a sha256 digest".into(),
        })?;
    let final_path = dest.join("blobs/sha256").join(hex);
    let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
    if final_path.exists() {
        report.blobs_present += 1;
        return match progress(len) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(ExportError::Stopped),
        };
    }
    let corrupt = |reason: String| ExportError::Corrupt {
        image: label.into(),
        digest: digest.into(),
        reason,
    };
    if len != size {
        return Err(corrupt(format!("{len} bytes, the descriptor says {size}")));
    }
    let tmp = dest
        .join("blobs/sha256")
        .join(format!(".{hex}.partial-{}", std::process::id()));
    let result = (|| -> Result<(), ExportError> {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        let mut h = Sha256::new();
        for part in parts {
            for chunk in part.chunks(64 << 10) {
                h.update(chunk);
                f.write_all(chunk).map_err(io(&tmp))?;
                if progress(chunk.len() as u64).is_break() {
                    return Err(ExportError::Stopped);
                }
            }
        }
        let got = hex::encode(h.finalize());
        if got != hex {
            return Err(corrupt(format!("content has sha256:{got}")));
        }
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &final_path).map_err(io(&final_path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    report.blobs_written += 1;
    report.bytes_written += len;
    Ok(())
}

/// The one-entry OCI index that `index.json` points at for image `i`: it lists the archive's
/// manifest as it is (Docker media type included) with the platform from the image config.
pub(crate) fn ref_index(solution: &Solution<'_, '_>, i: usize) -> Vec<u8> {
    let img = &solution.images[i];
    let config: Value = img
        .config
        .as_ref()
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
            "digest": img.manifest_digest,
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
    dest: &Path,
    i: usize,
    list: &[u8],
    oci_media_types: bool,
    report: &mut ExportReport,
) -> Result<ListRef, ExportError> {
    let img = &solution.images[i];
    let label = format!("{}:{}", img.name, img.tag);
    let corrupt = |digest: &str, reason: String| ExportError::Corrupt {
        image: label.clone(),
        digest: digest.to_string(),
        reason,
    };
    let rewrite = img.kind == ManifestKind::DockerList
        || (oci_media_types
            && img
                .platforms
                .iter()
                .any(|p| p.kind == ManifestKind::DockerV2S2));
    let mut list_json: Value = if rewrite {
        serde_json::from_slice(list).map_err(|e| corrupt(&img.manifest_digest, e.to_string()))?
    } else {
        Value::Null
    };
    for (n, pm) in img.platforms.iter().enumerate() {
        let d = &pm.manifest.digest;
        let c = solution.blob(i, d).ok_or_else(|| {
            ExportError::NotFound(format!("{label}: manifest {d} is not in the archive"))
        })?;
        put_blob(
            dest,
            c.parts(),
            d,
            pm.manifest.size,
            &label,
            report,
            &mut |_| ControlFlow::Continue(()),
        )?;
        // Only a Docker manifest rewritten to OCI types changes its entry in the list.
        if !(oci_media_types && pm.kind == ManifestKind::DockerV2S2) {
            continue;
        }
        let converted = to_oci_manifest(&c.to_vec()).map_err(|r| corrupt(d, r))?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&converted)));
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
            put_made(dest, list, &img.manifest_digest, &label, report)?;
        }
        list_json["mediaType"] = json!(media::OCI_INDEX);
        let bytes = serde_json::to_vec(&list_json)
            .map_err(|e| corrupt(&img.manifest_digest, e.to_string()))?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        put_made(dest, &bytes, &digest, &label, report)?;
        return Ok(ListRef {
            digest,
            size: bytes.len(),
            media_type: media::OCI_INDEX.to_string(),
        });
    }
    put_made(dest, list, &img.manifest_digest, &label, report)?;
    Ok(ListRef {
        digest: img.manifest_digest.clone(),
        size: list.len(),
        media_type: img.media_type.clone(),
    })
}

/// A blob to write.
struct BlobJob<'a, 'd> {
    digest: &'a str,
    contents: &'a iso_core::Contents<'d>,
    size: u64,
    label: &'a str,
}

/// Writes two blobs at once, hashing them interleaved on this core (see
/// `iso_core::sha256x2`) while writing each; falls back to [`put_blob`] for blobs
/// already present or stored in several extents.
fn put_blob_pair<'a, 'd>(
    dest: &Path,
    a: &BlobJob<'a, 'd>,
    b: &BlobJob<'a, 'd>,
    report: &mut ExportReport,
    tick: &mut dyn FnMut(u64) -> ControlFlow<()>,
) -> Result<(), ExportError> {
    use iso_core::sha256x2::{update_pair, State};
    let path = |d: &str| {
        dest.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let (da, db) = match (a.contents.as_slice(), b.contents.as_slice()) {
        (Some(da), Some(db))
            if !path(a.digest).exists()
                && !path(b.digest).exists()
                && da.len() as u64 == a.size
                && db.len() as u64 == b.size
                && valid_hex(a.digest).is_some()
                && valid_hex(b.digest).is_some() =>
        {
            (da, db)
        }
        _ => {
            put_blob(
                dest,
                a.contents.parts(),
                a.digest,
                a.size,
                a.label,
                report,
                tick,
            )?;
            return put_blob(
                dest,
                b.contents.parts(),
                b.digest,
                b.size,
                b.label,
                report,
                tick,
            );
        }
    };
    let tmp = |d: &str| {
        dest.join("blobs/sha256").join(format!(
            ".{}.partial-{}",
            d.trim_start_matches("sha256:"),
            std::process::id()
        ))
    };
    let (ta, tb) = (tmp(a.digest), tmp(b.digest));
    let result = (|| -> Result<(), ExportError> {
        let mut fa = File::create(&ta).map_err(io(&ta))?;
        let mut fb = File::create(&tb).map_err(io(&tb))?;
        let (mut sa, mut sb) = (State::new(), State::new());
        const STEP: usize = 64 << 10;
        let both = da.len().min(db.len()) / 64 * 64;
        let mut pos = 0;
        while pos < both {
            let end = (pos + STEP).min(both);
            update_pair(&mut sa, &mut sb, &da[pos..end], &db[pos..end]);
            fa.write_all(&da[pos..end]).map_err(io(&ta))?;
            fb.write_all(&db[pos..end]).map_err(io(&tb))?;
            if tick(2 * (end - pos) as u64).is_break() {
                return Err(ExportError::Stopped);
            }
            pos = end;
        }
        let mut finish =
            |mut s: State, d: &[u8], f: &mut File, t: &Path| -> Result<String, ExportError> {
                let mut p = pos;
                while d.len() - p >= 64 {
                    let end = (p + STEP).min(d.len());
                    let n = s.update_blocks(&d[p..end]);
                    f.write_all(&d[p..p + n]).map_err(io(t))?;
                    if tick(n as u64).is_break() {
                        return Err(ExportError::Stopped);
                    }
                    p += n;
                }
                f.write_all(&d[p..]).map_err(io(t))?;
                if tick((d.len() - p) as u64).is_break() {
                    return Err(ExportError::Stopped);
                }
                f.sync_all().map_err(io(t))?;
                Ok(hex::encode(s.finish(&d[p..])))
            };
        let ga = finish(sa, da, &mut fa, &ta)?;
        let gb = finish(sb, db, &mut fb, &tb)?;
        for (got, job, t) in [(ga, a, &ta), (gb, b, &tb)] {
            if Some(got.as_str()) != valid_hex(job.digest) {
                return Err(ExportError::Corrupt {
                    image: job.label.into(),
                    digest: job.digest.into(),
                    reason: format!("content has sha256:{got}"),
                });
            }
            let fin = path(job.digest);
            fs::rename(t, &fin).map_err(io(&fin))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&ta);
        let _ = fs::remove_file(&tb);
    }
    result?;
    report.blobs_written += 2;
    report.bytes_written += (da.len() + db.len()) as u64;
    Ok(())
}

fn valid_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| {
        h.len() == 64
            && h.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

/// Writes the distinct blobs on every core (each blob hashed while written), reporting
/// progress from the calling thread.
fn write_blobs(
    dest: &Path,
    jobs: &BTreeMap<String, (iso_core::Contents<'_>, u64, String)>,
    total: u64,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<ExportReport, ExportError> {
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::Mutex;
    type Job<'a, 'd> = (&'a String, &'a (iso_core::Contents<'d>, u64, String));
    let mut order: Vec<Job<'_, '_>> = jobs.iter().collect();
    order.sort_by_key(|(_, j)| std::cmp::Reverse(j.0.len()));
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 16);
    let merged = Mutex::new((ExportReport::default(), None::<ExportError>));
    // Set when the progress callback asks to stop: every worker abandons its blobs.
    let stop = AtomicBool::new(false);
    // Each worker takes the next blob; the calling thread is one of them, and reports progress.
    let work = |tick: &mut dyn FnMut() -> ControlFlow<()>| {
        let mut local = ExportReport::default();
        let mut err = None;
        loop {
            // Two blobs at a time, of neighbouring sizes.
            let k = next.fetch_add(2, Ordering::Relaxed);
            let Some((digest, (c, size, label))) = order.get(k) else {
                break;
            };
            let ja = BlobJob {
                digest,
                contents: c,
                size: *size,
                label,
            };
            let mut count = |n: u64| {
                done.fetch_add(n, Ordering::Relaxed);
                if stop.load(Ordering::Relaxed) || tick().is_break() {
                    stop.store(true, Ordering::Relaxed);
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            };
            let r = match order.get(k + 1) {
                Some((d2, (c2, s2, l2))) => {
                    let jb = BlobJob {
                        digest: d2,
                        contents: c2,
                        size: *s2,
                        label: l2,
                    };
                    put_blob_pair(dest, &ja, &jb, &mut local, &mut count)
                }
                None => put_blob(
                    dest,
                    c.parts(),
                    digest,
                    *size,
                    label,
                    &mut local,
                    &mut count,
                ),
            };
            if let Err(e) = r {
                err = Some(e);
                next.store(usize::MAX / 2, Ordering::Relaxed); // stop the others
                break;
            }
        }
        let mut m = merged.lock().unwrap_or_else(|p| p.into_inner());
        m.0.blobs_written += local.blobs_written;
        m.0.blobs_present += local.blobs_present;
        m.0.bytes_written += local.bytes_written;
        if m.1.is_none() {
            m.1 = err;
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| work(&mut || ControlFlow::Continue(())));
        }
        work(&mut || {
            progress(Progress {
                done: done.load(Ordering::Relaxed),
                total,
            })
        });
    });
    let (report, err) = merged.into_inner().unwrap_or_else(|p| p.into_inner());
    if stop.load(Ordering::Relaxed) {
        return Err(ExportError::Stopped);
    }
    if err.is_none()
        && progress(Progress {
            done: done.load(Ordering::Relaxed),
            total,
        })
        .is_break()
    {
        return Err(ExportError::Stopped);
    }
    match err {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Exports `images` (`(name, tag)`; empty: every image) of `solution` to the OCI layout at
/// `dest` (created if needed; an existing layout is completed and its `index.json` updated).
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
    let selected = select_images(solution, images)?;
    let blobs_dir = dest.join("blobs/sha256");
    fs::create_dir_all(&blobs_dir).map_err(io(&blobs_dir))?;
    // Leftovers of an interrupted run (temporary names are never referenced).
    if let Ok(rd) = fs::read_dir(&blobs_dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().contains(".partial-") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let layout = dest.join("oci-layout");
    if !layout.exists() {
        fs::write(&layout, b"{\"imageLayoutVersion\":\"1.0.0\"}").map_err(io(&layout))?;
    }
    // Distinct blobs of the selected images, written on every core.
    let mut jobs: BTreeMap<String, (iso_core::Contents<'_>, u64, String)> = BTreeMap::new();
    for &i in &selected {
        let img = &solution.images[i];
        let label = format!("{}:{}", img.name, img.tag);
        if img.kind == ManifestKind::Other {
            return Err(ExportError::Unsupported {
                image: label,
                what: format!("a {}", img.media_type),
            });
        }
        if img.is_list() {
            check_platforms(img, &label)?;
        }
        for d in img.content_refs() {
            if jobs.contains_key(&d.digest) {
                continue;
            }
            let c = solution.blob(i, &d.digest).ok_or_else(|| {
                ExportError::NotFound(format!("{label}: blob {} is not in the archive", d.digest))
            })?;
            jobs.insert(d.digest.clone(), (c, d.size, label.clone()));
        }
    }
    let total: u64 = jobs.values().map(|j| j.0.len()).sum();
    let mut report = write_blobs(dest, &jobs, total, progress)?;
    let mut refs: BTreeMap<String, Value> = BTreeMap::new();
    for &i in &selected {
        let img = &solution.images[i];
        let label = format!("{}:{}", img.name, img.tag);
        let manifest = solution.manifest_bytes(i)?;
        if img.is_list() {
            let r = export_list(solution, dest, i, &manifest, oci_media_types, &mut report)?;
            refs.insert(label.clone(), r.reference(&label));
            let (manifest_digest, media_type) = if oci_media_types {
                (r.digest.clone(), r.media_type.clone())
            } else {
                (img.manifest_digest.clone(), img.media_type.clone())
            };
            report.images.push(ExportedImage {
                ref_name: label,
                manifest_digest,
                media_type,
                index_digest: r.digest,
            });
            continue;
        }
        put_made(dest, &manifest, &img.manifest_digest, &label, &mut report)?;
        if oci_media_types && img.kind == ManifestKind::DockerV2S2 {
            // Rewritten to OCI media types: a new manifest, a new digest.
            let converted = to_oci_manifest(&manifest).map_err(|reason| ExportError::Corrupt {
                image: label.clone(),
                digest: img.manifest_digest.clone(),
                reason,
            })?;
            let digest = format!("sha256:{}", hex::encode(Sha256::digest(&converted)));
            put_made(dest, &converted, &digest, &label, &mut report)?;
            refs.insert(
                label.clone(),
                json!({
                    "mediaType": media::OCI_MANIFEST,
                    "digest": digest,
                    "size": converted.len(),
                    "annotations": { REF_NAME: label },
                }),
            );
            report.images.push(ExportedImage {
                ref_name: label,
                manifest_digest: digest.clone(),
                media_type: media::OCI_MANIFEST.to_string(),
                index_digest: digest,
            });
            continue;
        }
        let index_bytes = ref_index(solution, i);
        let index_digest = format!("sha256:{}", hex::encode(Sha256::digest(&index_bytes)));
        put_made(dest, &index_bytes, &index_digest, &label, &mut report)?;
        refs.insert(
            label.clone(),
            json!({
                "mediaType": media::OCI_INDEX,
                "digest": index_digest,
                "size": index_bytes.len(),
                "annotations": { REF_NAME: label },
            }),
        );
        report.images.push(ExportedImage {
            ref_name: label,
            manifest_digest: img.manifest_digest.clone(),
            media_type: img.media_type.clone(),
            index_digest,
        });
    }
    // index.json: keep the refs of earlier runs that this run did not rewrite.
    let index_path = dest.join("index.json");
    let mut manifests: Vec<Value> = fs::read(&index_path)
        .ok()
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
    let tmp = dest.join(".index.json.partial");
    fs::write(&tmp, serde_json::to_vec_pretty(&index).unwrap_or_default()).map_err(io(&tmp))?;
    fs::rename(&tmp, &index_path).map_err(io(&index_path))?;
    Ok(report)
}
