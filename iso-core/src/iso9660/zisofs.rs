//! zisofs and zisofs2 decompression: paged zlib formats marked by Rock Ridge `ZF` (version 1
//! for zisofs, version 2 for zisofs2) or `Z2` (zisofs2).
//!
//! zisofs: a 16-byte header (magic, uncompressed size LE32, header size / 4, log2 block
//! size 15 to 17), then `ceil(size / block) + 1` LE32 block pointers, then zlib streams.
//! zisofs2: a 24-byte header (magic, header version 0, header size / 4, algorithm id, log2
//! block size 15 to 20, uncompressed size LE64), then `ceil(size / block) + 1` LE64 block
//! pointers, then one compressed stream per block. Only algorithm 1 (`PZ`, zlib) is decoded;
//! the others (`XZ`, `L4`, `ZD`, `B2`) are refused by name. A block whose two pointers are
//! equal is all zeros. Every pointer is checked against the stored bytes, and a block never
//! inflates past its size: memory stays at one block (at most 1 MiB) whatever the header
//! claims, and the pointer table is read in place, never copied.

use std::io::{self, Read, Seek, SeekFrom};

use super::bytes::le_u32_at;
use super::contents::{seek_to, Contents};
use super::susp::ZisofsInfo;
use crate::{Error, ErrorKind, Result};

/// The zisofs v1 file magic.
pub(crate) const MAGIC: [u8; 8] = [0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07];

/// The zisofs2 file magic.
pub(crate) const MAGIC2: [u8; 8] = [0xEF, 0x22, 0x55, 0xA1, 0xBC, 0x1B, 0x95, 0xA0];

/// Whether stored bytes start with the magic of zisofs or zisofs2.
pub(crate) fn has_magic(b: &[u8]) -> bool {
    b.starts_with(&MAGIC) || b.starts_with(&MAGIC2)
}

/// Block sizes (log2) of zisofs.
const V1_LOG2: std::ops::RangeInclusive<u8> = 15..=17;
/// Block sizes (log2) of zisofs2: 32 KiB to 1 MiB (xorriso's `block_size_v2`).
const V2_LOG2: std::ops::RangeInclusive<u8> = 15..=20;

/// A `ZF`/`Z2` entry whose uncompressed size can be trusted for listing: zisofs with zlib and
/// a valid block size, or zisofs2 with a valid block size (the size is known even when the
/// algorithm is one this reader refuses).
pub(crate) fn valid_zf(zf: &ZisofsInfo) -> bool {
    if zf.version >= 2 {
        V2_LOG2.contains(&zf.log2_block_size)
    } else {
        &zf.algorithm == b"pz" && V1_LOG2.contains(&zf.log2_block_size)
    }
}

fn bad(reason: &'static str) -> Error {
    Error::new(ErrorKind::BadZisofs(reason))
}

fn unsupported(what: &'static str) -> Error {
    Error::new(ErrorKind::Unsupported(what))
}

/// The error for a zisofs2 algorithm this reader does not decode, named by its `ZF` letters.
fn algorithm_letters(alg: &[u8; 2]) -> Error {
    unsupported(match alg {
        b"XZ" => "zisofs2 algorithm XZ (xz)",
        b"L4" => "zisofs2 algorithm L4 (LZ4)",
        b"ZD" => "zisofs2 algorithm ZD (Zstandard)",
        b"B2" => "zisofs2 algorithm B2 (bzip2)",
        _ => "zisofs algorithm other than zlib (unknown)",
    })
}

/// The error for a zisofs2 algorithm this reader does not decode, named by its header id.
fn algorithm_id(id: u8) -> Error {
    match id {
        2 => algorithm_letters(b"XZ"),
        3 => algorithm_letters(b"L4"),
        4 => algorithm_letters(b"ZD"),
        5 => algorithm_letters(b"B2"),
        _ => unsupported("zisofs2 algorithm id other than 1 to 5 (unknown)"),
    }
}

/// What a file header says.
struct Header {
    /// 2 for zisofs2.
    version: u8,
    size: u64,
    /// Header size in bytes: where the pointer table starts.
    table: usize,
    log2: u8,
    /// Bytes per block pointer: 4 or 8.
    width: usize,
}

