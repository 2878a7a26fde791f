//! Export to a single tar file: `--oci-archive` (a tar of the OCI layout that
//! [`crate::export::layout`] writes, as `skopeo copy ... oci-archive:` reads it) and
//! `--docker-archive` (the `docker load` format: `manifest.json` listing each image's config and
//! layers, which `docker load` and `skopeo copy docker-archive:` read).
//!
//! Blobs are copied from the mapping into the tar; each is hashed as it goes and the export
//! fails (and the partial file is removed) if a blob's bytes differ from its descriptor. Every
//! member's size is known before anything is written, so every member's place in the tar is
//! too: the file is given its final length first, then the blobs are written at their
//! places on every core, two at a time per core (hashed together, see
//! `hash_copy_pair` in the `write` module), byte for byte what `tar::Builder` would write one after
//! the other (the padding and the end-of-archive blocks are the zeroes of the new length).
//! The tar is written to a temporary file beside `FILE`, created exclusively under a name
//! private to the process (`.FILE.partial-<pid>-<n>`, never through a symbolic link), and
//! renamed over `FILE` when complete (a symbolic link at `FILE` is replaced, not followed);
//! the leftovers of interrupted runs (processes no longer running) are removed. A docker
//! archive cannot keep
//! manifest digests (the format has no manifest); layers are stored as they are in the
//! archive (gzip), which `docker load` decompresses.

use std::collections::BTreeSet;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use iso_core::digest::hex_or_self;
use iso_core::solution::{
    media, BlobRef, ContainerImage, ImageContent, ManifestKind, PlatformManifest, Solution,
};
use serde_json::{json, Value};

use super::select::{check_exportable, label, select_images, stored};
use super::write::{
    digest_of, hash_copy, hash_copy_pair, io_error as io_err, partial_prefix, parts_len,
    remove_leftovers, Expected, TempFile, Tick,
};
use crate::export::layout::{docker_list_as_oci_index, ref_index, ExportError, Progress, REF_NAME};
use crate::Stopped;

/// A tar header for a regular file `path` of `size` bytes (a path tar cannot hold is an
/// error).
fn header(path: &str, size: u64) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_path(path)?;
    h.set_cksum();
    Ok(h)
}

/// Which archive format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// A tar of an OCI image layout.
    Oci,
    /// The `docker load` format.
    Docker,
}

/// What an archive export wrote.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ArchiveReport {
    /// Refs (`name:tag`) written.
    pub refs: Vec<String>,
    /// Distinct blobs written.
    pub blobs: usize,
    /// Bytes of blob content written.
    pub bytes: u64,
}

/// Writes `images` (empty: all) of `solution` as one tar file at `out`.
pub fn export_archive(
    solution: &Solution<'_, '_>,
    out: &Path,
    format: ArchiveFormat,
    images: &[(String, String)],
) -> Result<ArchiveReport, ExportError> {
    export_archive_with(solution, out, format, images, &mut |_| {
        ControlFlow::Continue(())
    })
}

