//! The MD5 checksums xorriso (libisofs) records with `-md5 on` or `-as mkisofs --md5`, and
//! their verification.
//!
//! libisofs writes (see its `doc/checksums.txt`):
//!
//! - **checksum tags**, one line of text at the start of a 2048-byte block:
//!   `libisofs_sb_checksum_tag_v1 pos=50 range_start=32 range_size=18 next=56 md5=… self=…`.
//!   The *superblock tag* follows the volume descriptor set terminator, the *tree tag* follows
//!   the directory records, the *session tag* ends the session; each covers the blocks from
//!   the session start up to itself, and names the block of the next tag (`next=`). An image
//!   written to a file or overwritable medium also has a *relocated superblock tag*
//!   (`libisofs_rlsb32_checksum_tag_v1`) after the copy of the last session's descriptors at
//!   block 16, naming that session's start (`session_start=`). Each tag checks its own text
//!   up to its `md5=` field with `self=`.
//! - a **checksum array** of 16-byte MD5s, located by the AAIP attribute `isofs.ca` of the
//!   root: entry 0 covers the session from its start up to the array, entries 1 to N the files
//!   (each file names its entry with its `isofs.cx` attribute), and entry N + 1 the entries
//!   before it. Per-file MD5s cover the bytes as stored (zisofs files: compressed).
//!
//! [`Image::md5_tags`] finds what is present without hashing; [`Image::check_md5`] hashes
//! every range and file (streaming over the image's slices, no copies) and reports each item.
//! Every tag and array field is bounds-checked; a malformed tag is an
//! [`ErrorKind::BadMd5Tag`] with the tag's offset, reported as an item of the report, not as
//! a failure of the whole check.

use std::collections::BTreeSet;
use std::fmt;

use ::md5::{Digest, Md5};

use super::tree::DirEntry;
use super::volume::{Image, Namespace};
use crate::{Error, ErrorKind, Result};

/// libisofs tags and the checksum array always count 2048-byte blocks.
const BLOCK: u64 = 2048;
/// Most session starts examined for tags (a multi-session image has one per session).
const MAX_SESSIONS: usize = 4096;
/// Bytes hashed between two progress reports.
const CHUNK: usize = 1 << 20;
/// What every tag starts with.
const PREFIX: &[u8] = b"libisofs_";

/// The kind of a libisofs checksum tag. Serialized as [`Md5TagKind::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Md5TagKind {
    /// `libisofs_rlsb32_checksum_tag_v1`: after the relocated 64 KiB superblock at block 0
    /// of an image on a file or overwritable medium; names the last session's start.
    RelocatedSuperblock,
    /// `libisofs_sb_checksum_tag_v1`: after a session's volume descriptors.
    Superblock,
    /// `libisofs_tree_checksum_tag_v1`: after a session's directory records.
    Tree,
    /// `libisofs_checksum_tag_v1`: at the end of a session, after the checksum array.
    Session,
}

impl Md5TagKind {
    const ALL: [Md5TagKind; 4] = [
        Md5TagKind::RelocatedSuperblock,
        Md5TagKind::Superblock,
        Md5TagKind::Tree,
        Md5TagKind::Session,
    ];

    /// The tag's identifier, the text it starts with.
    ///
    /// ```
    /// use iso_core::iso9660::Md5TagKind;
    /// assert_eq!(Md5TagKind::Tree.magic(), b"libisofs_tree_checksum_tag_v1");
    /// ```
    pub fn magic(self) -> &'static [u8] {
        match self {
            Md5TagKind::RelocatedSuperblock => b"libisofs_rlsb32_checksum_tag_v1",
            Md5TagKind::Superblock => b"libisofs_sb_checksum_tag_v1",
            Md5TagKind::Tree => b"libisofs_tree_checksum_tag_v1",
            Md5TagKind::Session => b"libisofs_checksum_tag_v1",
        }
    }

    /// Short name, as the CLI and JSON spell it: `rlsb32`, `superblock`, `tree`, `session`.
    ///
    /// ```
    /// use iso_core::iso9660::Md5TagKind;
    /// assert_eq!(Md5TagKind::Superblock.as_str(), "superblock");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Md5TagKind::RelocatedSuperblock => "rlsb32",
            Md5TagKind::Superblock => "superblock",
            Md5TagKind::Tree => "tree",
            Md5TagKind::Session => "session",
        }
    }

    /// The name used in messages ("superblock tag").
    ///
    /// ```
    /// use iso_core::iso9660::Md5TagKind;
    /// assert_eq!(Md5TagKind::Session.to_string(), "session tag");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Md5TagKind::RelocatedSuperblock => "relocated superblock tag",
            Md5TagKind::Superblock => "superblock tag",
            Md5TagKind::Tree => "tree tag",
            Md5TagKind::Session => "session tag",
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Md5TagKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Md5TagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One well-formed libisofs checksum tag: its `self=` checksum matches its text, `pos=` names
/// the block it is in, and its range ends at it. Whether `md5=` matches the range is what
/// [`Image::check_md5`] finds out.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Md5Tag {
    /// Which tag.
    pub kind: Md5TagKind,
    /// Block (of 2048 bytes) the tag is in; equal to its `pos=`.
    pub lba: u32,
    /// First block of the range it covers (`range_start=`): the session start.
    pub range_start: u32,
    /// Blocks it covers (`range_size=`): from `range_start` up to the tag.
    pub range_size: u32,
    /// Block of the next tag (`next=`), for superblock and tree tags.
    pub next: Option<u32>,
    /// Start of the session the relocated superblock points to (`session_start=`).
    pub session_start: Option<u32>,
    /// The recorded MD5 of the range (`md5=`).
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_md5"))]
    pub md5: [u8; 16],
}

impl Md5Tag {
    /// Byte offset of the tag in the image.
    ///
    /// ```
    /// # use iso_core::iso9660::{Md5Tag, Md5TagKind};
    /// let tag = Md5Tag { kind: Md5TagKind::Superblock, lba: 18, range_start: 0, range_size: 18,
    ///                    next: Some(24), session_start: None, md5: [0; 16] };
    /// assert_eq!(tag.offset(), 18 * 2048);
    /// ```
    pub fn offset(&self) -> u64 {
        u64::from(self.lba) * BLOCK
    }

