//! A small, independent ISO 9660 structure locator for patching genuine images into
//! adversarial ones. It trusts its input (the images it is used on come straight from
//! genisoimage) and panics on anything unexpected: it is test tooling, not a reader.

/// Bytes per logical sector.
pub const SECTOR: usize = 2048;
/// Byte offset of the first volume descriptor (and, in genisoimage images, the PVD).
pub const PVD: usize = 16 * SECTOR;
/// Offset of the root directory record inside a primary/supplementary volume descriptor.
pub const ROOT_IN_VD: usize = 156;

/// Little-endian u32 at `at`.
pub fn le32(img: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(img[at..at + 4].try_into().unwrap())
}

/// Little-endian u16 at `at`.
pub fn le16(img: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(img[at..at + 2].try_into().unwrap())
}

/// Writes a both-endian u32 (ECMA-119 7.3.3) at `at`.
pub fn put_both32(img: &mut [u8], at: usize, v: u32) {
    img[at..at + 4].copy_from_slice(&v.to_le_bytes());
    img[at + 4..at + 8].copy_from_slice(&v.to_be_bytes());
}

/// Writes a both-endian u16 (ECMA-119 7.2.3) at `at`.
pub fn put_both16(img: &mut [u8], at: usize, v: u16) {
    img[at..at + 2].copy_from_slice(&v.to_le_bytes());
    img[at + 2..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// A both-endian u32 as bytes.
pub fn both32(v: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&v.to_le_bytes());
    b[4..].copy_from_slice(&v.to_be_bytes());
    b
}

/// The first volume descriptor of type `ty` (0 boot, 1 primary, 2 supplementary, 255
/// terminator), as a byte offset.
pub fn vd(img: &[u8], ty: u8) -> Option<usize> {
    (16..64)
        .map(|s| s * SECTOR)
        .take_while(|&o| o + SECTOR <= img.len() && &img[o + 1..o + 6] == b"CD001")
        .find(|&o| img[o] == ty)
}

/// The Joliet supplementary volume descriptor.
pub fn joliet_vd(img: &[u8]) -> Option<usize> {
    (16..64)
        .map(|s| s * SECTOR)
        .take_while(|&o| o + SECTOR <= img.len() && &img[o + 1..o + 6] == b"CD001")
        .find(|&o| img[o] == 2 && img[o + 88..o + 90] == *b"%/")
}

/// One directory record, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    /// Absolute byte offset of the record.
    pub offset: usize,
    /// Record length (byte 0).
    pub len: usize,
    /// Extended attribute record length (byte 1).
    pub xattr: u8,
    /// Extent (LE copy).
    pub extent: u32,
    /// Data length (LE copy).
    pub size: u32,
    /// File flags (byte 25).
    pub flags: u8,
    /// The identifier bytes.
    pub id: Vec<u8>,
    /// Absolute byte offset of the System Use area.
    pub su: usize,
}

impl Rec {
    /// Parses the record at `offset`.
    pub fn at(img: &[u8], offset: usize) -> Rec {
        let len = img[offset] as usize;
        assert!(len >= 34, "no record at {offset:#x}");
        let id_len = img[offset + 32] as usize;
        let id = img[offset + 33..offset + 33 + id_len].to_vec();
        let su = offset + 33 + id_len + usize::from(id_len % 2 == 0);
        Rec {
            offset,
            len,
            xattr: img[offset + 1],
            extent: le32(img, offset + 2),
            size: le32(img, offset + 10),
            flags: img[offset + 25],
            id,
            su,
        }
    }

    /// One past the last byte of the record.
    pub fn end(&self) -> usize {
        self.offset + self.len
    }

    /// True for `.` and `..`.
    pub fn is_dot(&self) -> bool {
        self.id == [0] || self.id == [1]
    }

    /// True when flagged as a directory.
    pub fn is_dir(&self) -> bool {
        self.flags & 2 != 0
    }

    /// The identifier with `;1` and a trailing dot removed (primary), or UCS-2 decoded
    /// (`joliet`).
    pub fn name(&self, joliet: bool) -> String {
        let s = if joliet {
            let u: Vec<u16> = self
                .id
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&u)
        } else {
            String::from_utf8_lossy(&self.id).into_owned()
        };
        let s = match s.rfind(';') {
            Some(p) => s[..p].to_string(),
            None => s,
        };
        s.strip_suffix('.').map(str::to_string).unwrap_or(s)
    }

    /// Patches both copies of the extent.
    pub fn set_extent(&self, img: &mut [u8], v: u32) {
        put_both32(img, self.offset + 2, v);
    }

    /// Patches both copies of the data length.
    pub fn set_size(&self, img: &mut [u8], v: u32) {
        put_both32(img, self.offset + 10, v);
    }

    /// Sets the file flags.
    pub fn set_flags(&self, img: &mut [u8], v: u8) {
        img[self.offset + 25] = v;
    }
}

/// The root directory record of the volume descriptor at `vd`.
pub fn root(img: &[u8], vd: usize) -> Rec {
    Rec::at(img, vd + ROOT_IN_VD)
}

/// Every record (dots included) of the directory at `lba`, `size` bytes long.
pub fn records(img: &[u8], lba: u32, size: u32) -> Vec<Rec> {
    let base = lba as usize * SECTOR;
    let end = base + size as usize;
    let mut p = base;
    let mut out = Vec::new();
    while p < end {
        if img[p] == 0 {
            p = ((p - base) / SECTOR + 1) * SECTOR + base;
            continue;
        }
        let r = Rec::at(img, p);
        p = r.end();
        out.push(r);
    }
    out
}

