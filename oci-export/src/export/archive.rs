//! Export to a single tar file: `--oci-archive` (a tar of the OCI layout that
//! [`crate::export::layout`] writes, as `skopeo copy ... oci-archive:` reads it) and
//! `--docker-archive` (the `docker load` format: `manifest.json` listing each image's config and
//! layers, which `docker load` and `skopeo copy docker-archive:` read).
//!
//! Blobs stream from the mapping into the tar; each is hashed as it goes and the export fails
//! (and the partial file is removed) if a blob's bytes differ from its descriptor. The tar is
//! written to `FILE.partial` and renamed when complete. A docker archive cannot keep manifest
//! digests (the format has no manifest); layers are stored as they are in the archive
//! (gzip), which `docker load` decompresses.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::ops::ControlFlow;
use std::path::Path;

use iso_core::solution::{ContainerImage, ManifestKind, PlatformManifest, Solution};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::export::layout::{
    check_platforms, docker_list_as_oci_index, ref_index, select_images, ExportError, Progress,
    REF_NAME,
};

/// A reader over blob parts that hashes what it hands out and reports progress; it fails
/// (and sets `stopped`) when the progress callback asks to stop.
struct Hashing<'a, 'p> {
    parts: &'a [&'a [u8]],
    idx: usize,
    pos: usize,
    hash: Sha256,
    done: &'a mut u64,
    total: u64,
    progress: &'a mut dyn FnMut(Progress) -> ControlFlow<()>,
    stopped: &'p mut bool,
}

impl Read for Hashing<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(p) = self.parts.get(self.idx) {
            if self.pos < p.len() {
                let n = (p.len() - self.pos).min(buf.len());
                buf[..n].copy_from_slice(&p[self.pos..self.pos + n]);
                self.hash.update(&buf[..n]);
                self.pos += n;
                *self.done += n as u64;
                let at = Progress {
                    done: *self.done,
                    total: self.total,
                };
                if (self.progress)(at).is_break() {
                    *self.stopped = true;
                    return Err(io::Error::other(STOPPED));
                }
                return Ok(n);
            }
            self.idx += 1;
            self.pos = 0;
        }
        Ok(0)
    }
}

/// The message of the error returned when the progress callback stops an export.
const STOPPED: &str = "export stopped by the progress callback";

fn header(path: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ExportError + '_ {
    move |error| ExportError::Io {
        path: path.to_owned(),
        error,
    }
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
    let tmp = out.with_file_name(format!(
        "{}.partial",
        out.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    ));
    let mut stopped = false;
    let result = write(
        solution,
        &tmp,
        format,
        images,
        platform,
        progress,
        &mut stopped,
    );
    let result = match result {
        Err(_) if stopped => Err(ExportError::Io {
            path: out.to_owned(),
            error: io::Error::new(io::ErrorKind::Interrupted, STOPPED),
        }),
        r => r,
    };
    match result {
        Ok(r) => {
            fs::rename(&tmp, out).map_err(io_err(out))?;
            Ok(r)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The per-platform manifest of list `img` for `want` (see [`export_archive_for`]).
fn pick_platform<'a>(img: &'a ContainerImage, want: &str) -> Option<&'a PlatformManifest> {
    if let Some(p) = img.platforms.iter().find(|p| p.platform == want) {
        return Some(p);
    }
    if want.matches('/').count() != 1 {
        return None; // os/arch/variant: only an exact match
    }
    let prefix = format!("{want}/");
    let mut matching = img
        .platforms
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
            name: format!("blobs/sha256/{}", digest.trim_start_matches("sha256:")),
            source,
            digest: digest.to_string(),
            size,
            label: label.to_string(),
        }
    }

    /// A manifest or index made here, with its digest computed.
    fn made(bytes: Vec<u8>, label: &str) -> (Self, String) {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
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
    Member::oci(Source::Owned(bytes), &img.manifest_digest, size, label)
}

