//! The UDF reader (ECMA-167 / OSTA UDF 1.02 to 2.60): the volume recognition sequence,
//! anchors, volume descriptor sequences, partition maps (type 1 and the metadata partition of
//! UDF 2.50+), the file set, file entries, allocation descriptors and file identifiers.
//!
//! It works over the same bytes as the ISO 9660 reader (the whole image, borrowed) and under
//! the same [`Limits`]; contents are slices of the image, one per extent, with
//! [`UdfPart::Zeros`] for unrecorded (sparse) extents.
//!
//! ```no_run
//! use iso_core::{udf::UdfVolume, Limits};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bytes = std::fs::read("image.iso")?;
//! if let Some(volume) = UdfVolume::parse(&bytes, &Limits::DEFAULT)? {
//!     for item in volume.walk()? {
//!         let item = item?;
//!         println!("{} {} bytes", item.path, item.entry.size);
//!     }
//!     let readme = volume.lookup("docs/README")?;
//!     let contents = volume.contents(&readme)?; // slices of `bytes`
//!     # let _ = contents;
//! }
//! # Ok(()) }
//! ```
//!
//! Not supported, each with a named [`ErrorKind::Unsupported`] error: sparable and virtual
//! partition maps (packet-written CD-RW and CD-R), ICB strategies other than 4 and 4096.
//! Extended attributes, named streams and device numbers are not read.

mod desc;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashSet;
use std::io;

use smallvec::SmallVec;

use self::desc::{blank_tag, check_tag, cs0, dstring, timestamp, u16_at, u32_at, u64_at, u8_at};
use crate::iso9660::{slice, EntryKind, Timestamp};
use crate::{Error, ErrorKind, Limits, Result};

/// Indirect entries (ICB strategy 4) followed for one ICB.
const MAX_INDIRECT: usize = 32;
/// Descriptors of the volume recognition sequence scanned (2048 bytes each from byte 32768).
const MAX_VRS: u64 = 64;
/// Entries of one strategy-4096 ICB examined.
const MAX_STRATEGY_4096: u32 = 64;
/// Partition maps read from the logical volume descriptor.
const MAX_PARTITION_MAPS: usize = 64;

fn bad(reason: &'static str, off: u64) -> Error {
    Error::at(ErrorKind::BadUdf(reason), off)
}

fn limit(limit: &'static str, value: u64, max: u64) -> Error {
    Error::new(ErrorKind::LimitExceeded { limit, value, max })
}

/// Where an ICB (a file entry) is recorded: a logical block of a partition, as long
/// allocation descriptors address it. Two directory entries with the same ICB are hard links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UdfIcb {
    /// Partition reference number (index into the logical volume's partition maps).
    pub partition: u16,
    /// Logical block inside that partition.
    pub lbn: u32,
}

/// One extent of a file, as its allocation descriptors record it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum UdfExtent {
    /// `len` bytes recorded from logical block `lbn` of partition `partition`.
    Recorded {
        /// Partition reference number.
        partition: u16,
        /// First logical block.
        lbn: u32,
        /// Length in bytes.
        len: u32,
    },
    /// `len` bytes that read as zeros: allocated but not recorded (`allocated`), or not
    /// allocated at all.
    Sparse {
        /// Length in bytes.
        len: u32,
        /// Whether blocks are allocated for it.
        allocated: bool,
    },
    /// Data embedded in the file entry itself: `len` bytes at image byte `offset`.
    Embedded {
        /// Byte offset in the image.
        offset: u64,
        /// Length in bytes.
        len: u32,
    },
}

/// One entry of a UDF directory (or the root).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UdfEntry {
    /// Name, decoded from OSTA CS0 ("" for the root).
    pub name: String,
    /// What it is, from the file type of its ICB; `None` for types with no POSIX equivalent.
    pub kind: Option<EntryKind>,
    /// The raw ICB file type (ECMA-167 4/14.6.6: 4 directory, 5 file, 12 symlink, ...).
    pub file_type: u8,
    /// Information length: the size in bytes.
    pub size: u64,
    /// POSIX mode: file type bits, permissions, set-user-ID, set-group-ID and sticky bits.
    pub mode: u32,
    /// Owner, unless recorded as "not specified" (`u32::MAX`).
    pub uid: Option<u32>,
    /// Group, unless recorded as "not specified".
    pub gid: Option<u32>,
    /// Modification time.
    pub mtime: Option<Timestamp>,
    /// Access time.
    pub atime: Option<Timestamp>,
    /// Attribute (status change) time.
    pub ctime: Option<Timestamp>,
    /// Creation time (extended file entries only).
    pub birth: Option<Timestamp>,
    /// File link count.
    pub nlink: u16,
    /// Where the file entry is; shared by hard links.
    pub icb: UdfIcb,
    /// Unique ID of the file entry.
    pub unique_id: u64,
    /// The file identifier's "hidden" characteristic.
    pub hidden: bool,
    /// Byte offset of the file entry in the image.
    pub entry_offset: u64,
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_extents"))]
    extents: SmallVec<[UdfExtent; 1]>,
}

#[cfg(feature = "serde")]
fn ser_extents<S: serde::Serializer>(
    v: &SmallVec<[UdfExtent; 1]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(v.as_slice(), s)
}

impl UdfEntry {
    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == Some(EntryKind::Directory)
    }
    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.kind == Some(EntryKind::File)
    }
    /// Whether it is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.kind == Some(EntryKind::Symlink)
    }
    /// The extents of its data, in order.
    pub fn extents(&self) -> &[UdfExtent] {
        &self.extents
    }
}

/// A piece of a file's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdfPart<'d> {
    /// Bytes of the image.
    Data(&'d [u8]),
    /// This many zero bytes (an unrecorded or unallocated extent).
    Zeros(u64),
}

impl UdfPart<'_> {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            UdfPart::Data(d) => d.len() as u64,
            UdfPart::Zeros(n) => *n,
        }
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The contents of a file: slices of the image, one per extent, and runs of zeros. Nothing is
/// copied until [`to_vec`](UdfContents::to_vec) or [`write_to`](UdfContents::write_to).
#[derive(Clone, Debug, Default)]
pub struct UdfContents<'d> {
    parts: SmallVec<[UdfPart<'d>; 1]>,
    len: u64,
}

