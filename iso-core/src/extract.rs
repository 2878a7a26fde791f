//! Extracting a tree of an image to a directory, safely.
//!
//! Nothing is written outside the destination: every path is rebuilt from its components
//! ([`enclosed`] refuses `..`, `/`, NUL and empty names rather than clamping them), directories
//! are created one component at a time and must be real directories (never symlinks),
//! symbolic links are created last (so no later entry can be written through one) and only
//! when their target stays inside the destination, hard links only join two paths that are
//! themselves inside. Device nodes, FIFOs and sockets are skipped. Refused and skipped
//! entries are reported, not fatal. A name is checked as recorded, not only the path it
//! makes: a Rock Ridge name `a/b` is refused like `..` (it never becomes a directory `a` and a
//! file `b`), and so is everything below a refused directory.
//!
//! No file is ever under its final name unless it is complete: each is written to a
//! temporary file in its directory, created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`: never
//! an existing file, never through a symbolic link) under a name private to the process
//! (`.isolution-partial-<pid>-<n>`), given its mode and time, then renamed over its final
//! name.
//!
//! Extraction keeps going, as tar does: an error that concerns one entry (its content
//! unreadable or undecodable, a file where its directory should go) is recorded in
//! [`ExtractReport::failed`], that entry's temporary file is removed and the others are
//! extracted (below a directory that could not be created, nothing is attempted). Only an
//! error that concerns everything stops it at once ([`ExtractError::concerns_everything`]: the
//! destination unwritable, read-only or full, the byte budget exceeded): the temporary file is
//! removed, the files already extracted are complete, the one being written is absent.
//!
//! As with every extractor (tar, unzip), this is best effort against a destination that
//! another process modifies at the same time: extract into a new, private directory.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::iso9660::{EntryKind, FileId, Image, Namespace, WalkEntry};
use crate::udf::{UdfEntry, UdfIcb, UdfVolume, UdfWalkEntry};

/// What to extract and how.
#[derive(Clone, Debug)]
pub struct ExtractOptions {
    /// The namespace to extract.
    pub namespace: Namespace,
    /// Paths (files or directories, relative to the root) to extract; empty means everything.
    pub paths: Vec<String>,
    /// Apply recorded permission bits (`rwx` for user, group, other; set-id and sticky bits are
    /// never applied).
    pub modes: bool,
    /// Apply recorded modification times.
    pub times: bool,
    /// Stop before writing more than this many bytes of file content in all (many entries can
    /// share one large extent, and a zisofs file can inflate to 4 GiB from a few KB: a budget
    /// bounds what an untrusted image can make you write). `None`: no budget.
    pub max_bytes: Option<u64>,
    /// Restore the user-visible AAIP extended attributes
    /// ([`Attributes::xattrs`](crate::Attributes::xattrs)) of files and directories. Where the
    /// destination refuses one (no support, no permission: `trusted.*` needs privileges), the
    /// entry is listed in [`ExtractReport::failed`] and extraction goes on.
    pub xattrs: bool,
    /// Restore AAIP ACLs (access ACLs, and default ACLs of directories) as the
    /// `system.posix_acl_access` / `system.posix_acl_default` attributes; refusals are
    /// reported as for [`xattrs`](Self::xattrs).
    pub acls: bool,
}

impl ExtractOptions {
    /// Everything in `namespace`, with modes and times.
    pub fn new(namespace: Namespace) -> Self {
        ExtractOptions {
            namespace,
            paths: Vec::new(),
            modes: true,
            times: true,
            max_bytes: None,
            xattrs: false,
            acls: false,
        }
    }
}

/// Why extraction stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The image could not be read.
    #[error(transparent)]
    Image(#[from] crate::Error),
    /// Writing the next file would exceed [`ExtractOptions::max_bytes`].
    #[error("path {path}: extraction budget of {max} bytes would be exceeded ({written} written, {size} more)")]
    Budget {
        /// Path inside the image of the file not written.
        path: String,
        /// Bytes already written.
        written: u64,
        /// Size of the file not written.
        size: u64,
        /// The budget.
        max: u64,
    },
    /// The content of an entry could not be read from the image (a zisofs stream that does
    /// not inflate...).
    #[error("path {path}: {error}")]
    Read {
        /// Path inside the image.
        path: String,
        /// The error (part of the message, so not also a `source()`: chains print once).
        error: io::Error,
    },
    /// A file system operation on the destination failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The destination path.
        path: PathBuf,
        /// The error (part of the message, so not also a `source()`: chains print once).
        error: io::Error,
    },
}