    /// The bytes it covers: `range_start` to the tag, in bytes.
    ///
    /// ```
    /// # use iso_core::iso9660::{Md5Tag, Md5TagKind};
    /// let tag = Md5Tag { kind: Md5TagKind::Tree, lba: 56, range_start: 32, range_size: 24,
    ///                    next: Some(65), session_start: None, md5: [0; 16] };
    /// assert_eq!(tag.range(), 32 * 2048..56 * 2048);
    /// ```
    pub fn range(&self) -> std::ops::Range<u64> {
        let start = u64::from(self.range_start) * BLOCK;
        start..start + u64::from(self.range_size) * BLOCK
    }
}

/// A tag that is malformed, damaged, misplaced or missing where another tag says it is.
#[derive(Debug)]
pub struct BadMd5Tag {
    /// The kind of tag found or expected there, when known.
    pub kind: Option<Md5TagKind>,
    /// Block where it was found or expected.
    pub lba: u32,
    /// What is wrong: an [`ErrorKind::BadMd5Tag`] at the tag's offset.
    pub error: Error,
}

/// Where the checksum array is and what it holds, from the root's `isofs.ca` attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChecksumArray {
    /// First block of the session it covers.
    pub start: u32,
    /// First block after the covered range, where the array starts.
    pub end: u32,
    /// Entries in the array: the session checksum, one per file, and the array's own.
    pub count: u64,
    /// Bytes per entry (16 for MD5).
    pub item_size: u64,
    /// The checksum algorithm's name (`MD5`).
    pub algorithm: String,
}

impl ChecksumArray {
    /// Byte offset of the array in the image.
    ///
    /// ```
    /// # use iso_core::iso9660::ChecksumArray;
    /// let ca = ChecksumArray { start: 32, end: 64, count: 5, item_size: 16, algorithm: "MD5".into() };
    /// assert_eq!(ca.offset(), 64 * 2048);
    /// assert_eq!(ca.files(), 3);
    /// ```
    pub fn offset(&self) -> u64 {
        u64::from(self.end) * BLOCK
    }

    /// Number of file checksums (the entries between the session's and the array's own).
    pub fn files(&self) -> u64 {
        self.count.saturating_sub(2)
    }

    /// Parses the value of the `isofs.ca` attribute: four numbers (a length byte, then that
    /// many big-endian bytes), then the algorithm name.
    ///
    /// ```
    /// use iso_core::iso9660::ChecksumArray;
    /// let ca = ChecksumArray::parse(&[1, 32, 1, 64, 1, 5, 1, 16, b'M', b'D', b'5']).unwrap();
    /// assert_eq!((ca.start, ca.end, ca.count, ca.algorithm.as_str()), (32, 64, 5, "MD5"));
    /// assert!(ChecksumArray::parse(&[1, 32, 9]).is_err());
    /// ```
    pub fn parse(value: &[u8]) -> Result<ChecksumArray> {
        let mut rest = value;
        let mut num = |what: &'static str| -> Result<u64> {
            let (&len, tail) = rest
                .split_first()
                .ok_or(ErrorKind::BadChecksumArray(what))?;
            let len = usize::from(len);
            if len > 8 {
                return Err(
                    ErrorKind::BadChecksumArray("isofs.ca number longer than 8 bytes").into(),
                );
            }
            let bytes = tail.get(..len).ok_or(ErrorKind::BadChecksumArray(what))?;
            rest = tail.get(len..).unwrap_or_default();
            Ok(bytes.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)))
        };
        let lba = |v: u64, what: &'static str| {
            u32::try_from(v).map_err(|_| Error::new(ErrorKind::BadChecksumArray(what)))
        };
        let start = lba(
            num("isofs.ca: START missing")?,
            "isofs.ca: START is not a block",
        )?;
        let end = lba(
            num("isofs.ca: END missing")?,
            "isofs.ca: END is not a block",
        )?;
        let count = num("isofs.ca: COUNT missing")?;
        let item_size = num("isofs.ca: SIZE missing")?;
        let algorithm = String::from_utf8_lossy(rest).into_owned();
        if end < start {
            return Err(ErrorKind::BadChecksumArray("isofs.ca: END before START").into());
        }
        if count < 2 {
            return Err(ErrorKind::BadChecksumArray("isofs.ca: fewer than 2 entries").into());
        }
        Ok(ChecksumArray {
            start,
            end,
            count,
            item_size,
            algorithm,
        })
    }
}

/// The MD5 checksums an image records, found without hashing: see [`Image::md5_tags`].
#[derive(Debug, Default)]
pub struct Md5Tags {
    /// The well-formed tags, in the order found (relocated superblock first, then each
    /// session's superblock, tree and session tags).
    pub tags: Vec<Md5Tag>,
    /// Tags that are malformed, damaged, misplaced or missing.
    pub bad_tags: Vec<BadMd5Tag>,
    /// The checksum array of the tree read, when its root carries `isofs.ca`.
    pub checksum_array: Option<ChecksumArray>,
    /// Why the root's `isofs.ca` could not be used, when it is present but unusable.
    pub checksum_array_error: Option<Error>,
}

impl Md5Tags {
    /// True when the image records no MD5 at all (no tag, good or bad, and no array).
    ///
    /// ```
    /// assert!(iso_core::iso9660::Md5Tags::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
            && self.bad_tags.is_empty()
            && self.checksum_array.is_none()
            && self.checksum_array_error.is_none()
    }

    /// The well-formed tags of one kind.
    ///
    /// ```
    /// # use iso_core::iso9660::{Md5Tags, Md5TagKind};
    /// assert_eq!(Md5Tags::default().of_kind(Md5TagKind::Session).count(), 0);
    /// ```
    pub fn of_kind(&self, kind: Md5TagKind) -> impl Iterator<Item = &Md5Tag> + '_ {
        self.tags.iter().filter(move |t| t.kind == kind)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Md5Tags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(serde::Serialize)]
        struct Bad {
            kind: Option<Md5TagKind>,
            lba: u32,
            error: String,
        }
        let bad: Vec<Bad> = self
            .bad_tags
            .iter()
            .map(|b| Bad {
                kind: b.kind,
                lba: b.lba,
                error: b.error.to_string(),
            })
            .collect();
        let mut st = s.serialize_struct("Md5Tags", 4)?;
        st.serialize_field("tags", &self.tags)?;
        st.serialize_field("bad_tags", &bad)?;
        st.serialize_field("checksum_array", &self.checksum_array)?;
        st.serialize_field(
            "checksum_array_error",
            &self.checksum_array_error.as_ref().map(|e| e.to_string()),
        )?;
        st.end()
    }
}