fn header(data: &[u8]) -> Result<Header> {
    if data.starts_with(&MAGIC) && data.len() >= 16 {
        let size = u64::from(le_u32_at(data, 8).unwrap_or(0));
        let (table, log2) = (usize::from(data[12]) * 4, data[13]);
        if !V1_LOG2.contains(&log2) {
            return Err(bad("zisofs block size outside 32 KiB to 128 KiB"));
        }
        if table < 16 {
            return Err(bad("zisofs block pointers run past the stored bytes"));
        }
        return Ok(Header {
            version: 1,
            size,
            table,
            log2,
            width: 4,
        });
    }
    if data.starts_with(&MAGIC2) && data.len() >= 24 {
        if data[8] != 0 {
            return Err(unsupported("zisofs2 header version other than 0"));
        }
        let (table, alg, log2) = (usize::from(data[9]) * 4, data[10], data[11]);
        if alg != 1 {
            return Err(algorithm_id(alg));
        }
        if !V2_LOG2.contains(&log2) {
            return Err(bad("zisofs2 block size outside 32 KiB to 1 MiB"));
        }
        if table < 24 {
            return Err(bad("zisofs2 header size smaller than 24 bytes"));
        }
        let size = data
            .get(12..20)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes);
        return Ok(Header {
            version: 2,
            size,
            table,
            log2,
            width: 8,
        });
    }
    Err(bad("zisofs file without its header"))
}