impl<'d> UdfContents<'d> {
    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The pieces, in order.
    pub fn parts(&self) -> &[UdfPart<'d>] {
        &self.parts
    }
    /// The contents as one slice when they are one recorded piece (or empty).
    pub fn as_slice(&self) -> Option<&'d [u8]> {
        match self.parts.as_slice() {
            [] => Some(&[]),
            [UdfPart::Data(d)] => Some(d),
            _ => None,
        }
    }
    /// A copy of the whole contents (zeros included: this allocates [`len`](Self::len)
    /// bytes, which a sparse file can make large).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        for p in &self.parts {
            match p {
                UdfPart::Data(d) => v.extend_from_slice(d),
                UdfPart::Zeros(n) => v.resize(v.len() + usize::try_from(*n).unwrap_or(0), 0),
            }
        }
        v
    }
    /// Writes the contents to `w` (zeros in bounded chunks); returns the byte count.
    pub fn write_to(&self, w: &mut impl io::Write) -> io::Result<u64> {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        for p in &self.parts {
            match p {
                UdfPart::Data(d) => w.write_all(d)?,
                UdfPart::Zeros(n) => {
                    let mut left = *n;
                    while left > 0 {
                        let k = left.min(ZEROS.len() as u64);
                        w.write_all(ZEROS.get(..k as usize).unwrap_or_default())?;
                        left -= k;
                    }
                }
            }
        }
        Ok(self.len)
    }

    fn push(&mut self, p: UdfPart<'d>, limits: &Limits) -> Result<()> {
        if p.is_empty() {
            return Ok(());
        }
        self.len = self.len.saturating_add(p.len());
        if let (Some(UdfPart::Zeros(a)), UdfPart::Zeros(b)) = (self.parts.last_mut(), p) {
            *a = a.saturating_add(b);
            return Ok(());
        }
        if self.parts.len() >= limits.max_extents_per_file as usize {
            return Err(limit(
                "max_extents_per_file",
                self.parts.len() as u64 + 1,
                limits.max_extents_per_file.into(),
            ));
        }
        self.parts.push(p);
        Ok(())
    }
}

/// The kind of a partition of the logical volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum UdfPartitionKind {
    /// A type 1 map: blocks of a physical partition.
    Physical,
    /// The metadata partition of UDF 2.50+, read through its metadata file (or, when that is
    /// unreadable, its mirror: `mirror`).
    Metadata {
        /// Whether the mirror file was used.
        mirror: bool,
    },
}

/// One partition map of the logical volume, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UdfPartitionInfo {
    /// Partition number (of the partition descriptor).
    pub number: u16,
    /// First sector of the physical partition.
    pub start: u32,
    /// Length of the physical partition, in blocks.
    pub blocks: u32,
    /// Kind of map.
    pub kind: UdfPartitionKind,
}

/// What the volume descriptors say.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UdfInfo {
    /// Logical block size in bytes.
    pub block_size: u32,
    /// Sector of the anchor volume descriptor pointer used (256, N-256 or N-1).
    pub anchor_sector: u32,
    /// `2` for NSR02 (ECMA-167 2nd edition, UDF 1.xx), `3` for NSR03.
    pub nsr: u8,
    /// UDF revision from the logical volume's domain identifier (0x0102, 0x0150, 0x0201,
    /// 0x0250, 0x0260), when it names the OSTA domain.
    pub revision: Option<u16>,
    /// From the logical volume integrity descriptor, when readable: the minimum UDF revision
    /// to read, the minimum to write and the maximum that wrote the volume (pycdlib records
    /// 2.60 only there).
    pub integrity_revisions: Option<(u16, u16, u16)>,
    /// Whether the reserve volume descriptor sequence was used (the main one was unreadable).
    pub reserve_sequence: bool,
    /// Volume identifier (primary volume descriptor).
    pub volume_id: String,
    /// Volume set identifier.
    pub volume_set_id: String,
    /// Logical volume identifier.
    pub logical_volume_id: String,
    /// File set identifier.
    pub file_set_id: String,
    /// Recording time of the primary volume descriptor.
    pub recorded: Option<Timestamp>,
    /// Partition maps, by partition reference number.
    pub partitions: Vec<UdfPartitionInfo>,
}

#[derive(Clone, Debug)]
struct MapExt {
    logical: u64,
    len: u64,
    /// Block of the physical partition, `None` for an unrecorded extent.
    lbn: Option<u32>,
}

#[derive(Clone, Debug)]
enum Part {
    Physical {
        start: u64,
        blocks: u64,
    },
    Metadata {
        start: u64,
        blocks: u64,
        map: Vec<MapExt>,
    },
}

/// A resolved piece: `len` bytes at image offset `off`, or zeros.
#[derive(Clone, Copy, Debug)]
enum Piece {
    Bytes { off: u64, len: u64 },
    Zeros(u64),
}

struct FileEntry {
    icb: UdfIcb,
    off: u64,
    file_type: u8,
    flags: u16,
    uid: u32,
    gid: u32,
    perm: u32,
    nlink: u16,
    size: u64,
    atime: Option<Timestamp>,
    mtime: Option<Timestamp>,
    ctime: Option<Timestamp>,
    birth: Option<Timestamp>,
    unique_id: u64,
    ad_off: u64,
    ad_len: u32,
}

/// A UDF volume over the bytes of a whole image.
///
/// ```no_run
/// # use iso_core::{udf::UdfVolume, Limits};
/// # fn f(bytes: &[u8]) -> iso_core::Result<()> {
/// let volume = UdfVolume::parse(bytes, &Limits::DEFAULT)?.expect("a UDF volume");
/// let root = volume.root();
/// for entry in volume.read_dir(root)? {
///     let entry = entry?;
///     println!("{} {:o}", entry.name, entry.mode);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct UdfVolume<'d> {
    data: &'d [u8],
    limits: Limits,
    bs: u32,
    parts: Vec<Part>,
    info: UdfInfo,
    root: UdfEntry,
}

#[derive(Clone, Copy, Debug)]
struct ExtentAd {
    len: u32,
    loc: u32,
}

fn extent_ad(b: &[u8], at: usize) -> ExtentAd {
    ExtentAd {
        len: u32_at(b, at),
        loc: u32_at(b, at + 4),
    }
}

/// A long allocation descriptor: (extent length without type bits, ICB).
fn long_ad(b: &[u8], at: usize) -> (u32, UdfIcb) {
    (
        u32_at(b, at) & 0x3fff_ffff,
        UdfIcb {
            lbn: u32_at(b, at + 4),
            partition: u16_at(b, at + 8),
        },
    )
}

#[derive(Default)]
struct Vds {
    pvd: Option<(u32, u64)>,
    lvd: Option<(u32, u64)>,
    /// (VDSN, partition number, start, length)
    pds: Vec<(u32, u16, u32, u32)>,
}

fn recognise(data: &[u8]) -> Option<u8> {
    let mut bea = false;
    let mut nsr = None;
    for i in 0..MAX_VRS {
        let off = 32768 + i * 2048;
        let Ok(b) = slice(data, off, off + 7, "UDF volume recognition descriptor") else {
            break;
        };
        match b.get(1..6) {
            Some(b"BEA01") => bea = true,
            Some(b"NSR02") if bea => nsr = Some(2),
            Some(b"NSR03") if bea => nsr = Some(3),
            Some(b"TEA01") => break,
            _ => {}
        }
    }
    nsr
}

