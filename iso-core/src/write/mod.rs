//! An ISO 9660 writer (feature `write`): level 3 with Rock Ridge (RRIP 1.12) and Joliet, for
//! any tree, built in memory ([`IsoBuilder::add_dir`], [`IsoBuilder::add_file`], …) or from a
//! directory on disk ([`IsoBuilder::from_dir`]), written in one streaming pass
//! ([`IsoBuilder::write_to`], [`IsoBuilder::write_file`]).
//!
//! ```
//! use iso_core::write::{IsoBuilder, Meta, Source, WriteOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut b = IsoBuilder::new(WriteOptions { volume_id: "EXAMPLE".into(), ..Default::default() });
//! b.add_dir("dir", Meta::new(0o755))?;
//! b.add_file("dir/manifest.yaml", Meta::new(0o644), Source::bytes(b"kind: Solution\n".to_vec()))?;
//! b.add_symlink("link", Meta::new(0o777), "dir/manifest.yaml")?;
//! let mut iso = Vec::new();
//! b.write_to(&mut iso)?;
//! let image = iso_core::Image::parse(&iso)?;
//! let e = image.lookup(iso_core::Namespace::Primary, "DIR/MANIFEST.YAML;1")?;
//! assert_eq!(image.contents(&e)?.to_vec(), b"kind: Solution\n");
//! # Ok(()) }
//! ```
//!
//! # The image
//!
//! - Volume descriptors at sector 16 (primary, Joliet supplementary, terminator), then the
//!   path tables (L and M, primary then Joliet), the primary directories (each followed by
//!   its SUSP continuation areas, where libarchive looks for them, as genisoimage places
//!   them), the Joliet directories, and the file data, in the Rock Ridge path order of each
//!   file's first name. Sectors 0 to 15 are zero.
//! - Rock Ridge: `SP` and `ER` (`RRIP_1991A`) on the root, `RR`, `PX` (with inode numbers:
//!   hard links share one, and one extent), `TF` (modify, access, attributes), `NM`, `SL`;
//!   entries that do not fit in a directory record go to continuation areas (`CE`). Devices,
//!   FIFOs and sockets are not written ([`WriteError::Unsupported`]).
//! - Deep trees are written as they are, without relocation (`RR_MOVED`, `CL`/`PL`/`RE`):
//!   ECMA-119's limit of 8 levels is one that none of the readers checked by the tests
//!   enforce (isoinfo, bsdtar, 7-Zip, xorriso, pycdlib, Linux, and this crate's reader), and
//!   xorriso does the same by default (`-compliance deep_paths`). Relocation would make the
//!   primary and Joliet trees differ from the Rock Ridge one for no reader's benefit.
//! - Primary names as genisoimage makes them with `-l -iso-level 3` (`MANIFEST.YAML;1`);
//!   Joliet names up to 103 UTF-16 units (`-joliet-long`; longer ones are cut), characters
//!   beyond U+FFFF and `* / : ; ? \` written `_`. Names that become equal in one directory
//!   get a counter (`NAME000.EXT;1`, …), given in Rock Ridge name order. Symlinks are left
//!   out of the Joliet tree (Joliet has no links).
//! - Files of 4 GiB and more are recorded in several extents (multi-extent, as genisoimage
//!   `-iso-level 3` does), each but the last of 0xFFFFF800 bytes; empty files point at
//!   sector 0.
//! - Other readers' limits, not the writer's: xorriso (libisofs) refuses symlink targets over
//!   1,024 bytes (and then reads no tree), and libarchive misreads a target whose `SL`
//!   entries must break between two `.`/`..` components (more than 125 of them in a row);
//!   elsewhere entries break inside a name, which every reader here joins correctly.
//! - Reproducible: the bytes depend only on the entries and the options, never on the order
//!   in which entries were added or a directory was read. With
//!   [`WriteOptions::source_date_epoch`] every time (entries and volume) is that one.

mod emit;
mod layout;
mod names;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The sector size.
pub const SECTOR: u64 = 2048;

/// Longest symlink target accepted (Linux's `PATH_MAX` less the NUL).
pub const MAX_LINK: usize = 4095;

