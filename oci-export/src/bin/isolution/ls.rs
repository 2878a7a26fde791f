//! `isolution ls`.

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine as _;
use iso_core::udf::{UdfEntry, UdfVolume};
use iso_core::{Attributes, DirEntry, EntryKind, Image, IsoFile, Namespace, Timestamp};
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
    /// AAIP extended attributes (absent without AAIP): name -> `{"text": ...}` for a UTF-8
    /// value, `{"base64": ...}` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    xattrs: Option<BTreeMap<String, XattrValue>>,
    /// The access ACL in getfacl text lines (absent when none is recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    acl: Option<Vec<String>>,
    /// The default ACL of a directory, in getfacl text lines without `default:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    default_acl: Option<Vec<String>>,
}

/// An extended attribute's value in JSON: the key says the encoding.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum XattrValue {
    Text(String),
    Base64(String),
}

impl XattrValue {
    fn new(v: Vec<u8>) -> Self {
        match String::from_utf8(v) {
            Ok(s) => XattrValue::Text(s),
            Err(e) => {
                XattrValue::Base64(base64::engine::general_purpose::STANDARD.encode(e.as_bytes()))
            }
        }
    }
}

/// The entry's AAIP attributes; malformed ones are reported (once, on stderr) and count as
/// none, and make the run end with status 1.
fn attributes(path: &str, e: &DirEntry<'_>, problems: &mut bool) -> Option<Attributes> {
    if !e.has_aaip() {
        return None;
    }
    match e.attributes() {
        Ok(a) => a,
        Err(err) => {
            eprintln!("isolution: warning: {}", err.with_path(path));
            *problems = true;
            None
        }
    }
}