/// What one check of [`Md5Report`] covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Md5Item {
    /// A checksum tag: its `md5=` against the blocks it covers (or the tag itself, when it
    /// is malformed or missing).
    Tag(Md5TagKind),
    /// A block that starts like a tag but is of no known type.
    UnknownTag,
    /// Entry 0 of the checksum array: the session from its start up to the array.
    SessionChecksum,
    /// The last entry of the checksum array: the entries before it.
    ChecksumArray,
    /// The per-file checksums as a whole: set when the tree could not be walked to the end
    /// (the files after the failure are not checked).
    Files,
    /// A file's recorded MD5 (its `isofs.cx` entry of the array) against its stored bytes;
    /// its path from the root.
    File(String),
}

impl fmt::Display for Md5Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Md5Item::Tag(k) => write!(f, "{k}"),
            Md5Item::UnknownTag => f.write_str("checksum tag of unknown type"),
            Md5Item::SessionChecksum => f.write_str("session checksum (checksum array entry 0)"),
            Md5Item::ChecksumArray => f.write_str("checksum array"),
            Md5Item::Files => f.write_str("file checksums"),
            Md5Item::File(p) => write!(f, "file /{p}"),
        }
    }
}

/// The verdict on one item.
#[derive(Debug)]
pub enum Md5Status {
    /// The recorded MD5 matches.
    Ok,
    /// The recorded MD5 does not match the bytes.
    Mismatch {
        /// What the image records.
        recorded: [u8; 16],
        /// What the bytes hash to.
        computed: [u8; 16],
    },
    /// The item could not be checked: a malformed, damaged or missing tag, an entry out of
    /// the array, bytes past the end of the image. The error says what and where.
    Unreadable(Error),
}

impl Md5Status {
    /// True for [`Md5Status::Ok`].
    ///
    /// ```
    /// assert!(iso_core::iso9660::Md5Status::Ok.is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        matches!(self, Md5Status::Ok)
    }

    /// `ok`, `mismatch` or `unreadable`.
    ///
    /// ```
    /// assert_eq!(iso_core::iso9660::Md5Status::Ok.as_str(), "ok");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Md5Status::Ok => "ok",
            Md5Status::Mismatch { .. } => "mismatch",
            Md5Status::Unreadable(_) => "unreadable",
        }
    }
}

/// One item checked by [`Image::check_md5`].
#[derive(Debug)]
pub struct Md5Check {
    /// What was checked.
    pub item: Md5Item,
    /// Byte offset of the record naming the checksum: the tag, the array entry, the file's
    /// directory record.
    pub offset: u64,
    /// The bytes hashed (`start..end`), when known.
    pub range: Option<std::ops::Range<u64>>,
    /// The verdict.
    pub status: Md5Status,
}

impl fmt::Display for Md5Check {
    /// `MISMATCH file /seq.txt (offset 0x1a1c2, bytes 0x1d000..0x1e26c): recorded …, computed …`,
    /// `UNREADABLE superblock tag (offset 0x19000): …`, or `ok tree tag (offset 0x1c000)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self.status {
            Md5Status::Ok => "ok",
            Md5Status::Mismatch { .. } => "MISMATCH",
            Md5Status::Unreadable(_) => "UNREADABLE",
        };
        write!(f, "{word} {} (offset {:#x}", self.item, self.offset)?;
        if let Some(r) = &self.range {
            write!(f, ", bytes {:#x}..{:#x}", r.start, r.end)?;
        }
        f.write_str(")")?;
        match &self.status {
            Md5Status::Ok => Ok(()),
            Md5Status::Mismatch { recorded, computed } => write!(
                f,
                ": recorded MD5 {}, computed {}",
                hex(recorded),
                hex(computed)
            ),
            // The error's own offset is the item's: said once.
            Md5Status::Unreadable(e) if e.offset() == Some(self.offset) && e.path().is_none() => {
                write!(f, ": {}", e.kind())
            }
            Md5Status::Unreadable(e) => write!(f, ": {e}"),
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Md5Check {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (kind, path) = match &self.item {
            Md5Item::Tag(k) => (k.as_str(), None),
            Md5Item::UnknownTag => ("unknown-tag", None),
            Md5Item::SessionChecksum => ("session-checksum", None),
            Md5Item::ChecksumArray => ("checksum-array", None),
            Md5Item::Files => ("files", None),
            Md5Item::File(p) => ("file", Some(p.as_str())),
        };
        let (recorded, computed, error) = match &self.status {
            Md5Status::Ok => (None, None, None),
            Md5Status::Mismatch { recorded, computed } => {
                (Some(hex(recorded)), Some(hex(computed)), None)
            }
            Md5Status::Unreadable(e) => (None, None, Some(e.to_string())),
        };
        let mut st = s.serialize_struct("Md5Check", 8)?;
        st.serialize_field("item", kind)?;
        st.serialize_field("path", &path)?;
        st.serialize_field("status", self.status.as_str())?;
        st.serialize_field("offset", &self.offset)?;
        st.serialize_field("range", &self.range.as_ref().map(|r| [r.start, r.end]))?;
        st.serialize_field("recorded", &recorded)?;
        st.serialize_field("computed", &computed)?;
        st.serialize_field("error", &error)?;
        st.end()
    }
}

/// What [`Image::check_md5`] found: one [`Md5Check`] per item, tags first, then the checksum
/// array, then the files in walk order.
#[derive(Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Md5Report {
    /// Every item checked.
    pub checks: Vec<Md5Check>,
    /// Bytes hashed.
    pub bytes: u64,
}

impl Md5Report {
    /// True when the image records no MD5 at all: nothing was checked.
    ///
    /// ```
    /// assert!(iso_core::iso9660::Md5Report::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// True when something was checked and every item matched.
    ///
    /// ```
    /// assert!(!iso_core::iso9660::Md5Report::default().all_ok());
    /// ```
    pub fn all_ok(&self) -> bool {
        !self.is_empty() && self.checks.iter().all(|c| c.status.is_ok())
    }

