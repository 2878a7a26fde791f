//! `isolution export`.

use std::io::Write;

use iso_core::solution::Solution;
use oci_export::export::archive::{export_archive_for, ArchiveFormat};
use oci_export::export::layout::export_oci_with;

use crate::args::ExportArgs;
use crate::util;
use crate::Outcome;

pub fn run(a: ExportArgs) -> anyhow::Result<Outcome> {
    let images: Vec<(String, String)> = a
        .images
        .iter()
        .map(|s| {
            s.rsplit_once(':')
                .filter(|(n, t)| !n.is_empty() && !t.is_empty())
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .ok_or_else(|| anyhow::anyhow!("--image {s:?}: expected NAME:TAG"))
        })
        .collect::<anyhow::Result<_>>()?;
    if a.platform.is_some() && a.docker_archive.is_none() {
        // (clap's `requires` is not enforced next to --oci's conflicts.)
        anyhow::bail!(
            "--platform chooses what a --docker-archive holds; OCI layouts and archives keep \
             every platform"
        );
    }
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let solution = Solution::load(&image)?;
    let bar = util::bytes_bar(a.quiet, util::BYTES_BAR);
    let archive = match (&a.oci_archive, &a.docker_archive) {
        (Some(f), _) => Some((f, ArchiveFormat::Oci)),
        (None, Some(f)) => Some((f, ArchiveFormat::Docker)),
        _ => None,
    };
    if let Some((path, format)) = archive {
        let platform = a.platform.as_deref();
        let r = export_archive_for(&solution, path, format, &images, platform, &mut |p| {
            if let Some(b) = &bar {
                b.set_length(p.total);
                b.set_position(p.done);
            }
            std::ops::ControlFlow::Continue(())
        })?;
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        let mut out = util::stdout();
        if a.json {
            util::json_line(&mut out, &r)?;
        } else {
            writeln!(
                out,
                "{}: {} image(s), {} blob(s), {} bytes",
                path.display(),
                r.refs.len(),
                r.blobs,
                r.bytes
            )?;
        }
        out.flush()?;
        return Ok(Outcome::Clean);
    }
    let dest = a
        .oci
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("give --oci, --oci-archive or --docker-archive"))?;
    let report = export_oci_with(&solution, dest, &images, a.oci_media_types, &mut |p| {
        if let Some(b) = &bar {
            b.set_length(p.total);
            b.set_position(p.done);
        }
        std::ops::ControlFlow::Continue(())
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut out = util::stdout();
    if a.json {
        util::json_line(&mut out, &report)?;
    } else {
        for i in &report.images {
            writeln!(
                out,
                "{}  {}  {}",
                i.ref_name, i.manifest_digest, i.media_type
            )?;
        }
        writeln!(
            out,
            "{}: {} image(s), {} blob(s) written ({} bytes), {} already present",
            dest.display(),
            report.images.len(),
            report.blobs_written,
            report.bytes_written,
            report.blobs_present
        )?;
    }
    out.flush()?;
    Ok(Outcome::Clean)
}
