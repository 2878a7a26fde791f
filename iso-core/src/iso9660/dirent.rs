//! Directory records (ECMA-119 9.1) and the records of one directory extent.

use super::bytes::Both;
use crate::{Error, ErrorKind, Result};

/// Bytes in a logical sector: directory records never cross one.
pub(crate) const SECTOR: usize = 2048;

/// File flags (ECMA-119 9.1.6).
pub(crate) mod flags {
    pub const HIDDEN: u8 = 0x01;
    pub const DIRECTORY: u8 = 0x02;
    pub const ASSOCIATED: u8 = 0x04;
    pub const MULTI_EXTENT: u8 = 0x80;
}

/// One directory record, borrowed from the image.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DirRecord<'data> {
    /// Absolute byte offset of the record in the image.
    pub offset: u64,
    pub xattr_len: u8,
    pub extent: u32,
    pub size: u32,
    pub recorded: [u8; 7],
    pub flags: u8,
    pub unit_size: u8,
    pub gap: u8,
    pub identifier: &'data [u8],
    pub system_use: &'data [u8],
    /// Offset of `system_use` inside the record.
    pub system_use_at: u8,
    pub endian_mismatch: bool,
}

impl<'data> DirRecord<'data> {
    /// Parses the record at the start of `b` (`b` is exactly the record: `len` bytes).
    #[inline(always)]
    pub fn parse(b: &'data [u8], offset: u64) -> Result<Self> {
        let bad = |reason| Error::at(ErrorKind::BadRecord { reason }, offset);
        let len = *b.first().ok_or_else(|| bad("empty record"))? as usize;
        if len < 34 {
            return Err(bad("record length below 34 bytes"));
        }
        let rec = b
            .get(..len)
            .ok_or_else(|| bad("record runs past its directory"))?;
        let h = rec
            .first_chunk::<33>()
            .map(header)
            .ok_or_else(|| bad("record too short for its fields"))?;
        let id_len = h.id_len as usize;
        if id_len == 0 {
            return Err(bad("identifier length is 0"));
        }
        let id_end = 33 + id_len;
        let identifier = rec
            .get(33..id_end)
            .ok_or_else(|| bad("identifier runs past the record"))?;
        let su_start = id_end + usize::from(id_len % 2 == 0);
        let system_use = rec.get(su_start.min(len)..).unwrap_or(&[]);
        Ok(DirRecord {
            offset,
            xattr_len: h.xattr_len,
            extent: h.extent.value,
            size: h.size.value,
            recorded: h.recorded,
            flags: h.flags,
            unit_size: h.unit_size,
            gap: h.gap,
            identifier,
            system_use,
            system_use_at: su_start.min(len) as u8,
            endian_mismatch: h.extent.mismatch || h.size.mismatch || h.volseq_mismatch,
        })
    }

    pub fn is_dir(&self) -> bool {
        self.flags & flags::DIRECTORY != 0
    }

    /// `.` (identifier 0x00) or `..` (identifier 0x01).
    pub fn is_dot(&self) -> bool {
        self.identifier == [0] || self.identifier == [1]
    }
}

struct Header {
    xattr_len: u8,
    extent: Both<u32>,
    size: Both<u32>,
    recorded: [u8; 7],
    flags: u8,
    unit_size: u8,
    gap: u8,
    volseq_mismatch: bool,
    id_len: u8,
}

/// The fixed 33 bytes of a record (ECMA-119 9.1), read with plain loads: this runs for every
/// record of every directory.
fn header(h: &[u8; 33]) -> Header {
    let le32 = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let be32 = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let both32 = |at: usize| {
        let (le, be) = (le32(at), be32(at + 4));
        Both {
            value: le,
            mismatch: le != be,
        }
    };
    let mut recorded = [0u8; 7];
    recorded.copy_from_slice(&h[18..25]);
    Header {
        xattr_len: h[1],
        extent: both32(2),
        size: both32(10),
        recorded,
        flags: h[25],
        unit_size: h[26],
        gap: h[27],
        volseq_mismatch: [h[28], h[29]] != [h[31], h[30]],
        id_len: h[32],
    }
}

/// The records of one directory extent, in recorded order. A zero length byte is padding up to
/// the next sector. After an error it yields nothing more.
#[derive(Clone, Debug)]
pub(crate) struct DirRecords<'data> {
    data: &'data [u8],
    /// Absolute offset of `data[0]`.
    base: u64,
    pos: usize,
    /// Records end here: `data.len()`, or a sector boundary where [`DirRecords::split`] cut.
    stop: usize,
}

impl<'data> DirRecords<'data> {
    pub fn new(data: &'data [u8], base: u64) -> Self {
        DirRecords {
            data,
            base,
            pos: 0,
            stop: data.len(),
        }
    }