    /// The items that did not match or could not be checked.
    ///
    /// ```
    /// assert_eq!(iso_core::iso9660::Md5Report::default().failures().count(), 0);
    /// ```
    pub fn failures(&self) -> impl Iterator<Item = &Md5Check> + '_ {
        self.checks.iter().filter(|c| !c.status.is_ok())
    }

    /// Number of files checked (matching or not).
    ///
    /// ```
    /// assert_eq!(iso_core::iso9660::Md5Report::default().files(), 0);
    /// ```
    pub fn files(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| matches!(c.item, Md5Item::File(_)))
            .count()
    }

    /// The one-line summary: `MD5: 3 tags, the session and 12 files match (1.2 MB)`, or the
    /// number of failures, or that the image records no MD5.
    ///
    /// ```
    /// let r = iso_core::iso9660::Md5Report::default();
    /// assert!(r.summary().contains("no MD5"));
    /// ```
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "no MD5 checksums recorded (the image was not made with xorriso -md5 on)"
                .to_string();
        }
        let tags = self
            .checks
            .iter()
            .filter(|c| matches!(c.item, Md5Item::Tag(_) | Md5Item::UnknownTag))
            .count();
        let failed = self.failures().count();
        let checked = self.checks.len();
        if failed == 0 {
            format!(
                "MD5 ok: {checked} item(s) match ({tags} tag(s), {} file(s)), {} bytes hashed",
                self.files(),
                self.bytes
            )
        } else {
            format!(
                "MD5 FAILED: {failed} of {checked} item(s) do not match or are unreadable \
                 ({tags} tag(s), {} file(s))",
                self.files()
            )
        }
    }
}

impl fmt::Display for Md5Report {
    /// One line per failure, then the summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.failures() {
            writeln!(f, "{c}")?;
        }
        writeln!(f, "{}", self.summary())
    }
}

/// Lower-case hex of an MD5.
fn hex(d: &[u8; 16]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(32);
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(feature = "serde")]
fn ser_md5<S: serde::Serializer>(d: &[u8; 16], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hex(d))
}

/// A tag as parsed from its block, before placement checks.
struct Parsed {
    kind: Md5TagKind,
    pos: u32,
    range_start: u32,
    range_size: u32,
    extra: Option<u32>,
    md5: [u8; 16],
}

/// Reads a tag's fields in order; each step fails with a reason.
struct Cursor<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn literal(&mut self, lit: &[u8]) -> bool {
        let ok = self
            .text
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(lit));
        if ok {
            self.at += lit.len();
        }
        ok
    }

    /// A decimal number of 1 to 10 digits that fits in u32.
    fn number(&mut self) -> Option<u32> {
        let rest = self.text.get(self.at..)?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 10 {
            return None;
        }
        let v = rest
            .get(..digits)?
            .iter()
            .try_fold(0u64, |v, &b| Some(v * 10 + u64::from(b - b'0')))?;
        self.at += digits;
        u32::try_from(v).ok()
    }

    /// 32 hex digits.
    fn md5(&mut self) -> Option<[u8; 16]> {
        let rest = self.text.get(self.at..self.at + 32)?;
        let mut out = [0u8; 16];
        for (o, pair) in out.iter_mut().zip(rest.chunks_exact(2)) {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            *o = u8::try_from(hi * 16 + lo).ok()?;
        }
        self.at += 32;
        Some(out)
    }
}

/// What a block holds, as far as tags go.
enum Block {
    /// Not a tag (does not start with `libisofs_`).
    NotATag,
    /// A tag that parses and checks itself.
    Tag(Parsed),
}

/// Parses the tag at the start of `block` (a 2048-byte block). `Ok(NotATag)` when it does
/// not start with `libisofs_`; an [`ErrorKind::BadMd5Tag`] (without offset) when it does
/// but is malformed or its `self=` does not match.
fn parse_block(block: &[u8]) -> Result<Block> {
    if !block.starts_with(PREFIX) {
        return Ok(Block::NotATag);
    }
    let kind = Md5TagKind::ALL.into_iter().find(|k| {
        let m = k.magic();
        block.starts_with(m) && block.get(m.len()) == Some(&b' ')
    });
    let Some(kind) = kind else {
        return Err(bad("checksum tag", "unknown tag type"));
    };
    let tag = kind.name();
    let mut c = Cursor {
        text: block,
        at: kind.magic().len(),
    };
    let field = |c: &mut Cursor<'_>, lit: &[u8], reason: &'static str| {
        if c.literal(lit) {
            c.number().ok_or_else(|| bad(tag, reason))
        } else {
            Err(bad(tag, reason))
        }
    };
    let pos = field(&mut c, b" pos=", "pos= missing or not a block number")?;
    let range_start = field(
        &mut c,
        b" range_start=",
        "range_start= missing or not a block number",
    )?;
    let range_size = field(
        &mut c,
        b" range_size=",
        "range_size= missing or not a block count",
    )?;
    let extra = match kind {
        Md5TagKind::Superblock | Md5TagKind::Tree => Some(field(
            &mut c,
            b" next=",
            "next= missing or not a block number",
        )?),
        Md5TagKind::RelocatedSuperblock => Some(field(
            &mut c,
            b" session_start=",
            "session_start= missing or not a block number",
        )?),
        Md5TagKind::Session => None,
    };
    if !c.literal(b" md5=") {
        return Err(bad(tag, "md5= missing"));
    }
    let md5 = c
        .md5()
        .ok_or_else(|| bad(tag, "md5= is not 32 hex digits"))?;
    let covered = block.get(..c.at).unwrap_or_default();
    if !c.literal(b" self=") {
        return Err(bad(tag, "self= missing"));
    }
    let self_md5 = c
        .md5()
        .ok_or_else(|| bad(tag, "self= is not 32 hex digits"))?;
    if !c.literal(b"\n") {
        return Err(bad(tag, "no newline after self="));
    }
    if <[u8; 16]>::from(Md5::digest(covered)) != self_md5 {
        return Err(bad(
            tag,
            "self= checksum does not match the tag's text (the tag is damaged)",
        ));
    }
    Ok(Block::Tag(Parsed {
        kind,
        pos,
        range_start,
        range_size,
        extra,
        md5,
    }))
}

fn bad(tag: &'static str, reason: &'static str) -> Error {
    Error::new(ErrorKind::BadMd5Tag { tag, reason })
}