fn find_anchor(data: &[u8]) -> Option<(u32, u32, &[u8])> {
    let len = data.len() as u64;
    for bs in [2048u32, 512, 1024, 4096] {
        let n = len / u64::from(bs);
        if n == 0 {
            continue;
        }
        let last = n - 1;
        for sector in [Some(256), last.checked_sub(256), Some(last)]
            .into_iter()
            .flatten()
        {
            let Ok(sector32) = u32::try_from(sector) else {
                continue;
            };
            let off = sector * u64::from(bs);
            let Ok(b) = slice(data, off, off + u64::from(bs), "UDF anchor") else {
                continue;
            };
            if u16_at(b, 0) == 2 && check_tag(b, sector32, off).is_ok() {
                return Some((bs, sector32, b));
            }
        }
    }
    None
}

/// The revisions in the implementation use of the logical volume integrity descriptor
/// (UDF 2.2.6.4), read leniently: `None` when anything is off.
fn lvid_revisions(data: &[u8], bs: u32, ext: ExtentAd) -> Option<(u16, u16, u16)> {
    if ext.len < bs {
        return None;
    }
    let off = u64::from(ext.loc) * u64::from(bs);
    let b = slice(data, off, off + u64::from(bs), "UDF integrity descriptor").ok()?;
    if check_tag(b, ext.loc, off).ok()? != 9 {
        return None;
    }
    let np = usize::try_from(u32_at(b, 72)).ok()?;
    let iu = np.checked_mul(8)?.checked_add(80)?;
    let r = iu.checked_add(40)?;
    b.get(r..r.checked_add(6)?)?;
    Some((u16_at(b, r), u16_at(b, r + 2), u16_at(b, r + 4)))
}

fn read_vds(data: &[u8], bs: u32, ext: ExtentAd, limits: &Limits) -> Result<Vds> {
    let mut vds = Vds::default();
    let mut loc = ext.loc;
    let mut left = ext.len / bs;
    let mut count = 0u32;
    let mut pointers = HashSet::new();
    let bs64 = u64::from(bs);
    if left == 0 {
        return Err(bad(
            "volume descriptor sequence extent is shorter than a block",
            u64::from(ext.loc) * bs64,
        ));
    }
    while left > 0 {
        count += 1;
        if count > limits.max_volume_descriptors {
            return Err(limit(
                "max_volume_descriptors",
                count.into(),
                limits.max_volume_descriptors.into(),
            ));
        }
        let off = u64::from(loc) * bs64;
        let b = slice(data, off, off + bs64, "UDF volume descriptor")?;
        if blank_tag(b) {
            break;
        }
        let id = check_tag(b, loc, off)?;
        let vdsn = u32_at(b, 16);
        match id {
            1 => {
                if vds.pvd.is_none_or(|(n, _)| vdsn >= n) {
                    vds.pvd = Some((vdsn, off));
                }
            }
            3 => {
                let next = extent_ad(b, 20);
                if !pointers.insert(next.loc) {
                    return Err(Error::at(
                        ErrorKind::UdfLoop("volume descriptor pointers"),
                        off,
                    ));
                }
                loc = next.loc;
                left = next.len / bs;
                continue;
            }
            5 => {
                let number = u16_at(b, 22);
                let pd = (vdsn, number, u32_at(b, 188), u32_at(b, 192));
                match vds.pds.iter_mut().find(|p| p.1 == number) {
                    Some(p) if vdsn >= p.0 => *p = pd,
                    Some(_) => {}
                    None => vds.pds.push(pd),
                }
            }
            6 => {
                if vds.lvd.is_none_or(|(n, _)| vdsn >= n) {
                    vds.lvd = Some((vdsn, off));
                }
            }
            4 | 7 => {}
            8 => break,
            _ => {
                return Err(Error::at(
                    ErrorKind::BadUdfTag {
                        id,
                        reason: "not a volume descriptor (1 to 8)",
                    },
                    off,
                ))
            }
        }
        loc = loc.wrapping_add(1);
        left -= 1;
    }
    if vds.lvd.is_none() || vds.pds.is_empty() {
        return Err(bad(
            "volume descriptor sequence has no logical volume or no partition descriptor",
            u64::from(ext.loc) * bs64,
        ));
    }
    Ok(vds)
}

impl<'d> UdfVolume<'d> {
    /// Reads the UDF volume of `data` (a whole image): `Ok(None)` when its volume recognition
    /// sequence has no NSR02/NSR03 descriptor (no UDF), an error when it has one but the
    /// volume is unreadable.
    pub fn parse(data: &'d [u8], limits: &Limits) -> Result<Option<Self>> {
        let Some(nsr) = recognise(data) else {
            return Ok(None);
        };
        let (bs, anchor_sector, avdp) = find_anchor(data).ok_or_else(|| {
            bad(
                "no anchor volume descriptor pointer at sector 256, N-256 or N-1",
                256 * 2048,
            )
        })?;
        let main = extent_ad(avdp, 16);
        let reserve = extent_ad(avdp, 24);
        let mut reserve_sequence = false;
        let vol = match Self::from_vds(data, limits, bs, main, nsr, anchor_sector) {
            Ok(v) => v,
            Err(e) => {
                reserve_sequence = true;
                Self::from_vds(data, limits, bs, reserve, nsr, anchor_sector).map_err(|_| e)?
            }
        };
        let mut vol = vol;
        vol.info.reserve_sequence = reserve_sequence;
        Ok(Some(vol))
    }

