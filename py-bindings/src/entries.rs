//! `Entry` (one entry of a listing), where a file's bytes are ([`Loc`]), and the per-image
//! cache of directory indexes that makes `read`/`open`/`view`/`stat` by path cost a hash
//! lookup instead of a scan of the directory (`iso_core::Image::lookup` reads a directory's
//! records in order, so reading every file of a 20,000-entry directory by path would parse
//! 200 million records).

use std::collections::HashMap;
use std::sync::Arc;

use iso_core::{DirEntry, EntryKind, Namespace};
use pyo3::prelude::*;

pub fn kind_str(k: EntryKind) -> &'static str {
    match k {
        EntryKind::File => "file",
        EntryKind::Directory => "dir",
        EntryKind::Symlink => "symlink",
        EntryKind::BlockDevice => "block-device",
        EntryKind::CharDevice => "char-device",
        EntryKind::Fifo => "fifo",
        EntryKind::Socket => "socket",
    }
}

/// What few entries have, kept out of line so that `Entry` stays small (a walk moves every
/// entry into a list, then into its Python object).
#[derive(Clone, Debug, Default)]
struct Rare {
    /// The name, when it is not the tail of the path (the primary tree looked up by
    /// recorded identifier, `TOP.TXT;1`, names the entry `TOP.TXT`).
    name: Option<Box<str>>,
    target: Option<Box<str>>,
    device: Option<(u32, u32)>,
    /// Every extent, when there are more than one.
    extents: Option<Box<[(u32, u32)]>>,
    /// AAIP extended attributes and ACLs, decoded when the entry is made (only entries with
    /// `AL` entries have them), or the error decoding them gave (raised by the properties).
    aaip: Option<Result<Aaip, Arc<iso_core::Error>>>,
}

/// An entry's AAIP attributes, as Python shows them.
#[derive(Clone, Debug, Default)]
struct Aaip {
    xattrs: Vec<(String, Vec<u8>)>,
    acl: Option<String>,
    default_acl: Option<String>,
}

impl Aaip {
    fn of(path: &str, e: &DirEntry<'_>) -> Option<Result<Aaip, Arc<iso_core::Error>>> {
        if !e.has_aaip() {
            return None;
        }
        Some(match e.attributes() {
            Ok(a) => {
                let a = a.unwrap_or_default();
                Ok(Aaip {
                    xattrs: a
                        .xattrs
                        .into_iter()
                        .map(|x| (x.name_lossy().into_owned(), x.value))
                        .collect(),
                    acl: a.access_acl.map(|a| a.to_string()),
                    default_acl: a.default_acl.map(|a| a.to_string()),
                })
            }
            Err(err) => Err(Arc::new(err.with_path(path))),
        })
    }
}

/// The Python exception for a stored decoding error (as `iso_err` makes it: `FormatError`
/// or `LimitExceeded`, with `offset` and `path`).
fn aaip_err(py: Python<'_>, e: &iso_core::Error) -> PyErr {
    let msg = e.to_string();
    let err = match e.kind() {
        iso_core::ErrorKind::LimitExceeded { .. } => crate::LimitExceeded::new_err(msg),
        _ => crate::FormatError::new_err(msg),
    };
    let v = err.value(py);
    let _ = v.setattr("offset", e.offset());
    let _ = v.setattr("path", e.path());
    err
}

const HIDDEN: u8 = 1;
const HAS_NLINK: u8 = 2;
const HAS_UID: u8 = 4;
const HAS_GID: u8 = 8;
const HAS_FILE_ID: u8 = 16;
const HAS_EXTENT: u8 = 32;
const HAS_MTIME: u8 = 64;

/// One entry of an image: a file, directory, symbolic link or device, in one namespace.
///
/// Like `tarfile.TarInfo` or `zipfile.ZipInfo`: plain data, detached from the image.
#[pyclass(frozen, skip_from_py_object, module = "isolution", name = "Entry")]
#[derive(Clone, Debug)]
pub struct Entry {
    path: Box<str>,
    rare: Option<Box<Rare>>,
    size: u64,
    record_offset: u64,
    mtime: f64,
    file_id_size: u64,
    file_id_lba: u32,
    first_extent: (u32, u32),
    mode: u32,
    nlink: u32,
    uid: u32,
    gid: u32,
    /// Where the name starts in `path` (unless `rare.name` is set).
    name_at: u32,
    kind: EntryKind,
    namespace: Namespace,
    flags: u8,
}

