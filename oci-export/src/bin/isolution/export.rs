//! `isolution export`.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

use indicatif::ProgressBar;
use iso_core::solution::Solution;
use oci_export::export::archive::{export_archive_for, ArchiveFormat};
use oci_export::export::layout::export_oci_opts;
use oci_export::export::{LayoutOptions, Progress};

use crate::args::ExportArgs;
use crate::util;
use crate::Outcome;

pub fn run(a: ExportArgs) -> anyhow::Result<Outcome> {
    let images = oci_export::view::parse_images(&a.images)
        .map(|r| oci_export::view::pairs(&r))
        .map_err(|e| anyhow::anyhow!("--image {:?}: expected NAME:TAG", e.0))?;
    if a.platform.is_some() && a.docker_archive.is_none() {
        // (clap's `requires` is not enforced next to --oci's conflicts.)
        anyhow::bail!(
            "--platform chooses what a --docker-archive holds; OCI layouts and archives keep \
             every platform"
        );
    }
    if a.trust_existing && a.oci.is_none() {
        anyhow::bail!("--trust-existing is about the blobs already in an --oci layout");
    }
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let solution = Solution::load(&image)?;
    if let Some(refused) = crate::solution::gate(&solution, &a.iso, a.force) {
        return Ok(refused);
    }
    let bar = util::bytes_bar(a.quiet, util::BYTES_BAR);
    let archive = match (&a.oci_archive, &a.docker_archive) {
        (Some(f), _) => Some((f, ArchiveFormat::Oci)),
        (None, Some(f)) => Some((f, ArchiveFormat::Docker)),
        _ => None,
    };
    if let Some((path, format)) = archive {
        return to_archive(&a, &solution, path, format, &images, bar);
    }
    let dest = a
        .oci
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("give --oci, --oci-archive or --docker-archive"))?;
    to_layout(&a, &solution, dest, &images, bar)
}

/// Moves the progress bar, if any, to `p`; never stops the export.
fn show_progress(bar: Option<&ProgressBar>, p: Progress) -> ControlFlow<()> {
    if let Some(b) = bar {
        b.set_length(p.total);
        b.set_position(p.done);
    }
    ControlFlow::Continue(())
}

/// Writes `images` (empty: all) of `solution` as a tar file at `path` in `format`
/// (`--oci-archive`, `--docker-archive`), then prints what was written.
fn to_archive(
    a: &ExportArgs,
    solution: &Solution<'_, '_>,
    path: &Path,
    format: ArchiveFormat,
    images: &[(String, String)],
    bar: Option<ProgressBar>,
) -> anyhow::Result<Outcome> {
    let platform = a.platform.as_deref();
    let r = export_archive_for(solution, path, format, images, platform, &mut |p| {
        show_progress(bar.as_ref(), p)
    })?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut out = Vec::new();
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
    util::write_record(&out)?;
    Ok(Outcome::Clean)
}

/// Writes `images` (empty: all) of `solution` into the OCI layout `dest` (`--oci`), then
/// prints each image written and a summary.
fn to_layout(
    a: &ExportArgs,
    solution: &Solution<'_, '_>,
    dest: &Path,
    images: &[(String, String)],
    bar: Option<ProgressBar>,
) -> anyhow::Result<Outcome> {
    let mut opts = LayoutOptions::default();
    opts.oci_media_types = a.oci_media_types;
    opts.trust_existing = a.trust_existing;
    let report = export_oci_opts(solution, dest, images, &opts, &mut |p| {
        show_progress(bar.as_ref(), p)
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for d in &report.replaced {
        eprintln!("isolution: replaced blob {d}: the file in the layout did not match its digest");
    }
    let mut out = Vec::new();
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
        let replaced = match report.blobs_replaced {
            0 => String::new(),
            n => format!(", {n} replaced (wrong content)"),
        };
        writeln!(
            out,
            "{}: {} image(s), {} blob(s) written ({} bytes), {} already present{replaced}",
            dest.display(),
            report.images.len(),
            report.blobs_written,
            report.bytes_written,
            report.blobs_present
        )?;
    }
    util::write_record(&out)?;
    Ok(Outcome::Clean)
}