    fn from_vds(
        data: &'d [u8],
        limits: &Limits,
        bs: u32,
        ext: ExtentAd,
        nsr: u8,
        anchor_sector: u32,
    ) -> Result<Self> {
        let vds = read_vds(data, bs, ext, limits)?;
        let bs64 = u64::from(bs);
        let (_, lvd_off) = vds.lvd.unwrap_or_default();
        let lvd = slice(
            data,
            lvd_off,
            lvd_off + bs64,
            "UDF logical volume descriptor",
        )?;
        if u32_at(lvd, 212) != bs {
            return Err(bad(
                "logical block size differs from the sector size of the anchor",
                lvd_off + 212,
            ));
        }
        let revision = lvd
            .get(217..236)
            .filter(|id| id.starts_with(b"*OSTA UDF Compliant"))
            .map(|_| u16_at(lvd, 240));
        let (_, fsd_icb) = long_ad(lvd, 248);
        let mtl = u32_at(lvd, 264) as usize;
        let nmaps = u32_at(lvd, 268) as usize;
        if nmaps > MAX_PARTITION_MAPS {
            return Err(bad("more than 64 partition maps", lvd_off + 268));
        }
        let maps = lvd
            .get(440..440usize.saturating_add(mtl))
            .ok_or_else(|| bad("partition map table runs past its block", lvd_off + 264))?;
        let mut vol = UdfVolume {
            data,
            limits: *limits,
            bs,
            parts: Vec::new(),
            info: UdfInfo {
                block_size: bs,
                anchor_sector,
                nsr,
                revision,
                integrity_revisions: lvid_revisions(data, bs, extent_ad(lvd, 432)),
                reserve_sequence: false,
                volume_id: String::new(),
                volume_set_id: String::new(),
                logical_volume_id: dstring(lvd.get(84..212).unwrap_or_default()),
                file_set_id: String::new(),
                recorded: None,
                partitions: Vec::new(),
            },
            root: UdfEntry {
                name: String::new(),
                kind: None,
                file_type: 0,
                size: 0,
                mode: 0,
                uid: None,
                gid: None,
                mtime: None,
                atime: None,
                ctime: None,
                birth: None,
                nlink: 0,
                icb: UdfIcb::default_root(),
                unique_id: 0,
                hidden: false,
                entry_offset: 0,
                extents: SmallVec::new(),
            },
        };
        if let Some((_, pvd_off)) = vds.pvd {
            let pvd = slice(
                data,
                pvd_off,
                pvd_off + bs64,
                "UDF primary volume descriptor",
            )?;
            vol.info.volume_id = dstring(pvd.get(24..56).unwrap_or_default());
            vol.info.volume_set_id = dstring(pvd.get(72..200).unwrap_or_default());
            vol.info.recorded = timestamp(pvd.get(376..388).unwrap_or_default());
        }
        // Partition maps: physical ones first; metadata ones are resolved below.
        let mut pending = Vec::new();
        let mut at = 0usize;
        for i in 0..nmaps {
            let map_off = lvd_off + 440 + at as u64;
            let ty = u8_at(maps, at);
            let len = usize::from(u8_at(maps, at + 1));
            let m = at
                .checked_add(len)
                .and_then(|end| maps.get(at..end))
                .filter(|_| len >= 6)
                .ok_or_else(|| bad("partition map is truncated", map_off))?;
            let number = match ty {
                1 => u16_at(m, 4),
                2 => {
                    let id = m.get(5..28).unwrap_or_default();
                    if id.starts_with(b"*UDF Sparable Partition") {
                        return Err(Error::at(
                            ErrorKind::Unsupported("UDF sparable partition map"),
                            map_off,
                        ));
                    }
                    if id.starts_with(b"*UDF Virtual Partition") {
                        return Err(Error::at(
                            ErrorKind::Unsupported("UDF virtual partition map (VAT)"),
                            map_off,
                        ));
                    }
                    if !id.starts_with(b"*UDF Metadata Partition") || m.len() < 52 {
                        return Err(Error::at(
                            ErrorKind::Unsupported("UDF partition map of an unknown type"),
                            map_off,
                        ));
                    }
                    pending.push((i, u32_at(m, 40), u32_at(m, 44), map_off));
                    u16_at(m, 38)
                }
                _ => return Err(bad("partition map type is not 1 or 2", map_off)),
            };
            let &(_, _, start, blocks) = vds
                .pds
                .iter()
                .find(|p| p.1 == number)
                .ok_or_else(|| bad("partition map names no partition descriptor", map_off))?;
            let end = (u64::from(start) + u64::from(blocks)) * bs64;
            if end > data.len() as u64 {
                return Err(Error::at(
                    ErrorKind::OutOfBounds {
                        what: "UDF partition",
                        start: u64::from(start) * bs64,
                        end,
                        image_len: data.len() as u64,
                    },
                    map_off,
                ));
            }
            vol.parts.push(Part::Physical {
                start: start.into(),
                blocks: blocks.into(),
            });
            vol.info.partitions.push(UdfPartitionInfo {
                number,
                start,
                blocks,
                kind: UdfPartitionKind::Physical,
            });
            at += len;
        }
        for (i, main, mirror, map_off) in pending {
            let (map, used_mirror) = match vol.metadata_map(i, main, 250) {
                Ok(m) => (m, false),
                Err(e) => (
                    vol.metadata_map(i, mirror, 251)
                        .map_err(|_| e.with_offset(map_off))?,
                    true,
                ),
            };
            if let (Some(Part::Physical { start, blocks }), Some(info)) =
                (vol.parts.get(i).cloned(), vol.info.partitions.get_mut(i))
            {
                info.kind = UdfPartitionKind::Metadata {
                    mirror: used_mirror,
                };
                if let Some(p) = vol.parts.get_mut(i) {
                    *p = Part::Metadata { start, blocks, map };
                }
            }
        }
        // File set descriptor and root.
        let (fsd, fsd_off) = vol.block(fsd_icb, "UDF file set descriptor")?;
        let id = check_tag(fsd, fsd_icb.lbn, fsd_off)?;
        if id != 256 {
            return Err(Error::at(
                ErrorKind::BadUdfTag {
                    id,
                    reason: "expected a file set descriptor (256)",
                },
                fsd_off,
            ));
        }
        vol.info.file_set_id = dstring(fsd.get(304..336).unwrap_or_default());
        let (_, root_icb) = long_ad(fsd, 400);
        let root = vol.entry(root_icb, String::new(), false)?;
        if !root.is_dir() {
            return Err(bad("root ICB is not a directory", root.entry_offset));
        }
        vol.root = root;
        Ok(vol)
    }

    /// The map of a metadata partition, read from its metadata (or mirror) file at block
    /// `lbn` of the physical partition that `parts[i]` still is.
    fn metadata_map(&self, i: usize, lbn: u32, want_type: u8) -> Result<Vec<MapExt>> {
        let icb = UdfIcb {
            partition: u16::try_from(i).unwrap_or(u16::MAX),
            lbn,
        };
        let fe = self.read_icb(icb)?;
        if fe.file_type != want_type {
            return Err(bad(
                "metadata file has the wrong file type (250 or 251)",
                fe.off + 27,
            ));
        }
        let extents = self.extents_of(&fe)?;
        let mut map = Vec::new();
        let mut logical = 0u64;
        for e in extents {
            let (len, lbn) = match e {
                UdfExtent::Recorded {
                    partition,
                    lbn,
                    len,
                } if partition == icb.partition => (len, Some(lbn)),
                UdfExtent::Sparse { len, .. } => (len, None),
                _ => return Err(bad("metadata file extent is not in its partition", fe.off)),
            };
            if len % self.bs != 0 && len > 0 {
                return Err(bad(
                    "metadata file extent is not a whole number of blocks",
                    fe.off,
                ));
            }
            map.push(MapExt {
                logical,
                len: len.into(),
                lbn,
            });
            logical += u64::from(len);
        }
        Ok(map)
    }

    /// What the volume descriptors say.
    pub fn info(&self) -> &UdfInfo {
        &self.info
    }

