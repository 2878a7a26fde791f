//! Directory entries, directory iteration, walks and path lookup in one namespace.

use std::borrow::Cow;
use std::collections::HashSet;

use smallvec::SmallVec;

use super::date::Timestamp;
use super::dirent::{flags, DirRecord, DirRecords};
use super::names;
use super::prefetch::{self, Cursor, Next, Parts};
use super::susp::{self, RawPx, Susp, ZisofsInfo};
use super::volume::{Image, Namespace};
use crate::{Error, ErrorKind, Result};

/// A run of consecutive logical blocks holding (part of) a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Extent {
    /// First logical block.
    pub lba: u32,
    /// Length in bytes.
    pub len: u32,
    /// Extended attribute record length in blocks: the data starts this many blocks after
    /// `lba`.
    pub xattr_blocks: u8,
}

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (Rock Ridge `SL`).
    Symlink,
    /// A block device (Rock Ridge `PX` + `PN`).
    BlockDevice,
    /// A character device.
    CharDevice,
    /// A named pipe.
    Fifo,
    /// A socket.
    Socket,
}

impl EntryKind {
    /// One letter, as `ls -l` and the corpus listings spell it: `f d l b c p s`.
    pub fn letter(self) -> char {
        match self {
            EntryKind::File => 'f',
            EntryKind::Directory => 'd',
            EntryKind::Symlink => 'l',
            EntryKind::BlockDevice => 'b',
            EntryKind::CharDevice => 'c',
            EntryKind::Fifo => 'p',
            EntryKind::Socket => 's',
        }
    }
}

/// The identity of a file's data: entries with the same `FileId` share their extent and are
/// hard links of each other (Solution images hard-link blobs across tags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FileId {
    /// First logical block of the data.
    pub lba: u32,
    /// Size of the file.
    pub size: u64,
}

/// Rock Ridge attributes of an entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RockRidgeAttrs {
    /// POSIX mode, type bits included (`PX`).
    pub mode: Option<u32>,
    /// Link count (`PX`).
    pub nlink: Option<u32>,
    /// Owner (`PX`).
    pub uid: Option<u32>,
    /// Group (`PX`).
    pub gid: Option<u32>,
    /// File serial number (`PX`, RRIP 1.12).
    pub ino: Option<u32>,
    /// Modification time (`TF`).
    pub modified: Option<Timestamp>,
    /// Access time (`TF`).
    pub accessed: Option<Timestamp>,
    /// Attribute change time (`TF`).
    pub changed: Option<Timestamp>,
    /// Creation time (`TF`).
    pub created: Option<Timestamp>,
}

/// Rock Ridge data kept raw in an entry, decoded on demand.
#[derive(Clone, Copy, Debug, Default)]
struct RrRaw<'data> {
    px: Option<RawPx<'data>>,
    tf: Option<&'data [u8]>,
}

/// One entry of a directory, in one namespace. Borrows names and data from the image.
#[derive(Clone, Debug)]
pub struct DirEntry<'data> {
    pub(crate) ns: Namespace,
    name: Cow<'data, str>,
    identifier: &'data [u8],
    kind: EntryKind,
    size: u64,
    pub(crate) extents: SmallVec<[Extent; 1]>,
    record_offset: u64,
    flags: u8,
    pub(crate) interleave: Option<(u8, u8)>,
    recorded: [u8; 7],
    rr: Option<RrRaw<'data>>,
    symlink: Option<Box<str>>,
    device: Option<(u32, u32)>,
    /// Boxed: rare, and a listing moves every entry.
    pub(crate) zisofs: Option<Box<ZisofsInfo>>,
    pub(crate) sparse: bool,
    relocated: bool,
    endian_mismatch: bool,
    /// Raw AAIP `AL` entries (Rock Ridge namespace), decoded on demand.
    aaip: Option<Box<super::aaip::AlList<'data>>>,
}

impl<'data> DirEntry<'data> {
    /// Overwrites this entry with `new`, field by field: a walk keeps its current entry in
    /// one place and writes each new one there, without building it elsewhere and moving
    /// the whole struct (the pattern names every field, so none can be forgotten).
    #[inline(always)]
    fn replace_with(&mut self, new: DirEntry<'data>) {
        let DirEntry {
            ns,
            name,
            identifier,
            kind,
            size,
            extents,
            record_offset,
            flags,
            interleave,
            recorded,
            rr,
            symlink,
            device,
            zisofs,
            sparse,
            relocated,
            endian_mismatch,
            aaip,
        } = self;
        *ns = new.ns;
        *name = new.name;
        *identifier = new.identifier;
        *kind = new.kind;
        *size = new.size;
        *extents = new.extents;
        *record_offset = new.record_offset;
        *flags = new.flags;
        *interleave = new.interleave;
        *recorded = new.recorded;
        *rr = new.rr;
        *symlink = new.symlink;
        *device = new.device;
        *zisofs = new.zisofs;
        *sparse = new.sparse;
        *relocated = new.relocated;
        *endian_mismatch = new.endian_mismatch;
        *aaip = new.aaip;
    }