impl ExtractError {
    /// True for an error that concerns every entry, not just the one being extracted: the
    /// destination cannot be written (permission denied, a read-only file system), is full
    /// (no space left, quota exceeded), or the byte budget is exceeded. Extraction stops at
    /// once on these; on the others it records the entry in [`ExtractReport::failed`] and goes
    /// on.
    pub fn concerns_everything(&self) -> bool {
        match self {
            ExtractError::Image(_) | ExtractError::Read { .. } => false,
            ExtractError::Budget { .. } => true,
            ExtractError::Io { error, .. } => matches!(
                error.kind(),
                io::ErrorKind::StorageFull
                    | io::ErrorKind::QuotaExceeded
                    | io::ErrorKind::ReadOnlyFilesystem
                    | io::ErrorKind::PermissionDenied
            ),
        }
    }
}

/// An entry that was not extracted, and why.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Skipped {
    /// Path inside the image.
    pub path: String,
    /// Why: an unsafe name, a link escaping the destination, a device node...
    pub reason: String,
    /// True when it was refused as unsafe (as opposed to skipped by policy, like devices).
    pub refused: bool,
}

/// An entry that could not be extracted because of an error; extraction went on with the
/// others.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Failed {
    /// Path inside the image.
    pub path: String,
    /// The error.
    pub error: String,
}

/// What was extracted.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ExtractReport {
    /// Directories created.
    pub directories: u64,
    /// Regular files written.
    pub files: u64,
    /// Hard links made (files whose data was already written under another name).
    pub hard_links: u64,
    /// Symbolic links made.
    pub symlinks: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Entries not extracted, refused or skipped by policy.
    pub skipped: Vec<Skipped>,
    /// Entries not extracted because of an error (their content unreadable...).
    pub failed: Vec<Failed>,
}

/// Progress of an extraction, for a progress bar.
#[derive(Clone, Copy, Debug)]
pub struct ExtractProgress {
    /// Content bytes written so far.
    pub bytes: u64,
    /// Content bytes to write in all.
    pub total_bytes: u64,
    /// Entries handled so far.
    pub entries: u64,
    /// Entries in all.
    pub total_entries: u64,
}