    /// The limits this volume was parsed with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The root directory.
    pub fn root(&self) -> &UdfEntry {
        &self.root
    }

    /// Resolves `len` bytes from block `lbn` of partition `pref` into pieces of the image.
    fn resolve(&self, pref: u16, lbn: u32, len: u64, out: &mut SmallVec<[Piece; 1]>) -> Result<()> {
        let bs = u64::from(self.bs);
        let part = self.parts.get(usize::from(pref)).ok_or_else(|| {
            Error::new(ErrorKind::BadUdf(
                "partition reference has no partition map",
            ))
        })?;
        let phys = |start: u64, blocks: u64, byte: u64, n: u64| -> Result<Piece> {
            let end = byte.checked_add(n).filter(|&e| e <= blocks * bs);
            let off = start * bs + byte;
            match end {
                Some(_) => {
                    slice(self.data, off, off + n, "UDF extent")?;
                    Ok(Piece::Bytes { off, len: n })
                }
                None => Err(Error::at(
                    ErrorKind::BadUdf("extent lies past the end of its partition"),
                    off,
                )),
            }
        };
        match part {
            Part::Physical { start, blocks } => {
                out.push(phys(*start, *blocks, u64::from(lbn) * bs, len)?);
            }
            Part::Metadata { start, blocks, map } => {
                let mut pos = u64::from(lbn) * bs;
                let end = pos + len;
                while pos < end {
                    let i = map.partition_point(|m| m.logical + m.len <= pos);
                    let m = map.get(i).filter(|m| m.logical <= pos).ok_or_else(|| {
                        Error::new(ErrorKind::BadUdf(
                            "block lies past the end of the metadata partition",
                        ))
                    })?;
                    let within = pos - m.logical;
                    let n = (m.len - within).min(end - pos);
                    out.push(match m.lbn {
                        Some(l) => phys(*start, *blocks, u64::from(l) * bs + within, n)?,
                        None => Piece::Zeros(n),
                    });
                    if out.len() > self.limits.max_extents_per_file as usize {
                        return Err(limit(
                            "max_extents_per_file",
                            out.len() as u64,
                            self.limits.max_extents_per_file.into(),
                        ));
                    }
                    pos += n;
                }
            }
        }
        Ok(())
    }

    /// The logical block at `icb`, with its image offset.
    fn block(&self, icb: UdfIcb, what: &'static str) -> Result<(&'d [u8], u64)> {
        let mut pieces = SmallVec::new();
        self.resolve(icb.partition, icb.lbn, self.bs.into(), &mut pieces)?;
        match pieces.as_slice() {
            [Piece::Bytes { off, len }] => Ok((slice(self.data, *off, off + len, what)?, *off)),
            _ => Err(Error::new(ErrorKind::BadUdf(
                "descriptor block is not recorded in one piece",
            ))),
        }
    }

    /// The file entry of an ICB, through indirect entries (strategy 4).
    fn read_icb(&self, icb: UdfIcb) -> Result<FileEntry> {
        let mut addr = icb;
        let mut seen: SmallVec<[UdfIcb; 4]> = SmallVec::new();
        // Strategy 4096: the newest entry read so far, should an indirect entry lead nowhere.
        let mut latest: Option<FileEntry> = None;
        for _ in 0..=MAX_INDIRECT {
            let (b, off) = match self.block(addr, "UDF file entry") {
                Ok(x) => x,
                Err(_) if latest.is_some() => break,
                Err(e) => return Err(e),
            };
            let id = match check_tag(b, addr.lbn, off) {
                Ok(id) => id,
                Err(_) if latest.is_some() => break,
                Err(e) => return Err(e),
            };
            match id {
                259 => {
                    seen.push(addr);
                    let (_, next) = long_ad(b, 36);
                    if seen.contains(&next) {
                        return Err(Error::at(ErrorKind::UdfLoop("indirect entries"), off));
                    }
                    addr = next;
                }
                261 | 266 => {
                    let fe = parse_fe(b, id, addr, off)?;
                    if u16_at(b, 20) != 4096 {
                        return Ok(fe);
                    }
                    // ECMA-167 4/A.6 (strategy 4096): the ICB holds up to `max entries`
                    // entries in consecutive blocks; a later direct entry supersedes an
                    // earlier one, a terminal entry (or an unrecorded block) ends it, an
                    // indirect entry continues it elsewhere.
                    latest = Some(fe);
                    let max = u32::from(u16_at(b, 24)).min(MAX_STRATEGY_4096);
                    let mut next = None;
                    for k in 1..max {
                        let Some(lbn) = addr.lbn.checked_add(k) else {
                            break;
                        };
                        let a = UdfIcb {
                            partition: addr.partition,
                            lbn,
                        };
                        let Ok((b2, off2)) = self.block(a, "UDF file entry") else {
                            break;
                        };
                        let Ok(id2) = check_tag(b2, a.lbn, off2) else {
                            break;
                        };
                        match id2 {
                            261 | 266 => latest = Some(parse_fe(b2, id2, a, off2)?),
                            259 => {
                                next = Some((a, long_ad(b2, 36).1, off2));
                                break;
                            }
                            _ => break,
                        }
                    }
                    let Some((ie, target, ie_off)) = next else {
                        break;
                    };
                    seen.push(addr);
                    seen.push(ie);
                    if seen.contains(&target) {
                        return Err(Error::at(ErrorKind::UdfLoop("indirect entries"), ie_off));
                    }
                    addr = target;
                }
                _ if latest.is_some() => break,
                _ => {
                    return Err(Error::at(
                        ErrorKind::BadUdfTag {
                            id,
                            reason: "expected a file entry (261, 266) or an indirect entry (259)",
                        },
                        off,
                    ))
                }
            }
        }
        if let Some(fe) = latest {
            return Ok(fe);
        }
        Err(limit(
            "UDF indirect entries",
            MAX_INDIRECT as u64 + 1,
            MAX_INDIRECT as u64,
        ))
    }