    /// The name in this entry's namespace.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ISO 9660 identifier as recorded (e.g. `MANIFEST.YAML;1`; UCS-2 bytes for Joliet).
    pub fn identifier(&self) -> &'data [u8] {
        self.identifier
    }

    /// The namespace this entry was read in.
    pub fn namespace(&self) -> Namespace {
        self.ns
    }

    /// What it is.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Directory
    }

    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }

    /// True for a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.kind == EntryKind::Symlink
    }

    /// Size of the content in bytes: the sum of all extents, or the uncompressed size of a
    /// zisofs or zisofs2 file in the Rock Ridge tree. 0 for symlinks and devices.
    pub fn size(&self) -> u64 {
        match self.kind {
            EntryKind::File | EntryKind::Directory => self.size,
            _ => 0,
        }
    }

    /// The extents holding the data (several for a multi-extent file).
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// Byte offset in the image of this entry's (first) directory record.
    pub fn record_offset(&self) -> u64 {
        self.record_offset
    }

    /// The existence bit is set: the entry is meant to be hidden from listings.
    pub fn is_hidden(&self) -> bool {
        self.flags & flags::HIDDEN != 0
    }

    /// An associated file (e.g. a resource fork); walks skip these.
    pub fn is_associated(&self) -> bool {
        self.flags & flags::ASSOCIATED != 0
    }

    /// Reached through a Rock Ridge `CL` relocation.
    pub fn is_relocated(&self) -> bool {
        self.relocated
    }

    /// The date in the directory record.
    pub fn recorded_time(&self) -> Option<Timestamp> {
        Timestamp::from_dir_record(&self.recorded)
    }

    /// Modification time: Rock Ridge `TF` when present, else the directory record's date.
    pub fn modified(&self) -> Option<Timestamp> {
        self.rr
            .and_then(|r| r.tf)
            .and_then(|tf| susp::parse_tf(tf).modify)
            .or_else(|| self.recorded_time())
    }

    /// Rock Ridge attributes, in the Rock Ridge namespace.
    pub fn rock_ridge(&self) -> Option<RockRidgeAttrs> {
        let rr = self.rr?;
        let t = rr.tf.map(susp::parse_tf).unwrap_or_default();
        let px = rr.px.map(RawPx::decode);
        Some(RockRidgeAttrs {
            mode: px.map(|p| p.mode),
            nlink: px.map(|p| p.nlink),
            uid: px.map(|p| p.uid),
            gid: px.map(|p| p.gid),
            ino: px.and_then(|p| p.ino),
            modified: t.modify,
            accessed: t.access,
            changed: t.attributes,
            created: t.creation,
        })
    }

    /// The POSIX mode: Rock Ridge `PX` when present, else 0o040555 for directories and
    /// 0o100444 for files (what the Linux kernel shows).
    pub fn mode(&self) -> u32 {
        if let Some(m) = self.rr.and_then(|r| r.px).map(RawPx::mode) {
            return m;
        }
        match self.kind {
            EntryKind::Directory => 0o040555,
            _ => 0o100444,
        }
    }

    /// The link count recorded in Rock Ridge `PX`.
    pub fn nlink(&self) -> Option<u32> {
        self.rr.and_then(|r| r.px).map(|p| p.decode().nlink)
    }

    /// The symbolic link target, as recorded.
    pub fn symlink_target(&self) -> Option<&str> {
        self.symlink.as_deref()
    }

    /// `(major, minor)` of a device (Rock Ridge `PN`: genisoimage's major and minor words, or
    /// xorriso's whole `dev_t` split with the Linux encoding).
    pub fn device(&self) -> Option<(u32, u32)> {
        self.device
    }

    /// The zisofs `ZF` (or zisofs2 `Z2`) entry of a compressed file, in the Rock Ridge tree
    /// only: the primary tree is plain ISO 9660, where such a file is its stored bytes.
    pub fn zisofs(&self) -> Option<&ZisofsInfo> {
        self.zisofs.as_deref()
    }

    /// Identity of a regular file's data, shared by its hard links; `None` for empty files
    /// (which share no data) and non-files.
    pub fn file_id(&self) -> Option<FileId> {
        let first = self.extents.first()?;
        (self.kind == EntryKind::File && self.size > 0).then_some(FileId {
            lba: first.lba,
            size: self.size,
        })
    }

    /// A both-endian field of the record disagreed (the little-endian value was used).
    pub fn has_endian_mismatch(&self) -> bool {
        self.endian_mismatch
    }

    /// The value of the AAIP extended attribute `name`, given in full (`b"user.foo"`,
    /// `b"isofs.cx"`; the internal `isofs.*` ones included), or `None` when the entry does
    /// not have it. AAIP (`AL` entries, written by xorriso `-for_backup` or
    /// `-acl on -xattr any`) is read in the Rock Ridge namespace only; the root's attributes
    /// are those of its `.` record. The empty name gives the raw AAIP ACL.
    ///
    /// Decoding happens on each call; malformed data is an
    /// [`ErrorKind::BadAaip`] error at the offset of the `AL` entry.
    ///
    /// ```no_run
    /// # fn main() -> iso_core::Result<()> {
    /// let file = iso_core::IsoFile::open("backup.iso")?;
    /// let image = file.image()?;
    /// let root = image.root(iso_core::Namespace::RockRidge)?;
    /// let checksums = root.xattr(b"isofs.ca")?; // xorriso's MD5 array, on the root
    /// let f = image.lookup(iso_core::Namespace::RockRidge, "notes.txt")?;
    /// if let Some(v) = f.xattr(b"user.comment")? {
    ///     println!("{}", String::from_utf8_lossy(&v));
    /// }
    /// # let _ = checksums; Ok(()) }
    /// ```
    pub fn xattr(&self, name: &[u8]) -> Result<Option<Vec<u8>>> {
        match &self.aaip {
            Some(list) => super::aaip::xattr(list, name),
            None => Ok(None),
        }
    }

    /// The entry's AAIP extended attributes and ACLs, or `None` when it records none (no `AL`
    /// entry; always so outside the Rock Ridge namespace). See [`Attributes`] for what is
    /// user-visible.
    ///
    /// [`Attributes`]: super::Attributes
    ///
    /// ```no_run
    /// # fn main() -> iso_core::Result<()> {
    /// let file = iso_core::IsoFile::open("backup.iso")?;
    /// let image = file.image()?;
    /// for item in image.walk(iso_core::Namespace::RockRidge)? {
    ///     let item = item?;
    ///     if let Some(acl) = item.entry.attributes()?.and_then(|a| a.access_acl) {
    ///         println!("# file: {}\n{acl}", item.path);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn attributes(&self) -> Result<Option<super::Attributes>> {
        self.aaip
            .as_deref()
            .map(super::aaip::attributes)
            .transpose()
    }

    /// True when the entry has AAIP `AL` entries (not decoded: no error possible, and no
    /// cost); [`DirEntry::attributes`] is `None` exactly when this is false.
    ///
    /// ```
    /// # fn main() -> iso_core::Result<()> {
    /// let file = iso_core::IsoFile::open("../tests/fixtures/rr-joliet.iso")?;
    /// let image = file.image()?;
    /// let top = image.lookup(iso_core::Namespace::RockRidge, "top.txt")?;
    /// assert!(!top.has_aaip()); // made by genisoimage: no AAIP
    /// # Ok(()) }
    /// ```
    pub fn has_aaip(&self) -> bool {
        self.aaip.is_some()
    }
}

