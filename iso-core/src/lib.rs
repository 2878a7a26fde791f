//! # iso-core
//!
//! A safe, zero-copy reader for ISO 9660 images (with Rock Ridge, Joliet and El Torito), and
//! (in later versions) the model of a MetalK8s *Solution* archive stored in such an image.
//!
//! The reader works over a borrowed byte slice: a memory map of the image file
//! ([`IsoFile::open`]), an owned buffer ([`IsoFile::read`], [`IsoFile::from_vec`]) or any
//! `&[u8]` ([`Image::parse`]). File contents are handed out as slices of that one buffer; nothing
//! is copied until the caller asks for it.
//!
//! ```
//! use iso_core::{IsoFile, Namespace};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let file = IsoFile::open("../tests/solutions/example-solution-1.0.2.iso")?;
//! let image = file.image()?;
//! for item in image.walk(image.default_namespace())? {
//!     let item = item?;
//!     println!("{} {} bytes", item.path, item.entry.size());
//! }
//! let manifest = image.lookup(Namespace::RockRidge, "manifest.yaml")?;
//! let bytes = image.contents(&manifest)?; // borrowed from the mapping
//! # let _ = bytes; Ok(()) }
//! ```
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | (none) | | the reader; [`SharedImage`] to keep a parsed image beside its mapping |
//! | `serde` | via `solution` | `Serialize` for the reader's public types |
//! | `solution` | yes | `solution` (the MetalK8s Solution model, validation, signatures), `digest`, `sha256x2`, `SharedSolution` |
//! | `extract` | yes | `extract`: safe extraction to a directory (Unix) |
//! | `write` | | `write`: an ISO 9660 writer (level 3, Rock Ridge, Joliet; streaming, reproducible) |
//! | `md5` | yes (and via `solution`) | [`Image::md5_tags`], [`Image::check_md5`]: xorriso's MD5 tags, checksum array and per-file MD5s |
//!
//! With `default-features = false` the crate links only nom, memmap2, thiserror, smallvec,
//! flate2 and self_cell.
//!
//! Every length and offset read from the image is checked before use; work is bounded by
//! [`Limits`]; errors are typed ([`Error`], [`ErrorKind`]) and carry the byte offset and the path
//! inside the image where they happened. No input makes the reader panic, loop forever or
//! allocate without bound.
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "solution")]
pub mod digest;
mod error;
#[cfg(all(feature = "extract", unix))]
pub mod extract;
mod file;
pub mod iso9660;
mod limits;
#[cfg(feature = "solution")]
pub mod sha256x2;
mod shared;
#[cfg(feature = "solution")]
pub mod solution;
pub mod udf;
#[cfg(feature = "write")]
pub mod write;

pub use error::{Error, ErrorKind, Result};
pub use file::IsoFile;
pub use iso9660::{AaipError, Acl, AclEntry, AclTag, Attributes, Xattr};
#[cfg(feature = "md5")]
pub use iso9660::{
    BadMd5Tag, ChecksumArray, Md5Check, Md5Item, Md5Report, Md5Status, Md5Tag, Md5TagKind, Md5Tags,
};
pub use iso9660::{
    BootCatalog, BootEntry, Contents, ContentsReader, DirEntry, Emulation, EntryKind, Extent,
    FileId, Image, Namespace, ReadDir, Timestamp, VolumeInfo, Walk, WalkEntry, Warning,
};
pub use limits::Limits;
pub use shared::SharedImage;
#[cfg(feature = "solution")]
pub use shared::SharedSolution;