    /// The extents of a file entry: its allocation descriptors, continuation extents followed.
    fn extents_of(&self, fe: &FileEntry) -> Result<SmallVec<[UdfExtent; 1]>> {
        let mut out = SmallVec::new();
        let ad_type = fe.flags & 7;
        if ad_type == 3 {
            out.push(UdfExtent::Embedded {
                offset: fe.ad_off,
                len: fe.ad_len,
            });
            return Ok(out);
        }
        let size = match ad_type {
            0 => 8,
            1 => 16,
            2 => 20,
            _ => return Err(bad("allocation descriptor type is not 0 to 3", fe.off + 34)),
        };
        let max = self.limits.max_extents_per_file;
        let mut area_off = fe.ad_off;
        let mut area = slice(
            self.data,
            fe.ad_off,
            fe.ad_off + u64::from(fe.ad_len),
            "UDF allocation descriptors",
        )?;
        let mut seen = HashSet::new();
        loop {
            let mut next = None;
            for (k, ad) in area.chunks_exact(size).enumerate() {
                let raw = u32_at(ad, 0);
                let (kind, len) = (raw >> 30, raw & 0x3fff_ffff);
                if len == 0 {
                    break;
                }
                let (lbn, partition) = match ad_type {
                    0 => (u32_at(ad, 4), fe.icb.partition),
                    1 => (u32_at(ad, 4), u16_at(ad, 8)),
                    _ => (u32_at(ad, 12), u16_at(ad, 16)),
                };
                let e = match kind {
                    0 => UdfExtent::Recorded {
                        partition,
                        lbn,
                        len,
                    },
                    1 | 2 => UdfExtent::Sparse {
                        len,
                        allocated: kind == 1,
                    },
                    _ => {
                        next = Some((UdfIcb { partition, lbn }, len, area_off + (k * size) as u64));
                        break;
                    }
                };
                if out.len() >= max as usize {
                    return Err(
                        limit("max_extents_per_file", out.len() as u64 + 1, max.into())
                            .with_offset(fe.off),
                    );
                }
                out.push(e);
            }
            let Some((aed, len, ad_at)) = next else {
                break;
            };
            if !seen.insert(aed) {
                return Err(Error::at(
                    ErrorKind::UdfLoop("allocation extent descriptors"),
                    ad_at,
                ));
            }
            if seen.len() > max as usize {
                return Err(
                    limit("max_extents_per_file", seen.len() as u64, max.into()).with_offset(ad_at)
                );
            }
            let (b, off) = self.block(aed, "UDF allocation extent descriptor")?;
            let id = check_tag(b, aed.lbn, off)?;
            if id != 258 {
                return Err(Error::at(
                    ErrorKind::BadUdfTag {
                        id,
                        reason: "expected an allocation extent descriptor (258)",
                    },
                    off,
                ));
            }
            let l = u32_at(b, 20) as usize;
            area = 24usize
                .checked_add(l)
                .filter(|&end| end as u64 <= u64::from(len))
                .and_then(|end| b.get(24..end))
                .ok_or_else(|| {
                    bad(
                        "allocation extent descriptor's length runs past its extent",
                        off + 20,
                    )
                })?;
            area_off = off + 24;
        }
        Ok(out)
    }

    fn entry(&self, icb: UdfIcb, name: String, hidden: bool) -> Result<UdfEntry> {
        let fe = self.read_icb(icb)?;
        let extents = self.extents_of(&fe)?;
        let kind = match fe.file_type {
            4 => Some(EntryKind::Directory),
            5 => Some(EntryKind::File),
            12 => Some(EntryKind::Symlink),
            6 => Some(EntryKind::BlockDevice),
            7 => Some(EntryKind::CharDevice),
            9 => Some(EntryKind::Fifo),
            10 => Some(EntryKind::Socket),
            _ => None,
        };
        let ifmt = match kind {
            Some(EntryKind::Directory) => 0o040000,
            Some(EntryKind::File) => 0o100000,
            Some(EntryKind::Symlink) => 0o120000,
            Some(EntryKind::BlockDevice) => 0o060000,
            Some(EntryKind::CharDevice) => 0o020000,
            Some(EntryKind::Fifo) => 0o010000,
            Some(EntryKind::Socket) => 0o140000,
            None => 0,
        };
        let p = fe.perm;
        let mut mode = ifmt | ((p >> 10) & 7) << 6 | ((p >> 5) & 7) << 3 | (p & 7);
        if fe.flags & 0x40 != 0 {
            mode |= 0o4000;
        }
        if fe.flags & 0x80 != 0 {
            mode |= 0o2000;
        }
        if fe.flags & 0x100 != 0 {
            mode |= 0o1000;
        }
        Ok(UdfEntry {
            name,
            kind,
            file_type: fe.file_type,
            size: fe.size,
            mode,
            uid: (fe.uid != u32::MAX).then_some(fe.uid),
            gid: (fe.gid != u32::MAX).then_some(fe.gid),
            mtime: fe.mtime,
            atime: fe.atime,
            ctime: fe.ctime,
            birth: fe.birth,
            nlink: fe.nlink,
            icb,
            unique_id: fe.unique_id,
            hidden,
            entry_offset: fe.off,
            extents,
        })
    }