/// What goes in the tar: blobs (each name once), then the index or `manifest.json`.
struct Plan<'d> {
    members: Vec<Member<'d>>,
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
    let mut names = BTreeSet::new();
    let mut p = Plan {
        members: Vec::new(),
        index_entries: Vec::new(),
        docker_manifest: Vec::new(),
        refs: Vec::new(),
    };
    let mut add = |p: &mut Plan<'d>, m: Member<'d>| {
        if names.insert(m.name.clone()) {
            p.members.push(m);
        }
    };
    for &i in &selected {
        let img = &solution.images[i];
        let label = format!("{}:{}", img.name, img.tag);
        if img.kind == ManifestKind::Other {
            return Err(ExportError::Unsupported {
                image: label,
                what: format!("a {}", img.media_type),
            });
        }
        // A docker archive of a list: the chosen platform's manifest, as a single image.
        let mut content = (img.config.as_ref(), img.layers.as_slice());
        if img.is_list() && format == ArchiveFormat::Docker {
            let platforms: Vec<&str> = img.platforms.iter().map(|p| p.platform.as_str()).collect();
            check_platforms(img, &label)?;
            let Some(want) = platform else {
                return Err(ExportError::Unsupported {
                    image: label,
                    what: format!(
                        "a `docker load` archive of a multi-platform {} ({}) without a choice of \
                         platform (docker load takes one image per tag: pick one with \
                         --platform, or use --oci-archive)",
                        img.media_type,
                        platforms.join(", ")
                    ),
                });
            };
            let pm = pick_platform(img, want).ok_or_else(|| {
                ExportError::NotFound(format!(
                    "{label}: no platform {want} in the list (it has {})",
                    platforms.join(", ")
                ))
            })?;
            content = (pm.config.as_ref(), pm.layers.as_slice());
        } else if img.is_list() {
            check_platforms(img, &label)?;
            // Every platform's blobs, each per-platform manifest, the list; index.json names
            // the list itself.
            let manifests = img
                .platforms
                .iter()
                .map(|pm| (&pm.manifest.digest, pm.manifest.size, true));
            let blobs = img.content_refs().map(|d| (&d.digest, d.size, false));
            for (digest, size, _) in blobs.chain(manifests) {
                let c = solution.blob(i, digest).ok_or_else(|| {
                    ExportError::NotFound(format!("{label}: blob {digest} is not in the archive"))
                })?;
                add(&mut p, Member::oci(Source::Blob(c), digest, size, &label));
            }
            let list = solution.manifest_bytes(i)?;
            // As in the layout: a Docker list is named through an OCI index of its entries.
            let ix = if img.kind == ManifestKind::DockerList {
                Some(
                    docker_list_as_oci_index(&list).map_err(|reason| ExportError::Corrupt {
                        image: label.clone(),
                        digest: img.manifest_digest.clone(),
                        reason,
                    })?,
                )
            } else {
                None
            };
            add(&mut p, stored_manifest(list, img, &label));
            let (digest, size, media_type) = if let Some(ix) = ix {
                let size = ix.len() as u64;
                let (m, ix_digest) = Member::made(ix, &label);
                add(&mut p, m);
                (
                    ix_digest,
                    size,
                    iso_core::solution::media::OCI_INDEX.to_string(),
                )
            } else {
                (
                    img.manifest_digest.clone(),
                    img.manifest_size,
                    img.media_type.clone(),
                )
            };
            p.index_entries.push(json!({
                "mediaType": media_type,
                "digest": digest,
                "size": size,
                "annotations": { REF_NAME: label },
            }));
            p.refs.push(label);
            continue;
        }
        let mut layer_names = Vec::new();
        let mut config_name = String::new();
        for (k, d) in content.0.into_iter().chain(content.1).enumerate() {
            let c = solution.blob(i, &d.digest).ok_or_else(|| {
                ExportError::NotFound(format!("{label}: blob {} is not in the archive", d.digest))
            })?;
            let hex = d.digest.trim_start_matches("sha256:");
            let name = match format {
                ArchiveFormat::Oci => format!("blobs/sha256/{hex}"),
                ArchiveFormat::Docker if k == 0 => format!("{hex}.json"),
                ArchiveFormat::Docker => format!("{hex}.tar"),
            };
            add(
                &mut p,
                Member {
                    name: name.clone(),
                    source: Source::Blob(c),
                    digest: d.digest.clone(),
                    size: d.size,
                    label: label.clone(),
                },
            );
            if k == 0 {
                config_name = name;
            } else {
                layer_names.push(name);
            }
        }
        match format {
            ArchiveFormat::Oci => {
                add(
                    &mut p,
                    stored_manifest(solution.manifest_bytes(i)?, img, &label),
                );
                // As in the layout: a one-entry OCI index per ref (see `crate::export::layout`).
                let ix = ref_index(solution, i);
                let size = ix.len();
                let (m, ix_digest) = Member::made(ix, &label);
                p.index_entries.push(json!({
                    "mediaType": iso_core::solution::media::OCI_INDEX,
                    "digest": ix_digest,
                    "size": size,
                    "annotations": { REF_NAME: label },
                }));
                add(&mut p, m);
            }
            ArchiveFormat::Docker => p.docker_manifest.push(json!({
                "Config": config_name,
                "RepoTags": [label],
                "Layers": layer_names,
            })),
        }
        p.refs.push(label);
    }
    Ok(p)
}