/// Why an image could not be built or written. Each variant names what it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The path was added before.
    #[error("{path:?}: already in the tree")]
    Duplicate {
        /// The path in the image.
        path: String,
    },
    /// The parent directory was not added (parents are never created implicitly: add them
    /// first, with their metadata).
    #[error("{path:?}: parent directory {parent:?} is not in the tree (add it first)")]
    ParentMissing {
        /// The path in the image.
        path: String,
        /// Its parent.
        parent: String,
    },
    /// The parent is a file or a symlink.
    #[error("{path:?}: parent {parent:?} is not a directory")]
    ParentNotDirectory {
        /// The path in the image.
        path: String,
        /// Its parent.
        parent: String,
    },
    /// A path component is empty, `.` or `..`, holds NUL, or is longer than 255 bytes.
    #[error("{path:?}: invalid name: {reason}")]
    InvalidName {
        /// The path (lossily converted when not UTF-8).
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A symlink target is empty, holds NUL or is longer than [`MAX_LINK`] bytes.
    #[error("{path:?}: invalid symlink target: {reason}")]
    InvalidTarget {
        /// The path of the symlink.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// [`IsoBuilder::add_hardlink`] to something that is not a regular file of the tree.
    #[error("{path:?}: hard link to {target:?}, which is not a regular file in the tree")]
    LinkTarget {
        /// The new name.
        path: String,
        /// The existing path.
        target: String,
    },
    /// An option is out of range (an identifier too long or not ASCII, for example).
    #[error("option {field}: {reason}")]
    InvalidOption {
        /// The option.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A file on disk is a device, FIFO or socket.
    #[error("{path:?}: {kind} not supported (only directories, regular files and symlinks)")]
    Unsupported {
        /// The path on disk.
        path: PathBuf,
        /// Its type.
        kind: &'static str,
    },
    /// A source gave another number of bytes than declared (a file on disk changed size
    /// while it was copied, or a writer source wrote more or less than its length).
    #[error(
        "{path:?}: source changed: {expected} bytes declared, {actual} {}",
        if actual > expected { "or more written" } else { "given" }
    )]
    SourceChanged {
        /// The path in the image.
        path: String,
        /// The declared size.
        expected: u64,
        /// What the source gave (at least this much when more than expected).
        actual: u64,
    },
    /// The image would exceed what ISO 9660 can address (2^32 sectors, 65,535 directories
    /// in the path table, 36^3 names clashing in one directory).
    #[error("the image is too large: {what}")]
    TooLarge {
        /// What overflowed.
        what: String,
    },
    /// An I/O error on a source or on the output file.
    #[error("{path:?}: {op}: {error}")]
    Io {
        /// The path on disk (error: source, directory scanned, or output).
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The error (in the message, not a separate cause, so that it is said once).
        error: io::Error,
    },
    /// Writing the image failed.
    #[error("writing the image at byte {offset}: {error}")]
    Output {
        /// Bytes of the image written before the error.
        offset: u64,
        /// The error (in the message).
        error: io::Error,
    },
    /// `SOURCE_DATE_EPOCH` is set but is not an integer.
    #[error("SOURCE_DATE_EPOCH={value:?} is not a number of seconds")]
    BadSourceDateEpoch {
        /// The variable's value.
        value: String,
    },
}

/// Owner, permissions and times of an entry (Rock Ridge `PX` and `TF`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Meta {
    /// Permission bits, setuid, setgid and sticky (`0o7777`); the type bits are the writer's.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since 1970 UTC (also the directory record's date).
    pub mtime: i64,
    /// Access time.
    pub atime: i64,
    /// Attribute change time.
    pub ctime: i64,
}

impl Meta {
    /// `mode`, owner root, every time 0 (1970-01-01).
    pub fn new(mode: u32) -> Meta {
        Meta {
            mode: mode & 0o7777,
            ..Meta::default()
        }
    }

    /// The same with every time set to `t`.
    pub fn at(self, t: i64) -> Meta {
        Meta {
            mtime: t,
            atime: t,
            ctime: t,
            ..self
        }
    }

    /// From file metadata (`lstat`).
    #[cfg(unix)]
    pub fn from_metadata(md: &std::fs::Metadata) -> Meta {
        use std::os::unix::fs::MetadataExt;
        Meta {
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            mtime: md.mtime(),
            atime: md.atime(),
            ctime: md.ctime(),
        }
    }
}

/// A writer source: called once, at its place in the image, it must write exactly its
/// declared number of bytes.
pub type WriteFn = Box<dyn FnMut(&mut dyn Write) -> io::Result<()> + Send>;