    /// The data of any entry (file, directory or symlink) as pieces, with the stream offset
    /// and lbn of each piece for tag locations.
    fn data_of(
        &self,
        e: &UdfEntry,
        mut lbns: Option<&mut Vec<(u64, u32)>>,
    ) -> Result<UdfContents<'d>> {
        let mut c = UdfContents::default();
        let mut left = e.size;
        let mut pieces: SmallVec<[Piece; 1]> = SmallVec::new();
        for x in &e.extents {
            if left == 0 {
                break;
            }
            if let Some(l) = lbns.as_deref_mut() {
                let lbn = match x {
                    UdfExtent::Recorded { lbn, .. } => *lbn,
                    _ => e.icb.lbn,
                };
                l.push((c.len, lbn));
            }
            pieces.clear();
            match *x {
                UdfExtent::Recorded {
                    partition,
                    lbn,
                    len,
                } => {
                    let n = u64::from(len).min(left);
                    self.resolve(partition, lbn, n, &mut pieces)?;
                }
                UdfExtent::Sparse { len, .. } => {
                    pieces.push(Piece::Zeros(u64::from(len).min(left)))
                }
                UdfExtent::Embedded { offset, len } => pieces.push(Piece::Bytes {
                    off: offset,
                    len: u64::from(len).min(left),
                }),
            }
            for p in &pieces {
                let part = match *p {
                    Piece::Bytes { off, len } => {
                        UdfPart::Data(slice(self.data, off, off + len, "UDF file data")?)
                    }
                    Piece::Zeros(n) => UdfPart::Zeros(n),
                };
                left -= part.len();
                c.push(part, &self.limits)
                    .map_err(|err| err.with_offset(e.entry_offset))?;
            }
        }
        if left > 0 {
            return Err(bad(
                "allocation descriptors cover fewer bytes than the information length",
                e.entry_offset + 56,
            ));
        }
        Ok(c)
    }

    /// The contents of a regular file (or the raw data of a symlink or other non-directory
    /// entry): slices of the image, one per extent, and [`UdfPart::Zeros`] for sparse extents.
    pub fn contents(&self, entry: &UdfEntry) -> Result<UdfContents<'d>> {
        if entry.is_dir() {
            return Err(Error::new(ErrorKind::NotAFile));
        }
        self.data_of(entry, None)
    }

    /// The target of a symbolic link, from its path components (ECMA-167 4/14.16): `/` for
    /// the root, `..`, `.`, and names joined with `/`.
    pub fn symlink_target(&self, entry: &UdfEntry) -> Result<String> {
        if !entry.is_symlink() {
            return Err(Error::new(ErrorKind::NotAFile));
        }
        let max = self.limits.max_link_bytes;
        if entry.size > (max as u64).saturating_mul(4) {
            return Err(limit("max_link_bytes", entry.size, max as u64));
        }
        let data = self.data_of(entry, None)?.to_vec();
        let at = |e: Error| e.with_offset(entry.entry_offset);
        let mut out = String::new();
        let mut rest = data.as_slice();
        let mut first = true;
        while let [ty, l_ci, _, _, tail @ ..] = rest {
            let l = usize::from(*l_ci);
            let ident = tail.get(..l).ok_or_else(|| {
                at(Error::new(ErrorKind::BadUdf(
                    "symlink path component is truncated",
                )))
            })?;
            rest = tail.get(l..).unwrap_or_default();
            let piece = match ty {
                1 | 2 => {
                    out.clear();
                    out.push('/');
                    first = true;
                    continue;
                }
                3 => Cow::Borrowed(".."),
                4 => Cow::Borrowed("."),
                5 => Cow::Owned(cs0(ident).map_err(|r| at(Error::new(ErrorKind::BadUdf(r))))?),
                _ => {
                    return Err(at(Error::new(ErrorKind::BadUdf(
                        "symlink path component type is not 1 to 5",
                    ))))
                }
            };
            if !first {
                out.push('/');
            }
            first = false;
            out.push_str(&piece);
            if out.len() > max {
                return Err(limit("max_link_bytes", out.len() as u64, max as u64));
            }
        }
        if !rest.is_empty() {
            return Err(at(Error::new(ErrorKind::BadUdf(
                "symlink path component is truncated",
            ))));
        }
        Ok(out)
    }

    /// The entries of a directory, in recorded order (parent and deleted entries skipped).
    pub fn read_dir<'v>(&'v self, dir: &UdfEntry) -> Result<UdfReadDir<'v, 'd>> {
        if !dir.is_dir() {
            return Err(Error::new(ErrorKind::NotADirectory));
        }
        if dir.size > self.data.len() as u64 {
            return Err(bad(
                "directory is larger than the image",
                dir.entry_offset + 56,
            ));
        }
        let mut lbns = Vec::new();
        let c = self.data_of(dir, Some(&mut lbns))?;
        let buf = match c.parts() {
            [] => Cow::Borrowed(&[][..]),
            [UdfPart::Data(d)] => Cow::Borrowed(*d),
            parts => {
                let mut v = Vec::new();
                for p in parts {
                    match p {
                        UdfPart::Data(d) => v.extend_from_slice(d),
                        UdfPart::Zeros(_) => {
                            return Err(bad("directory has an unrecorded extent", dir.entry_offset))
                        }
                    }
                }
                Cow::Owned(v)
            }
        };
        let offs = c
            .parts()
            .iter()
            .scan(0u64, |pos, p| {
                let at = *pos;
                *pos += p.len();
                Some(match p {
                    UdfPart::Data(d) => (
                        at,
                        (d.as_ptr() as usize).wrapping_sub(self.data.as_ptr() as usize),
                    ),
                    UdfPart::Zeros(_) => (at, 0),
                })
            })
            .collect();
        Ok(UdfReadDir {
            vol: self,
            dir: dir.icb,
            buf,
            lbns,
            offs,
            pos: 0,
            done: false,
        })
    }

    /// Every entry under the root, depth first, each directory's entries before its
    /// subdirectories' contents, with paths relative to the root (`a/b`). Bounded by
    /// [`Limits`]: depth, entries, directories, path length; a directory reached twice (its
    /// own ancestor, or a directory hard link) is a [`ErrorKind::DirectoryLoop`] error.
    pub fn walk<'v>(&'v self) -> Result<UdfWalk<'v, 'd>> {
        let rd = self.read_dir(&self.root)?;
        let mut visited = HashSet::new();
        visited.insert(self.root.icb);
        Ok(UdfWalk {
            vol: self,
            stack: vec![(rd, 0)],
            path: String::new(),
            visited,
            entries: 0,
            dirs: 1,
            done: false,
        })
    }

    /// The entry at `path` (components separated by `/`, relative to the root; `""` or `/` is
    /// the root). Symbolic links are not followed.
    pub fn lookup(&self, path: &str) -> Result<UdfEntry> {
        let mut cur = self.root.clone();
        let mut depth = 0u32;
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            depth += 1;
            if depth > self.limits.max_depth {
                return Err(
                    limit("max_depth", depth.into(), self.limits.max_depth.into()).with_path(path),
                );
            }
            if !cur.is_dir() {
                return Err(Error::new(ErrorKind::NotADirectory).with_path(path));
            }
            let mut found = None;
            for e in self.read_dir(&cur).map_err(|e| e.with_path(path))? {
                let e = e.map_err(|e| e.with_path(path))?;
                if e.name == comp {
                    found = Some(e);
                    break;
                }
            }
            cur = found.ok_or_else(|| Error::new(ErrorKind::NotFound).with_path(path))?;
        }
        Ok(cur)
    }
}

impl UdfIcb {
    const fn default_root() -> Self {
        UdfIcb {
            partition: 0,
            lbn: 0,
        }
    }
}

fn parse_fe(b: &[u8], id: u16, icb: UdfIcb, off: u64) -> Result<FileEntry> {
    let efe = id == 266;
    let hdr: usize = if efe { 216 } else { 176 };
    if b.len() < hdr {
        return Err(bad("file entry is larger than a block", off));
    }
    let strategy = u16_at(b, 20);
    if strategy != 4 && strategy != 4096 {
        return Err(Error::at(
            ErrorKind::Unsupported("UDF ICB strategy other than 4 and 4096"),
            off + 20,
        ));
    }
    let (l_ea, l_ad) = if efe {
        (u32_at(b, 208), u32_at(b, 212))
    } else {
        (u32_at(b, 168), u32_at(b, 172))
    };
    let end = hdr as u64 + u64::from(l_ea) + u64::from(l_ad);
    if end > b.len() as u64 {
        return Err(bad(
            "extended attributes and allocation descriptors run past the file entry's block",
            off + hdr as u64 - 8,
        ));
    }
    let t = |at: usize| timestamp(b.get(at..at + 12).unwrap_or_default());
    Ok(FileEntry {
        icb,
        off,
        file_type: u8_at(b, 27),
        flags: u16_at(b, 34),
        uid: u32_at(b, 36),
        gid: u32_at(b, 40),
        perm: u32_at(b, 44),
        nlink: u16_at(b, 48),
        size: u64_at(b, 56),
        atime: t(if efe { 80 } else { 72 }),
        mtime: t(if efe { 92 } else { 84 }),
        birth: if efe { t(104) } else { None },
        ctime: t(if efe { 116 } else { 96 }),
        unique_id: u64_at(b, if efe { 200 } else { 160 }),
        ad_off: off + hdr as u64 + u64::from(l_ea),
        ad_len: l_ad,
    })
}