/// Where `name` starts in `path`, when `path` ends with it as a whole component.
fn tail_of(path: &str, name: &str) -> Option<u32> {
    let tail = path.len().checked_sub(name.len())?;
    let whole = tail == 0 || path.as_bytes().get(tail - 1) == Some(&b'/');
    if path.ends_with(name) && whole {
        u32::try_from(tail).ok()
    } else {
        None
    }
}

impl Entry {
    /// The entry `e`, found at `path`.
    pub fn new(path: &str, e: &DirEntry<'_>) -> Self {
        // One decoding of the Rock Ridge TF times (modified() would decode them again).
        let rr = e.rock_ridge();
        let mtime = rr
            .as_ref()
            .and_then(|r| r.modified)
            .or_else(|| e.recorded_time())
            .map(|t| t.unix_seconds() as f64 + f64::from(t.hundredths) / 100.0);
        let mut flags = 0u8;
        let mut set = |bit: u8, on: bool| {
            if on {
                flags |= bit;
            }
        };
        let nlink = rr.as_ref().and_then(|r| r.nlink);
        let uid = rr.as_ref().and_then(|r| r.uid);
        let gid = rr.as_ref().and_then(|r| r.gid);
        let file_id = e.file_id();
        set(HIDDEN, e.is_hidden());
        set(HAS_NLINK, nlink.is_some());
        set(HAS_UID, uid.is_some());
        set(HAS_GID, gid.is_some());
        set(HAS_FILE_ID, file_id.is_some());
        set(HAS_EXTENT, !e.extents().is_empty());
        set(HAS_MTIME, mtime.is_some());
        let mut rare = Rare::default();
        let name_at = match tail_of(path, e.name()) {
            Some(t) => t,
            None => {
                rare.name = Some(e.name().into());
                0
            }
        };
        rare.target = e.symlink_target().map(Box::from);
        rare.device = e.device();
        if e.extents().len() > 1 {
            rare.extents = Some(e.extents().iter().map(|x| (x.lba, x.len)).collect());
        }
        rare.aaip = Aaip::of(path, e);
        let rare = (rare.name.is_some()
            || rare.target.is_some()
            || rare.device.is_some()
            || rare.extents.is_some()
            || rare.aaip.is_some())
        .then(|| Box::new(rare));
        Entry {
            path: path.into(),
            rare,
            size: e.size(),
            record_offset: e.record_offset(),
            mtime: mtime.unwrap_or(0.0),
            file_id_size: file_id.map_or(0, |f| f.size),
            file_id_lba: file_id.map_or(0, |f| f.lba),
            first_extent: e.extents().first().map_or((0, 0), |x| (x.lba, x.len)),
            mode: e.mode(),
            nlink: nlink.unwrap_or(0),
            uid: uid.unwrap_or(0),
            gid: gid.unwrap_or(0),
            name_at,
            kind: e.kind(),
            namespace: e.namespace(),
            flags,
        }
    }

    /// The same entry, named by another path (the one a lookup was given).
    pub fn with_path(&self, path: &str) -> Self {
        if *self.path == *path {
            return self.clone();
        }
        let name = self.name_str();
        let mut e = self.clone();
        match tail_of(path, name) {
            Some(t) => {
                e.name_at = t;
                if let Some(r) = e.rare.as_mut() {
                    r.name = None;
                }
            }
            None => {
                e.rare.get_or_insert_with(Box::default).name = Some(name.into());
            }
        }
        e.path = path.into();
        e
    }