/// Where a file's bytes come from.
pub enum Source {
    /// Bytes in memory.
    Bytes(Cow<'static, [u8]>),
    /// A regular file on disk, opened (without following symlinks) when its turn comes; its
    /// size must still be `size` then and while it is copied.
    File {
        /// The file.
        path: PathBuf,
        /// Its size when added.
        size: u64,
    },
    /// A function writing exactly `size` bytes.
    Writer {
        /// The bytes it writes.
        size: u64,
        /// The function.
        write: WriteFn,
    },
}

impl Source {
    /// Bytes in memory.
    pub fn bytes(b: impl Into<Cow<'static, [u8]>>) -> Source {
        Source::Bytes(b.into())
    }

    /// A file on disk, its size taken now (`lstat`: a symlink is refused).
    pub fn file(path: impl Into<PathBuf>) -> Result<Source, WriteError> {
        let path = path.into();
        let md = std::fs::symlink_metadata(&path).map_err(|source| WriteError::Io {
            path: path.clone(),
            op: "lstat",
            error: source,
        })?;
        if !md.is_file() {
            return Err(WriteError::Unsupported {
                path,
                kind: kind_of(&md.file_type()),
            });
        }
        Ok(Source::File {
            size: md.len(),
            path,
        })
    }

    /// A function writing exactly `size` bytes.
    pub fn writer(
        size: u64,
        write: impl FnMut(&mut dyn Write) -> io::Result<()> + Send + 'static,
    ) -> Source {
        Source::Writer {
            size,
            write: Box::new(write),
        }
    }

    /// The number of bytes.
    pub fn size(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::File { size, .. } | Source::Writer { size, .. } => *size,
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Source::File { path, size } => write!(f, "File({path:?}, {size} bytes)"),
            Source::Writer { size, .. } => write!(f, "Writer({size} bytes)"),
        }
    }
}

fn kind_of(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_block_device() {
            return "block device";
        }
        if ft.is_char_device() {
            return "character device";
        }
        if ft.is_fifo() {
            return "FIFO";
        }
        if ft.is_socket() {
            return "socket";
        }
    }
    if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// The volume's identifiers and how times are chosen.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Volume identifier (at most 32 printable ASCII characters; also the Joliet one, cut to
    /// 16). MetalK8s's example Solution uses `NAME-VERSION` style ids; genisoimage's
    /// default is `CDROM`.
    pub volume_id: String,
    /// System identifier (32), `LINUX` as genisoimage writes by default.
    pub system_id: String,
    /// Volume set identifier (128).
    pub volume_set_id: String,
    /// Publisher identifier (128).
    pub publisher: String,
    /// Data preparer identifier (128).
    pub data_preparer: String,
    /// Application identifier (128).
    pub application_id: String,
    /// When set, every time in the image (entries' and the volume's) is this one, seconds
    /// since 1970 ([`source_date_epoch_from_env`] reads the variable).
    pub source_date_epoch: Option<i64>,
    /// The volume's creation and modification time when `source_date_epoch` is not set;
    /// `None`: the newest `mtime` of the entries (so that the image stays reproducible).
    pub volume_time: Option<i64>,
    /// Write the Joliet tree (default `true`).
    pub joliet: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            volume_id: "CDROM".into(),
            system_id: "LINUX".into(),
            volume_set_id: String::new(),
            publisher: String::new(),
            data_preparer: String::new(),
            application_id: concat!("ISO-CORE ", env!("CARGO_PKG_VERSION")).into(),
            source_date_epoch: None,
            volume_time: None,
            joliet: true,
        }
    }
}

/// `SOURCE_DATE_EPOCH` from the environment: `None` when unset or empty.
pub fn source_date_epoch_from_env() -> Result<Option<i64>, WriteError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| WriteError::BadSourceDateEpoch { value: v }),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(WriteError::BadSourceDateEpoch {
            value: v.to_string_lossy().into_owned(),
        }),
    }
}

/// A progress callback: bytes of the image written so far, and the image's total size.
pub type Progress = Box<dyn FnMut(u64, u64) + Send>;

pub(crate) enum Entry {
    Dir(Meta),
    File { meta: Meta, content: usize },
    Symlink { meta: Meta, target: String },
}