/// Everything `ReadDir` needs of the image, cheap to copy.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'data> {
    pub data: &'data [u8],
    pub block_size: u32,
    pub limits: crate::Limits,
    pub ns: Namespace,
    /// `SP` skip when the primary tree has Rock Ridge.
    pub rr_skip: Option<usize>,
}

impl<'data> Ctx<'data> {
    pub fn extent_bytes(&self, e: &Extent, what: &'static str) -> Result<&'data [u8]> {
        let start = (u64::from(e.lba) + u64::from(e.xattr_blocks)) * u64::from(self.block_size);
        super::slice(self.data, start, start + u64::from(e.len), what)
    }

    fn read_dir(&self, dir: &DirEntry<'data>) -> Result<ReadDir<'data>> {
        if !dir.is_dir() {
            return Err(Error::at(ErrorKind::NotADirectory, dir.record_offset));
        }
        let e = dir.extents.first().copied().unwrap_or(Extent {
            lba: 0,
            len: 0,
            xattr_blocks: 0,
        });
        let bytes = self.extent_bytes(&e, "directory extent")?;
        if bytes.is_empty() {
            return Err(Error::at(
                ErrorKind::BadRecord {
                    reason: "directory has length 0 (not even `.` and `..`)",
                },
                dir.record_offset,
            ));
        }
        let base = (u64::from(e.lba) + u64::from(e.xattr_blocks)) * u64::from(self.block_size);
        Ok(ReadDir {
            records: DirRecords::new(bytes, base),
            ctx: *self,
            pending: None,
            done: false,
            parts: None,
        })
    }

    /// Parses the record's System Use area into `out` when this namespace reads it; false
    /// when it does not.
    fn parse_susp(&self, rec: &DirRecord<'data>, out: &mut Susp<'data>) -> Result<bool> {
        let Some(skip) = self.rr_skip else {
            return Ok(false);
        };
        if !matches!(self.ns, Namespace::RockRidge | Namespace::Primary) {
            return Ok(false);
        }
        let at = rec.offset + u64::from(rec.system_use_at);
        susp::parse_area(
            self.data,
            self.block_size,
            &self.limits,
            rec.system_use,
            at,
            skip,
            out,
        )?;
        Ok(true)
    }
}

struct Pending<'data> {
    first: DirRecord<'data>,
    extents: SmallVec<[Extent; 1]>,
}

/// The entries of one directory (without `.` and `..`), in recorded order. Multi-extent files
/// come out as one entry. In the Rock Ridge namespace, relocated directories (`RE`) are
/// skipped and their placeholders (`CL`) come out as directories. After an error it yields
/// nothing more.
pub struct ReadDir<'data> {
    records: DirRecords<'data>,
    ctx: Ctx<'data>,
    pending: Option<Pending<'data>>,
    done: bool,
    /// The parts after the first of a large directory shared with a walk's helper thread
    /// ([`prefetch`]); `records` holds the part being decoded here.
    parts: Option<Box<Cursor<'data>>>,
}