/// A relative path that is safe to join onto an extraction root, or `None`. It refuses; it
/// never clamps: `..`, an empty path, or a name containing `/`, `\` or NUL give `None`.
pub fn enclosed<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for name in names {
        match name {
            "" | "." | ".." => return None,
            n if n.contains(['/', '\\', '\0']) => return None,
            n => out.push(n),
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// True when symbolic link `target`, placed at `link` (relative to the destination), resolves
/// inside the destination. Absolute targets never do. `..` components are allowed only at the
/// start of the target: after a normal component, which may itself be a symbolic link, a `..`
/// would climb from wherever that link points, which a lexical check cannot know.
pub fn link_stays_inside(link: &Path, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return false;
    }
    let mut depth: i64 = link.components().count() as i64 - 1;
    let mut descended = false;
    for c in Path::new(target).components() {
        match c {
            Component::Normal(_) => {
                depth += 1;
                descended = true;
            }
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 || descended {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ExtractError + '_ {
    move |error| ExtractError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Extracts `opts.paths` (or everything) of `image` into `dest`, which is created if needed.
/// `progress` is called after each entry.
pub fn extract(
    image: &Image<'_>,
    dest: &Path,
    opts: &ExtractOptions,
    progress: &mut dyn FnMut(ExtractProgress),
) -> Result<ExtractReport, ExtractError> {
    if opts.namespace == Namespace::Udf {
        return extract_udf(image, dest, opts, progress);
    }
    let mut report = ExtractReport::default();
    let entries = collect(image, opts, &mut report.failed)?;
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    let mut st = State {
        image,
        dest: dest.to_owned(),
        made_dirs: HashSet::new(),
        report,
        links: HashMap::new(),
    };
    let total_bytes = entries
        .iter()
        .filter(|(e, _)| e.entry.is_file())
        .map(|(e, _)| e.entry.size())
        .sum();
    let mut prog = ExtractProgress {
        bytes: 0,
        total_bytes,
        entries: 0,
        total_entries: entries.len() as u64,
    };
    let mut symlinks = Vec::new();
    let mut dirs = Vec::new();
    let mut skip_below = SkipBelow::default();
    for (item, top) in &entries {
        prog.entries += 1;
        if skip_below.skips(*top, item.depth) {
            progress(prog);
            continue;
        }
        // The name as recorded (a Rock Ridge `NM` can hold a `/`), then the path it makes.
        let rel = enclosed([item.entry.name()]).and_then(|_| enclosed(item.path.split('/')));
        let Some(rel) = rel else {
            st.skip(
                item,
                "unsafe name (empty, `.`, `..`, or containing `/`, `\\` or NUL)",
                true,
            );
            if item.entry.is_dir() {
                skip_below.start(item.depth);
            }
            progress(prog);
            continue;
        };
        match st.entry(&rel, item, opts, &mut prog) {
            Ok(Later::Nothing) => {}
            Ok(Later::Directory) => dirs.push((rel, item)),
            Ok(Later::Symlink) => symlinks.push((rel, item)),
            Err(e) if e.concerns_everything() => return Err(e),
            Err(e) => {
                st.fail(item, &e);
                if item.entry.is_dir() {
                    skip_below.start(item.depth);
                }
            }
        }
        progress(prog);
    }
    for (rel, item) in symlinks {
        let target = item.entry.symlink_target().unwrap_or("");
        if !link_stays_inside(&rel, target) {
            st.skip(
                item,
                &format!("symbolic link target {target:?} leaves the destination"),
                true,
            );
            continue;
        }
        match st.symlink(&rel, target) {
            Ok(()) => st.report.symlinks += 1,
            Err(e) if e.concerns_everything() => return Err(e),
            Err(e) => st.fail(item, &e),
        }
    }
    // Directory modes and times last, deepest first, so that read-only directories do not
    // stop their own extraction and writing children does not touch their times.
    for (rel, item) in dirs.iter().rev() {
        let path = st.dest.join(rel);
        match apply_meta(&path, item, opts, true) {
            Ok(()) => {}
            Err(e) if e.concerns_everything() => return Err(e),
            Err(e) => st.fail(item, &e),
        }
        st.restore_attributes(item, opts, Target::Path(&path));
    }
    Ok(st.report)
}

/// The entries to extract, each with `true` when it starts a walk of its own (a path of
/// [`ExtractOptions::paths`]), `false` when it is below the one before. A directory that
/// cannot be read (or a record that cannot be parsed) goes to `failed` and the walk goes on
/// (see [`Walk::keep_going`](crate::iso9660::Walk::keep_going)); a path of
/// [`ExtractOptions::paths`] that is not in the image, or an exceeded budget, stops before
/// anything is written.
fn collect<'d>(
    image: &Image<'d>,
    opts: &ExtractOptions,
    failed: &mut Vec<Failed>,
) -> Result<Vec<(WalkEntry<'d>, bool)>, ExtractError> {
    let ns = opts.namespace;
    let mut out = Vec::new();
    let mut record = |e: crate::Error| record_failure(failed, e);
    if opts.paths.is_empty() {
        for item in image.walk(ns)?.keep_going() {
            match item {
                Ok(item) => out.push((item, false)),
                Err(e) => record(e)?,
            }
        }
        return Ok(out);
    }
    for p in &opts.paths {
        let p = p.trim_matches('/');
        let entry = image.lookup(ns, p)?;
        let is_dir = entry.is_dir();
        let mut top = true;
        if !p.is_empty() {
            out.push((
                WalkEntry {
                    path: p.to_string(),
                    depth: p.split('/').count() as u32,
                    entry: entry.clone(),
                },
                true,
            ));
            top = false;
        }
        if is_dir {
            let walk = match image.walk_from(&entry, p) {
                Ok(w) => w,
                Err(e) => {
                    record(e)?;
                    continue;
                }
            };
            for item in walk.keep_going() {
                match item {
                    Ok(item) => {
                        out.push((item, top));
                        top = false;
                    }
                    Err(e) => record(e)?,
                }
            }
        }
    }
    Ok(out)
}

/// [`extract`] of the UDF tree ([`Namespace::Udf`]), under the same rules: names checked as
/// recorded, directories made one component at a time, files through a temporary name,
/// symbolic links last and only when they stay inside, hard links (entries sharing an ICB)
/// joined inside the destination, keep-going with failures listed. Extended attributes and
/// ACLs are not read from UDF: `xattrs` and `acls` have nothing to restore.
fn extract_udf(
    image: &Image<'_>,
    dest: &Path,
    opts: &ExtractOptions,
    progress: &mut dyn FnMut(ExtractProgress),
) -> Result<ExtractReport, ExtractError> {
    let vol = image
        .udf()?
        .ok_or(crate::Error::new(crate::ErrorKind::NoNamespace(
            Namespace::Udf,
        )))?;
    let mut report = ExtractReport::default();
    let entries = collect_udf(&vol, opts, &mut report.failed)?;
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    let mut st = State {
        image,
        dest: dest.to_owned(),
        made_dirs: HashSet::new(),
        report,
        links: HashMap::new(),
    };
    let mut links: HashMap<UdfIcb, PathBuf> = HashMap::new();
    let total_bytes = entries
        .iter()
        .filter(|(e, _)| e.entry.is_file())
        .map(|(e, _)| e.entry.size)
        .sum();
    let mut prog = ExtractProgress {
        bytes: 0,
        total_bytes,
        entries: 0,
        total_entries: entries.len() as u64,
    };
    let fail = |st: &mut State<'_, '_>, path: &str, e: &ExtractError| {
        st.report.failed.push(Failed {
            path: path.to_string(),
            error: e.to_string(),
        })
    };
    let skip = |st: &mut State<'_, '_>, path: &str, reason: &str, refused: bool| {
        st.report.skipped.push(Skipped {
            path: path.to_string(),
            reason: reason.to_string(),
            refused,
        })
    };
    let mut symlinks = Vec::new();
    let mut dirs = Vec::new();
    let mut skip_below = SkipBelow::default();
    for (item, top) in &entries {
        prog.entries += 1;
        if skip_below.skips(*top, item.depth) {
            progress(prog);
            continue;
        }
        let e = &item.entry;
        // The name as recorded (a CS0 name can hold a `/`), then the path it makes.
        let rel = enclosed([e.name.as_str()])
            .filter(|_| !item.path.is_empty())
            .and_then(|_| enclosed(item.path.split('/')));
        let Some(rel) = rel else {
            skip(
                &mut st,
                &item.path,
                "unsafe name (empty, `.`, `..`, or containing `/`, `\\` or NUL)",
                true,
            );
            if e.is_dir() {
                skip_below.start(item.depth);
            }
            progress(prog);
            continue;
        };
        let r = match e.kind {
            Some(EntryKind::Directory) => st.ensure_dir(&rel).map(|()| dirs.push((rel, item))),
            Some(EntryKind::File) => {
                udf_file(&mut st, &vol, &mut links, &rel, item, opts, &mut prog)
            }
            Some(EntryKind::Symlink) => {
                match vol.symlink_target(e) {
                    Ok(t) => symlinks.push((rel, item, t)),
                    Err(err) => fail(
                        &mut st,
                        &item.path,
                        &err.with_path(item.path.clone()).into(),
                    ),
                }
                Ok(())
            }
            k => {
                let what = k.map_or_else(
                    || format!("file type {}", e.file_type),
                    |k| format!("{k:?}"),
                );
                skip(&mut st, &item.path, &format!("{what} not extracted"), false);
                Ok(())
            }
        };
        match r {
            Ok(()) => {}
            Err(err) if err.concerns_everything() => return Err(err),
            Err(err) => {
                fail(&mut st, &item.path, &err);
                if e.is_dir() {
                    skip_below.start(item.depth);
                }
            }
        }
        progress(prog);
    }
    for (rel, item, target) in symlinks {
        if !link_stays_inside(&rel, &target) {
            skip(
                &mut st,
                &item.path,
                &format!("symbolic link target {target:?} leaves the destination"),
                true,
            );
            continue;
        }
        match st.symlink(&rel, &target) {
            Ok(()) => st.report.symlinks += 1,
            Err(e) if e.concerns_everything() => return Err(e),
            Err(e) => fail(&mut st, &item.path, &e),
        }
    }
    for (rel, item) in dirs.iter().rev() {
        let path = st.dest.join(rel);
        match udf_meta(&path, None, &item.entry, opts) {
            Ok(()) => {}
            Err(e) if e.concerns_everything() => return Err(e),
            Err(e) => fail(&mut st, &item.path, &e),
        }
    }
    Ok(st.report)
}

/// An entry that cannot be read goes to `failed` and the extraction goes on; a limit
/// exceeded stops everything.
fn record_failure(failed: &mut Vec<Failed>, e: crate::Error) -> Result<(), ExtractError> {
    if e.is_limit() {
        return Err(e.into());
    }
    failed.push(Failed {
        path: e.path().unwrap_or("").to_string(),
        error: e.to_string(),
    });
    Ok(())
}

/// The UDF entries to extract, as [`collect`] gathers the ISO 9660 ones. The UDF walk stops
/// at its first error: that error goes to `failed` (a limit stops everything).
fn collect_udf(
    vol: &UdfVolume<'_>,
    opts: &ExtractOptions,
    failed: &mut Vec<Failed>,
) -> Result<Vec<(UdfWalkEntry, bool)>, ExtractError> {
    let mut out = Vec::new();
    let mut record = |e: crate::Error| record_failure(failed, e);
    let walk = vol.walk()?;
    if opts.paths.is_empty() {
        for item in walk {
            match item {
                Ok(item) => out.push((item, false)),
                Err(e) => {
                    record(e)?;
                    break;
                }
            }
        }
        return Ok(out);
    }
    let mut wanted = Vec::new();
    for p in &opts.paths {
        let p = p.trim_matches('/');
        let entry = vol.lookup(p).map_err(|e| e.with_path(p))?;
        wanted.push((p.to_string(), entry));
    }
    // One walk of the whole tree serves every path asked for (the UDF walk has no
    // `walk_from`); each path's entries come together, in walk order.
    let mut below: Vec<Vec<UdfWalkEntry>> = vec![Vec::new(); wanted.len()];
    if wanted.iter().any(|(_, e)| e.is_dir()) {
        for item in walk {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    record(e)?;
                    break;
                }
            };
            for (i, (p, e)) in wanted.iter().enumerate() {
                let inside = p.is_empty()
                    || item
                        .path
                        .strip_prefix(p.as_str())
                        .is_some_and(|r| r.starts_with('/'));
                if e.is_dir() && inside {
                    if let Some(v) = below.get_mut(i) {
                        v.push(item.clone());
                    }
                }
            }
        }
    }
    for ((p, entry), items) in wanted.into_iter().zip(below) {
        let mut top = true;
        if !p.is_empty() {
            let depth = p.split('/').count() as u32;
            out.push((
                UdfWalkEntry {
                    path: p,
                    depth,
                    entry,
                },
                true,
            ));
            top = false;
        }
        for item in items {
            out.push((item, top));
            top = false;
        }
    }
    Ok(out)
}

/// Writes one UDF regular file (or a hard link to one already written).
fn udf_file(
    st: &mut State<'_, '_>,
    vol: &UdfVolume<'_>,
    links: &mut HashMap<UdfIcb, PathBuf>,
    rel: &Path,
    item: &UdfWalkEntry,
    opts: &ExtractOptions,
    prog: &mut ExtractProgress,
) -> Result<(), ExtractError> {
    let e = &item.entry;
    let linked = links.get(&e.icb).cloned();
    if let Some(max) = opts.max_bytes {
        if linked.is_none() && prog.bytes.saturating_add(e.size) > max {
            return Err(ExtractError::Budget {
                path: item.path.clone(),
                written: prog.bytes,
                size: e.size,
                max,
            });
        }
    }
    if let Some(parent) = rel.parent() {
        st.ensure_dir(parent)?;
    }
    let path = st.dest.join(rel);
    if let Some(first) = linked {
        remove_existing(&path)?;
        fs::hard_link(st.dest.join(first), &path).map_err(io_err(&path))?;
        st.report.hard_links += 1;
        return Ok(());
    }
    refuse_dir(&path)?;
    let contents = vol
        .contents(e)
        .map_err(|err| err.with_path(item.path.clone()))?;
    let mut tmp = Partial::create(path.parent().unwrap_or(&st.dest))?;
    let written = contents.write_to(&mut tmp.file).map_err(io_err(&path))?;
    udf_meta(&path, Some(&tmp.file), e, opts)?;
    tmp.persist(&path)?;
    links.insert(e.icb, rel.to_owned());
    st.report.files += 1;
    st.report.bytes += written;
    prog.bytes += written;
    Ok(())
}

/// Applies a UDF entry's mode and modification time to `path` (through `file` when open).
fn udf_meta(
    path: &Path,
    file: Option<&File>,
    e: &UdfEntry,
    opts: &ExtractOptions,
) -> Result<(), ExtractError> {
    use std::os::unix::fs::PermissionsExt;
    let time = e.mtime.and_then(|t| {
        let s = t.unix_seconds();
        if s >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s as u64))
        } else {
            SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(s.unsigned_abs()))
        }
    });
    let mode = fs::Permissions::from_mode(e.mode & 0o777);
    match file {
        Some(f) => {
            if opts.modes {
                f.set_permissions(mode).map_err(io_err(path))?;
            }
            if let Some(t) = time.filter(|_| opts.times) {
                f.set_modified(t).map_err(io_err(path))?;
            }
        }
        None => {
            if let Some(t) = time.filter(|_| opts.times) {
                let f = File::open(path).map_err(io_err(path))?;
                f.set_modified(t).map_err(io_err(path))?;
            }
            if opts.modes {
                fs::set_permissions(path, mode).map_err(io_err(path))?;
            }
        }
    }
    Ok(())
}