/// An ISO image being assembled: add entries, then write it once.
pub struct IsoBuilder {
    pub(crate) options: WriteOptions,
    pub(crate) root: Meta,
    pub(crate) entries: BTreeMap<String, Entry>,
    pub(crate) contents: Vec<Source>,
    pub(crate) progress: Option<Progress>,
}

impl fmt::Debug for IsoBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsoBuilder")
            .field("options", &self.options)
            .field("entries", &self.entries.len())
            .field("contents", &self.contents.len())
            .finish()
    }
}

/// Checks and normalizes a path: `/`-separated, leading and trailing `/` ignored; `""` is
/// the root.
fn normalize(path: &str) -> Result<String, WriteError> {
    let p = path.trim_matches('/');
    let bad = |reason| WriteError::InvalidName {
        path: path.to_string(),
        reason,
    };
    if p.is_empty() {
        return Ok(String::new());
    }
    for c in p.split('/') {
        if c.is_empty() {
            return Err(bad("empty component"));
        }
        if c == "." || c == ".." {
            return Err(bad("`.` or `..` component"));
        }
        if c.contains('\0') {
            return Err(bad("NUL in a name"));
        }
        if c.len() > 255 {
            return Err(bad("a name longer than 255 bytes"));
        }
    }
    Ok(p.to_string())
}

impl IsoBuilder {
    /// An empty tree (the root directory has mode 0755, owner root, time 0 until
    /// [`IsoBuilder::add_dir`] of `""` or `/` sets it).
    pub fn new(options: WriteOptions) -> IsoBuilder {
        IsoBuilder {
            options,
            root: Meta::new(0o755),
            entries: BTreeMap::new(),
            contents: Vec::new(),
            progress: None,
        }
    }

    /// Calls `f(written, total)` as the image is written (after each file's data and each
    /// few MiB).
    pub fn set_progress(&mut self, f: impl FnMut(u64, u64) + Send + 'static) {
        self.progress = Some(Box::new(f));
    }