/// Finds the tags of an image (see [`Image::md5_tags`]).
struct Finder<'a, 'data> {
    image: &'a Image<'data>,
    blocks: u64,
    /// Blocks already read as tags (each is reported once).
    seen: BTreeSet<u32>,
    out: Md5Tags,
}

impl Finder<'_, '_> {
    fn block(&self, lba: u32) -> Option<&[u8]> {
        let start = u64::from(lba) * BLOCK;
        super::slice(self.image.data, start, start + BLOCK, "checksum tag").ok()
    }

    fn push_bad(&mut self, kind: Option<Md5TagKind>, lba: u32, error: Error) {
        let error = error.with_offset(u64::from(lba) * BLOCK);
        self.out.bad_tags.push(BadMd5Tag { kind, lba, error });
    }

    /// The tag in block `lba`, placement checked; `expected` is the kind another tag (or the
    /// position) says must be there. Records a bad tag and returns None on any problem;
    /// returns None without a record when no tag is there and none was expected.
    fn tag_at(&mut self, lba: u32, expected: Option<Md5TagKind>) -> Option<Md5Tag> {
        if !self.seen.insert(lba) {
            // Reached again (sessions that overlap, a chain that loops): reported once.
            return None;
        }
        let Some(block) = self.block(lba) else {
            if let Some(k) = expected {
                self.push_bad(
                    Some(k),
                    lba,
                    bad(k.name(), "the block where the tag belongs is past the end"),
                );
            }
            return None;
        };
        let parsed = match parse_block(block) {
            Ok(Block::Tag(p)) => p,
            Ok(Block::NotATag) => {
                if let Some(k) = expected {
                    self.push_bad(
                        Some(k),
                        lba,
                        bad(
                            k.name(),
                            if k == Md5TagKind::Superblock {
                                "missing after the volume descriptors of the session the \
                                 checksum array covers"
                            } else {
                                "missing from the block the previous tag's next= names"
                            },
                        ),
                    );
                }
                return None;
            }
            Err(e) => {
                let kind = Md5TagKind::ALL
                    .into_iter()
                    .find(|k| block.starts_with(k.magic()))
                    .or(expected);
                self.push_bad(kind, lba, e);
                return None;
            }
        };
        let k = parsed.kind;
        let tag = k.name();
        let problem = if expected.is_some_and(|e| e != k) {
            Some("a tag of another type where this one belongs")
        } else if parsed.pos != lba {
            Some("pos= does not name the block the tag is in (moved, or payload)")
        } else if parsed.range_start.checked_add(parsed.range_size) != Some(lba) {
            Some("range_start= plus range_size= does not end at the tag")
        } else {
            match (k, parsed.extra) {
                (Md5TagKind::Superblock | Md5TagKind::Tree, Some(next))
                    if next <= lba || u64::from(next) >= self.blocks =>
                {
                    Some("next= does not point past the tag and inside the image")
                }
                (Md5TagKind::RelocatedSuperblock, Some(s)) if u64::from(s) >= self.blocks => {
                    Some("session_start= points past the end of the image")
                }
                _ => None,
            }
        };
        if let Some(reason) = problem {
            self.push_bad(Some(expected.unwrap_or(k)), lba, bad(tag, reason));
            return None;
        }
        let (next, session_start) = match k {
            Md5TagKind::RelocatedSuperblock => (None, parsed.extra),
            _ => (parsed.extra, None),
        };
        let t = Md5Tag {
            kind: k,
            lba,
            range_start: parsed.range_start,
            range_size: parsed.range_size,
            next,
            session_start,
            md5: parsed.md5,
        };
        self.out.tags.push(t.clone());
        Some(t)
    }

    /// The block after the volume descriptor set terminator of the session starting at
    /// `start`, if the session has one within its first 32 blocks.
    fn after_terminator(&self, start: u32) -> Option<u32> {
        (16..32u32).find_map(|i| {
            let lba = start.checked_add(i)?;
            let b = self.block(lba)?;
            (b.first() == Some(&255) && b.get(1..6) == Some(b"CD001"))
                .then(|| lba.checked_add(1))
                .flatten()
        })
    }

    /// The tags of the session starting at `start`; returns further session starts named by
    /// a relocated superblock tag.
    ///
    /// The superblock tag follows the volume descriptors; each tag names the next with
    /// `next=`. Where that chain breaks (a damaged superblock or tree tag), the next tag is
    /// looked for block by block, as a reader streaming the session would find it.
    fn session(&mut self, start: u32, required: bool) -> Option<u32> {
        let lba = self.after_terminator(start)?;
        let expected = required.then_some(Md5TagKind::Superblock);
        let bad_before = self.out.bad_tags.len();
        let sb = self.tag_at(lba, expected);
        match sb.as_ref().map(|t| t.kind) {
            Some(Md5TagKind::RelocatedSuperblock) => return sb.and_then(|t| t.session_start),
            Some(Md5TagKind::Superblock) => {}
            Some(k) => {
                self.push_bad(
                    Some(k),
                    lba,
                    bad(k.name(), "found where the superblock tag belongs"),
                );
                return None;
            }
            // Nothing there, and nothing damaged: no MD5 in this session.
            None if self.out.bad_tags.len() == bad_before => return None,
            // A damaged relocated superblock tag: the session it names is found otherwise
            // (the checksum array, the layout's sessions).
            None if self.out.bad_tags.last().and_then(|b| b.kind)
                == Some(Md5TagKind::RelocatedSuperblock) =>
            {
                return None
            }
            None => {}
        }
        let sb_next = sb.as_ref().and_then(|t| t.next);
        let tree = match sb_next {
            Some(n) => self.tag_at(n, Some(Md5TagKind::Tree)),
            None => self.scan_for(lba.saturating_add(1), Md5TagKind::Tree),
        };
        let after = tree.as_ref().map(|t| t.lba).or(sb_next).unwrap_or(lba);
        let session = match tree.as_ref().and_then(|t| t.next) {
            Some(n) => self.tag_at(n, Some(Md5TagKind::Session)),
            None => self.scan_for(after.saturating_add(1), Md5TagKind::Session),
        };
        let range_start = sb.as_ref().map(|t| t.range_start);
        for t in [tree, session].into_iter().flatten() {
            if range_start.is_some_and(|r| r != t.range_start) {
                self.push_bad(
                    Some(t.kind),
                    t.lba,
                    bad(
                        t.kind.name(),
                        "range_start= differs from the superblock tag's",
                    ),
                );
            }
        }
        None
    }