/// `?` for functions returning `Option<Result<T>>`.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Some(Err(e.into())),
        }
    };
}

impl<'data> ReadDir<'data> {
    /// The next entry, built in place in `slot` (entries are large enough that moving them
    /// through `Result<Option<_>>` layers shows in listings). `slot` is left as it was when
    /// there is no next entry, and holds anything after an error.
    fn next_entry(&mut self, slot: &mut Option<DirEntry<'data>>) -> Option<Result<()>> {
        if let Some(item) = self.parts.as_mut().and_then(|c| c.buf.next()) {
            return Some(item.map(|e| *slot = Some(e)));
        }
        loop {
            let rec = match self.records.next() {
                Some(r) => tri!(r),
                None => {
                    if let Some(p) = self.pending.take() {
                        return Some(Err(Error::at(
                            ErrorKind::UnterminatedMultiExtent,
                            p.first.offset,
                        )));
                    }
                    // The end of a part of a large directory: the next part follows.
                    let parts = self.parts.as_mut()?;
                    match parts.advance() {
                        Next::Here(records) => self.records = records,
                        Next::Ready(entries) => parts.buf = entries.into_iter(),
                        Next::End => {
                            self.parts = None;
                            return None;
                        }
                    }
                    if let Some(item) = parts.buf.next() {
                        return Some(item.map(|e| *slot = Some(e)));
                    }
                    continue;
                }
            };
            if rec.is_dot() && self.pending.is_none() {
                continue;
            }
            let ext = Extent {
                lba: rec.extent,
                len: rec.size,
                xattr_blocks: rec.xattr_len,
            };
            let multi = rec.flags & flags::MULTI_EXTENT != 0;
            // The sum of the extents' lengths.
            let size: u64;
            let (first, extents) = match self.pending.as_mut() {
                // The common case: a file in one extent.
                None if !multi => {
                    size = u64::from(ext.len);
                    (rec, SmallVec::from_buf([ext]))
                }
                None => {
                    self.pending = Some(Pending {
                        first: rec,
                        extents: smallvec::smallvec![ext],
                    });
                    continue;
                }
                Some(p) => {
                    if p.first.identifier != rec.identifier {
                        return Some(Err(Error::at(
                            ErrorKind::BadRecord {
                                reason: "parts of a multi-extent file have different names",
                            },
                            rec.offset,
                        )));
                    }
                    p.extents.push(ext);
                    let max = self.ctx.limits.max_extents_per_file;
                    if p.extents.len() as u64 > u64::from(max) {
                        return Some(Err(Error::at(
                            ErrorKind::LimitExceeded {
                                limit: "max_extents_per_file",
                                value: p.extents.len() as u64,
                                max: max.into(),
                            },
                            rec.offset,
                        )));
                    }
                    if multi {
                        continue;
                    }
                    let p = self.pending.take()?;
                    size = p.extents.iter().map(|e| u64::from(e.len)).sum();
                    (p.first, p.extents)
                }
            };
            match self.entry(first, extents, size, slot) {
                Ok(true) => return Some(Ok(())),
                Ok(false) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Shares this directory, when it is large, with the helper thread behind `jobs`.
    fn share(&mut self, jobs: &std::sync::mpsc::Sender<prefetch::Job<'data>>) {
        if self.parts.is_none() && !self.done && self.records.pos() == 0 {
            self.parts = Parts::queue(&mut self.records, self.ctx, jobs);
        }
    }

    /// The decoder of one part of a directory cut by [`DirRecords::split`].
    pub(crate) fn part(ctx: Ctx<'data>, records: DirRecords<'data>) -> Self {
        ReadDir {
            records,
            ctx,
            pending: None,
            done: false,
            parts: None,
        }
    }

    /// Builds the entry of `rec` (whose data is `extents`, `size` bytes in all) in `slot`;
    /// false (and `slot` untouched) for a relocated directory (`RE`), which is not listed.
    fn entry(
        &self,
        rec: DirRecord<'data>,
        extents: SmallVec<[Extent; 1]>,
        mut size: u64,
        slot: &mut Option<DirEntry<'data>>,
    ) -> Result<bool> {
        let ctx = &self.ctx;
        let mut s = Susp::default();
        // The primary tree is plain ISO 9660: it reads System Use data only for `SF`, and when
        // that is unreadable there, the entry is still listed. Its zisofs files are their
        // stored bytes (as isoinfo and bsdtar without Rock Ridge show them).
        let has_susp = match ctx.parse_susp(&rec, &mut s) {
            Ok(has) => has,
            Err(_) if ctx.ns == Namespace::Primary => {
                s = Susp::default();
                false
            }
            Err(e) => return Err(e),
        };
        let rr_ns = ctx.ns == Namespace::RockRidge;
        let mut extents = extents;
        let mut kind = if rec.is_dir() {
            EntryKind::Directory
        } else {
            EntryKind::File
        };
        let mut name: Option<Cow<'data, str>> = None;
        let mut rr = None;
        let mut symlink = None;
        let mut device = None;
        let mut zisofs = None;
        let mut sparse = false;
        let mut relocated = false;
        let mut aaip = None;
        if has_susp {
            sparse = s.sparse;
            if rr_ns {
                zisofs = s.zf.map(Box::new);
                aaip = s.al.take();
                if s.re {
                    return Ok(false);
                }
                if let Some(nm) = s.name.filter(|n| !n.is_empty()) {
                    name = Some(match nm {
                        Cow::Borrowed(b) => names::bytes_to_str(b),
                        Cow::Owned(v) => Cow::Owned(names::bytes_to_str(&v).into_owned()),
                    });
                }
                let mut attrs = RrRaw { px: s.px, tf: s.tf };
                if let Some(px) = s.px {
                    kind = match px.mode() & 0o170000 {
                        0o040000 => EntryKind::Directory,
                        0o120000 => EntryKind::Symlink,
                        0o060000 => EntryKind::BlockDevice,
                        0o020000 => EntryKind::CharDevice,
                        0o010000 => EntryKind::Fifo,
                        0o140000 => EntryKind::Socket,
                        _ => kind,
                    };
                    // The directory flag of the record is authoritative for walking.
                    if rec.is_dir() {
                        kind = EntryKind::Directory;
                    } else if kind == EntryKind::Directory && s.cl.is_none() {
                        kind = EntryKind::File;
                    }
                }
                if let Some(target) = s.symlink {
                    if !rec.is_dir() {
                        kind = EntryKind::Symlink;
                    }
                    symlink = Some(String::from_utf8_lossy(&target).into());
                }
                if matches!(kind, EntryKind::BlockDevice | EntryKind::CharDevice) {
                    device = s.pn;
                }
                if let Some(target) = s.cl {
                    // A placeholder for a directory relocated to `target`: take its size from
                    // the relocated directory's `.` record.
                    let dot = relocated_dot(ctx, target, rec.offset)?;
                    extents = smallvec::smallvec![Extent {
                        lba: target,
                        len: dot.size,
                        xattr_blocks: dot.xattr_len,
                    }];
                    size = u64::from(dot.size);
                    kind = EntryKind::Directory;
                    relocated = true;
                    if attrs.px.is_none() || attrs.tf.is_none() {
                        let mut ds = Susp::default();
                        if let Ok(true) = ctx.parse_susp(&dot, &mut ds) {
                            attrs.px = attrs.px.or(ds.px);
                            attrs.tf = attrs.tf.or(ds.tf);
                        }
                    }
                }
                if s.rock_ridge || s.px.is_some() {
                    rr = Some(attrs);
                }
            }
        }
        let name = match name {
            Some(n) => n,
            None => match ctx.ns {
                Namespace::Joliet => Cow::Owned(names::joliet_name(rec.identifier)),
                Namespace::Enhanced => names::bytes_to_str(rec.identifier),
                Namespace::Primary | Namespace::RockRidge | Namespace::Udf => {
                    names::bytes_to_str(names::strip_version(rec.identifier))
                }
            },
        };
        if name.len() > ctx.limits.max_name_bytes {
            return Err(Error::at(
                ErrorKind::LimitExceeded {
                    limit: "max_name_bytes",
                    value: name.len() as u64,
                    max: ctx.limits.max_name_bytes as u64,
                },
                rec.offset,
            ));
        }
        let interleave = (rec.unit_size != 0 || rec.gap != 0).then_some((rec.unit_size, rec.gap));
        if let Some(zf) = &zisofs {
            if kind == EntryKind::File && super::zisofs::valid_zf(zf) {
                size = zf.uncompressed_size;
            }
        }
        let new = DirEntry {
            ns: ctx.ns,
            name,
            identifier: rec.identifier,
            kind,
            size,
            extents,
            record_offset: rec.offset,
            flags: rec.flags,
            interleave,
            recorded: rec.recorded,
            rr,
            symlink,
            device,
            zisofs,
            sparse,
            relocated,
            endian_mismatch: rec.endian_mismatch,
            aaip,
        };
        match slot {
            Some(old) => old.replace_with(new),
            None => *slot = Some(new),
        }
        Ok(true)
    }

    /// [`Iterator::next`] into `slot`: the walk keeps its current entry there, so the entry
    /// is built where it is used.
    fn next_into(&mut self, slot: &mut Option<DirEntry<'data>>) -> Option<Result<()>> {
        if self.done {
            return None;
        }
        let item = self.next_entry(slot);
        if !matches!(item, Some(Ok(()))) {
            self.done = true;
        }
        item
    }
}

fn relocated_dot<'data>(ctx: &Ctx<'data>, lba: u32, at: u64) -> Result<DirRecord<'data>> {
    let start = u64::from(lba) * u64::from(ctx.block_size);
    let sector = super::slice(ctx.data, start, start + 2048, "relocated directory (CL)")
        .or_else(|_| super::slice(ctx.data, start, start + 34, "relocated directory (CL)"))
        .map_err(|e| e.relocate(at))?;
    let dot = DirRecords::new(sector, start)
        .next()
        .transpose()?
        .filter(|r| r.identifier == [0])
        .ok_or_else(|| {
            Error::at(
                ErrorKind::BadRecord {
                    reason: "Rock Ridge CL points at a block that does not start with `.`",
                },
                at,
            )
        })?;
    Ok(dot)
}

impl<'data> Iterator for ReadDir<'data> {
    type Item = Result<DirEntry<'data>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut slot = None;
        match self.next_into(&mut slot)? {
            Ok(()) => slot.map(Ok),
            Err(e) => Some(Err(e)),
        }
    }
}

