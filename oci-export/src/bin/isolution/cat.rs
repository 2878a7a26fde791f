//! `isolution cat`.

use std::collections::HashSet;
use std::io::{self, Write};
use std::os::fd::AsFd;

use anyhow::Context;
use std::fs::File;

use iso_core::{DirEntry, Image};

use crate::args::CatArgs;
use crate::util;
use crate::Outcome;

pub fn run(a: CatArgs) -> anyhow::Result<Outcome> {
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    // Standard output as a plain file (a dup of fd 1): Rust's `Stdout` is line-buffered, which
    // would split binary data at every newline. Small files are gathered in a 256 KiB buffer;
    // large slices of the mapping go straight to write(2).
    let stdout = std::fs::File::from(io::stdout().as_fd().try_clone_to_owned()?);
    // On a pipe, a 1 MiB buffer instead of 64 KiB: fewer wake-ups of the reader. Best effort.
    let _ = rustix::pipe::fcntl_setpipe_size(&stdout, 1 << 20);
    let mut out = io::BufWriter::with_capacity(256 * 1024, stdout);
    if let Some(n) = a.boot {
        let cat = image
            .boot_catalog()?
            .context("the image has no El Torito boot catalog")?;
        let e = cat.entries.get(n).with_context(|| {
            format!("no boot entry {n} (the catalog has {})", cat.entries.len())
        })?;
        out.write_all(image.boot_image(e)?)?;
        out.flush()?;
        return Ok(Outcome::Clean);
    }
    let ns = util::namespace(&image, a.tree.namespace)?;
    if ns == iso_core::Namespace::Udf {
        cat_udf(&image, &a, &mut out)?;
        out.flush()?;
        return Ok(Outcome::Clean);
    }
    if a.all {
        let mut seen = HashSet::new();
        for item in image.walk(ns)? {
            let item = item?;
            if item.entry.is_file() && item.entry.file_id().is_none_or(|id| seen.insert(id)) {
                write_entry(&image, &item.entry, &item.path, &mut out)?;
            }
        }
    } else {
        for p in &a.paths {
            let e = image.lookup(ns, p)?;
            write_entry(&image, &e, p.trim_matches('/'), &mut out)?;
        }
    }
    out.flush()?;
    Ok(Outcome::Clean)
}

/// `cat` of the UDF tree: regular files only (a symbolic link or a directory is refused, as
/// in the ISO 9660 trees); with `--all`, each file entry (ICB) once.
fn cat_udf(image: &Image<'_>, a: &CatArgs, out: &mut io::BufWriter<File>) -> anyhow::Result<()> {
    let vol = image
        .udf()?
        .ok_or(iso_core::Error::new(iso_core::ErrorKind::NoNamespace(
            iso_core::Namespace::Udf,
        )))?;
    let write = |e: &iso_core::udf::UdfEntry, path: &str, out: &mut io::BufWriter<File>| {
        if !e.is_file() {
            return Err(anyhow::Error::from(
                iso_core::Error::new(iso_core::ErrorKind::NotAFile).with_path(path),
            ));
        }
        let c = vol.contents(e).map_err(|err| err.with_path(path))?;
        c.write_to(out)?;
        Ok(())
    };
    if a.all {
        let mut seen = HashSet::new();
        for item in vol.walk()? {
            let item = item?;
            if item.entry.is_file() && seen.insert(item.entry.icb) {
                write(&item.entry, &item.path, out)?;
            }
        }
    } else {
        for p in &a.paths {
            let p = p.trim_matches('/');
            let e = vol.lookup(p).map_err(|err| err.with_path(p))?;
            write(&e, p, out)?;
        }
    }
    Ok(())
}

fn write_entry<'d>(
    image: &Image<'d>,
    e: &DirEntry<'d>,
    path: &str,
    out: &mut io::BufWriter<File>,
) -> anyhow::Result<()> {
    match image.contents(e) {
        Ok(c) => {
            for part in c.parts() {
                // Large parts go from the mapping straight to write(2), bypassing the
                // buffer (measured: faster through a pipe than sendfile from the file).
                out.write_all(part)?;
            }
        }
        Err(err) if matches!(err.kind(), iso_core::ErrorKind::Unsupported(_)) => {
            let mut r = image.reader(e).map_err(|err| err.with_path(path))?;
            io::copy(&mut r, out)?;
        }
        Err(err) => return Err(err.with_path(path).into()),
    }
    Ok(())
}