    /// The number of entries added (the root excluded).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether only the root is there.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn insert(&mut self, path: &str, entry: Entry) -> Result<(), WriteError> {
        let p = normalize(path)?;
        if p.is_empty() {
            return Err(WriteError::Duplicate { path: "/".into() });
        }
        if let Some((parent, _)) = p.rsplit_once('/') {
            match self.entries.get(parent) {
                Some(Entry::Dir(_)) => {}
                Some(_) => {
                    return Err(WriteError::ParentNotDirectory {
                        path: p.clone(),
                        parent: parent.into(),
                    })
                }
                None => {
                    return Err(WriteError::ParentMissing {
                        path: p.clone(),
                        parent: parent.into(),
                    })
                }
            }
        }
        if self.entries.contains_key(&p) {
            return Err(WriteError::Duplicate { path: p });
        }
        self.entries.insert(p, entry);
        Ok(())
    }

    /// Adds a directory (its parent must be there). `""` or `/` sets the root's metadata.
    pub fn add_dir(&mut self, path: &str, meta: Meta) -> Result<(), WriteError> {
        if normalize(path)?.is_empty() {
            self.root = meta;
            return Ok(());
        }
        self.insert(path, Entry::Dir(meta))
    }

    /// Adds a regular file.
    pub fn add_file(&mut self, path: &str, meta: Meta, source: Source) -> Result<(), WriteError> {
        let content = self.contents.len();
        self.insert(path, Entry::File { meta, content })?;
        self.contents.push(source);
        Ok(())
    }

    /// Adds a symbolic link to `target` (relative or absolute, not checked to exist).
    pub fn add_symlink(&mut self, path: &str, meta: Meta, target: &str) -> Result<(), WriteError> {
        let bad = |reason| WriteError::InvalidTarget {
            path: path.to_string(),
            reason,
        };
        if target.is_empty() {
            return Err(bad("empty"));
        }
        if target.contains('\0') {
            return Err(bad("NUL in the target"));
        }
        if target.len() > MAX_LINK {
            return Err(bad("longer than 4095 bytes"));
        }
        self.insert(
            path,
            Entry::Symlink {
                meta,
                target: target.to_string(),
            },
        )
    }

    /// Adds `path` as another name of the regular file `existing` (same extent, same inode
    /// number, the link count of each name the number of names). The new name has the same
    /// metadata (POSIX hard links share it).
    pub fn add_hardlink(&mut self, path: &str, existing: &str) -> Result<(), WriteError> {
        let target = normalize(existing)?;
        let (meta, content) = match self.entries.get(&target) {
            Some(Entry::File { meta, content }) => (*meta, *content),
            _ => {
                return Err(WriteError::LinkTarget {
                    path: path.into(),
                    target,
                })
            }
        };
        self.insert(path, Entry::File { meta, content })
    }

    /// A builder holding the tree under `dir` (`lstat`-based: symlinks are recorded, never
    /// followed; hard links are found by device and inode; entries are read in name order,
    /// so the result does not depend on the order of the directory on disk). The root
    /// directory's metadata is `dir`'s. Files are read when the image is written.
    #[cfg(unix)]
    pub fn from_dir(
        dir: impl AsRef<Path>,
        options: WriteOptions,
    ) -> Result<IsoBuilder, WriteError> {
        let dir = dir.as_ref();
        let mut b = IsoBuilder::new(options);
        let md = std::fs::symlink_metadata(dir).map_err(|source| WriteError::Io {
            path: dir.into(),
            op: "lstat",
            error: source,
        })?;
        if !md.is_dir() {
            return Err(WriteError::Unsupported {
                path: dir.into(),
                kind: kind_of(&md.file_type()),
            });
        }
        b.root = Meta::from_metadata(&md);
        let mut inodes = HashMap::new();
        b.scan(dir, "", &mut inodes)?;
        Ok(b)
    }

    #[cfg(unix)]
    fn scan(
        &mut self,
        dir: &Path,
        rel: &str,
        inodes: &mut HashMap<(u64, u64), String>,
    ) -> Result<(), WriteError> {
        use std::os::unix::fs::MetadataExt;
        let io = |path: &Path, op| {
            let path = path.to_path_buf();
            move |source| WriteError::Io {
                path,
                op,
                error: source,
            }
        };
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io(dir, "read_dir"))? {
            let e = e.map_err(io(dir, "read_dir"))?;
            let name = e.file_name();
            match name.into_string() {
                Ok(n) => names.push(n),
                Err(n) => {
                    return Err(WriteError::InvalidName {
                        path: dir.join(n).to_string_lossy().into_owned(),
                        reason: "not UTF-8",
                    })
                }
            }
        }
        names.sort_unstable();
        for name in names {
            let abs = dir.join(&name);
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let md = std::fs::symlink_metadata(&abs).map_err(io(&abs, "lstat"))?;
            let meta = Meta::from_metadata(&md);
            let ft = md.file_type();
            if ft.is_dir() {
                self.add_dir(&path, meta)?;
                self.scan(&abs, &path, inodes)?;
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&abs).map_err(io(&abs, "readlink"))?;
                let t = t.to_str().ok_or_else(|| WriteError::InvalidTarget {
                    path: path.clone(),
                    reason: "not UTF-8",
                })?;
                self.add_symlink(&path, meta, t)?;
            } else if ft.is_file() {
                if md.nlink() > 1 {
                    if let Some(first) = inodes.get(&(md.dev(), md.ino())) {
                        self.add_hardlink(&path, &first.clone())?;
                        continue;
                    }
                    inodes.insert((md.dev(), md.ino()), path.clone());
                }
                self.add_file(
                    &path,
                    meta,
                    Source::File {
                        path: abs,
                        size: md.len(),
                    },
                )?;
            } else {
                return Err(WriteError::Unsupported {
                    path: abs,
                    kind: kind_of(&ft),
                });
            }
        }
        Ok(())
    }

    /// The size of the image in bytes (the layout is computed: names, records, extents).
    pub fn image_size(&self) -> Result<u64, WriteError> {
        Ok(layout::Layout::compute(self)?.total_sectors * SECTOR)
    }

    /// Writes the image to `out` in one pass (the layout is computed first from the sizes),
    /// through a 1 MiB buffer; returns the number of bytes written.
    pub fn write_to<W: Write>(self, out: W) -> Result<u64, WriteError> {
        let mut out = out;
        emit::write(self, &mut out, None, None)
    }

    /// Writes the image to the file `path`: first to a new temporary file in the same
    /// directory (created exclusively, so never through a symlink), renamed to `path` once
    /// complete; the temporary file is removed on error. Data of [`Source::File`] sources is
    /// copied with `copy_file_range` where the kernel offers it.
    pub fn write_file(self, path: impl AsRef<Path>) -> Result<u64, WriteError> {
        emit::write_file(self, path.as_ref())
    }
}