pub fn run(a: LsArgs) -> anyhow::Result<Outcome> {
    let file = util::open_sparse(&a.iso)?;
    let image = util::parse(&file, &a.iso)?;
    let ns = util::namespace(&image, a.tree.namespace)?;
    let mut out = util::stdout();
    let start = a
        .path
        .as_deref()
        .unwrap_or("")
        .trim_matches('/')
        .to_string();
    if ns == Namespace::Udf {
        return run_udf(&a, &image, &start, &mut out);
    }
    let top = image.lookup(ns, &start)?;
    let mut problems = false;
    if !top.is_dir() {
        print(&mut out, &image, &a, &start, &top, &mut problems)?;
    } else if !a.json && !a.long {
        populate_dir(&file, &image, &top);
        list_paths(&mut out, image.walk_from(&top, &start)?, |e| {
            populate_dir(&file, &image, e)
        })?;
    } else {
        let mut walk = image.walk_from(&top, &start)?;
        while let Some(item) = walk.next_entry() {
            let (path, entry) = item?;
            print(&mut out, &image, &a, path, entry, &mut problems)?;
        }
    }
    out.flush()?;
    Ok(if problems {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

/// Plain `ls` of a walk: each path, `/` after a directory's, one a line. The lines are
/// gathered here and handed to `out` by [`LINES_CHUNK`] bytes or more, which a `BufWriter`
/// of that capacity (see [`util::stdout`]) writes through without copying them again (a
/// listing is some 20 bytes a line: what goes through `out` per line shows in large
/// listings). On a walk error, what was listed before it is written (a failure to write it
/// ignored, as a `BufWriter` dropped on the error's way out ignores it) and the walk's
/// error returned.
///
/// `entering` sees each directory before the walk reads its records.
fn list_paths(
    out: &mut impl Write,
    mut walk: iso_core::Walk<'_>,
    mut entering: impl FnMut(&DirEntry<'_>),
) -> anyhow::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(LINES_CHUNK + 4096);
    while let Some(item) = walk.next_entry() {
        let (path, entry) = match item {
            Ok(v) => v,
            Err(e) => {
                let _ = out.write_all(&buf);
                return Err(e.into());
            }
        };
        buf.extend_from_slice(path.as_bytes());
        if entry.is_dir() {
            buf.push(b'/');
            entering(entry);
        }
        buf.push(b'\n');
        if buf.len() >= LINES_CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    Ok(())
}

/// Directories from this size on are mapped in one call before their records are read
/// ([`IsoFile::populate`]): smaller ones cost a page fault or two, less than the call.
const POPULATE_FROM: u32 = 64 * 1024;

/// Asks the kernel to map a large directory's records at once (a hint: see
/// [`IsoFile::populate`]).
fn populate_dir(file: &IsoFile, image: &Image<'_>, dir: &DirEntry<'_>) {
    let block = u64::from(image.block_size());
    for e in dir.extents().iter().filter(|e| e.len >= POPULATE_FROM) {
        let start = (u64::from(e.lba) + u64::from(e.xattr_blocks)) * block;
        if let (Ok(s), Ok(end)) = (
            usize::try_from(start),
            usize::try_from(start + u64::from(e.len)),
        ) {
            file.populate(s..end);
        }
    }
}

/// What [`list_paths`] gathers before writing.
const LINES_CHUNK: usize = 64 * 1024;

fn print(
    out: &mut impl Write,
    _image: &Image<'_>,
    a: &LsArgs,
    path: &str,
    e: &DirEntry<'_>,
    problems: &mut bool,
) -> anyhow::Result<()> {
    let slash = if e.is_dir() { "/" } else { "" };
    if a.json {
        let rr = e.rock_ridge();
        let attrs = attributes(path, e, problems);
        let (xattrs, acl, default_acl) = match attrs {
            Some(at) => (
                (!at.xattrs.is_empty()).then(|| {
                    at.xattrs
                        .into_iter()
                        .map(|x| (x.name_lossy().into_owned(), XattrValue::new(x.value)))
                        .collect()
                }),
                at.access_acl.map(|a| a.lines()),
                at.default_acl.map(|a| a.lines()),
            ),
            None => (None, None, None),
        };
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
            xattrs,
            acl,
            default_acl,
        };
        return util::json_line(out, &j);
    }
    if !a.long {
        out.write_all(path.as_bytes())?;
        out.write_all(if e.is_dir() { &b"/\n"[..] } else { b"\n" })?;
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
    let mut mode = mode_string(e.kind(), e.mode());
    // As GNU ls marks ACLs: an ACL beyond the mode bits, or user-visible xattrs.
    if attributes(path, e, problems).is_some_and(|at| at.is_extended()) {
        mode.push('+');
    }
    write!(
        out,
        "{} {:>3} {:>5} {:>5} {:>12} {} {path}{slash}",
        mode,
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

/// `ls` of the UDF tree: the same three forms (plain, `-l`, `--json`).
fn run_udf(
    a: &LsArgs,
    image: &Image<'_>,
    start: &str,
    out: &mut impl Write,
) -> anyhow::Result<Outcome> {
    let vol = image
        .udf()?
        .ok_or(iso_core::Error::new(iso_core::ErrorKind::NoNamespace(
            Namespace::Udf,
        )))?;
    let top = vol.lookup(start).map_err(|e| e.with_path(start))?;
    let mut problems = false;
    if !top.is_dir() {
        print_udf(out, &vol, a, start, &top, &mut problems)?;
    } else {
        // The UDF walk starts at the root: below `start`, the paths that begin with it.
        for item in vol.walk()? {
            let item = item?;
            let inside = start.is_empty()
                || item
                    .path
                    .strip_prefix(start)
                    .is_some_and(|r| r.starts_with('/'));
            if inside {
                print_udf(out, &vol, a, &item.path, &item.entry, &mut problems)?;
            }
        }
    }
    out.flush()?;
    Ok(if problems {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

/// One UDF entry in `ls --json`: the ISO 9660 fields that make sense for UDF, and where its
/// file entry is (`icb`, `entry_offset`) instead of records and file ids.
#[derive(Serialize)]
struct UdfJsonEntry<'a> {
    path: &'a str,
    /// `null` for an ICB file type with no POSIX equivalent (see `file_type`).
    #[serde(rename = "type")]
    kind: Option<EntryKind>,
    file_type: u8,
    size: u64,
    mode: u32,
    nlink: u16,
    uid: Option<u32>,
    gid: Option<u32>,
    mtime: Option<i64>,
    target: Option<&'a str>,
    hidden: bool,
    icb: iso_core::udf::UdfIcb,
    unique_id: u64,
    extents: &'a [iso_core::udf::UdfExtent],
    entry_offset: u64,
}

fn print_udf(
    out: &mut impl Write,
    vol: &UdfVolume<'_>,
    a: &LsArgs,
    path: &str,
    e: &UdfEntry,
    problems: &mut bool,
) -> anyhow::Result<()> {
    if !a.json && !a.long {
        out.write_all(path.as_bytes())?;
        out.write_all(if e.is_dir() { &b"/\n"[..] } else { b"\n" })?;
        return Ok(());
    }
    let target = if e.is_symlink() {
        match vol.symlink_target(e) {
            Ok(t) => Some(t),
            Err(err) => {
                eprintln!("isolution: warning: {}", err.with_path(path));
                *problems = true;
                None
            }
        }
    } else {
        None
    };
    if a.json {
        let j = UdfJsonEntry {
            path,
            kind: e.kind,
            file_type: e.file_type,
            size: e.size,
            mode: e.mode,
            nlink: e.nlink,
            uid: e.uid,
            gid: e.gid,
            mtime: e.mtime.map(|t| t.unix_seconds()),
            target: target.as_deref(),
            hidden: e.hidden,
            icb: e.icb,
            unique_id: e.unique_id,
            extents: e.extents(),
            entry_offset: e.entry_offset,
        };
        return util::json_line(out, &j);
    }
    let mode = match e.kind {
        Some(k) => mode_string(k, e.mode),
        None => {
            let mut m = mode_string(EntryKind::File, e.mode);
            m.replace_range(..1, "?");
            m
        }
    };
    let slash = if e.is_dir() { "/" } else { "" };
    write!(
        out,
        "{} {:>3} {:>5} {:>5} {:>12} {} {path}{slash}",
        mode,
        e.nlink,
        e.uid.unwrap_or(0),
        e.gid.unwrap_or(0),
        e.size,
        time_string(e.mtime),
    )?;
    if let Some(t) = target {
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
