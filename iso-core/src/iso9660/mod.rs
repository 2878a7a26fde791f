//! The ISO 9660 reader: volume descriptors, directory records, SUSP and Rock Ridge, Joliet,
//! ISO 9660:1999 and El Torito.
//!
//! Start from [`Image::parse`] (or [`IsoFile`](crate::IsoFile)), pick a [`Namespace`], then
//! [`Image::walk`], [`Image::read_dir`] or [`Image::lookup`] to reach [`DirEntry`] values, and
//! [`Image::contents`] for their bytes.

mod aaip;
mod bytes;
mod contents;
mod date;
mod dirent;
mod eltorito;
mod layout;
#[cfg(feature = "md5")]
mod md5;
mod names;
mod prefetch;
mod susp;
mod tree;
mod volume;
mod zisofs;

#[cfg(feature = "md5")]
pub use self::md5::{
    BadMd5Tag, ChecksumArray, Md5Check, Md5Item, Md5Report, Md5Status, Md5Tag, Md5TagKind, Md5Tags,
};
pub use aaip::{AaipError, Acl, AclEntry, AclTag, Attributes, Xattr};
pub use contents::{Contents, ContentsReader, FileReader};
pub use date::Timestamp;
pub use eltorito::{BootCatalog, BootEntry, Emulation};
pub use layout::{
    Apm, ApmEntry, Gpt, GptBackup, GptEntry, HfsPlus, Layout, Mbr, MbrEntry, Session, Udf,
    UdfDescriptor,
};
pub use susp::ZisofsInfo;
pub use tree::{DirEntry, EntryKind, Extent, FileId, ReadDir, RockRidgeAttrs, Walk, WalkEntry};
pub use volume::{
    BootRecord, Image, Namespace, RockRidgeInfo, VolumeDescriptor, VolumeInfo, VolumeKind, Warning,
};

use crate::{Error, ErrorKind, Result};

/// `data[start..end]`, or an [`ErrorKind::OutOfBounds`] error naming `what`, at `start`.
pub(crate) fn slice<'d>(
    data: &'d [u8],
    start: u64,
    end: u64,
    what: &'static str,
) -> Result<&'d [u8]> {
    let oob = || {
        Error::at(
            ErrorKind::OutOfBounds {
                what,
                start,
                end,
                image_len: data.len() as u64,
            },
            start,
        )
    };
    if end < start {
        return Err(oob());
    }
    let s = usize::try_from(start).map_err(|_| oob())?;
    let e = usize::try_from(end).map_err(|_| oob())?;
    data.get(s..e).ok_or_else(oob)
}
