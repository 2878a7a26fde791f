//! File contents: borrowed slices of the image, and readers over them.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

use smallvec::SmallVec;

use super::susp::ZisofsInfo;
use super::tree::{DirEntry, EntryKind};
use super::volume::{Image, Namespace};
use super::zisofs::{self, ZisofsReader};

/// Where the zisofs parameters of a file come from.
enum ZfSource {
    /// The `ZF` of the Rock Ridge entry sharing its extent.
    Entry(ZisofsInfo),
    /// The file's own header (nothing else to go by).
    Header,
}
use crate::{Error, ErrorKind, Result};

/// The stored bytes of a file: one slice of the image per extent (one for most files).
#[derive(Clone, Debug, Default)]
pub struct Contents<'data> {
    parts: SmallVec<[&'data [u8]; 1]>,
    len: u64,
}

impl<'data> Contents<'data> {
    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slices, in file order.
    pub fn parts(&self) -> &[&'data [u8]] {
        &self.parts
    }

    /// The content of one slice (unit tests).
    #[cfg(test)]
    pub(crate) fn from_slice(b: &'data [u8]) -> Self {
        let mut parts = SmallVec::new();
        if !b.is_empty() {
            parts.push(b);
        }
        Contents {
            parts,
            len: b.len() as u64,
        }
    }

    /// The whole content as one borrowed slice, when it is stored in one extent.
    pub fn as_slice(&self) -> Option<&'data [u8]> {
        match self.parts.as_slice() {
            [] => Some(&[]),
            [one] => Some(one),
            _ => None,
        }
    }

    /// The content copied into one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        for p in &self.parts {
            v.extend_from_slice(p);
        }
        v
    }

    /// A `Read + Seek + BufRead` stream over the parts.
    pub fn reader(&self) -> ContentsReader<'data> {
        ContentsReader {
            parts: self.parts.clone(),
            len: self.len,
            pos: 0,
        }
    }

    /// Writes every part to `w`, returning the bytes written.
    pub fn write_to(&self, w: &mut impl io::Write) -> io::Result<u64> {
        for p in &self.parts {
            w.write_all(p)?;
        }
        Ok(self.len)
    }
}

/// A `Read + Seek + BufRead` stream over [`Contents`]; `fill_buf` hands out slices of the
/// image, so `io::copy` through it copies once.
#[derive(Clone, Debug)]
pub struct ContentsReader<'data> {
    parts: SmallVec<[&'data [u8]; 1]>,
    len: u64,
    pos: u64,
}

impl<'data> ContentsReader<'data> {
    /// The unread bytes of the current part.
    fn current(&self) -> &'data [u8] {
        let mut base = 0u64;
        for p in &self.parts {
            let end = base + p.len() as u64;
            if self.pos < end {
                return &p[(self.pos - base) as usize..];
            }
            base = end;
        }
        &[]
    }
}

impl Read for ContentsReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let cur = self.current();
        let n = cur.len().min(buf.len());
        buf[..n].copy_from_slice(&cur[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl BufRead for ContentsReader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.current())
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt as u64).min(self.len);
    }
}

impl Seek for ContentsReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = seek_to(pos, self.pos, self.len)?;
        Ok(self.pos)
    }
}

pub(crate) fn seek_to(pos: SeekFrom, cur: u64, len: u64) -> io::Result<u64> {
    let target = match pos {
        SeekFrom::Start(n) => Some(n),
        SeekFrom::End(d) => len.checked_add_signed(d),
        SeekFrom::Current(d) => cur.checked_add_signed(d),
    };
    target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before byte 0"))
}

/// A `Read + Seek` stream over a file's content, decompressing zisofs files on the fly.
pub enum FileReader<'data> {
    /// Stored bytes, read in place.
    Stored(ContentsReader<'data>),
    /// zisofs-compressed bytes, inflated block by block.
    Zisofs(ZisofsReader<'data>),
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            FileReader::Stored(r) => r.read(buf),
            FileReader::Zisofs(r) => r.read(buf),
        }
    }
}

impl Seek for FileReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            FileReader::Stored(r) => r.seek(pos),
            FileReader::Zisofs(r) => r.seek(pos),
        }
    }
}