/// [`export_archive`], calling `progress` with the bytes of blob content written so far and
/// the total (first with `done` 0, last with `done == total` once the tar is complete and
/// before it is renamed into place). When `progress` returns [`ControlFlow::Break`], the
/// export stops: the partial file is removed and the result is an [`ExportError::Io`] of
/// kind [`io::ErrorKind::Interrupted`] on `out`.
pub fn export_archive_with(
    solution: &Solution<'_, '_>,
    out: &Path,
    format: ArchiveFormat,
    images: &[(String, String)],
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<ArchiveReport, ExportError> {
    export_archive_for(solution, out, format, images, None, progress)
}

/// [`export_archive_with`], choosing one platform of each multi-platform tag for a `docker
/// load` archive (which holds one image per tag): `platform` is `os/architecture[/variant]`
/// as the list gives it, or `os/architecture` when only one of the list's platforms has that
/// pair (`linux/arm64` for `linux/arm64/v8`). Without it, such a tag is refused; a tag whose
/// list lacks the platform is refused by name with the platforms it has. Single-platform
/// tags and OCI archives are not affected.
pub fn export_archive_for(
    solution: &Solution<'_, '_>,
    out: &Path,
    format: ArchiveFormat,
    images: &[(String, String)],
    platform: Option<&str>,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<ArchiveReport, ExportError> {
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(ExportError::Io {
            path: out.to_owned(),
            error: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        });
    };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    remove_leftovers(dir, &partial_prefix(&name));
    let written = plan(solution, format, images, platform)
        .and_then(|plan| write_tar(plan, (dir, &name), format, progress));
    match written {
        Ok((report, file)) => {
            file.persist(out)?;
            Ok(report)
        }
        // Stopped: reported as an interrupted write of `out` (see `export_archive_with`).
        Err(ExportError::Stopped) => Err(ExportError::Io {
            path: out.to_owned(),
            error: io::Error::new(
                io::ErrorKind::Interrupted,
                ExportError::from(Stopped).to_string(),
            ),
        }),
        Err(e) => Err(e),
    }
}

/// The per-platform manifest of list `img` for `want` (see [`export_archive_for`]).
fn pick_platform<'a>(img: &'a ContainerImage, want: &str) -> Option<&'a PlatformManifest> {
    if let Some(p) = img.platforms().iter().find(|p| p.platform == want) {
        return Some(p);
    }
    if want.matches('/').count() != 1 {
        return None; // os/arch/variant: only an exact match
    }
    let prefix = format!("{want}/");
    let mut matching = img
        .platforms()
        .iter()
        .filter(|p| p.platform.starts_with(&prefix));
    match (matching.next(), matching.next()) {
        (Some(p), None) => Some(p),
        _ => None,
    }
}

/// Where the bytes of one tar member come from.
enum Source<'d> {
    /// A blob of the archive (slices of the mapping).
    Blob(iso_core::Contents<'d>),
    /// Bytes made here (manifests, indexes).
    Owned(Vec<u8>),
}

/// One blob to put in the tar.
struct Member<'d> {
    name: String,
    source: Source<'d>,
    digest: String,
    size: u64,
    label: String,
}

impl<'d> Member<'d> {
    /// A blob of the OCI layout, `blobs/sha256/<hex>`.
    fn oci(source: Source<'d>, digest: &str, size: u64, label: &str) -> Self {
        Member {
            name: format!("blobs/sha256/{}", hex_or_self(digest)),
            source,
            digest: digest.to_string(),
            size,
            label: label.to_string(),
        }
    }

    /// A manifest or index made here, with its digest computed.
    fn made(bytes: Vec<u8>, label: &str) -> (Self, String) {
        let digest = digest_of(&bytes);
        let size = bytes.len() as u64;
        (
            Member::oci(Source::Owned(bytes), &digest, size, label),
            digest,
        )
    }
}

/// Image `img`'s own `manifest.json` bytes, under the digest the inventory took of them (the
/// tar writer checks it again while writing).
fn stored_manifest<'d>(bytes: Vec<u8>, img: &ContainerImage, label: &str) -> Member<'d> {
    let size = bytes.len() as u64;
    Member::oci(Source::Owned(bytes), img.manifest_digest_str(), size, label)
}

/// What goes in the tar: blobs (each name once), then the index or `manifest.json`.
#[derive(Default)]
struct Plan<'d> {
    members: Vec<Member<'d>>,
    names: BTreeSet<String>,
    index_entries: Vec<Value>,
    docker_manifest: Vec<Value>,
    refs: Vec<String>,
}