fn remove_existing(path: &Path) -> Result<(), ExtractError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(ExtractError::Io {
            path: path.to_owned(),
            error: io::Error::new(io::ErrorKind::AlreadyExists, "a directory is in the way"),
        }),
        Ok(_) => fs::remove_file(path).map_err(io_err(path)),
        Err(_) => Ok(()),
    }
}

struct State<'a, 'd> {
    image: &'a Image<'d>,
    dest: PathBuf,
    made_dirs: HashSet<PathBuf>,
    report: ExtractReport,
    links: HashMap<FileId, PathBuf>,
}

/// What is left to do for an entry after the first pass.
enum Later {
    Nothing,
    /// Its mode and time, after its contents.
    Directory,
    /// The link itself, after every other entry.
    Symlink,
}

impl State<'_, '_> {
    /// The first pass over one entry (whose safe relative path is `rel`).
    fn entry(
        &mut self,
        rel: &Path,
        item: &WalkEntry<'_>,
        opts: &ExtractOptions,
        prog: &mut ExtractProgress,
    ) -> Result<Later, ExtractError> {
        let e = &item.entry;
        match e.kind() {
            EntryKind::Directory => {
                self.ensure_dir(rel)?;
                Ok(Later::Directory)
            }
            EntryKind::File => {
                if let Some(max) = opts.max_bytes {
                    let size = e.size();
                    let linked = e.file_id().is_some_and(|id| self.links.contains_key(&id));
                    if !linked && prog.bytes.saturating_add(size) > max {
                        return Err(ExtractError::Budget {
                            path: item.path.clone(),
                            written: prog.bytes,
                            size,
                            max,
                        });
                    }
                }
                if let Some(parent) = rel.parent() {
                    self.ensure_dir(parent)?;
                }
                prog.bytes += self.write_file(rel, item, opts)?;
                Ok(Later::Nothing)
            }
            EntryKind::Symlink => Ok(Later::Symlink),
            k => {
                self.skip(item, &format!("{k:?} not extracted"), false);
                Ok(Later::Nothing)
            }
        }
    }