impl<'data> Image<'data> {
    /// The stored bytes of regular file `entry`, as slices of the image.
    ///
    /// Fails with [`ErrorKind::OutOfBounds`] when an extent lies past the end of the image
    /// (never short or stale bytes), [`ErrorKind::Interleaved`] for interleaved files, and
    /// [`ErrorKind::Unsupported`] for zisofs- or zisofs2-compressed or sparse files, whose
    /// stored bytes are not their content: read those with [`Image::reader`]. In the primary
    /// tree (plain ISO 9660) a zisofs file is its stored bytes.
    pub fn contents(&self, entry: &DirEntry<'data>) -> Result<Contents<'data>> {
        let c = self.stored(entry)?;
        if entry.zisofs.is_some() || self.foreign_zf(entry, &c).is_some() {
            return Err(Error::at(
                ErrorKind::Unsupported(
                    "zero-copy access to zisofs-compressed content (use a reader)",
                ),
                entry.record_offset(),
            ));
        }
        Ok(c)
    }

    /// A `Read + Seek` stream over the content of regular file `entry`: the stored bytes, or
    /// the inflated bytes of a zisofs or zisofs2 file (compressed bytes are never handed out as
    /// the file: an algorithm other than zlib is [`ErrorKind::Unsupported`], naming it). The
    /// primary tree is plain ISO 9660: there a zisofs file reads as its stored bytes.
    pub fn reader(&self, entry: &DirEntry<'data>) -> Result<FileReader<'data>> {
        let c = self.stored(entry)?;
        if let Some(zf) = entry.zisofs() {
            return ZisofsReader::new(&c, Some(zf))
                .map(FileReader::Zisofs)
                .map_err(|e| e.with_offset(entry.record_offset()));
        }
        if let Some(src) = self.foreign_zf(entry, &c) {
            let zf = match src {
                ZfSource::Entry(zf) => Some(zf),
                ZfSource::Header => None,
            };
            return ZisofsReader::new(&c, zf.as_ref())
                .map(FileReader::Zisofs)
                .map_err(|e| e.with_offset(entry.record_offset()));
        }
        Ok(FileReader::Stored(c.reader()))
    }

    /// The `ZF` (or `Z2`) of a file read through a tree without System Use data: the Joliet
    /// or ISO 9660:1999 tree of a Rock Ridge image (the entry of the Rock Ridge file sharing
    /// its extent). Only files whose stored bytes start with the zisofs or zisofs2 magic are
    /// looked up; a plain file that merely starts with those bytes is stored as is, and is
    /// read as is. Never for the primary tree, which is plain ISO 9660.
    fn foreign_zf(&self, entry: &DirEntry<'data>, c: &Contents<'data>) -> Option<ZfSource> {
        let magic = c.parts().first().is_some_and(|p| zisofs::has_magic(p));
        if !magic {
            return None;
        }
        if self.rock_ridge.is_none()
            || !matches!(entry.namespace(), Namespace::Joliet | Namespace::Enhanced)
        {
            return None;
        }
        let lba = entry.extents().first()?.lba;
        match self.zf_extents.get_or_init(|| self.collect_zf()) {
            Some(map) => map.get(&lba).copied().map(ZfSource::Entry),
            // The Rock Ridge tree is unreadable: the magic decides.
            None => Some(ZfSource::Header),
        }
    }

    fn collect_zf(&self) -> Option<std::collections::HashMap<u32, ZisofsInfo>> {
        let mut map = std::collections::HashMap::new();
        let mut walk = self.walk(Namespace::RockRidge).ok()?;
        while let Some(item) = walk.next_entry() {
            let (_, e) = item.ok()?;
            if let (Some(zf), Some(x)) = (e.zisofs(), e.extents().first()) {
                map.insert(x.lba, *zf);
            }
        }
        Some(map)
    }

    fn stored(&self, entry: &DirEntry<'data>) -> Result<Contents<'data>> {
        if entry.kind() != EntryKind::File {
            return Err(Error::at(ErrorKind::NotAFile, entry.record_offset()));
        }
        if let Some((unit_size, gap)) = entry.interleave {
            return Err(Error::at(
                ErrorKind::Interleaved { unit_size, gap },
                entry.record_offset(),
            ));
        }
        if entry.sparse {
            return Err(Error::at(
                ErrorKind::Unsupported("Rock Ridge sparse file (SF)"),
                entry.record_offset(),
            ));
        }
        let ctx = self.ctx(entry.namespace());
        let mut parts = SmallVec::new();
        let mut len = 0u64;
        for e in entry.extents() {
            let s = ctx.extent_bytes(e, "file extent")?;
            len += s.len() as u64;
            if !s.is_empty() {
                parts.push(s);
            }
        }
        Ok(Contents { parts, len })
    }
}