fn plan<'d>(
    solution: &Solution<'_, 'd>,
    format: ArchiveFormat,
    images: &[(String, String)],
    platform: Option<&str>,
) -> Result<Plan<'d>, ExportError> {
    let selected = select_images(solution, images)?;
    let mut p = Plan::default();
    for &i in &selected {
        let img = &solution.images[i];
        let label = label(img);
        check_exportable(img, &label)?;
        match &img.content {
            ImageContent::List { .. } if format == ArchiveFormat::Docker => {
                // A docker archive of a list: the chosen platform's manifest, as a single
                // image.
                let pm = choose_platform(img, &label, platform)?;
                p.add_image(solution, i, &label, format, (&pm.config, &pm.layers))?;
            }
            ImageContent::List { .. } => p.add_list(solution, i, &label)?,
            ImageContent::Single { config, layers } => {
                p.add_image(solution, i, &label, format, (config, layers))?
            }
            // Refused by `check_exportable`.
            ImageContent::Unknown => {}
        }
    }
    Ok(p)
}

/// The per-platform manifest of list `img` that a docker archive holds (see
/// [`export_archive_for`]).
fn choose_platform<'a>(
    img: &'a ContainerImage,
    label: &str,
    platform: Option<&str>,
) -> Result<&'a PlatformManifest, ExportError> {
    let platforms: Vec<&str> = img
        .platforms()
        .iter()
        .map(|p| p.platform.as_str())
        .collect();
    let Some(want) = platform else {
        return Err(ExportError::Unsupported {
            image: label.to_string(),
            what: format!(
                "a `docker load` archive of a multi-platform {} ({}) without a choice of \
                 platform (docker load takes one image per tag: pick one with \
                 --platform, or use --oci-archive)",
                img.media_type,
                platforms.join(", ")
            ),
        });
    };
    pick_platform(img, want).ok_or_else(|| {
        ExportError::NotFound(format!(
            "{label}: no platform {want} in the list (it has {})",
            platforms.join(", ")
        ))
    })
}

impl<'d> Plan<'d> {
    /// Adds `m` unless a member of that name is there already.
    fn add(&mut self, m: Member<'d>) {
        if self.names.insert(m.name.clone()) {
            self.members.push(m);
        }
    }

    /// A list or index in an OCI archive: every platform's blobs, each per-platform
    /// manifest, the list; `index.json` names the list itself (a Docker list through an OCI
    /// index of its entries, as in the layout).
    fn add_list(
        &mut self,
        solution: &Solution<'_, 'd>,
        i: usize,
        label: &str,
    ) -> Result<(), ExportError> {
        let img = &solution.images[i];
        let manifests = img.platforms().iter().map(|pm| &pm.manifest);
        for d in img.content_refs().chain(manifests) {
            let c = stored(solution, i, &d.digest, label)?;
            self.add(Member::oci(
                Source::Blob(c),
                d.digest.as_ref(),
                d.size,
                label,
            ));
        }
        let list = solution.manifest_bytes(i)?;
        let ix = if img.kind == ManifestKind::DockerList {
            Some(
                docker_list_as_oci_index(&list).map_err(|reason| ExportError::Corrupt {
                    image: label.to_string(),
                    digest: img.manifest_digest_str().to_string(),
                    reason,
                })?,
            )
        } else {
            None
        };
        self.add(stored_manifest(list, img, label));
        let (digest, size, media_type) = if let Some(ix) = ix {
            let size = ix.len() as u64;
            let (m, ix_digest) = Member::made(ix, label);
            self.add(m);
            (ix_digest, size, media::OCI_INDEX.to_string())
        } else {
            (
                img.manifest_digest_str().to_string(),
                img.manifest_size,
                img.media_type.clone(),
            )
        };
        self.index_entries.push(json!({
            "mediaType": media_type,
            "digest": digest,
            "size": size,
            "annotations": { REF_NAME: label },
        }));
        self.refs.push(label.to_string());
        Ok(())
    }