    /// Makes symbolic link `rel` (already checked to stay inside) pointing to `target`.
    fn symlink(&mut self, rel: &Path, target: &str) -> Result<(), ExtractError> {
        if let Some(parent) = rel.parent() {
            self.ensure_dir(parent)?;
        }
        let path = self.dest.join(rel);
        remove_existing(&path)?;
        std::os::unix::fs::symlink(target, &path).map_err(io_err(&path))
    }

    fn fail(&mut self, item: &WalkEntry<'_>, error: &ExtractError) {
        self.report.failed.push(Failed {
            path: item.path.clone(),
            error: error.to_string(),
        });
    }

    /// Restores what [`ExtractOptions::xattrs`] and [`ExtractOptions::acls`] ask for on
    /// `target`, after its mode (setting an access ACL also sets the group bits). Each
    /// attribute the destination refuses, and malformed AAIP data, is recorded in `failed`.
    fn restore_attributes(
        &mut self,
        item: &WalkEntry<'_>,
        opts: &ExtractOptions,
        target: Target<'_>,
    ) {
        if !opts.xattrs && !opts.acls {
            return;
        }
        let attrs = match item.entry.attributes() {
            Ok(Some(a)) => a,
            Ok(None) => return,
            Err(e) => {
                self.fail(item, &e.with_path(item.path.clone()).into());
                return;
            }
        };
        let mut todo: Vec<(&[u8], std::borrow::Cow<'_, [u8]>)> = Vec::new();
        if opts.xattrs {
            todo.extend(
                attrs
                    .xattrs
                    .iter()
                    .map(|x| (x.name.as_slice(), x.value.as_slice().into())),
            );
        }
        if opts.acls {
            if let Some(a) = attrs.access_acl.as_ref().filter(|a| !a.is_minimal()) {
                todo.push((&b"system.posix_acl_access"[..], a.to_xattr_bytes().into()));
            }
            if let Some(a) = attrs.default_acl.as_ref().filter(|_| item.entry.is_dir()) {
                todo.push((&b"system.posix_acl_default"[..], a.to_xattr_bytes().into()));
            }
        }
        // One report per file, naming each attribute refused and why.
        let mut refused: Vec<String> = Vec::new();
        for (name, value) in todo {
            let Ok(cname) = std::ffi::CString::new(name) else {
                continue; // AAIP names hold no NUL (checked when decoding)
            };
            let flags = rustix::fs::XattrFlags::empty();
            let r = match &target {
                Target::File(f) => rustix::fs::fsetxattr(f, cname.as_c_str(), &value, flags),
                Target::Path(p) => rustix::fs::lsetxattr(*p, cname.as_c_str(), &value, flags),
            };
            if let Err(errno) = r {
                refused.push(format!(
                    "{} ({})",
                    String::from_utf8_lossy(name),
                    io::Error::from(errno)
                ));
            }
        }
        if !refused.is_empty() {
            self.report.failed.push(Failed {
                path: item.path.clone(),
                error: format!(
                    "extracted, but the destination refused to restore {}",
                    refused.join(", ")
                ),
            });
        }
    }

    fn skip(&mut self, item: &WalkEntry<'_>, reason: &str, refused: bool) {
        self.report.skipped.push(Skipped {
            path: item.path.clone(),
            reason: reason.to_string(),
            refused,
        });
    }

    /// Creates `rel` and its parents under the destination, one component at a time, refusing
    /// anything that is not a real directory.
    fn ensure_dir(&mut self, rel: &Path) -> Result<(), ExtractError> {
        if rel.as_os_str().is_empty() || self.made_dirs.contains(rel) {
            return Ok(());
        }
        if let Some(parent) = rel.parent() {
            self.ensure_dir(parent)?;
        }
        let path = self.dest.join(rel);
        match fs::create_dir(&path) {
            Ok(()) => self.report.directories += 1,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let m = fs::symlink_metadata(&path).map_err(io_err(&path))?;
                if m.is_dir() {
                    // Left read-only by an earlier extraction: make it writable for now; the
                    // recorded mode is applied again at the end.
                    use std::os::unix::fs::PermissionsExt;
                    let mode = m.permissions().mode();
                    if mode & 0o300 != 0o300 {
                        fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o700))
                            .map_err(io_err(&path))?;
                    }
                }
                if !m.is_dir() {
                    return Err(ExtractError::Io {
                        path,
                        error: io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "exists and is not a directory (symbolic links are not followed)",
                        ),
                    });
                }
            }
            Err(e) => return Err(io_err(&path)(e)),
        }
        self.made_dirs.insert(rel.to_owned());
        Ok(())
    }

    fn write_file(
        &mut self,
        rel: &Path,
        item: &WalkEntry<'_>,
        opts: &ExtractOptions,
    ) -> Result<u64, ExtractError> {
        let path = self.dest.join(rel);
        let e = &item.entry;
        let id = e.file_id();
        if let Some(first) = id.and_then(|id| self.links.get(&id)) {
            remove_existing(&path)?;
            fs::hard_link(self.dest.join(first), &path).map_err(io_err(&path))?;
            self.report.hard_links += 1;
            return Ok(0);
        }
        // A file left by an earlier extraction (even read-only) is replaced by the rename, never
        // reopened; a directory in the way is an error.
        refuse_dir(&path)?;
        let mut tmp = Partial::create(path.parent().unwrap_or(&self.dest))?;
        let f = &mut tmp.file;
        let written = match self.image.contents(e) {
            Ok(c) => {
                for part in c.parts() {
                    f.write_all(part).map_err(io_err(&path))?;
                }
                c.len()
            }
            Err(err) if matches!(err.kind(), crate::ErrorKind::Unsupported(_)) => {
                let mut r = self
                    .image
                    .reader(e)
                    .map_err(|err| err.with_path(item.path.clone()))?;
                copy(&mut r, f, &item.path, &path)?
            }
            Err(err) => return Err(err.with_path(item.path.clone()).into()),
        };
        apply_meta_file(f, &path, item, opts)?;
        self.restore_attributes(item, opts, Target::File(f));
        tmp.persist(&path)?;
        if let Some(id) = id {
            self.links.insert(id, rel.to_owned());
        }
        self.report.files += 1;
        self.report.bytes += written;
        Ok(written)
    }
}