    /// The AAIP attributes (none when the entry has no `AL` entries), or the decoding error.
    fn aaip(&self, py: Python<'_>) -> PyResult<&Aaip> {
        static NONE: Aaip = Aaip {
            xattrs: Vec::new(),
            acl: None,
            default_acl: None,
        };
        match self.rare.as_ref().and_then(|r| r.aaip.as_ref()) {
            None => Ok(&NONE),
            Some(Ok(a)) => Ok(a),
            Some(Err(e)) => Err(aaip_err(py, e)),
        }
    }

    fn name_str(&self) -> &str {
        match self.rare.as_ref().and_then(|r| r.name.as_deref()) {
            Some(n) => n,
            None => self.path.get(self.name_at as usize..).unwrap_or(""),
        }
    }

    fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    pub fn kind(&self) -> EntryKind {
        self.kind
    }
}

#[pymethods]
impl Entry {
    /// Path from the root of the namespace, components joined by `/` (no leading `/`).
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// The last component of the path (empty for the root).
    #[getter]
    fn name(&self) -> &str {
        self.name_str()
    }

    /// `"file"`, `"dir"`, `"symlink"`, `"block-device"`, `"char-device"`, `"fifo"` or `"socket"`.
    #[getter(r#type)]
    fn kind_name(&self) -> &'static str {
        kind_str(self.kind)
    }

    /// Size of the content in bytes (0 for symlinks and devices).
    #[getter]
    fn size(&self) -> u64 {
        self.size
    }

    /// POSIX mode, type bits included (Rock Ridge, else 0o040555 / 0o100444).
    #[getter]
    fn mode(&self) -> u32 {
        self.mode
    }

    /// Modification time in seconds since the epoch, or None.
    #[getter]
    fn mtime(&self) -> Option<f64> {
        self.has(HAS_MTIME).then_some(self.mtime)
    }

    /// Link count (Rock Ridge), or None.
    #[getter]
    fn nlink(&self) -> Option<u32> {
        self.has(HAS_NLINK).then_some(self.nlink)
    }

    /// Owner (Rock Ridge), or None.
    #[getter]
    fn uid(&self) -> Option<u32> {
        self.has(HAS_UID).then_some(self.uid)
    }

    /// Group (Rock Ridge), or None.
    #[getter]
    fn gid(&self) -> Option<u32> {
        self.has(HAS_GID).then_some(self.gid)
    }

    /// Symbolic link target as recorded, or None.
    #[getter]
    fn target(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.target.as_deref())
    }

    /// `(major, minor)` of a device, or None.
    #[getter]
    fn device(&self) -> Option<(u32, u32)> {
        self.rare.as_ref().and_then(|r| r.device)
    }

    /// The extents holding the data: `(first logical block, length in bytes)` tuples.
    #[getter]
    fn extents(&self) -> Vec<(u32, u32)> {
        match self.rare.as_ref().and_then(|r| r.extents.as_deref()) {
            Some(all) => all.to_vec(),
            None if self.has(HAS_EXTENT) => vec![self.first_extent],
            None => Vec::new(),
        }
    }

    /// `(first block, size)`: equal for hard links of each other; None for empty files and
    /// non-files.
    #[getter]
    fn file_id(&self) -> Option<(u32, u64)> {
        self.has(HAS_FILE_ID)
            .then_some((self.file_id_lba, self.file_id_size))
    }

    /// The directory record's existence (hidden) bit is set.
    #[getter]
    fn hidden(&self) -> bool {
        self.has(HIDDEN)
    }

    /// Byte offset in the image of the entry's directory record.
    #[getter]
    fn record_offset(&self) -> u64 {
        self.record_offset
    }

    /// The namespace it was read in (`"rr"`, `"joliet"`, `"iso1999"`, `"primary"`).
    #[getter]
    fn namespace(&self) -> &'static str {
        self.namespace.as_str()
    }

    /// The AAIP extended attributes (xorriso `-xattr`, `-for_backup`), full name to value,
    /// in recorded order: the internal `isofs.*` ones and the copies of the ACLs
    /// (`system.posix_acl_*`) left out. Empty when there are none. Raises `FormatError` (or
    /// `LimitExceeded`) when the attribute data is malformed.
    #[getter]
    fn xattrs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let d = pyo3::types::PyDict::new(py);
        for (k, v) in &self.aaip(py)?.xattrs {
            d.set_item(k, pyo3::types::PyBytes::new(py, v))?;
        }
        Ok(d)
    }

    /// The access ACL recorded with AAIP (xorriso `-acl on`), in the `getfacl` text form
    /// (numeric ids, one entry a line), or None.
    #[getter]
    fn acl(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self.aaip(py)?.acl.clone())
    }

    /// The default ACL of a directory recorded with AAIP, in the `getfacl` text form without
    /// the `default:` prefixes, or None.
    #[getter]
    fn default_acl(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self.aaip(py)?.default_acl.clone())
    }

    /// True for a directory.
    fn is_dir(&self) -> bool {
        self.kind == EntryKind::Directory
    }

    /// True for a regular file.
    fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }

    /// True for a symbolic link.
    fn is_symlink(&self) -> bool {
        self.kind == EntryKind::Symlink
    }

    fn __repr__(&self) -> String {
        format!(
            "<isolution.Entry {:?} type={} size={} mode={:#o}>",
            self.path,
            kind_str(self.kind),
            self.size,
            self.mode
        )
    }
}