/// An entry found by a walk, with its path relative to the root (no leading `/`).
#[derive(Clone, Debug)]
pub struct WalkEntry<'data> {
    /// Path from the root, components joined by `/`.
    pub path: String,
    /// Depth: 1 for the root's children.
    pub depth: u32,
    /// The entry.
    pub entry: DirEntry<'data>,
}

struct Frame<'data> {
    iter: ReadDir<'data>,
    /// Length of the directory's path in the walk's path buffer (0 for the tree's root).
    dir_len: usize,
    depth: u32,
}

/// A depth-first walk of one namespace, parents before children, in recorded order.
///
/// Each directory extent is opened at most once (a second visit is
/// [`ErrorKind::DirectoryLoop`]), and depth, entry count, directory count and path length are
/// bounded by [`Limits`](crate::Limits). After an error it yields nothing more; errors carry
/// the path where they happened.
///
/// As an [`Iterator`] it yields owned [`WalkEntry`] values. [`Walk::next_entry`] yields the
/// same entries borrowed from the walk, with no allocation per entry: the fast way to list.
pub struct Walk<'data> {
    ctx: Ctx<'data>,
    stack: Vec<Frame<'data>>,
    visited: HashSet<u32>,
    entries: u64,
    done: bool,
    /// The current entry's path; directory frames index into it.
    path: String,
    cur: Option<DirEntry<'data>>,
    cur_depth: u32,
    /// Go on after an error confined to one directory (see [`Walk::keep_going`]).
    keep_going: bool,
    /// Jobs for the helper thread of [`Walk::with_helper_thread`], while it runs.
    helper: Option<std::sync::mpsc::Sender<prefetch::Job<'data>>>,
}