/// Inflates a zisofs or zisofs2 file block by block.
pub struct ZisofsReader<'data> {
    data: &'data [u8],
    size: u64,
    log2: u8,
    /// Start of the pointer table.
    table: usize,
    /// End of the pointer table: where compressed blocks may start.
    table_end: u64,
    /// Bytes per block pointer: 4 (zisofs) or 8 (zisofs2).
    width: usize,
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
            if zf.version >= 2 {
                if !matches!(&zf.algorithm, b"PZ" | b"pz") {
                    return Err(algorithm_letters(&zf.algorithm));
                }
                if !V2_LOG2.contains(&zf.log2_block_size) {
                    return Err(bad("zisofs2 block size outside 32 KiB to 1 MiB"));
                }
            } else {
                if &zf.algorithm != b"pz" {
                    return Err(algorithm_letters(&zf.algorithm));
                }
                if !V1_LOG2.contains(&zf.log2_block_size) {
                    return Err(bad("zisofs block size outside 32 KiB to 128 KiB"));
                }
            }
        }
        let h = header(data)?;
        if let Some(zf) = zf {
            if zf.uncompressed_size != h.size
                || zf.log2_block_size != h.log2
                || (zf.version >= 2) != (h.version >= 2)
            {
                return Err(bad("zisofs header disagrees with its ZF entry"));
            }
        }
        let blocks = h.size.div_ceil(1 << h.log2);
        let table_end = blocks
            .checked_add(1)
            .and_then(|n| n.checked_mul(h.width as u64))
            .and_then(|n| n.checked_add(h.table as u64))
            .filter(|&end| end <= data.len() as u64)
            .ok_or_else(|| bad("zisofs block pointers run past the stored bytes"))?;
        Ok(ZisofsReader {
            data,
            size: h.size,
            log2: h.log2,
            table: h.table,
            table_end,
            width: h.width,
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

    /// Block pointer `i` (the table was checked to hold every pointer).
    fn pointer(&self, i: u64) -> Option<u64> {
        let at = usize::try_from(i)
            .ok()?
            .checked_mul(self.width)?
            .checked_add(self.table)?;
        let b = self.data.get(at..at.checked_add(self.width)?)?;
        Some(match *b {
            [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
            _ => u64::from_le_bytes(b.try_into().ok()?),
        })
    }

    fn load(&mut self, idx: u64) -> io::Result<()> {
        let invalid = |m: &'static str| io::Error::new(io::ErrorKind::InvalidData, m);
        let bs = 1u64 << self.log2;
        let want = (self.size - idx * bs).min(bs) as usize;
        let (p0, p1) = match (self.pointer(idx), self.pointer(idx + 1)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(invalid("zisofs: block pointer out of range")),
        };
        self.block = None;
        self.buf.clear();
        if p0 == p1 {
            self.buf.resize(want, 0);
        } else {
            let range = (p0 >= self.table_end && p0 < p1)
                .then(|| Some(usize::try_from(p0).ok()?..usize::try_from(p1).ok()?))
                .flatten();
            let src = range
                .and_then(|r| self.data.get(r))
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
        let avail = self.buf.get(off..).unwrap_or(&[]);
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zlib(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    /// A zisofs2 file of `data` in blocks of `1 << log2`, zero blocks as equal pointers.
    fn v2_file(data: &[u8], log2: u8) -> Vec<u8> {
        let bs = 1usize << log2;
        let blocks: Vec<Vec<u8>> = data
            .chunks(bs)
            .map(|c| {
                if c.iter().all(|&b| b == 0) {
                    Vec::new()
                } else {
                    zlib(c)
                }
            })
            .collect();
        let mut f = MAGIC2.to_vec();
        f.extend([0, 6, 1, log2]);
        f.extend((data.len() as u64).to_le_bytes());
        f.extend([0; 4]);
        let mut p = (24 + 8 * (blocks.len() + 1)) as u64;
        for b in &blocks {
            f.extend(p.to_le_bytes());
            p += b.len() as u64;
        }
        f.extend(p.to_le_bytes());
        for b in &blocks {
            f.extend(b);
        }
        f
    }

    fn contents(f: &[u8]) -> Contents<'_> {
        Contents::from_slice(f)
    }

    fn zf(f: &[u8], sig_version: u8) -> ZisofsInfo {
        ZisofsInfo {
            version: sig_version,
            algorithm: *b"PZ",
            header_size_div4: f[9],
            log2_block_size: f[11],
            uncompressed_size: u64::from_le_bytes(f[12..20].try_into().unwrap()),
        }
    }

    fn read_all(f: &[u8], zf: Option<&ZisofsInfo>) -> Result<Vec<u8>> {
        let c = contents(f);
        let mut r = ZisofsReader::new(&c, zf)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(|e| {
            Error::new(ErrorKind::BadZisofs(if e.to_string().contains("order") {
                "order"
            } else {
                "io"
            }))
        })?;
        Ok(out)
    }

    fn sample(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| (i * 7 % 251) as u8 ^ (i >> 12) as u8)
            .collect()
    }

    #[test]
    fn zisofs2_round_trips_every_block_size() {
        for log2 in 15..=20u8 {
            let bs = 1usize << log2;
            for n in [0, 1, bs - 1, bs, bs + 1, 3 * bs + 5] {
                let mut data = sample(n);
                if n > bs + 1 {
                    data[bs..2 * bs].fill(0);
                }
                let f = v2_file(&data, log2);
                assert_eq!(read_all(&f, None).unwrap(), data, "log2 {log2} size {n}");
                let z = zf(&f, 2);
                assert!(valid_zf(&z));
                assert_eq!(read_all(&f, Some(&z)).unwrap(), data);
                let c = contents(&f);
                let mut r = ZisofsReader::new(&c, Some(&z)).unwrap();
                assert_eq!(r.len(), n as u64);
                if n > 2 {
                    r.seek(SeekFrom::Start(n as u64 - 2)).unwrap();
                    let mut tail = Vec::new();
                    r.read_to_end(&mut tail).unwrap();
                    assert_eq!(tail, &data[n - 2..]);
                }
            }
        }
    }

    #[test]
    fn zisofs2_refuses_what_it_cannot_decode_by_name() {
        let data = sample(100_000);
        let f = v2_file(&data, 15);
        for (alg, id, what) in [
            (b"XZ", 2u8, "XZ (xz)"),
            (b"L4", 3, "LZ4"),
            (b"ZD", 4, "Zstandard"),
            (b"B2", 5, "bzip2"),
        ] {
            let mut z = zf(&f, 2);
            z.algorithm = *alg;
            let e = read_all(&f, Some(&z)).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Unsupported(_)), "{e}");
            assert!(e.to_string().contains(what), "{e}");
            let mut g = f.clone();
            g[10] = id;
            let e = read_all(&g, None).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
        let mut g = f.clone();
        g[10] = 9;
        assert!(matches!(
            read_all(&g, None).unwrap_err().kind(),
            ErrorKind::Unsupported(_)
        ));
        let mut g = f.clone();
        g[8] = 1;
        assert!(matches!(
            read_all(&g, None).unwrap_err().kind(),
            ErrorKind::Unsupported(_)
        ));
    }

    #[test]
    fn zisofs2_adversarial_headers_and_pointers() {
        let data = sample(5 * 32768 + 17);
        let f = v2_file(&data, 15);
        let z = zf(&f, 2);
        let ptr = |i: usize| 24 + 8 * i;
        let put = |g: &mut Vec<u8>, i: usize, v: u64| {
            g[ptr(i)..ptr(i) + 8].copy_from_slice(&v.to_le_bytes());
        };
        let get = |i: usize| u64::from_le_bytes(f[ptr(i)..ptr(i) + 8].try_into().unwrap());
        let mut cases: Vec<(&str, Vec<u8>, Option<ZisofsInfo>)> = Vec::new();
        for log2 in [0u8, 14, 21, 63, 255] {
            let mut g = f.clone();
            g[11] = log2;
            cases.push(("header block size", g, None));
            let mut z2 = z;
            z2.log2_block_size = log2;
            assert!(!valid_zf(&z2));
            cases.push(("ZF block size", f.clone(), Some(z2)));
        }
        for size in [u64::MAX, u64::MAX / 2, 1 << 40] {
            let mut g = f.clone();
            g[12..20].copy_from_slice(&size.to_le_bytes());
            cases.push(("size past the table", g.clone(), None));
            let mut z2 = z;
            z2.uncompressed_size = size;
            cases.push(("size past the table, ZF agrees", g, Some(z2)));
        }
        let mut z2 = z;
        z2.uncompressed_size -= 1;
        cases.push(("ZF size disagrees", f.clone(), Some(z2)));
        let mut z1 = z;
        z1.version = 1;
        z1.algorithm = *b"pz";
        cases.push(("ZF v1 over a zisofs2 header", f.clone(), Some(z1)));
        for v in [0u8, 5] {
            let mut g = f.clone();
            g[9] = v;
            cases.push(("header size", g, None));
        }
        let mut g = f.clone();
        g[9] = 255;
        cases.push(("header size past the data", g, None));
        let mut g = f.clone();
        put(&mut g, 2, get(3));
        put(&mut g, 3, get(2));
        cases.push(("pointers out of order", g, None));
        let mut g = f.clone();
        put(&mut g, 1, u64::MAX);
        cases.push(("pointer past the data", g, None));
        let mut g = f.clone();
        put(&mut g, 1, 1 << 33);
        cases.push(("pointer past the data (33 bits)", g, None));
        let mut g = f.clone();
        put(&mut g, 0, 0);
        cases.push(("pointer into the header", g, None));
        let mut g = f.clone();
        put(&mut g, 0, 30);
        cases.push(("pointer into the table", g, None));
        let mut g = f.clone();
        let p0 = get(0) as usize;
        g[p0..p0 + 32].fill(0x5A);
        cases.push(("corrupt zlib", g, None));
        let mut g = f.clone();
        g.truncate(40);
        cases.push(("table cut short", g, None));
        cases.push(("header cut short", f[..20].to_vec(), None));
        for (name, g, zf) in &cases {
            let r = read_all(g, zf.as_ref());
            let e = r.err().unwrap_or_else(|| panic!("{name}: read succeeded"));
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::BadZisofs(_) | ErrorKind::Unsupported(_)
                ),
                "{name}: {e}"
            );
        }
    }

    /// A zisofs2 bomb: 64 GiB of zero blocks (equal pointers) of 1 MiB from 512 KiB. The size
    /// is as claimed, memory stays at one block, and reading streams.
    #[test]
    fn zisofs2_zero_block_bomb_is_streamed() {
        let blocks = 65_535u64;
        let size = blocks << 20;
        let mut f = MAGIC2.to_vec();
        f.extend([0, 6, 1, 20]);
        f.extend(size.to_le_bytes());
        f.extend([0; 4]);
        let end = 24 + 8 * (blocks + 1);
        for _ in 0..=blocks {
            f.extend(end.to_le_bytes());
        }
        let c = contents(&f);
        let mut r = ZisofsReader::new(&c, None).unwrap();
        assert_eq!(r.len(), size);
        r.seek(SeekFrom::Start(size - 10)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, [0; 10]);
        assert!(r.buf.capacity() <= 1 << 20);
        // One compressed block that would inflate past its 32 KiB: refused, not grown.
        let mut g = v2_file(&sample(1000), 15);
        let big = zlib(&vec![0u8; 1 << 22]);
        g.truncate(24 + 16);
        let end = g.len() as u64 + big.len() as u64;
        g[32..40].copy_from_slice(&end.to_le_bytes());
        g.extend(&big);
        let e = read_all(&g, None).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::BadZisofs(_)), "{e}");
    }
}
