//! `isolution ls`.

use std::io::Write;

use iso_core::{DirEntry, EntryKind, Image, Timestamp};
use serde::Serialize;

use crate::args::LsArgs;
use crate::util;
use crate::Outcome;

#[derive(Serialize)]
struct JsonEntry<'a> {
    path: &'a str,
    #[serde(rename = "type")]
    kind: EntryKind,
    size: u64,
    mode: u32,
    nlink: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    mtime: Option<i64>,
    target: Option<&'a str>,
    device: Option<(u32, u32)>,
    hidden: bool,
    file_id: Option<iso_core::FileId>,
    extents: &'a [iso_core::Extent],
    record_offset: u64,
}

pub fn run(a: LsArgs) -> anyhow::Result<Outcome> {
    let file = util::open(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let ns = util::namespace(&image, a.tree.namespace)?;
    let mut out = util::stdout();
    let start = a
        .path
        .as_deref()
        .unwrap_or("")
        .trim_matches('/')
        .to_string();
    let top = image.lookup(ns, &start)?;
    if !top.is_dir() {
        print(&mut out, &image, &a, &start, &top)?;
        out.flush()?;
        return Ok(Outcome::Clean);
    }
    let mut walk = image.walk_from(&top, &start)?;
    while let Some(item) = walk.next_entry() {
        let (path, entry) = item?;
        print(&mut out, &image, &a, path, entry)?;
    }
    out.flush()?;
    Ok(Outcome::Clean)
}

fn print(
    out: &mut impl Write,
    _image: &Image<'_>,
    a: &LsArgs,
    path: &str,
    e: &DirEntry<'_>,
) -> anyhow::Result<()> {
    let slash = if e.is_dir() { "/" } else { "" };
    if a.json {
        let rr = e.rock_ridge();
        let j = JsonEntry {
            path,
            kind: e.kind(),
            size: e.size(),
            mode: e.mode(),
            nlink: e.nlink(),
            uid: rr.and_then(|r| r.uid),
            gid: rr.and_then(|r| r.gid),
            mtime: e.modified().map(|t| t.unix_seconds()),
            target: e.symlink_target(),
            device: e.device(),
            hidden: e.is_hidden(),
            file_id: e.file_id(),
            extents: e.extents(),
            record_offset: e.record_offset(),
        };
        return util::json_line(out, &j);
    }
    if !a.long {
        out.write_all(path.as_bytes())?;
        out.write_all(slash.as_bytes())?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    let rr = e.rock_ridge();
    let size = match e.kind() {
        EntryKind::BlockDevice | EntryKind::CharDevice => {
            let (ma, mi) = e.device().unwrap_or((0, 0));
            format!("{ma}, {mi}")
        }
        _ => e.size().to_string(),
    };
    write!(
        out,
        "{} {:>3} {:>5} {:>5} {:>12} {} {path}{slash}",
        mode_string(e.kind(), e.mode()),
        e.nlink().unwrap_or(1),
        rr.and_then(|r| r.uid).unwrap_or(0),
        rr.and_then(|r| r.gid).unwrap_or(0),
        size,
        time_string(e.modified()),
    )?;
    if let Some(t) = e.symlink_target() {
        write!(out, " -> {t}")?;
    }
    out.write_all(b"\n")?;
    Ok(())
}

fn time_string(t: Option<Timestamp>) -> String {
    match t {
        Some(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year, t.month, t.day, t.hour, t.minute
        ),
        None => "----------------".to_string(),
    }
}

/// `drwxr-xr-x` style.
fn mode_string(kind: EntryKind, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(match kind {
        EntryKind::File => '-',
        k => k.letter(),
    });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}