impl<'data> Walk<'data> {
    /// Makes the walk go on after an error confined to one directory: a directory whose
    /// extent cannot be read or that loops back (the error is yielded, then its siblings
    /// follow), or a record that cannot be parsed (the error is yielded, then the rest of
    /// that directory is skipped). A budget of [`Limits`](crate::Limits) exceeded still ends
    /// the walk. What `extract` uses to write everything it can read.
    ///
    /// ```
    /// # fn main() -> iso_core::Result<()> {
    /// # let bytes = std::fs::read("../tests/fixtures/rr-only.iso").unwrap_or_default();
    /// # let Ok(image) = iso_core::Image::parse(&bytes) else { return Ok(()) };
    /// let mut errors = Vec::new();
    /// for item in image.walk(image.default_namespace())?.keep_going() {
    ///     match item {
    ///         Ok(e) => println!("{}", e.path),
    ///         Err(e) => errors.push(e),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn keep_going(mut self) -> Self {
        self.keep_going = true;
        self
    }

    /// Runs `f` on the walk with a helper thread that decodes the second part of each large
    /// directory (64 KiB of records or more) while the walk goes through the first: what `f`
    /// sees (entries, paths, errors, their order) is what it would see without the helper,
    /// sooner when a second core is free. The walk is over when `f` returns (it yields
    /// nothing more). Without a second core, or if the thread cannot start, `f` runs on the
    /// walk alone.
    ///
    /// ```
    /// # fn main() -> iso_core::Result<()> {
    /// # let bytes = std::fs::read("../tests/fixtures/rr-only.iso").unwrap_or_default();
    /// # let Ok(image) = iso_core::Image::parse(&bytes) else { return Ok(()) };
    /// let mut walk = image.walk(image.default_namespace())?;
    /// let listed = walk.with_helper_thread(|walk| -> iso_core::Result<u64> {
    ///     let mut n = 0;
    ///     while let Some(item) = walk.next_entry() {
    ///         let (_path, _entry) = item?;
    ///         n += 1;
    ///     }
    ///     Ok(n)
    /// })?;
    /// # let _ = listed; Ok(()) }
    /// ```
    pub fn with_helper_thread<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 || self.helper.is_some() || self.done {
            let r = f(self);
            self.finish();
            return r;
        }
        std::thread::scope(|scope| {
            let (jobs, queue) = std::sync::mpsc::channel();
            let helper =
                std::thread::Builder::new().spawn_scoped(scope, move || prefetch::run(queue));
            if helper.is_ok() {
                for frame in &mut self.stack {
                    frame.iter.share(&jobs);
                }
                self.helper = Some(jobs);
            }
            let r = f(self);
            // Dropping the frames ends the helper's work: it skips what it has not started,
            // and stops at its next hand-back in what it has.
            self.helper = None;
            self.finish();
            r
        })
    }

    /// Advances to the next entry and returns its path and entry, borrowed from the walk.
    pub fn next_entry(&mut self) -> Option<Result<(&str, &DirEntry<'data>)>> {
        match self.advance()? {
            Ok(()) => Some(Ok((self.path.as_str(), self.cur.as_ref()?))),
            Err(e) => Some(Err(e)),
        }
    }

    /// One step; the walk ends (and yields nothing more) after an error or the last entry.
    fn advance(&mut self) -> Option<Result<()>> {
        if self.done {
            return None;
        }
        let r = self.step();
        match &r {
            Some(Ok(())) => {}
            Some(Err(e)) if self.keep_going && !e.is_limit() => {
                self.cur = None;
            }
            _ => self.finish(),
        }
        r
    }

    fn finish(&mut self) {
        self.done = true;
        self.stack.clear();
        self.cur = None;
    }

    /// Depth of the entry last returned (1 for the tree root's children).
    pub fn depth(&self) -> u32 {
        self.cur_depth
    }

    fn step(&mut self) -> Option<Result<()>> {
        let limits = self.ctx.limits;
        loop {
            let frame = self.stack.last_mut()?;
            // The entry is built in `self.cur`; every error path of `advance` clears it.
            match frame.iter.next_into(&mut self.cur) {
                None => {
                    self.stack.pop();
                    continue;
                }
                Some(Err(e)) => {
                    let p = self.path.get(..frame.dir_len).unwrap_or("").to_string();
                    // The rest of this directory cannot be located: a walk that keeps going
                    // resumes with its parent's next entry.
                    self.stack.pop();
                    return Some(Err(e.with_path(p)));
                }
                Some(Ok(())) => {}
            }
            let Some(entry) = self.cur.as_ref() else {
                continue;
            };
            if entry.is_associated() {
                continue;
            }
            let depth = frame.depth + 1;
            let dir_len = frame.dir_len;
            self.path.truncate(dir_len);
            if dir_len > 0 {
                self.path.push('/');
            }
            self.path.push_str(entry.name());
            self.entries += 1;
            let at = entry.record_offset();
            let path = &self.path;
            // Inlined compare; the error is built out of line (this runs for every entry).
            let check = |limit: &'static str, value: u64, max: u64| {
                if value > max {
                    Err(over_limit(limit, value, max, at, path))
                } else {
                    Ok(())
                }
            };
            tri!(check("max_entries", self.entries, limits.max_entries));
            tri!(check(
                "max_path_bytes",
                path.len() as u64,
                limits.max_path_bytes as u64
            ));
            if entry.is_dir() {
                let lba = entry.extents.first().map_or(0, |e| e.lba);
                tri!(check("max_depth", depth.into(), limits.max_depth.into()));
                if !self.visited.insert(lba) {
                    return Some(Err(
                        Error::at(ErrorKind::DirectoryLoop { lba }, at).with_path(path.clone())
                    ));
                }
                tri!(check(
                    "max_directories",
                    self.visited.len() as u64,
                    limits.max_directories,
                ));
                let mut iter = tri!(self
                    .ctx
                    .read_dir(entry)
                    .map_err(|e| e.with_path(path.clone())));
                if let Some(jobs) = &self.helper {
                    iter.share(jobs);
                }
                self.stack.push(Frame {
                    iter,
                    dir_len: self.path.len(),
                    depth,
                });
            }
            self.cur_depth = depth;
            return Some(Ok(()));
        }
    }
}

