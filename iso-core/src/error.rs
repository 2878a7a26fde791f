//! Typed errors that say what went wrong and where.

use std::fmt;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong. Each variant carries the offending values; [`Error`] adds where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The image is shorter than the system area plus one volume descriptor.
    #[error("image is {len} bytes, too small for ISO 9660 (at least 34,816 bytes: 16 system sectors and one volume descriptor)")]
    TooSmall {
        /// Length of the image in bytes.
        len: u64,
    },
    /// No `CD001` primary volume descriptor was found.
    #[error("not an ISO 9660 image: {reason}")]
    NotIso9660 {
        /// Why the descriptor scan gave up.
        reason: &'static str,
    },
    /// A volume descriptor is malformed.
    #[error("bad volume descriptor: {reason}")]
    BadVolumeDescriptor {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The logical block size is not one this reader supports.
    #[error("logical block size {0} is not supported (512, 1024 or 2048)")]
    BadBlockSize(u32),
    /// A structure or file extent lies (partly) past the end of the image.
    #[error("{what} at bytes {start}..{end} lies past the end of the {image_len}-byte image")]
    OutOfBounds {
        /// What was being read.
        what: &'static str,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
        /// Length of the image.
        image_len: u64,
    },
    /// A directory record is malformed.
    #[error("malformed directory record: {reason}")]
    BadRecord {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A directory extent is reached a second time during a walk (a loop, through a parent
    /// link, a Rock Ridge `CL` relocation or a shared extent).
    #[error("directory at block {lba} is reached twice: the directory graph has a loop")]
    DirectoryLoop {
        /// Block of the directory reached again.
        lba: u32,
    },
    /// A chain of SUSP continuation areas (`CE`) comes back to an area already read.
    #[error("SUSP continuation areas form a loop (block {lba}, offset {offset})")]
    ContinuationLoop {
        /// Block of the area reached again.
        lba: u32,
        /// Offset of the area inside its block.
        offset: u32,
    },
    /// A SUSP or Rock Ridge entry is malformed in a way that cannot be skipped.
    #[error("malformed SUSP/Rock Ridge data: {reason}")]
    BadSusp {
        /// What is wrong.
        reason: &'static str,
    },
    /// A safety budget of [`Limits`](crate::Limits) was exceeded.
    #[error("limit {limit} exceeded ({value} > {max})")]
    LimitExceeded {
        /// Name of the [`Limits`](crate::Limits) field.
        limit: &'static str,
        /// The value reached.
        value: u64,
        /// The budget.
        max: u64,
    },
    /// The file is recorded in interleaved mode, which this reader refuses rather than read
    /// wrongly.
    #[error(
        "file is recorded in interleaved mode (unit size {unit_size}, gap {gap}): not supported"
    )]
    Interleaved {
        /// File unit size, in blocks.
        unit_size: u8,
        /// Interleave gap size, in blocks.
        gap: u8,
    },
    /// A feature this reader recognises but does not implement.
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// A UDF (ECMA-167) structure that is malformed.
    #[error("malformed UDF structure: {0}")]
    BadUdf(&'static str),
    /// A UDF descriptor whose tag fails its checks (checksum, CRC, location) or whose
    /// identifier is not the one expected there.
    #[error("bad UDF descriptor (tag identifier {id}): {reason}")]
    BadUdfTag {
        /// The tag identifier read (0 when the tag is truncated).
        id: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// A chain of UDF descriptors (indirect entries, allocation extent descriptors, volume
    /// descriptor pointers) comes back to a block already read.
    #[error("UDF {0} form a loop")]
    UdfLoop(&'static str),
    /// AAIP attribute data (`AL` entries: extended attributes and ACLs) that is malformed.
    #[error("malformed AAIP attributes: {0}")]
    BadAaip(crate::iso9660::AaipError),
    /// zisofs-compressed data that is malformed (header, block pointers, zlib streams).
    #[error("malformed zisofs data: {0}")]
    BadZisofs(&'static str),
    /// A multi-extent file whose last part is missing.
    #[error("multi-extent file is not terminated (the directory ends while a part is flagged as not final)")]
    UnterminatedMultiExtent,
    /// The El Torito boot catalog is malformed.
    #[error("bad El Torito boot catalog: {0}")]
    BadBootCatalog(&'static str),
    /// An xorriso (libisofs) MD5 checksum tag that is malformed, damaged (its `self=`
    /// checksum does not match its text) or misplaced; the error's offset is the tag's.
    #[error("bad MD5 {tag}: {reason}")]
    BadMd5Tag {
        /// Which tag: "superblock tag", "tree tag", "session tag", "relocated superblock tag",
        /// or "checksum tag" when its type is unknown.
        tag: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The MD5 checksum array of an xorriso image (AAIP `isofs.ca` on the root, `isofs.cx` on
    /// files) is malformed.
    #[error("bad MD5 checksum array: {0}")]
    BadChecksumArray(&'static str),
    /// A path looked up does not exist.
    #[error("no such file or directory")]
    NotFound,
    /// A directory operation on something that is not a directory.
    #[error("not a directory")]
    NotADirectory,
    /// A content operation on something that is not a regular file.
    #[error("not a regular file")]
    NotAFile,
    /// The namespace asked for is not present in this image.
    #[error("the image has no {0} tree")]
    NoNamespace(crate::Namespace),
    /// An ISO 9660 tree method (`root`, `read_dir`, `walk`, `lookup`, ...) asked for
    /// [`Namespace::Udf`](crate::Namespace::Udf): the UDF tree is read through
    /// [`Image::udf`](crate::Image::udf).
    #[error("the UDF tree is not read by the ISO 9660 methods: use Image::udf()")]
    UdfNamespace,
    /// An I/O error opening or reading the image file.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// An error: what went wrong ([`ErrorKind`]), at which byte offset of the image, and at which
/// path inside it, when known.
///
/// Displayed as `offset 0x8800, path a/b: <what>`.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    offset: Option<u64>,
    path: Option<String>,
}

impl Error {
    /// An error of this kind with no location yet.
    pub fn new(kind: ErrorKind) -> Self {
        Error(Box::new(Inner {
            kind,
            offset: None,
            path: None,
        }))
    }

    /// An error of this kind at this byte offset of the image.
    pub fn at(kind: ErrorKind, offset: u64) -> Self {
        Error::new(kind).with_offset(offset)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Byte offset in the image where it went wrong, when known.
    pub fn offset(&self) -> Option<u64> {
        self.0.offset
    }

    /// Path inside the image (relative to the root) where it went wrong, when known.
    pub fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    /// Sets the offset unless one is already set (the innermost offset is the most precise).
    pub fn with_offset(mut self, offset: u64) -> Self {
        if self.0.offset.is_none() {
            self.0.offset = Some(offset);
        }
        self
    }

    /// Replaces the offset: for an error found at a target (a continuation area, a relocated
    /// directory) that is better located at the entry pointing there.
    pub(crate) fn relocate(mut self, offset: u64) -> Self {
        self.0.offset = Some(offset);
        self
    }

    /// Sets the path unless one is already set.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        if self.0.path.is_none() {
            self.0.path = Some(path.into());
        }
        self
    }

    /// A [`Limits`](crate::Limits) budget was exceeded: the error concerns the whole walk or
    /// extraction, never one directory ([`Walk::keep_going`](crate::iso9660::Walk::keep_going)
    /// stops on it).
    pub(crate) fn is_limit(&self) -> bool {
        matches!(self.kind(), ErrorKind::LimitExceeded { .. })
    }

    /// True for the errors that say the input is malformed or exceeds a limit (as opposed to
    /// I/O, a missing path or an unsupported feature).
    pub fn is_malformed(&self) -> bool {
        !matches!(
            self.kind(),
            ErrorKind::Io(_)
                | ErrorKind::NotFound
                | ErrorKind::NotADirectory
                | ErrorKind::NotAFile
                | ErrorKind::NoNamespace(_)
                | ErrorKind::UdfNamespace
                | ErrorKind::Unsupported(_)
        )
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.offset, &self.0.path) {
            (Some(o), Some(p)) => write!(f, "offset {o:#x}, path {}: ", display_path(p))?,
            (Some(o), None) => write!(f, "offset {o:#x}: ")?,
            (None, Some(p)) => write!(f, "path {}: ", display_path(p))?,
            (None, None) => {}
        }
        fmt::Display::fmt(&self.0.kind, f)
    }
}

fn display_path(p: &str) -> &str {
    if p.is_empty() {
        "/"
    } else {
        p
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("offset", &self.0.offset)
            .field("path", &self.0.path)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match e.kind() {
            ErrorKind::NotFound => std::io::ErrorKind::NotFound,
            ErrorKind::Unsupported(_) | ErrorKind::Interleaved { .. } => {
                std::io::ErrorKind::Unsupported
            }
            ErrorKind::Io(io) => io.kind(),
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e.to_string())
    }
}