/// Where to restore attributes: the open temporary file of a regular file, or a directory.
enum Target<'a> {
    File(&'a File),
    Path(&'a Path),
}

/// Numbers the temporary files of this process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A file being extracted, under a temporary name private to this process in the directory
/// of its final name (see the module documentation); removed when dropped unless persisted.
struct Partial {
    // Declared first: closed before the path is removed.
    file: File,
    path: PathBuf,
    kept: bool,
}

impl Partial {
    /// `.isolution-partial-<pid>-<n>` in `dir`, created exclusively and never through a
    /// symbolic link (a taken name is skipped), mode 0600 until the recorded mode is applied.
    fn create(dir: &Path) -> Result<Self, ExtractError> {
        use std::os::unix::fs::OpenOptionsExt;
        let pid = std::process::id();
        let mut tries = 0;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".isolution-partial-{pid}-{n}"));
            let opened = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path);
            match opened {
                Ok(file) => {
                    return Ok(Partial {
                        file,
                        path,
                        kept: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 100 => tries += 1,
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
    }

    /// Renames the file to `to` (replacing a file there; a symbolic link there is replaced,
    /// not followed).
    fn persist(mut self, to: &Path) -> Result<(), ExtractError> {
        fs::rename(&self.path, to).map_err(io_err(to))?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Copies `r` (the content of `item`, decoded) to `f` (the temporary file of `dest`), telling
/// an error reading the image from one writing the destination.
fn copy(r: &mut dyn io::Read, f: &mut File, item: &str, dest: &Path) -> Result<u64, ExtractError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(ExtractError::Read {
                    path: item.to_string(),
                    error,
                })
            }
        };
        f.write_all(buf.get(..n).unwrap_or(&[]))
            .map_err(io_err(dest))?;
        total += n as u64;
    }
}