    /// The first well-formed tag of `kind` at its own position in the blocks from `from` to
    /// the end of the image (blocks that only look like tags are payload, and skipped).
    fn scan_for(&mut self, from: u32, kind: Md5TagKind) -> Option<Md5Tag> {
        let last = u32::try_from(self.blocks).unwrap_or(u32::MAX);
        let found = (from..last).find(|&lba| {
            self.block(lba).is_some_and(|b| {
                b.starts_with(kind.magic())
                    && matches!(parse_block(b), Ok(Block::Tag(p)) if p.kind == kind && p.pos == lba)
            })
        })?;
        self.tag_at(found, Some(kind))
    }
}

impl<'data> Image<'data> {
    /// The MD5 checksums the image records (xorriso `-md5 on`), found without hashing: the
    /// checksum tags of every session, the tags that are malformed or missing, and the
    /// checksum array the root's `isofs.ca` attribute locates. Empty
    /// ([`Md5Tags::is_empty`]) for an image made without MD5s.
    ///
    /// Sessions are looked for at block 0, at every session start of
    /// [`Image::layout`], at the start a relocated superblock tag names, and at the start the
    /// checksum array covers. Fails only when the root directory of the Rock Ridge tree
    /// cannot be read.
    ///
    /// ```
    /// use iso_core::IsoFile;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let file = IsoFile::open("../tests/fixtures/rr-only.iso")?;
    /// let image = file.image()?;
    /// let tags = image.md5_tags()?;
    /// for t in &tags.tags {
    ///     println!("{} at block {}", t.kind, t.lba);
    /// }
    /// assert!(tags.is_empty()); // made without -md5 on
    /// # Ok(()) }
    /// ```
    pub fn md5_tags(&self) -> Result<Md5Tags> {
        let mut f = Finder {
            image: self,
            blocks: self.data.len() as u64 / BLOCK,
            seen: BTreeSet::new(),
            out: Md5Tags::default(),
        };
        match self.checksum_array_attr() {
            Ok(ca) => f.out.checksum_array = ca,
            Err(e) => f.out.checksum_array_error = Some(e),
        }
        let array_start = f.out.checksum_array.as_ref().map(|c| c.start);
        let mut starts: BTreeSet<u32> = BTreeSet::new();
        starts.insert(0);
        for s in self.layout().sessions {
            if let Ok(s) = u32::try_from(s.start) {
                starts.insert(s);
            }
        }
        starts.extend(array_start);
        let mut done: BTreeSet<u32> = BTreeSet::new();
        while let Some(start) = starts.iter().copied().find(|s| !done.contains(s)) {
            if done.len() >= MAX_SESSIONS {
                break;
            }
            done.insert(start);
            // The session the checksum array covers must have its tags.
            if let Some(next) = f.session(start, array_start == Some(start)) {
                starts.insert(next);
            }
        }
        Ok(f.out)
    }

    /// The root's `isofs.ca`, parsed; None when the tree has no Rock Ridge or the root no
    /// such attribute.
    fn checksum_array_attr(&self) -> Result<Option<ChecksumArray>> {
        if self.rock_ridge.is_none() {
            return Ok(None);
        }
        let root = self.root(Namespace::RockRidge)?;
        let Some(value) = xattr(&root, b"isofs.ca")? else {
            return Ok(None);
        };
        ChecksumArray::parse(&value)
            .map(Some)
            .map_err(|e| e.with_offset(root.record_offset()).with_path(""))
    }

