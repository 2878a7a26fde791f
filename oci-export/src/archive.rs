//! Export to a single tar file: `--oci-archive` (a tar of the OCI layout that
//! [`crate::layout`] writes, as `skopeo copy ... oci-archive:` reads it) and
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
use std::path::Path;

use iso_core::solution::{ManifestKind, Solution};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::layout::{ref_index, select_images, ExportError, REF_NAME};

/// A reader over blob parts that hashes what it hands out.
struct Hashing<'a> {
    parts: &'a [&'a [u8]],
    idx: usize,
    pos: usize,
    hash: Sha256,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(p) = self.parts.get(self.idx) {
            if self.pos < p.len() {
                let n = (p.len() - self.pos).min(buf.len());
                buf[..n].copy_from_slice(&p[self.pos..self.pos + n]);
                self.hash.update(&buf[..n]);
                self.pos += n;
                return Ok(n);
            }
            self.idx += 1;
            self.pos = 0;
        }
        Ok(0)
    }
}

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
    let tmp = out.with_file_name(format!(
        "{}.partial",
        out.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    ));
    let result = write(solution, &tmp, format, images);
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

fn write(
    solution: &Solution<'_, '_>,
    path: &Path,
    format: ArchiveFormat,
    images: &[(String, String)],
) -> Result<ArchiveReport, ExportError> {
    let selected = select_images(solution, images)?;
    let file = File::create(path).map_err(io_err(path))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
    let mut report = ArchiveReport::default();
    let mut written = BTreeSet::new();
    let mut put = |tar: &mut tar::Builder<BufWriter<File>>,
                   name: String,
                   parts: &[&[u8]],
                   digest: &str,
                   size: u64,
                   label: &str,
                   report: &mut ArchiveReport|
     -> Result<(), ExportError> {
        if !written.insert(name.clone()) {
            return Ok(());
        }
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let corrupt = |reason: String| ExportError::Corrupt {
            image: label.into(),
            digest: digest.into(),
            reason,
        };
        if len != size {
            return Err(corrupt(format!("{len} bytes, the descriptor says {size}")));
        }
        let mut r = Hashing {
            parts,
            idx: 0,
            pos: 0,
            hash: Sha256::new(),
        };
        tar.append(&header(&name, len), &mut r)
            .map_err(io_err(path))?;
        let got = format!("sha256:{}", hex::encode(r.hash.finalize()));
        if got != digest {
            return Err(corrupt(format!("content has {got}")));
        }
        report.blobs += 1;
        report.bytes += len;
        Ok(())
    };
    let mut index_entries = Vec::new();
    let mut docker_manifest = Vec::new();
    for &i in &selected {
        let img = &solution.images[i];
        let label = format!("{}:{}", img.name, img.tag);
        if !matches!(
            img.kind,
            ManifestKind::DockerV2S2 | ManifestKind::OciManifest
        ) {
            return Err(ExportError::Unsupported {
                image: label,
                what: format!("a {}", img.media_type),
            });
        }
        let mut layer_names = Vec::new();
        let mut config_name = String::new();
        for (k, d) in img.config.iter().chain(&img.layers).enumerate() {
            let c = solution.blob(i, &d.digest).ok_or_else(|| {
                ExportError::NotFound(format!("{label}: blob {} is not in the archive", d.digest))
            })?;
            let hex = d.digest.trim_start_matches("sha256:");
            let name = match format {
                ArchiveFormat::Oci => format!("blobs/sha256/{hex}"),
                ArchiveFormat::Docker if k == 0 => format!("{hex}.json"),
                ArchiveFormat::Docker => format!("{hex}.tar"),
            };
            put(
                &mut tar,
                name.clone(),
                c.parts(),
                &d.digest,
                d.size,
                &label,
                &mut report,
            )?;
            if k == 0 {
                config_name = name;
            } else {
                layer_names.push(name);
            }
        }
        match format {
            ArchiveFormat::Oci => {
                let m = solution.manifest_bytes(i)?;
                let hex = img.manifest_digest.trim_start_matches("sha256:");
                put(
                    &mut tar,
                    format!("blobs/sha256/{hex}"),
                    &[&m],
                    &img.manifest_digest,
                    m.len() as u64,
                    &label,
                    &mut report,
                )?;
                // As in the layout: a one-entry OCI index per ref (see `crate::layout`).
                let ix = ref_index(solution, i);
                let ix_digest = format!("sha256:{}", hex::encode(Sha256::digest(&ix)));
                let ix_hex = ix_digest.trim_start_matches("sha256:").to_string();
                put(
                    &mut tar,
                    format!("blobs/sha256/{ix_hex}"),
                    &[&ix],
                    &ix_digest,
                    ix.len() as u64,
                    &label,
                    &mut report,
                )?;
                index_entries.push(json!({
                    "mediaType": iso_core::solution::media::OCI_INDEX,
                    "digest": ix_digest,
                    "size": ix.len(),
                    "annotations": { REF_NAME: label },
                }));
            }
            ArchiveFormat::Docker => docker_manifest.push(json!({
                "Config": config_name,
                "RepoTags": [label],
                "Layers": layer_names,
            })),
        }
        report.refs.push(label);
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
            let index = json!({"schemaVersion": 2, "manifests": index_entries});
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
                &serde_json::to_vec(&Value::Array(docker_manifest)).unwrap_or_default(),
            )?;
        }
    }
    let mut w = tar.into_inner().map_err(io_err(path))?;
    w.flush().map_err(io_err(path))?;
    w.get_ref().sync_all().map_err(io_err(path))?;
    Ok(report)
}