/// Where a regular file's bytes are, as byte ranges of the image.
#[derive(Clone, Debug)]
pub enum Loc {
    /// One range (most files; also a multi-extent file whose extents are adjacent).
    One(usize, usize),
    /// Several ranges, in order.
    Many(Arc<[(usize, usize)]>),
    /// Not readable as stored ranges: zisofs-compressed, or `contents()` failed (the reader
    /// then gives the bytes or the error).
    Slow,
}

/// Offset of `part` inside `whole` (a slice of it).
pub fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

/// Where the bytes of regular file `e` are.
pub fn loc_of(img: &iso_core::Image<'_>, e: &DirEntry<'_>) -> Loc {
    let Ok(c) = img.contents(e) else {
        return Loc::Slow;
    };
    let data = img.data();
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(c.parts().len());
    for part in c.parts() {
        let off = offset_in(data, part);
        match ranges.last_mut() {
            // Adjacent extents (libisofs writes a multi-extent file contiguously): one range.
            Some((start, len)) if *start + *len == off => *len += part.len(),
            _ => ranges.push((off, part.len())),
        }
    }
    match ranges.as_slice() {
        [] => Loc::One(0, 0),
        [(o, n)] => Loc::One(*o, *n),
        _ => Loc::Many(ranges.into()),
    }
}

/// An entry found by path: the entry, and where its bytes are when it is a regular file.
#[derive(Clone, Debug)]
pub struct Slot {
    pub entry: Entry,
    pub loc: Option<Loc>,
}

impl Slot {
    pub fn new(img: &iso_core::Image<'_>, path: &str, e: &DirEntry<'_>) -> Self {
        Slot {
            entry: Entry::new(path, e),
            loc: e.is_file().then(|| loc_of(img, e)),
        }
    }
}

/// The entries of one directory by name (and, in the primary tree, by recorded identifier),
/// first match first, as `iso_core::Image::lookup` matches them.
pub struct DirIndex {
    by_name: HashMap<Box<str>, u32>,
    slots: Vec<Slot>,
}

impl DirIndex {
    /// Reads directory `dir` (at `path`) whole. Any error: None (the caller then uses
    /// `lookup`, which reports errors exactly where a scan meets them).
    pub fn build(
        img: &iso_core::Image<'_>,
        ns: Namespace,
        dir: &DirEntry<'_>,
        path: &str,
        max: usize,
    ) -> Option<DirIndex> {
        let mut ix = DirIndex {
            by_name: HashMap::new(),
            slots: Vec::new(),
        };
        let mut child = String::with_capacity(path.len() + 64);
        for e in img.read_dir(dir).ok()? {
            let e = e.ok()?;
            if ix.slots.len() >= max {
                return None;
            }
            let k = u32::try_from(ix.slots.len()).ok()?;
            child.clear();
            if !path.is_empty() {
                child.push_str(path);
                child.push('/');
            }
            child.push_str(e.name());
            ix.by_name.entry(e.name().into()).or_insert(k);
            if ns == Namespace::Primary {
                if let Ok(id) = std::str::from_utf8(e.identifier()) {
                    ix.by_name.entry(id.into()).or_insert(k);
                }
            }
            ix.slots.push(Slot::new(img, &child, &e));
        }
        Some(ix)
    }