    /// One image (image `i` itself, or the platform a docker archive holds of list `i`):
    /// its config and layers, then in an OCI archive its manifest and one-entry index, in a
    /// docker archive its `manifest.json` entry.
    fn add_image(
        &mut self,
        solution: &Solution<'_, 'd>,
        i: usize,
        label: &str,
        format: ArchiveFormat,
        (config, layers): (&BlobRef, &[BlobRef]),
    ) -> Result<(), ExportError> {
        let img = &solution.images[i];
        let mut layer_names = Vec::new();
        let mut config_name = String::new();
        for (k, d) in std::iter::once(config).chain(layers).enumerate() {
            let c = stored(solution, i, &d.digest, label)?;
            let hex = hex_or_self(d.digest.as_ref());
            let name = match format {
                ArchiveFormat::Oci => format!("blobs/sha256/{hex}"),
                ArchiveFormat::Docker if k == 0 => format!("{hex}.json"),
                ArchiveFormat::Docker => format!("{hex}.tar"),
            };
            self.add(Member {
                name: name.clone(),
                source: Source::Blob(c),
                digest: d.digest.to_string(),
                size: d.size,
                label: label.to_string(),
            });
            if k == 0 {
                config_name = name;
            } else {
                layer_names.push(name);
            }
        }
        match format {
            ArchiveFormat::Oci => {
                self.add(stored_manifest(solution.manifest_bytes(i)?, img, label));
                // As in the layout: a one-entry OCI index per ref (see `crate::export::layout`).
                let ix = ref_index(solution, i);
                let size = ix.len();
                let (m, ix_digest) = Member::made(ix, label);
                self.index_entries.push(json!({
                    "mediaType": media::OCI_INDEX,
                    "digest": ix_digest,
                    "size": size,
                    "annotations": { REF_NAME: label },
                }));
                self.add(m);
            }
            ArchiveFormat::Docker => self.docker_manifest.push(json!({
                "Config": config_name,
                "RepoTags": [label],
                "Layers": layer_names,
            })),
        }
        self.refs.push(label.to_string());
        Ok(())
    }
}

/// The bytes a member takes in a tar: its 512-byte header, then its content padded to a
/// whole 512-byte block (`None` past `u64`).
fn framed_len(size: u64) -> Option<u64> {
    size.checked_add(511)
        .map(|s| s / 512 * 512)
        .and_then(|s| s.checked_add(512))
}

/// The small files after the blobs, `(name, bytes)`: `oci-layout` and `index.json`, or
/// `manifest.json`.
fn index_files(format: ArchiveFormat, plan: &Plan<'_>) -> Vec<(&'static str, Vec<u8>)> {
    match format {
        ArchiveFormat::Oci => {
            let index = json!({"schemaVersion": 2, "manifests": plan.index_entries});
            vec![
                ("oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}".to_vec()),
                ("index.json", serde_json::to_vec(&index).unwrap_or_default()),
            ]
        }
        ArchiveFormat::Docker => vec![(
            "manifest.json",
            serde_json::to_vec(&Value::Array(plan.docker_manifest.clone())).unwrap_or_default(),
        )],
    }
}

/// One blob member to write: its name, bytes (the parts of its content, in order), what
/// they must be, and where its header goes in the tar.
struct Job<'m> {
    name: &'m str,
    parts: Vec<&'m [u8]>,
    want: Expected<'m>,
    at: u64,
}

/// A member this small is written with one `pwrite` (header and content together, from a
/// copy that is hashed itself); larger ones are hashed and written in chunks from the
/// mapping.
const SMALL: u64 = 64 << 10;

/// Progress is sent to the reporting thread every this many bytes (and at the end of each
/// blob).
const REPORT_EVERY: u64 = 1 << 20;

