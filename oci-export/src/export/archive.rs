//! Export to a single tar file: `--oci-archive` (a tar of the OCI layout that
//! [`crate::export::layout`] writes, as `skopeo copy ... oci-archive:` reads it) and
//! `--docker-archive` (the `docker load` format: `manifest.json` listing each image's config and
//! layers, which `docker load` and `skopeo copy docker-archive:` read).
//!
//! Blobs are copied from the mapping into the tar; each is hashed as it goes and the export
//! fails (and the partial file is removed) if a blob's bytes differ from its descriptor. The
//! tar is written to a temporary file beside `FILE`, created exclusively under a name
//! private to the process (`.FILE.partial-<pid>-<n>`, never through a symbolic link), and
//! renamed over `FILE` when complete (a symbolic link at `FILE` is replaced, not followed);
//! the leftovers of interrupted runs (processes no longer running) are removed. A docker
//! archive cannot keep
//! manifest digests (the format has no manifest); layers are stored as they are in the
//! archive (gzip), which `docker load` decompresses.

use std::collections::BTreeSet;
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::Path;

use iso_core::digest::hex_or_self;
use iso_core::solution::{
    media, BlobRef, ContainerImage, ImageContent, ManifestKind, PlatformManifest, Solution,
};
use serde_json::{json, Value};

use super::select::{check_exportable, label, select_images, stored};
use super::write::{
    copy_hashed, digest_of, io_error as io_err, partial_prefix, parts_len, remove_leftovers,
    Expected, TempFile,
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

/// Writes the tar of `plan` to a [`TempFile`] in `dir` for final name `name` (returned
/// complete and flushed, for the caller to rename), reporting progress in blob bytes.
fn write_tar(
    plan: Plan<'_>,
    (dir, name): (&Path, &str),
    format: ArchiveFormat,
    progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
) -> Result<(ArchiveReport, TempFile), ExportError> {
    let total: u64 = plan.members.iter().map(|m| m.size).sum();
    let mut done = 0u64;
    Stopped::on_break(progress(Progress { done, total }))?;
    let mut file = TempFile::private(dir, name)?;
    let (f, path) = file.parts_mut();
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, f));
    let mut report = ArchiveReport {
        refs: plan.refs.clone(),
        ..ArchiveReport::default()
    };
    for m in &plan.members {
        append_hashed(&mut tar, path, m, &mut |n| {
            done += n;
            progress(Progress { done, total })
        })?;
        report.blobs += 1;
        report.bytes += m.size;
    }
    append_index(&mut tar, path, format, plan)?;
    let mut w = tar.into_inner().map_err(io_err(path))?;
    w.flush().map_err(io_err(path))?;
    drop(w);
    Stopped::on_break(progress(Progress { done, total }))?;
    Ok((report, file))
}

/// Appends member `m` as `tar::Builder::append` does (header, content, zeroes to the next
/// 512-byte block), its content hashed while written and checked against its descriptor.
fn append_hashed(
    tar: &mut tar::Builder<impl Write>,
    path: &Path,
    m: &Member<'_>,
    tick: &mut dyn FnMut(u64) -> ControlFlow<()>,
) -> Result<(), ExportError> {
    let owned;
    let parts: &[&[u8]] = match &m.source {
        Source::Blob(c) => c.parts(),
        Source::Owned(v) => {
            owned = [v.as_slice()];
            &owned
        }
    };
    let want = Expected::new(&m.digest, m.size, &m.label)?;
    // The header says the size: a blob of another size is refused before it is written.
    want.check_size(parts_len(parts))?;
    let w = tar.get_mut();
    let h = header(&m.name, m.size).map_err(io_err(path))?;
    w.write_all(h.as_bytes()).map_err(io_err(path))?;
    copy_hashed(
        parts,
        &want,
        &mut |chunk| w.write_all(chunk).map_err(io_err(path)),
        tick,
    )?;
    let pad = (512 - m.size % 512) % 512;
    w.write_all(&[0; 512][..pad as usize]).map_err(io_err(path))
}

/// The small files after the blobs: `oci-layout` and `index.json`, or `manifest.json`.
fn append_index(
    tar: &mut tar::Builder<impl Write>,
    path: &Path,
    format: ArchiveFormat,
    plan: Plan<'_>,
) -> Result<(), ExportError> {
    let mut small = |name: &str, bytes: &[u8]| {
        let h = header(name, bytes.len() as u64).map_err(io_err(path))?;
        tar.append(&h, bytes).map_err(io_err(path))
    };
    match format {
        ArchiveFormat::Oci => {
            small("oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}")?;
            let index = json!({"schemaVersion": 2, "manifests": plan.index_entries});
            small(
                "index.json",
                &serde_json::to_vec(&index).unwrap_or_default(),
            )
        }
        ArchiveFormat::Docker => small(
            "manifest.json",
            &serde_json::to_vec(&Value::Array(plan.docker_manifest)).unwrap_or_default(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> iso_core::IsoFile {
        let iso = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/solutions/example-solution-1.0.2.iso");
        iso_core::IsoFile::open(iso).unwrap()
    }

    /// A member written by `append_hashed` is framed byte for byte as `tar::Builder::append`
    /// frames it, at every length around a block boundary.
    #[test]
    fn members_are_framed_as_tar_appends_them() {
        for len in [0usize, 1, 511, 512, 513, 70_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let (m, _) = Member::made(bytes.clone(), "x:1");
            let mut ours = tar::Builder::new(Vec::new());
            append_hashed(&mut ours, Path::new("t"), &m, &mut |_| {
                ControlFlow::Continue(())
            })
            .unwrap();
            let mut theirs = tar::Builder::new(Vec::new());
            theirs
                .append(&header(&m.name, len as u64).unwrap(), &bytes[..])
                .unwrap();
            assert_eq!(ours.into_inner().unwrap(), theirs.into_inner().unwrap());
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