    /// Verifies every MD5 the image records: each checksum tag against the blocks it covers,
    /// the checksum array's session entry and its own entry, and each file's entry against
    /// its stored bytes (zisofs files as compressed, as libisofs records them). Hashes
    /// straight from the image's bytes; calls `progress(done, total)` with byte counts as it
    /// goes.
    ///
    /// The report lists every item with its verdict; malformed or missing tags are items
    /// with [`Md5Status::Unreadable`], not errors. An image without MD5s gives an empty
    /// report ([`Md5Report::is_empty`]). Fails only when the root directory cannot be read.
    ///
    /// Memory stays small (one record per file, no copy of any byte); time is proportional
    /// to the bytes hashed. A hostile image can make many entries share one large extent:
    /// the number of files is bounded by [`Limits::max_entries`](crate::Limits), like any
    /// walk.
    ///
    /// ```
    /// use iso_core::IsoFile;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let file = IsoFile::open("../tests/fixtures/xorriso-rr.iso")?;
    /// let image = file.image()?;
    /// let report = image.check_md5(&mut |done, total| eprint!("\r{done}/{total}"))?;
    /// for c in report.failures() {
    ///     println!("{c}");
    /// }
    /// println!("{}", report.summary());
    /// # Ok(()) }
    /// ```
    pub fn check_md5(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<Md5Report> {
        let tags = self.md5_tags()?;
        let mut jobs: Vec<Job> = Vec::new();
        let mut report = Md5Report::default();
        let unreadable = |item: Md5Item, offset: u64, e: Error| Md5Check {
            item,
            offset,
            range: None,
            status: Md5Status::Unreadable(e.with_offset(offset)),
        };
        for t in &tags.tags {
            let r = t.range();
            match super::slice(self.data, r.start, r.end, "range of a checksum tag") {
                Ok(bytes) => jobs.push(Job {
                    item: Md5Item::Tag(t.kind),
                    offset: t.offset(),
                    range: r,
                    recorded: t.md5,
                    parts: Parts::One(bytes),
                }),
                Err(e) => report
                    .checks
                    .push(unreadable(Md5Item::Tag(t.kind), t.offset(), e)),
            }
        }
        for b in tags.bad_tags {
            let item = b.kind.map_or(Md5Item::UnknownTag, Md5Item::Tag);
            report
                .checks
                .push(unreadable(item, u64::from(b.lba) * BLOCK, b.error));
        }
        if let Some(e) = tags.checksum_array_error {
            let at = e.offset().unwrap_or(0);
            report
                .checks
                .push(unreadable(Md5Item::ChecksumArray, at, e));
        }
        if let Some(ca) = &tags.checksum_array {
            match self.array_jobs(ca, &mut jobs, &mut report) {
                Ok(Some(entries)) => self.file_jobs(ca, entries, &mut jobs, &mut report),
                Ok(None) => {}
                Err(e) => report
                    .checks
                    .push(unreadable(Md5Item::ChecksumArray, ca.offset(), e)),
            }
        }
        let total: u64 = jobs.iter().map(|j| j.parts.len()).sum();
        let mut done = 0u64;
        progress(0, total);
        for j in jobs {
            let mut h = Md5::new();
            let parts: &[&[u8]] = match &j.parts {
                Parts::One(b) => std::slice::from_ref(b),
                Parts::Many(v) => v,
            };
            for part in parts {
                for chunk in part.chunks(CHUNK) {
                    h.update(chunk);
                    done += chunk.len() as u64;
                    progress(done, total);
                }
            }
            let computed: [u8; 16] = h.finalize().into();
            report.checks.push(Md5Check {
                item: j.item,
                offset: j.offset,
                range: Some(j.range),
                status: if computed == j.recorded {
                    Md5Status::Ok
                } else {
                    Md5Status::Mismatch {
                        recorded: j.recorded,
                        computed,
                    }
                },
            });
        }
        report.bytes = done;
        report.checks.sort_by_key(|c| order(&c.item));
        Ok(report)
    }

    /// Checks the array's own entry now (a few bytes) and queues the session entry. Returns
    /// the array's entries, or None (with an item saying why) when the array is unusable.
    fn array_jobs(
        &self,
        ca: &ChecksumArray,
        jobs: &mut Vec<Job<'data>>,
        report: &mut Md5Report,
    ) -> Result<Option<&'data [u8]>> {
        if ca.algorithm != "MD5" || ca.item_size != 16 {
            report.checks.push(Md5Check {
                item: Md5Item::ChecksumArray,
                offset: ca.offset(),
                range: None,
                status: Md5Status::Unreadable(Error::at(
                    ErrorKind::Unsupported("a checksum array of another algorithm than MD5"),
                    ca.offset(),
                )),
            });
            return Ok(None);
        }
        let len = ca
            .count
            .checked_mul(16)
            .ok_or(ErrorKind::BadChecksumArray("isofs.ca: COUNT too large"))?;
        let entries = super::slice(
            self.data,
            ca.offset(),
            ca.offset().saturating_add(len),
            "MD5 checksum array",
        )?;
        let entry = |i: u64| -> Option<[u8; 16]> {
            let at = usize::try_from(i.checked_mul(16)?).ok()?;
            entries.get(at..at.checked_add(16)?)?.try_into().ok()
        };
        let last = ca.count - 1;
        let own_range = ca.offset()..ca.offset() + last * 16;
        if let (Some(recorded), Some(covered)) = (entry(last), entries.get(..(last * 16) as usize))
        {
            jobs.push(Job {
                item: Md5Item::ChecksumArray,
                offset: ca.offset() + last * 16,
                range: own_range,
                recorded,
                parts: Parts::One(covered),
            });
        }
        let s = u64::from(ca.start) * BLOCK;
        match (
            entry(0),
            super::slice(self.data, s, ca.offset(), "range of the session checksum"),
        ) {
            (Some(recorded), Ok(bytes)) => jobs.push(Job {
                item: Md5Item::SessionChecksum,
                offset: ca.offset(),
                range: s..ca.offset(),
                recorded,
                parts: Parts::One(bytes),
            }),
            (_, Err(e)) => report.checks.push(Md5Check {
                item: Md5Item::SessionChecksum,
                offset: ca.offset(),
                range: None,
                status: Md5Status::Unreadable(e),
            }),
            (None, _) => {}
        }
        Ok(Some(entries))
    }

    /// Queues one job per file with an `isofs.cx` attribute, walking the Rock Ridge tree.
    fn file_jobs(
        &self,
        ca: &ChecksumArray,
        entries: &'data [u8],
        jobs: &mut Vec<Job<'data>>,
        report: &mut Md5Report,
    ) {
        let walk = match self.walk(Namespace::RockRidge) {
            Ok(w) => w,
            Err(e) => {
                report.checks.push(Md5Check {
                    item: Md5Item::Files,
                    offset: e.offset().unwrap_or(0),
                    range: None,
                    status: Md5Status::Unreadable(e),
                });
                return;
            }
        };
        let mut walk = walk;
        while let Some(item) = walk.next_entry() {
            let (path, e) = match item {
                Ok(x) => x,
                Err(err) => {
                    report.checks.push(Md5Check {
                        item: Md5Item::Files,
                        offset: err.offset().unwrap_or(0),
                        range: None,
                        status: Md5Status::Unreadable(err),
                    });
                    break;
                }
            };
            if !e.is_file() {
                continue;
            }
            let item = Md5Item::File(path.to_string());
            let at = e.record_offset();
            match self.file_job(ca, entries, e) {
                Ok(Some(job)) => jobs.push(Job { item, ..job }),
                Ok(None) => {}
                Err(err) => report.checks.push(Md5Check {
                    item,
                    offset: at,
                    range: None,
                    status: Md5Status::Unreadable(err.with_offset(at).with_path(path)),
                }),
            }
        }
    }

    /// The job for one file, None when it has no `isofs.cx`.
    fn file_job(
        &self,
        ca: &ChecksumArray,
        entries: &'data [u8],
        e: &DirEntry<'data>,
    ) -> Result<Option<Job<'data>>> {
        let Some(cx) = xattr(e, b"isofs.cx")? else {
            return Ok(None);
        };
        if cx.is_empty() || cx.len() > 8 {
            return Err(ErrorKind::BadChecksumArray("isofs.cx is not a 1 to 8 byte index").into());
        }
        let index = cx.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
        if index == 0 || index >= ca.count - 1 {
            return Err(ErrorKind::BadChecksumArray(
                "isofs.cx names an entry outside the file entries of the array",
            )
            .into());
        }
        let at = usize::try_from(index * 16)
            .map_err(|_| Error::new(ErrorKind::BadChecksumArray("isofs.cx too large")))?;
        let recorded: [u8; 16] = entries
            .get(at..at + 16)
            .and_then(|b| b.try_into().ok())
            .ok_or(ErrorKind::BadChecksumArray("isofs.cx past the array"))?;
        let ctx = self.ctx(e.namespace());
        let mut parts = Vec::with_capacity(e.extents().len().min(64));
        let mut first = None;
        let mut end = 0;
        for x in e.extents() {
            let b = ctx.extent_bytes(x, "file extent")?;
            let start = (u64::from(x.lba) + u64::from(x.xattr_blocks)) * u64::from(self.block_size);
            first.get_or_insert(start);
            end = start + b.len() as u64;
            parts.push(b);
        }
        let start = first.unwrap_or(0);
        Ok(Some(Job {
            item: Md5Item::Files,
            offset: e.record_offset(),
            range: start..end.max(start),
            recorded,
            parts: Parts::Many(parts),
        }))
    }
}