impl Job<'_> {
    /// The content as one slice, when it is one (and large enough to be worth a pair).
    fn pairable(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [one] if self.want.size > SMALL => Some(one),
            _ => None,
        }
    }

    fn header(&self, file: &TempFile) -> Result<tar::Header, ExportError> {
        let path = file.out(0).path();
        header(self.name, self.want.size).map_err(io_err(path))
    }

    /// Writes this member alone: header, then content hashed while written; the digest is
    /// checked.
    fn write(&self, file: &TempFile, tick: Tick<'_>) -> Result<(), ExportError> {
        let h = self.header(file)?;
        if self.want.size <= SMALL {
            let mut buf = Vec::with_capacity(512 + self.want.size as usize);
            buf.extend_from_slice(h.as_bytes());
            for p in &self.parts {
                buf.extend_from_slice(p);
            }
            self.want.check_digest(&sha256(&buf[512..]))?;
            file.out(self.at).put(0, &buf)?;
            return Ok(Stopped::on_break(tick(self.want.size))?);
        }
        file.out(self.at).put(0, h.as_bytes())?;
        let got = hash_copy(&self.parts, file.out(self.at + 512), tick)?;
        self.want.check_digest(&got)
    }
}

/// SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Writes two members at once: their headers, then both contents hashed together while
/// written ([`hash_copy_pair`]); both digests are checked.
fn write_pair(
    file: &TempFile,
    (a, da): (&Job<'_>, &[u8]),
    (b, db): (&Job<'_>, &[u8]),
    tick: Tick<'_>,
) -> Result<(), ExportError> {
    file.out(a.at).put(0, a.header(file)?.as_bytes())?;
    file.out(b.at).put(0, b.header(file)?.as_bytes())?;
    let (ga, gb) = hash_copy_pair((da, file.out(a.at + 512)), (db, file.out(b.at + 512)), tick)?;
    a.want.check_digest(&ga)?;
    b.want.check_digest(&gb)
}

/// What the writer threads of [`write_tar`] share.
struct Shared<'j, 'm> {
    file: &'j TempFile,
    /// The jobs, largest first.
    order: Vec<&'j Job<'m>>,
    /// The next job to take.
    next: AtomicUsize,
    /// Set on the first error or when progress asks to stop: every writer stops.
    halt: AtomicBool,
    /// The first error (other than the stop it causes in the other writers).
    failed: Mutex<Option<ExportError>>,
}

impl Shared<'_, '_> {
    /// One writer: takes the next two jobs (of neighbouring sizes) until none is left or the
    /// writers are halted, sending the bytes done to the reporting thread.
    fn work(&self, tx: &mpsc::Sender<u64>) {
        let mut pending = 0u64;
        loop {
            if self.halt.load(Ordering::Relaxed) {
                break;
            }
            let k = self.next.fetch_add(2, Ordering::Relaxed);
            let Some(&a) = self.order.get(k) else {
                break;
            };
            let b = self.order.get(k + 1).copied();
            let r = {
                let mut tick = |n: u64| {
                    pending += n;
                    if pending >= REPORT_EVERY {
                        let _ = tx.send(pending);
                        pending = 0;
                    }
                    if self.halt.load(Ordering::Relaxed) {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                };
                match (a.pairable(), b.and_then(|b| Some((b, b.pairable()?)))) {
                    (Some(da), Some((b, db))) => write_pair(self.file, (a, da), (b, db), &mut tick),
                    _ => std::iter::once(a)
                        .chain(b)
                        .try_for_each(|j| j.write(self.file, &mut tick)),
                }
            };
            if pending > 0 {
                let _ = tx.send(pending);
                pending = 0;
            }
            if let Err(e) = r {
                self.halt.store(true, Ordering::Relaxed);
                if !matches!(e, ExportError::Stopped) {
                    let mut f = self.failed.lock().unwrap_or_else(|p| p.into_inner());
                    f.get_or_insert(e);
                }
                break;
            }
        }
    }
}

/// Writes the tar of `plan` to a [`TempFile`] in `dir` for final name `name` (returned
/// complete, for the caller to rename), reporting progress in blob bytes. Every member's
/// size is checked against its descriptor before the file is created; the blobs are then
/// written at their places on every core (see the module docs), progress reported from
/// this thread.
fn write_tar(
    plan: Plan<'_>,
    (dir, name): (&Path, &str),
    format: ArchiveFormat,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<(ArchiveReport, TempFile), ExportError> {
    let total: u64 = plan.members.iter().map(|m| m.size).sum();
    Stopped::on_break(progress(Progress { done: 0, total }))?;
    let too_large = || ExportError::Io {
        path: dir.join(name),
        error: io::Error::new(
            io::ErrorKind::InvalidInput,
            "the archive would pass 2^64 bytes",
        ),
    };
    let mut at = 0u64;
    let mut jobs = Vec::with_capacity(plan.members.len());
    for m in &plan.members {
        let parts: Vec<&[u8]> = match &m.source {
            Source::Blob(c) => c.parts().to_vec(),
            Source::Owned(v) => vec![v.as_slice()],
        };
        let want = Expected::new(&m.digest, m.size, &m.label)?;
        // The header says the size: a blob of another size is refused before anything is
        // written.
        want.check_size(parts_len(&parts))?;
        jobs.push(Job {
            name: &m.name,
            parts,
            want,
            at,
        });
        at = framed_len(m.size)
            .and_then(|n| at.checked_add(n))
            .ok_or_else(too_large)?;
    }
    let tail = index_files(format, &plan);
    let mut tail_at = Vec::with_capacity(tail.len());
    for (_, bytes) in &tail {
        tail_at.push(at);
        at = framed_len(bytes.len() as u64)
            .and_then(|n| at.checked_add(n))
            .ok_or_else(too_large)?;
    }
    // Two zero blocks end the archive (`tar::Builder::finish`).
    let end = at.checked_add(1024).ok_or_else(too_large)?;
    let file = TempFile::private(dir, name)?;
    file.set_len(end)?;
    for ((name, bytes), &at) in tail.iter().zip(&tail_at) {
        let h = header(name, bytes.len() as u64).map_err(io_err(file.out(0).path()))?;
        file.out(at).put(0, h.as_bytes())?;
        file.out(at + 512).put(0, bytes)?;
    }
    let mut order: Vec<&Job<'_>> = jobs.iter().collect();
    order.sort_by(|a, b| (b.want.size, a.name).cmp(&(a.want.size, b.name)));
    let shared = Shared {
        file: &file,
        order,
        next: AtomicUsize::new(0),
        halt: AtomicBool::new(false),
        failed: Mutex::new(None),
    };
    // (Writers share the file through `pwrite`, a Unix call; elsewhere one writes.)
    let cores = if cfg!(unix) {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        1
    };
    let threads = cores.clamp(1, 16).min(jobs.len().div_ceil(2).max(1));
    let mut done = 0u64;
    let mut stopped = false;
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..threads {
            let tx = tx.clone();
            let shared = &shared;
            s.spawn(move || shared.work(&tx));
        }
        drop(tx);
        // Until every writer is done (their senders dropped).
        for n in rx {
            done += n;
            if !stopped && progress(Progress { done, total }).is_break() {
                stopped = true;
                shared.halt.store(true, Ordering::Relaxed);
            }
        }
    });
    if let Some(e) = shared
        .failed
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        return Err(e);
    }
    if stopped {
        return Err(Stopped.into());
    }
    Stopped::on_break(progress(Progress { done, total }))?;
    let report = ArchiveReport {
        refs: plan.refs.clone(),
        blobs: plan.members.len(),
        bytes: total,
    };
    Ok((report, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> iso_core::IsoFile {
        let iso = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/solutions/example-solution-1.0.2.iso");
        iso_core::IsoFile::open(iso).unwrap()
    }

    /// Lengths around a block boundary, around [`SMALL`], and large ones written as pairs
    /// and in several chunks.
    fn lengths() -> Vec<usize> {
        let c = super::super::write::CHUNK;
        vec![
            0,
            1,
            511,
            512,
            513,
            70_000,
            65_536,
            65_537,
            2 * c + 77,
            2 * c + 1,
            3 * c,
            c - 3,
        ]
    }

    fn owned(m: &Member<'_>) -> Vec<u8> {
        match &m.source {
            Source::Owned(b) => b.clone(),
            Source::Blob(c) => c.to_vec(),
        }
    }

    /// The tar written in place on every core is byte for byte what `tar::Builder` writes
    /// member after member (headers, padding, the small files, the two end blocks).
    #[test]
    fn the_tar_is_what_tar_builder_writes_member_after_member() {
        for format in [ArchiveFormat::Oci, ArchiveFormat::Docker] {
            let mut plan = Plan::default();
            for (k, len) in lengths().into_iter().enumerate() {
                let bytes: Vec<u8> = (0..len).map(|i| ((i * 7 + k) % 253) as u8).collect();
                plan.add(Member::made(bytes, "x:1").0);
            }
            plan.index_entries.push(json!({"digest": "sha256:00"}));
            plan.docker_manifest.push(json!({"Config": "c.json"}));
            let mut theirs = tar::Builder::new(Vec::new());
            for m in &plan.members {
                theirs
                    .append(&header(&m.name, m.size).unwrap(), &owned(m)[..])
                    .unwrap();
            }
            for (name, bytes) in index_files(format, &plan) {
                theirs
                    .append(&header(name, bytes.len() as u64).unwrap(), &bytes[..])
                    .unwrap();
            }
            let theirs = theirs.into_inner().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let n = plan.members.len();
            let (report, file) = write_tar(plan, (dir.path(), "x.tar"), format, &mut |_| {
                ControlFlow::Continue(())
            })
            .unwrap();
            file.persist(&dir.path().join("x.tar")).unwrap();
            assert_eq!(report.blobs, n);
            let ours = std::fs::read(dir.path().join("x.tar")).unwrap();
            assert_eq!(ours.len(), theirs.len(), "{format:?}");
            assert!(ours == theirs, "{format:?}: the bytes differ");
        }
    }

    /// A member whose bytes are not its digest's (written alone, small or large, or as one
    /// of a pair): an error naming it, and no file left.
    #[test]
    fn a_wrong_blob_fails_the_archive_and_leaves_nothing() {
        for bad in [1usize, 2, 4, 5] {
            let mut plan = Plan::default();
            for (k, len) in lengths().into_iter().enumerate() {
                let bytes: Vec<u8> = (0..len).map(|i| ((i * 3 + k) % 251) as u8).collect();
                let (mut m, _) = Member::made(bytes, "x:1");
                if k == bad || k == lengths().len() - bad {
                    m.digest = digest_of(b"something else");
                }
                plan.add(m);
            }
            let dir = tempfile::tempdir().unwrap();
            let e = write_tar(plan, (dir.path(), "x.tar"), ArchiveFormat::Oci, &mut |_| {
                ControlFlow::Continue(())
            })
            .map(|_| ())
            .unwrap_err();
            assert!(e.to_string().contains("content has sha256:"), "{e}");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }

    #[test]
    fn progress_goes_from_zero_to_the_total_and_can_stop_the_export() {
        let file = example();
        let image = file.image().unwrap();
        let s = Solution::load(&image).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for format in [ArchiveFormat::Oci, ArchiveFormat::Docker] {
            let out = dir.path().join("x.tar");
            let mut seen = Vec::new();
            let r = export_archive_with(&s, &out, format, &[], &mut |p| {
                seen.push((p.done, p.total));
                ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(seen.first(), Some(&(0, r.bytes)), "{format:?}");
            assert_eq!(seen.last(), Some(&(r.bytes, r.bytes)), "{format:?}");
            assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
            assert!(out.exists());
            std::fs::remove_file(&out).unwrap();
            // Stopped at the third report: an Interrupted error, and no file at all.
            let mut calls = 0;
            let e = export_archive_with(&s, &out, format, &[], &mut |_| {
                calls += 1;
                if calls == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap_err();
            assert!(
                matches!(&e, ExportError::Io { error, .. } if error.kind() == io::ErrorKind::Interrupted),
                "{e}"
            );
            assert_eq!(calls, 3);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }
}