/// An error when a directory is where a file is to go.
fn refuse_dir(path: &Path) -> Result<(), ExtractError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(ExtractError::Io {
            path: path.to_owned(),
            error: io::Error::new(io::ErrorKind::AlreadyExists, "a directory is in the way"),
        }),
        _ => Ok(()),
    }
}

fn mtime(item: &WalkEntry<'_>) -> Option<SystemTime> {
    let s = item.entry.modified()?.unix_seconds();
    if s >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s as u64))
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(s.unsigned_abs()))
    }
}

fn apply_meta_file(
    f: &File,
    path: &Path,
    item: &WalkEntry<'_>,
    opts: &ExtractOptions,
) -> Result<(), ExtractError> {
    use std::os::unix::fs::PermissionsExt;
    if opts.modes {
        let mode = item.entry.mode() & 0o777;
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_err(path))?;
    }
    if opts.times {
        if let Some(t) = mtime(item) {
            f.set_modified(t).map_err(io_err(path))?;
        }
    }
    Ok(())
}

fn apply_meta(
    path: &Path,
    item: &WalkEntry<'_>,
    opts: &ExtractOptions,
    _dir: bool,
) -> Result<(), ExtractError> {
    use std::os::unix::fs::PermissionsExt;
    if opts.times {
        if let Some(t) = mtime(item) {
            let f = File::open(path).map_err(io_err(path))?;
            f.set_modified(t).map_err(io_err(path))?;
        }
    }
    if opts.modes {
        let mode = item.entry.mode() & 0o777;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path))?;
    }
    Ok(())
}