/// The records of directory `dir`, dots included.
pub fn dir_records(img: &[u8], dir: &Rec) -> Vec<Rec> {
    records(img, dir.extent, dir.size)
}

/// The children of directory `dir` (no dots).
pub fn children(img: &[u8], dir: &Rec) -> Vec<Rec> {
    dir_records(img, dir)
        .into_iter()
        .filter(|r| !r.is_dot())
        .collect()
}

/// The record at `path` (components compared case-insensitively with [`Rec::name`]) in the
/// tree of the volume descriptor at `vd`. An empty path gives the directory's `.` record
/// of the root.
pub fn find(img: &[u8], vd: usize, path: &str, joliet: bool) -> Rec {
    let mut cur = root(img, vd);
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        cur = children(img, &cur)
            .into_iter()
            .find(|r| r.name(joliet).eq_ignore_ascii_case(comp))
            .unwrap_or_else(|| panic!("{path}: no {comp}"));
    }
    cur
}

/// A record of the primary tree.
pub fn find_primary(img: &[u8], path: &str) -> Rec {
    find(img, PVD, path, false)
}

/// The `.` record of directory `dir` (where the root's `SP` sits).
pub fn dot(img: &[u8], dir: &Rec) -> Rec {
    records(img, dir.extent, dir.size).remove(0)
}

/// One SUSP entry, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Susp {
    /// Signature.
    pub sig: [u8; 2],
    /// Absolute byte offset of the entry.
    pub offset: usize,
    /// Length byte.
    pub len: usize,
}

impl Susp {
    /// Absolute offset of the entry's data (after the 4-byte header).
    pub fn data(&self) -> usize {
        self.offset + 4
    }
}

/// The SUSP entries in `img[start..end]`.
pub fn susp_area(img: &[u8], start: usize, end: usize) -> Vec<Susp> {
    let mut p = start;
    let mut out = Vec::new();
    while p + 4 <= end {
        let len = img[p + 2] as usize;
        if len < 4 || p + len > end {
            break;
        }
        out.push(Susp {
            sig: [img[p], img[p + 1]],
            offset: p,
            len,
        });
        p += len;
    }
    out
}

/// The SUSP entries of record `r` (no `SP` skip: genisoimage writes `LEN_SKP` 0).
pub fn susp(img: &[u8], r: &Rec) -> Vec<Susp> {
    susp_area(img, r.su, r.end())
}

/// The first entry with signature `sig` among `entries`.
pub fn entry(entries: &[Susp], sig: &[u8; 2]) -> Susp {
    entries
        .iter()
        .find(|e| &e.sig == sig)
        .unwrap_or_else(|| panic!("no {} entry", String::from_utf8_lossy(sig)))
        .clone()
}

/// `(block, offset, length)` of a `CE` entry.
pub fn ce_target(img: &[u8], ce: &Susp) -> (u32, u32, u32) {
    (
        le32(img, ce.data()),
        le32(img, ce.data() + 8),
        le32(img, ce.data() + 16),
    )
}

/// The absolute byte range of a `CE` entry's continuation area.
pub fn ce_area(img: &[u8], ce: &Susp) -> (usize, usize) {
    let (b, o, l) = ce_target(img, ce);
    let start = b as usize * SECTOR + o as usize;
    (start, start + l as usize)
}

/// Rewrites a `CE` entry's block, offset and length.
pub fn set_ce(img: &mut [u8], ce: &Susp, block: u32, offset: u32, len: u32) {
    put_both32(img, ce.data(), block);
    put_both32(img, ce.data() + 8, offset);
    put_both32(img, ce.data() + 16, len);
}

/// A SUSP entry: signature, length, version 1, data.
pub fn make_susp(sig: &[u8; 2], data: &[u8]) -> Vec<u8> {
    let mut e = vec![sig[0], sig[1], (data.len() + 4) as u8, 1];
    e.extend_from_slice(data);
    e
}

/// A SUSP entry of exactly `len` bytes (at least 4) that readers skip: signature `XX`.
pub fn filler(len: usize) -> Vec<u8> {
    assert!(len >= 4);
    make_susp(b"XX", &vec![0u8; len - 4])
}

/// Overwrites entries of a record's System Use area starting at `at` with `bytes`.
pub fn write(img: &mut [u8], at: usize, bytes: &[u8]) {
    img[at..at + bytes.len()].copy_from_slice(bytes);
}

/// A directory record with identifier `id` and System Use bytes `su`.
pub fn make_record(id: &[u8], extent: u32, size: u32, flags: u8, su: &[u8]) -> Vec<u8> {
    let mut r = vec![0u8; 33];
    r[2..10].copy_from_slice(&both32(extent));
    r[10..18].copy_from_slice(&both32(size));
    r[18..25].copy_from_slice(&[126, 11, 21, 4, 33, 8, 0]);
    r[25] = flags;
    r[28..30].copy_from_slice(&1u16.to_le_bytes());
    r[30..32].copy_from_slice(&1u16.to_be_bytes());
    r[32] = id.len() as u8;
    r.extend_from_slice(id);
    if id.len() % 2 == 0 {
        r.push(0);
    }
    r.extend_from_slice(su);
    assert!(r.len() <= 255);
    r[0] = r.len() as u8;
    r
}

/// Number of whole sectors in the image.
pub fn sectors(img: &[u8]) -> u32 {
    (img.len() / SECTOR) as u32
}