fn write(
    solution: &Solution<'_, '_>,
    path: &Path,
    format: ArchiveFormat,
    images: &[(String, String)],
    platform: Option<&str>,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
    stopped: &mut bool,
) -> Result<ArchiveReport, ExportError> {
    let plan = plan(solution, format, images, platform)?;
    let total: u64 = plan.members.iter().map(|m| m.size).sum();
    let mut done = 0u64;
    if progress(Progress { done, total }).is_break() {
        *stopped = true;
        return Err(ExportError::Io {
            path: path.to_owned(),
            error: io::Error::other(STOPPED),
        });
    }
    let file = File::create(path).map_err(io_err(path))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
    let mut report = ArchiveReport {
        refs: plan.refs.clone(),
        ..ArchiveReport::default()
    };
    for m in &plan.members {
        let owned;
        let parts: &[&[u8]] = match &m.source {
            Source::Blob(c) => c.parts(),
            Source::Owned(v) => {
                owned = [v.as_slice()];
                &owned
            }
        };
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let corrupt = |reason: String| ExportError::Corrupt {
            image: m.label.clone(),
            digest: m.digest.clone(),
            reason,
        };
        if len != m.size {
            return Err(corrupt(format!(
                "{len} bytes, the descriptor says {}",
                m.size
            )));
        }
        let mut r = Hashing {
            parts,
            idx: 0,
            pos: 0,
            hash: Sha256::new(),
            done: &mut done,
            total,
            progress: &mut *progress,
            stopped: &mut *stopped,
        };
        tar.append(&header(&m.name, len), &mut r)
            .map_err(io_err(path))?;
        let got = format!("sha256:{}", hex::encode(r.hash.finalize()));
        if got != m.digest {
            return Err(corrupt(format!("content has {got}")));
        }
        report.blobs += 1;
        report.bytes += len;
    }
    let small = |tar: &mut tar::Builder<BufWriter<File>>, name: &str, bytes: &[u8]| {
        tar.append(&header(name, bytes.len() as u64), bytes)
            .map_err(io_err(path))
    };
    match format {
        ArchiveFormat::Oci => {
            small(
                &mut tar,
                "oci-layout",
                b"{\"imageLayoutVersion\":\"1.0.0\"}",
            )?;
            let index = json!({"schemaVersion": 2, "manifests": plan.index_entries});
            small(
                &mut tar,
                "index.json",
                &serde_json::to_vec(&index).unwrap_or_default(),
            )?;
        }
        ArchiveFormat::Docker => {
            small(
                &mut tar,
                "manifest.json",
                &serde_json::to_vec(&Value::Array(plan.docker_manifest)).unwrap_or_default(),
            )?;
        }
    }
    let mut w = tar.into_inner().map_err(io_err(path))?;
    w.flush().map_err(io_err(path))?;
    w.get_ref().sync_all().map_err(io_err(path))?;
    if progress(Progress { done, total }).is_break() {
        *stopped = true;
        return Err(ExportError::Io {
            path: path.to_owned(),
            error: io::Error::other(STOPPED),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> iso_core::IsoFile {
        let iso = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/solutions/example-solution-1.0.2.iso");
        iso_core::IsoFile::open(iso).unwrap()
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