/// Sort key of report items: tags by kind, then the array, then files in walk order (a
/// stable sort keeps the walk's order among files).
fn order(item: &Md5Item) -> u8 {
    match item {
        Md5Item::Tag(Md5TagKind::RelocatedSuperblock) => 0,
        Md5Item::Tag(Md5TagKind::Superblock) => 1,
        Md5Item::Tag(Md5TagKind::Tree) => 2,
        Md5Item::Tag(Md5TagKind::Session) => 3,
        Md5Item::UnknownTag => 4,
        Md5Item::SessionChecksum => 5,
        Md5Item::ChecksumArray => 6,
        Md5Item::Files | Md5Item::File(_) => 7,
    }
}

/// The bytes one check hashes.
enum Parts<'data> {
    One(&'data [u8]),
    Many(Vec<&'data [u8]>),
}

impl Parts<'_> {
    /// Bytes in all parts.
    fn len(&self) -> u64 {
        match self {
            Parts::One(b) => b.len() as u64,
            Parts::Many(v) => v.iter().map(|b| b.len() as u64).sum(),
        }
    }
}

/// One item to hash.
struct Job<'data> {
    item: Md5Item,
    offset: u64,
    range: std::ops::Range<u64>,
    recorded: [u8; 16],
    parts: Parts<'data>,
}

/// The AAIP attribute `name` of `entry` (the root's are those of its `.` record).
fn xattr(entry: &DirEntry<'_>, name: &[u8]) -> Result<Option<Vec<u8>>> {
    entry.xattr(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tag block as libisofs writes it, with a correct `self=`.
    fn tag(text: &str) -> Vec<u8> {
        let self_md5 = hex(&Md5::digest(text.as_bytes()).into());
        let mut b = format!("{text} self={self_md5}\n").into_bytes();
        b.resize(2048, 0);
        b
    }

    const MD5: &str = "3c99db014d9b05bce004b3f42a226d1e";

    #[test]
    fn parses_each_kind() {
        let b = tag(&format!(
            "libisofs_sb_checksum_tag_v1 pos=50 range_start=32 range_size=18 next=56 md5={MD5}"
        ));
        let Ok(Block::Tag(p)) = parse_block(&b) else {
            panic!("not parsed")
        };
        assert_eq!(
            (p.kind, p.pos, p.range_start, p.range_size, p.extra),
            (Md5TagKind::Superblock, 50, 32, 18, Some(56))
        );
        assert_eq!(hex(&p.md5), MD5);
        let b = tag(&format!(
            "libisofs_rlsb32_checksum_tag_v1 pos=18 range_start=0 range_size=18 session_start=32 md5={MD5}"
        ));
        assert!(matches!(
            parse_block(&b),
            Ok(Block::Tag(Parsed {
                kind: Md5TagKind::RelocatedSuperblock,
                extra: Some(32),
                ..
            }))
        ));
        let b = tag(&format!(
            "libisofs_checksum_tag_v1 pos=65 range_start=32 range_size=33 md5={MD5}"
        ));
        assert!(matches!(
            parse_block(&b),
            Ok(Block::Tag(Parsed {
                kind: Md5TagKind::Session,
                extra: None,
                ..
            }))
        ));
    }

    #[test]
    fn refuses_damage() {
        let good = tag(&format!(
            "libisofs_tree_checksum_tag_v1 pos=56 range_start=32 range_size=24 next=65 md5={MD5}"
        ));
        assert!(matches!(parse_block(&good), Ok(Block::Tag(_))));
        // Every single-byte change of the text is caught, by syntax or by self=.
        let len = good.iter().position(|&b| b == b'\n').unwrap_or(0);
        for i in PREFIX.len()..len {
            let mut b = good.clone();
            b[i] ^= 0x01;
            assert!(
                matches!(parse_block(&b), Err(e) if matches!(e.kind(), ErrorKind::BadMd5Tag { .. })),
                "byte {i} changed"
            );
        }
        assert!(matches!(parse_block(&[0u8; 2048]), Ok(Block::NotATag)));
        let mut b = good.clone();
        b[0] = b'x';
        assert!(matches!(parse_block(&b), Ok(Block::NotATag)));
    }

    #[test]
    fn numbers_are_bounded() {
        let b = tag(&format!(
            "libisofs_checksum_tag_v1 pos=99999999999 range_start=0 range_size=1 md5={MD5}"
        ));
        assert!(parse_block(&b).is_err());
        let b = tag(&format!(
            "libisofs_checksum_tag_v1 pos=4294967296 range_start=0 range_size=1 md5={MD5}"
        ));
        assert!(parse_block(&b).is_err());
        assert!(parse_block(b"libisofs_checksum_tag_v1 pos=").is_err());
    }

    #[test]
    fn checksum_array_attribute() {
        let ca = ChecksumArray::parse(&[
            4, 0, 0, 0, 32, 4, 0, 15, 66, 64, 4, 0, 0, 2, 8, 1, 16, b'M', b'D', b'5',
        ]);
        let Ok(ca) = ca else { panic!("{ca:?}") };
        assert_eq!(
            (ca.start, ca.end, ca.count, ca.item_size),
            (32, 1_000_000, 520, 16)
        );
        assert!(ChecksumArray::parse(&[]).is_err());
        assert!(ChecksumArray::parse(&[1, 64, 1, 32, 1, 5, 1, 16]).is_err());
        assert!(ChecksumArray::parse(&[5, 1, 0, 0, 0, 0, 1, 1, 1, 5, 1, 16]).is_err());
        assert!(ChecksumArray::parse(&[1, 32, 1, 64, 1, 1, 1, 16]).is_err());
    }
}
