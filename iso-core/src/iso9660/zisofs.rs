//! zisofs (v1) decompression: a paged zlib format used with Rock Ridge `ZF`.
//!
//! Layout of a compressed file: a 16-byte header (magic, uncompressed size LE32, header
//! size / 4, log2 block size), then `ceil(size / block) + 1` LE32 block pointers, then zlib
//! streams. A block whose two pointers are equal is all zeros. Every pointer is checked against
//! the stored bytes, block sizes are 32, 64 or 128 KiB, and a block never inflates past its
//! size: memory stays at one block whatever the header claims.

use std::io::{self, Read, Seek, SeekFrom};

use super::bytes::le_u32_at;
use super::contents::{seek_to, Contents};
use super::susp::ZisofsInfo;
use crate::{Error, ErrorKind, Result};

/// The zisofs v1 file magic.
pub(crate) const MAGIC: [u8; 8] = [0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];

/// A `ZF` entry this reader can decompress.
pub(crate) fn valid_zf(zf: &ZisofsInfo) -> bool {
    &zf.algorithm == b"pz" && (15..=17).contains(&zf.log2_block_size)
}

fn bad(reason: &'static str) -> Error {
    Error::new(ErrorKind::BadZisofs(reason))
}

fn unsupported(what: &'static str) -> Error {
    Error::new(ErrorKind::Unsupported(what))
}

/// Inflates a zisofs file block by block.
pub struct ZisofsReader<'data> {
    data: &'data [u8],
    size: u64,
    log2: u8,
    table: usize,
    pos: u64,
    block: Option<u64>,
    buf: Vec<u8>,
}

impl<'data> ZisofsReader<'data> {
    pub(crate) fn new(c: &Contents<'data>, zf: Option<&ZisofsInfo>) -> Result<Self> {
        let data = c
            .as_slice()
            .ok_or_else(|| unsupported("zisofs content split over several extents"))?;
        if let Some(zf) = zf {
            if &zf.algorithm != b"pz" {
                return Err(unsupported("zisofs algorithm other than zlib (zisofs2)"));
            }
            if !(15..=17).contains(&zf.log2_block_size) {
                return Err(bad("zisofs block size outside 32 KiB to 128 KiB"));
            }
        }
        if !data.starts_with(&MAGIC) || data.len() < 16 {
            return Err(bad("zisofs file without its header"));
        }
        let size = u64::from(le_u32_at(data, 8).unwrap_or(0));
        let hdr = usize::from(data[12]) * 4;
        let log2 = data[13];
        if !(15..=17).contains(&log2) {
            return Err(bad("zisofs block size outside 32 KiB to 128 KiB"));
        }
        if let Some(zf) = zf {
            if u64::from(zf.uncompressed_size) != size || zf.log2_block_size != log2 {
                return Err(bad("zisofs header disagrees with its ZF entry"));
            }
        }
        let blocks = size.div_ceil(1 << log2);
        let table_end = (hdr as u64) + (blocks + 1) * 4;
        if hdr < 16 || table_end > data.len() as u64 {
            return Err(bad("zisofs block pointers run past the stored bytes"));
        }
        Ok(ZisofsReader {
            data,
            size,
            log2,
            table: hdr,
            pos: 0,
            block: None,
            buf: Vec::new(),
        })
    }

    /// Uncompressed size.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    fn load(&mut self, idx: u64) -> io::Result<()> {
        let invalid = |m: &'static str| io::Error::new(io::ErrorKind::InvalidData, m);
        let bs = 1u64 << self.log2;
        let want = (self.size - idx * bs).min(bs) as usize;
        let at = self.table + idx as usize * 4;
        let (p0, p1) = match (le_u32_at(self.data, at), le_u32_at(self.data, at + 4)) {
            (Some(a), Some(b)) => (a as usize, b as usize),
            _ => return Err(invalid("zisofs: block pointer out of range")),
        };
        self.buf.clear();
        if p0 == p1 {
            self.buf.resize(want, 0);
        } else {
            let src = self
                .data
                .get(p0..p1)
                .filter(|_| p0 >= self.table)
                .ok_or_else(|| invalid("zisofs: block pointers out of order or past the data"))?;
            self.buf.reserve_exact(want);
            let mut z = flate2::Decompress::new(true);
            let st = z
                .decompress_vec(src, &mut self.buf, flate2::FlushDecompress::Finish)
                .map_err(|_| invalid("zisofs: corrupt zlib block"))?;
            if st != flate2::Status::StreamEnd || self.buf.len() != want {
                return Err(invalid("zisofs: block does not inflate to its size"));
            }
        }
        self.block = Some(idx);
        Ok(())
    }
}

impl Read for ZisofsReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || out.is_empty() {
            return Ok(0);
        }
        let bs = 1u64 << self.log2;
        let idx = self.pos / bs;
        if self.block != Some(idx) {
            self.load(idx)?;
        }
        let off = (self.pos - idx * bs) as usize;
        let avail = &self.buf[off..];
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ZisofsReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = seek_to(pos, self.pos, self.size)?;
        Ok(self.pos)
    }
}