/// The entries of one directory: see [`UdfVolume::read_dir`]. The first error ends it.
#[derive(Debug)]
pub struct UdfReadDir<'v, 'd> {
    vol: &'v UdfVolume<'d>,
    dir: UdfIcb,
    buf: Cow<'d, [u8]>,
    /// (stream offset, first lbn) of each extent.
    lbns: Vec<(u64, u32)>,
    /// (stream offset, image offset) of each piece.
    offs: Vec<(u64, usize)>,
    pos: usize,
    done: bool,
}

impl UdfReadDir<'_, '_> {
    fn image_offset(&self, pos: u64) -> u64 {
        let i = self.offs.partition_point(|&(s, _)| s <= pos);
        match i.checked_sub(1).and_then(|i| self.offs.get(i)) {
            Some(&(s, o)) => o as u64 + (pos - s),
            None => 0,
        }
    }

    fn lbn_at(&self, pos: u64) -> u32 {
        let i = self.lbns.partition_point(|&(s, _)| s <= pos);
        match i.checked_sub(1).and_then(|i| self.lbns.get(i)) {
            Some(&(s, l)) => l.wrapping_add(((pos - s) / u64::from(self.vol.bs)) as u32),
            None => 0,
        }
    }

    fn next_entry(&mut self) -> Result<Option<UdfEntry>> {
        loop {
            let pos = self.pos;
            let Some(rest) = self.buf.get(pos..).filter(|r| !r.is_empty()) else {
                return Ok(None);
            };
            let off = self.image_offset(pos as u64);
            if rest.len() < 38 {
                return Err(bad("file identifier descriptor is truncated", off));
            }
            let l_fi = usize::from(u8_at(rest, 19));
            let l_iu = usize::from(u16_at(rest, 36));
            let raw = 38 + l_iu + l_fi;
            let padded = (raw + 3) & !3;
            if raw > rest.len() {
                return Err(bad(
                    "file identifier descriptor runs past its directory",
                    off,
                ));
            }
            let fid = rest.get(..padded.min(rest.len())).unwrap_or_default();
            let id = check_tag(fid, self.lbn_at(pos as u64), off)?;
            if id != 257 {
                return Err(Error::at(
                    ErrorKind::BadUdfTag {
                        id,
                        reason: "expected a file identifier descriptor (257)",
                    },
                    off,
                ));
            }
            self.pos = pos + padded.min(rest.len());
            let chars = u8_at(fid, 18);
            if chars & 0x0c != 0 {
                continue; // deleted, or the parent
            }
            let (_, icb) = long_ad(fid, 20);
            let ident = fid.get(38 + l_iu..raw).unwrap_or_default();
            let name = cs0(ident).map_err(|r| bad(r, off + 38 + l_iu as u64))?;
            if name.len() > self.vol.limits.max_name_bytes {
                return Err(limit(
                    "max_name_bytes",
                    name.len() as u64,
                    self.vol.limits.max_name_bytes as u64,
                )
                .with_offset(off));
            }
            if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
                return Err(bad(
                    "file identifier is empty, '.', '..', or holds '/' or NUL",
                    off + 38 + l_iu as u64,
                ));
            }
            if icb == self.dir {
                return Err(Error::at(ErrorKind::DirectoryLoop { lba: icb.lbn }, off));
            }
            return self
                .vol
                .entry(icb, name, chars & 1 != 0)
                .map(Some)
                .map_err(|e| e.with_offset(off));
        }
    }
}

impl Iterator for UdfReadDir<'_, '_> {
    type Item = Result<UdfEntry>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_entry().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// One entry of a [`UdfWalk`].
#[derive(Clone, Debug)]
pub struct UdfWalkEntry {
    /// Path relative to the root, components joined with `/`.
    pub path: String,
    /// Depth: 1 for the root's entries.
    pub depth: u32,
    /// The entry.
    pub entry: UdfEntry,
}

/// A depth-first walk of a UDF tree: see [`UdfVolume::walk`]. The first error ends it.
#[derive(Debug)]
pub struct UdfWalk<'v, 'd> {
    vol: &'v UdfVolume<'d>,
    stack: Vec<(UdfReadDir<'v, 'd>, usize)>,
    path: String,
    visited: HashSet<UdfIcb>,
    entries: u64,
    dirs: u64,
    done: bool,
}

impl UdfWalk<'_, '_> {
    fn step(&mut self) -> Result<Option<UdfWalkEntry>> {
        let limits = self.vol.limits;
        loop {
            let depth = self.stack.len() as u32;
            let Some((rd, plen)) = self.stack.last_mut() else {
                return Ok(None);
            };
            let plen = *plen;
            let path = &self.path;
            let parent = || path.get(..plen).unwrap_or_default().to_string();
            let entry = match rd.next() {
                None => {
                    self.stack.pop();
                    continue;
                }
                Some(r) => r.map_err(|e| e.with_path(parent()))?,
            };
            self.path.truncate(plen);
            if plen > 0 {
                self.path.push('/');
            }
            self.path.push_str(&entry.name);
            if self.path.len() > limits.max_path_bytes {
                return Err(limit(
                    "max_path_bytes",
                    self.path.len() as u64,
                    limits.max_path_bytes as u64,
                )
                .with_path(self.path.get(..plen).unwrap_or_default()));
            }
            self.entries += 1;
            if self.entries > limits.max_entries {
                return Err(limit("max_entries", self.entries, limits.max_entries));
            }
            if entry.is_dir() {
                let at = |e: Error| {
                    e.with_offset(entry.entry_offset)
                        .with_path(self.path.clone())
                };
                if depth > limits.max_depth {
                    return Err(at(limit(
                        "max_depth",
                        depth.into(),
                        limits.max_depth.into(),
                    )));
                }
                if !self.visited.insert(entry.icb) {
                    return Err(at(Error::new(ErrorKind::DirectoryLoop {
                        lba: entry.icb.lbn,
                    })));
                }
                self.dirs += 1;
                if self.dirs > limits.max_directories {
                    return Err(at(limit(
                        "max_directories",
                        self.dirs,
                        limits.max_directories,
                    )));
                }
                let rd = self.vol.read_dir(&entry).map_err(at)?;
                self.stack.push((rd, self.path.len()));
            }
            return Ok(Some(UdfWalkEntry {
                path: self.path.clone(),
                depth,
                entry,
            }));
        }
    }
}

impl Iterator for UdfWalk<'_, '_> {
    type Item = Result<UdfWalkEntry>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}