/// The subtree of a directory refused or not created: what a walk yields below it (depth
/// first, a directory before its contents) is not attempted. Shared by the ISO 9660 and UDF
/// extractions.
#[derive(Default)]
struct SkipBelow(Option<u32>);

impl SkipBelow {
    /// Skips what lies below the directory at `depth`.
    fn start(&mut self, depth: u32) {
        self.0 = Some(depth);
    }

    /// True when the entry at `depth` is below a skipped directory; `top` (an entry asked for
    /// by name) starts afresh.
    fn skips(&mut self, top: bool, depth: u32) -> bool {
        if top {
            self.0 = None;
        }
        match self.0 {
            Some(d) if depth > d => true,
            _ => {
                self.0 = None;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enclosed_refuses_escapes() {
        assert_eq!(enclosed(["a", "b"]), Some(PathBuf::from("a/b")));
        assert_eq!(enclosed(["a", ".."]), None);
        assert_eq!(enclosed([".."]), None);
        assert_eq!(enclosed(["a/b"]), None);
        assert_eq!(enclosed(["a\0"]), None);
        assert_eq!(enclosed([""]), None);
        assert_eq!(enclosed(["."]), None);
    }

    #[test]
    fn errors_that_stop_everything() {
        let io = |kind| ExtractError::Io {
            path: PathBuf::from("x"),
            error: io::Error::from(kind),
        };
        for kind in [
            io::ErrorKind::StorageFull,
            io::ErrorKind::QuotaExceeded,
            io::ErrorKind::ReadOnlyFilesystem,
            io::ErrorKind::PermissionDenied,
        ] {
            assert!(io(kind).concerns_everything(), "{kind:?}");
        }
        assert!(!io(io::ErrorKind::AlreadyExists).concerns_everything());
        let read = ExtractError::Read {
            path: "f".into(),
            error: io::Error::from(io::ErrorKind::InvalidData),
        };
        assert!(!read.concerns_everything());
        assert!(
            !ExtractError::Image(crate::Error::new(crate::ErrorKind::NotFound))
                .concerns_everything()
        );
    }

    #[test]
    fn links() {
        assert!(link_stays_inside(Path::new("a/l"), "b"));
        assert!(link_stays_inside(Path::new("a/l"), "../b"));
        assert!(!link_stays_inside(Path::new("a/l"), "../../b"));
        assert!(!link_stays_inside(Path::new("l"), "../b"));
        assert!(!link_stays_inside(Path::new("l"), "/etc/passwd"));
        assert!(link_stays_inside(Path::new("a/b/l"), "./../../y"));
        // `..` after a component that may be a link is refused
        assert!(!link_stays_inside(Path::new("a/b/l"), "x/../y"));
        assert!(!link_stays_inside(Path::new("a/l"), "x/../../../y"));
    }
}