    /// Cuts the records in two at a sector boundary near `near` (a byte offset in the
    /// directory): `self` ends there and the returned value yields the rest. Both parts yield
    /// exactly what `self` would have yielded in one piece (records never cross a sector, and
    /// the one before the cut is not part of a multi-extent file), so the parts can be
    /// decoded apart. `None`, and `self` untouched, when no such boundary is found a few
    /// sectors from `near`, or the records there are not well formed (left to the one-piece
    /// parse to report).
    pub fn split(&mut self, near: usize) -> Option<DirRecords<'data>> {
        let mut cut = (near / SECTOR).max(1) * SECTOR;
        for _ in 0..4 {
            if cut <= self.pos || cut >= self.stop {
                return None;
            }
            // The sector before the cut must start with a record; its last record decides.
            let sector = self.data.get(cut - SECTOR..cut)?;
            let mut p = 0;
            let mut last_flags = None;
            while let Some(&len) = sector.get(p) {
                let len = usize::from(len);
                if len == 0 {
                    break;
                }
                if len < 34 || p + len > SECTOR {
                    return None;
                }
                last_flags = Some(*sector.get(p + 25)?);
                p += len;
            }
            match last_flags {
                Some(f) if f & flags::MULTI_EXTENT == 0 => {
                    let rest = DirRecords {
                        pos: cut,
                        ..self.clone()
                    };
                    self.stop = cut;
                    return Some(rest);
                }
                Some(_) => cut += SECTOR,
                None => return None,
            }
        }
        None
    }

    /// Where the next record is looked for.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes in the whole directory.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    #[inline(always)]
    fn parse_next(&mut self) -> Option<Result<DirRecord<'data>>> {
        loop {
            if self.pos >= self.stop {
                return None;
            }
            let &len = self.data.get(self.pos)?;
            if len == 0 {
                // Padding to the end of the sector.
                let next = (self.pos / SECTOR + 1) * SECTOR;
                self.pos = next;
                continue;
            }
            let start = self.pos;
            let offset = self.base + start as u64;
            let end = start + len as usize;
            if end > self.data.len() {
                return Some(Err(Error::at(
                    ErrorKind::BadRecord {
                        reason: "record runs past the end of its directory",
                    },
                    offset,
                )));
            }
            if start / SECTOR != (end - 1) / SECTOR {
                return Some(Err(Error::at(
                    ErrorKind::BadRecord {
                        reason: "record crosses a sector boundary",
                    },
                    offset,
                )));
            }
            self.pos = end;
            return Some(DirRecord::parse(&self.data[start..end], offset));
        }
    }
}

impl<'data> Iterator for DirRecords<'data> {
    type Item = Result<DirRecord<'data>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.parse_next();
        if matches!(item, Some(Err(_))) {
            self.data = &[];
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(id: &[u8], extent: u32, size: u32, flags: u8, su: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 33];
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[6..10].copy_from_slice(&extent.to_be_bytes());
        r[10..14].copy_from_slice(&size.to_le_bytes());
        r[14..18].copy_from_slice(&size.to_be_bytes());
        r[25] = flags;
        r[28..30].copy_from_slice(&1u16.to_le_bytes());
        r[30..32].copy_from_slice(&1u16.to_be_bytes());
        r[32] = id.len() as u8;
        r.extend_from_slice(id);
        if id.len() % 2 == 0 {
            r.push(0);
        }
        r.extend_from_slice(su);
        r[0] = r.len() as u8;
        r
    }

    #[test]
    fn parses_and_pads() {
        let mut dir = record(&[0], 20, 2048, 2, &[]);
        dir.extend(record(&[1], 20, 2048, 2, &[]));
        dir.extend(record(b"A.TXT;1", 30, 5, 0, b"XY"));
        dir.resize(2048, 0);
        dir.extend(record(b"B;1", 31, 6, 0, &[]));
        dir.resize(4096, 0);
        let recs: Vec<_> = DirRecords::new(&dir, 1000).collect::<Result<_>>().unwrap();
        assert_eq!(recs.len(), 4);
        assert!(recs[0].is_dot() && recs[1].is_dot());
        assert_eq!(recs[2].identifier, b"A.TXT;1");
        assert_eq!(recs[2].system_use, b"XY");
        assert_eq!(recs[3].offset, 1000 + 2048);
    }

    #[test]
    fn short_and_crossing_records_are_errors() {
        let mut dir = vec![2u8, 0, 0];
        dir.resize(2048, 0);
        let e = DirRecords::new(&dir, 0).next().unwrap().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::BadRecord { .. }));
        // 51 records of 40 bytes fill 2040 bytes; the 52nd crosses into the next sector.
        let one = record(b"ABCDEF;1", 1, 1, 0, &[]);
        assert_eq!(one.len(), 42);
        let mut dir = Vec::new();
        while dir.len() + one.len() <= 2048 {
            dir.extend(&one);
        }
        let before = dir.len() / one.len();
        dir.extend(&one);
        dir.resize(4096, 0);
        let items: Vec<_> = DirRecords::new(&dir, 0).collect();
        assert_eq!(items.len(), before + 1);
        let e = items.last().unwrap().as_ref().unwrap_err();
        assert_eq!(e.offset(), Some((before * one.len()) as u64));
        assert!(e.to_string().contains("crosses a sector boundary"), "{e}");
    }
}