    pub fn get(&self, name: &str) -> Option<&Slot> {
        self.by_name
            .get(name)
            .and_then(|&k| self.slots.get(k as usize))
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }
}

/// The indexed directories of one namespace, by path.
type DirsOf = HashMap<Box<str>, Arc<DirIndex>>;

/// Directory indexes of one image, by namespace and directory path; at most
/// [`DirCache::BUDGET`] entries in all (emptied when a new index would pass it).
#[derive(Default)]
pub struct DirCache {
    map: Vec<(Namespace, DirsOf)>,
    entries: usize,
}

impl DirCache {
    /// Entries kept in all the indexes of one image.
    pub const BUDGET: usize = 250_000;

    pub fn get(&self, ns: Namespace, dir: &str) -> Option<Arc<DirIndex>> {
        self.map
            .iter()
            .find(|(n, _)| *n == ns)
            .and_then(|(_, m)| m.get(dir))
            .cloned()
    }

    pub fn insert(&mut self, ns: Namespace, dir: &str, ix: Arc<DirIndex>) {
        if self.entries + ix.len() > Self::BUDGET {
            self.clear();
        }
        self.entries += ix.len();
        let m = match self.map.iter().position(|(n, _)| *n == ns) {
            Some(k) => &mut self.map[k].1,
            None => {
                self.map.push((ns, HashMap::new()));
                let last = self.map.len() - 1;
                &mut self.map[last].1
            }
        };
        if let Some(old) = m.insert(Box::from(dir), ix) {
            self.entries = self.entries.saturating_sub(old.len());
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.entries = 0;
    }
}

impl Entry {
    /// A UDF entry found at `path` (`target`: a symbolic link's target).
    pub fn from_udf(path: &str, e: &iso_core::udf::UdfEntry, target: Option<String>) -> Self {
        let mtime = e
            .mtime
            .map(|t| t.unix_seconds() as f64 + f64::from(t.hundredths) / 100.0);
        let mut flags = HAS_NLINK | HAS_FILE_ID;
        if e.hidden {
            flags |= HIDDEN;
        }
        if e.uid.is_some() {
            flags |= HAS_UID;
        }
        if e.gid.is_some() {
            flags |= HAS_GID;
        }
        if mtime.is_some() {
            flags |= HAS_MTIME;
        }
        let first = e.extents().iter().find_map(|x| match x {
            iso_core::udf::UdfExtent::Recorded { lbn, len, .. } => Some((*lbn, *len)),
            _ => None,
        });
        if first.is_some() {
            flags |= HAS_EXTENT;
        }
        let mut rare = Rare::default();
        let name_at = match tail_of(path, &e.name) {
            Some(t) => t,
            None => {
                rare.name = Some(e.name.as_str().into());
                0
            }
        };
        rare.target = target.map(Box::from);
        let rare = (rare.name.is_some() || rare.target.is_some()).then(|| Box::new(rare));
        Entry {
            path: path.into(),
            rare,
            size: e.size,
            record_offset: e.entry_offset,
            mtime: mtime.unwrap_or(0.0),
            file_id_size: e.size,
            file_id_lba: e.icb.lbn,
            first_extent: first.unwrap_or((0, 0)),
            mode: e.mode,
            nlink: u32::from(e.nlink),
            uid: e.uid.unwrap_or(0),
            gid: e.gid.unwrap_or(0),
            name_at,
            // A file type with no POSIX equivalent reads as a file of its recorded size.
            kind: e.kind.unwrap_or(EntryKind::File),
            namespace: iso_core::Namespace::Udf,
            flags,
        }
    }
}