/// The error of a walk limit exceeded at the entry at `at`, whose path is `path`.
#[cold]
#[inline(never)]
fn over_limit(limit: &'static str, value: u64, max: u64, at: u64, path: &str) -> Error {
    Error::at(ErrorKind::LimitExceeded { limit, value, max }, at).with_path(path.to_string())
}

impl<'data> Iterator for Walk<'data> {
    type Item = Result<WalkEntry<'data>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.advance()? {
            Ok(()) => Some(Ok(WalkEntry {
                path: self.path.clone(),
                depth: self.cur_depth,
                entry: self.cur.take()?,
            })),
            Err(e) => Some(Err(e)),
        }
    }
}

impl<'data> Image<'data> {
    pub(crate) fn ctx(&self, ns: Namespace) -> Ctx<'data> {
        Ctx {
            data: self.data,
            block_size: self.block_size,
            limits: self.limits,
            ns,
            rr_skip: self.rock_ridge.as_ref().map(|r| usize::from(r.skip)),
        }
    }

    /// The root directory of a namespace, as an entry with an empty name.
    pub fn root(&self, ns: Namespace) -> Result<DirEntry<'data>> {
        let r = self.root_ref(ns)?;
        let aaip = if ns == Namespace::RockRidge {
            self.root_aaip(&r)
        } else {
            None
        };
        Ok(DirEntry {
            ns,
            name: Cow::Borrowed(""),
            identifier: &[],
            kind: EntryKind::Directory,
            size: u64::from(r.size),
            extents: smallvec::smallvec![Extent {
                lba: r.extent,
                len: r.size,
                xattr_blocks: r.xattr_len,
            }],
            record_offset: r.record_offset,
            flags: flags::DIRECTORY,
            interleave: None,
            recorded: r.recorded,
            rr: None,
            symlink: None,
            device: None,
            zisofs: None,
            sparse: false,
            relocated: false,
            endian_mismatch: false,
            aaip,
        })
    }

    /// The `AL` entries of the root's `.` record (where xorriso puts `isofs.ca`); `None`
    /// when there are none or that record is unreadable (reported by [`Image::warnings`]).
    fn root_aaip(&self, r: &super::volume::RootRef) -> Option<Box<super::aaip::AlList<'data>>> {
        let start = (u64::from(r.extent) + u64::from(r.xattr_len)) * u64::from(self.block_size);
        let dir = super::slice(
            self.data,
            start,
            start + u64::from(r.size),
            "root directory",
        )
        .ok()?;
        let dot = DirRecords::new(dir, start).next()?.ok()?;
        if dot.identifier != [0] {
            return None;
        }
        let at = dot.offset + u64::from(dot.system_use_at);
        susp::parse(&self.susp_ctx(), dot.system_use, at, 0)
            .ok()?
            .al
    }

    /// The entries of directory `dir` (from [`Image::root`], a walk or a lookup), in `dir`'s
    /// namespace.
    pub fn read_dir(&self, dir: &DirEntry<'data>) -> Result<ReadDir<'data>> {
        self.ctx(dir.ns).read_dir(dir)
    }

    /// Walks the whole tree of `ns`, depth first.
    pub fn walk(&self, ns: Namespace) -> Result<Walk<'data>> {
        let root = self.root(ns)?;
        self.walk_from(&root, "")
    }

    /// Walks the tree below directory `dir`, whose path is `path`; yielded paths start with
    /// `path/` (or nothing, for an empty `path`).
    pub fn walk_from(&self, dir: &DirEntry<'data>, path: &str) -> Result<Walk<'data>> {
        let ctx = self.ctx(dir.ns);
        let iter = ctx.read_dir(dir).map_err(|e| e.with_path(path))?;
        let mut visited = HashSet::new();
        visited.insert(dir.extents.first().map_or(0, |e| e.lba));
        let path = path.trim_end_matches('/');
        let depth = path.split('/').filter(|c| !c.is_empty()).count() as u32;
        Ok(Walk {
            ctx,
            stack: vec![Frame {
                iter,
                dir_len: path.len(),
                depth,
            }],
            visited,
            entries: 0,
            done: false,
            path: path.to_string(),
            cur: None,
            cur_depth: depth,
            keep_going: false,
            helper: None,
        })
    }

    /// Finds the entry at `path` (components separated by `/`; empty, `.` and leading `/`
    /// components ignored) in namespace `ns`. In the primary namespace a component also
    /// matches the recorded identifier (`MANIFEST.YAML;1`).
    pub fn lookup(&self, ns: Namespace, path: &str) -> Result<DirEntry<'data>> {
        let mut cur = self.root(ns)?;
        let mut walked = String::new();
        for (depth, comp) in path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .enumerate()
        {
            if depth as u64 >= u64::from(self.limits.max_depth) {
                return Err(Error::new(ErrorKind::LimitExceeded {
                    limit: "max_depth",
                    value: depth as u64 + 1,
                    max: self.limits.max_depth.into(),
                })
                .with_path(path));
            }
            if !cur.is_dir() {
                return Err(
                    Error::at(ErrorKind::NotADirectory, cur.record_offset).with_path(walked)
                );
            }
            let mut found = None;
            for e in self
                .read_dir(&cur)
                .map_err(|e| e.with_path(walked.clone()))?
            {
                let e = e.map_err(|e| e.with_path(walked.clone()))?;
                if e.name() == comp
                    || (ns == Namespace::Primary && e.identifier() == comp.as_bytes())
                {
                    found = Some(e);
                    break;
                }
            }
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(comp);
            cur = found.ok_or_else(|| Error::new(ErrorKind::NotFound).with_path(walked.clone()))?;
        }
        Ok(cur)
    }
}
