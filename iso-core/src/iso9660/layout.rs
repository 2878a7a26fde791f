//! What the image holds besides its ISO 9660 trees: MBR, GPT and Apple partition maps in the
//! system area (isohybrid images, `-append_partition`, `-partition_offset`), the signatures
//! of HFS+ and UDF structures, and the sessions of a multi-session image.
//!
//! Everything is read from the image's bytes with every offset and length checked; odd or
//! damaged tables are reported as they are, with [`Warning`]s, never as errors. The HFS+ and
//! UDF trees themselves are not read.

use super::volume::{Image, Warning};

/// Bytes per MBR sector (a GPT says its own, see [`Gpt::sector_size`]).
const SECTOR: u64 = 512;
/// At most this many GPT entries are read (the header may claim more).
const MAX_GPT_ENTRIES: u32 = 1024;
/// At most this many Apple partition map entries are read.
const MAX_APM_ENTRIES: u32 = 64;
/// At most this many sectors after the ISO descriptors are scanned for UDF descriptors.
const MAX_VRS_SECTORS: u64 = 32;
/// The GPT entry array is checksummed only up to this size.
const MAX_GPT_ARRAY_BYTES: u64 = 1 << 20;

/// One of the four primary entries of an MBR partition table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MbrEntry {
    /// Slot number, 1 to 4.
    pub number: u8,
    /// Status byte 0x80 (active).
    pub bootable: bool,
    /// Partition type (0xEE protective GPT, 0xEF EFI system, 0x17 or 0xCD ISO data, …).
    pub kind: u8,
    /// First sector (512 bytes).
    pub start: u32,
    /// Sectors (512 bytes).
    pub sectors: u32,
}

/// An MBR partition table (signature 55 AA at byte 510 of the image).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Mbr {
    /// Disk signature at byte 440.
    pub disk_signature: u32,
    /// The non-empty entries.
    pub entries: Vec<MbrEntry>,
}

/// One used entry of a GUID partition table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GptEntry {
    /// Entry number, from 1.
    pub number: u32,
    /// Partition type GUID, in its usual text form (`C12A7328-F81F-11D2-BA4B-00A0C93EC93B`).
    pub type_guid: String,
    /// Unique partition GUID.
    pub guid: String,
    /// First sector (of the table's `sector_size`).
    pub first_lba: u64,
    /// Last sector, inclusive.
    pub last_lba: u64,
    /// Attribute flags.
    pub attributes: u64,
    /// Name (UTF-16LE up to its first NUL).
    pub name: String,
}

/// The backup GPT header (normally in the last sector of the disk), as found where the
/// primary header says it is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GptBackup {
    /// Its sector.
    pub lba: u64,
    /// Its own CRC32 is right.
    pub header_crc_ok: bool,
    /// Its entry array's CRC32 is right.
    pub entries_crc_ok: bool,
    /// Sector of its entry array (normally just before it).
    pub entries_lba: u64,
    /// It points back to sector 1 and describes the same disk GUID, usable range and entry
    /// array (count, size, CRC32) as the primary header.
    pub matches_primary: bool,
}

/// A GUID partition table whose header is at sector 1, in sectors of 512, 2048 or 4096
/// bytes (`sector_size`: every `_lba` field counts such sectors).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Gpt {
    /// Bytes per sector: 512, 2048 or 4096 (the first whose sector 1 holds `EFI PART`).
    pub sector_size: u32,
    /// Sector of the header.
    pub header_lba: u64,
    /// Disk GUID.
    pub disk_guid: String,
    /// Sector of the backup header, as recorded.
    pub backup_lba: u64,
    /// First usable sector.
    pub first_usable_lba: u64,
    /// Last usable sector.
    pub last_usable_lba: u64,
    /// Sector of the entry array.
    pub entries_lba: u64,
    /// Entries in the array, as recorded.
    pub entry_count: u32,
    /// Bytes per entry, as recorded.
    pub entry_size: u32,
    /// The header's CRC32 is right.
    pub header_crc_ok: bool,
    /// The entry array's CRC32 is right (false also when it could not be checked).
    pub entries_crc_ok: bool,
    /// The backup header, when one is where the primary header says (a warning otherwise).
    pub backup: Option<GptBackup>,
    /// The used entries (non-zero type GUID), of the first 1024.
    pub entries: Vec<GptEntry>,
}

/// One entry of an Apple partition map.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ApmEntry {
    /// Entry number, from 1 (the map's own entry is usually the first).
    pub number: u32,
    /// Partition name.
    pub name: String,
    /// Partition type (`Apple_partition_map`, `Apple_HFS`, …).
    pub kind: String,
    /// First block (of the map's block size).
    pub start: u32,
    /// Blocks.
    pub blocks: u32,
}

/// An Apple partition map (a driver descriptor `ER` at byte 0, entries `PM` from block 1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Apm {
    /// Block size of the map, in bytes.
    pub block_size: u32,
    /// The entries, at most 64 read.
    pub entries: Vec<ApmEntry>,
}

/// An HFS+ (or HFSX) volume header.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HfsPlus {
    /// Byte offset of the volume (its header is 1024 bytes further).
    pub offset: u64,
    /// `H+` or `HX`.
    pub signature: String,
    /// Version (4 for HFS+, 5 for HFSX).
    pub version: u16,
}

/// One descriptor of the UDF volume recognition sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UdfDescriptor {
    /// Its standard identifier (`BEA01`, `NSR02`, `NSR03`, `TEA01`, …).
    pub id: String,
    /// Its 2048-byte sector.
    pub sector: u64,
}

/// The UDF volume recognition sequence after the ISO 9660 descriptors.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Udf {
    /// The descriptors in order (`BEA01`, `NSR02` or `NSR03`, `TEA01`, …).
    pub descriptors: Vec<UdfDescriptor>,
    /// The NSR descriptor (`NSR02` or `NSR03`) that announces UDF, if any.
    pub nsr: Option<String>,
}

/// One session of a multi-session image.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Session {
    /// Session number, from 1.
    pub number: u32,
    /// First 2048-byte sector of the session (its descriptors are 16 sectors further).
    pub start: u64,
    /// Sectors from `start` to the end of the volume the session's descriptor records.
    pub sectors: u64,
    /// Volume identifier of the session's primary volume descriptor.
    pub volume_id: String,
    /// This is the session read (its descriptor is the one at sector 16).
    pub current: bool,
}

/// Partition tables and other file systems found in the image beside ISO 9660.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Layout {
    /// The MBR partition table, if any.
    pub mbr: Option<Mbr>,
    /// The GPT, if any.
    pub gpt: Option<Gpt>,
    /// The Apple partition map, if any.
    pub apm: Option<Apm>,
    /// HFS+ volume headers: at byte 1024 of the image or of an Apple partition. Not read
    /// further.
    pub hfsplus: Vec<HfsPlus>,
    /// UDF volume recognition descriptors. The UDF tree is not read.
    pub udf: Option<Udf>,
    /// The sessions of a multi-session image (as xorriso appends them: the first at sector 0
    /// or 32, each next one at the end of the previous rounded up to 32 sectors); empty when
    /// there is only one.
    pub sessions: Vec<Session>,
    /// Odd things in these tables (bad checksums, entries past the image, …).
    pub warnings: Vec<Warning>,
}

impl Layout {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.mbr.is_none()
            && self.gpt.is_none()
            && self.apm.is_none()
            && self.hfsplus.is_empty()
            && self.udf.is_none()
            && self.sessions.is_empty()
    }

    /// Reads the layout of the image `data` whose ISO 9660 descriptor set ends with the
    /// sector `last_descriptor` (of 2048 bytes).
    pub fn read(data: &[u8], last_descriptor: u64) -> Layout {
        let mut l = Layout::default();
        let len = data.len() as u64;
        l.mbr = mbr(data);
        l.gpt = gpt(data, &mut l.warnings);
        l.apm = apm(data, &mut l.warnings);
        if let Some(h) = hfsplus_at(data, 0) {
            l.hfsplus.push(h);
        }
        if let Some(apm) = &l.apm {
            for e in &apm.entries {
                let off = u64::from(e.start) * u64::from(apm.block_size);
                if off != 0 && !l.hfsplus.iter().any(|h| h.offset == off) {
                    if let Some(h) = hfsplus_at(data, off) {
                        l.hfsplus.push(h);
                    }
                }
            }
        }
        l.udf = udf(data, last_descriptor);
        l.sessions = sessions(data);
        let mut past = Vec::new();
        if let Some(m) = &l.mbr {
            for e in &m.entries {
                let end = (u64::from(e.start) + u64::from(e.sectors)) * SECTOR;
                if end > len && e.kind != 0xEE {
                    past.push(format!("MBR partition {}", e.number));
                }
            }
        }
        if let Some(g) = &l.gpt {
            for e in &g.entries {
                let ss = u64::from(g.sector_size);
                if e.last_lba < e.first_lba {
                    l.warnings.push(Warning {
                        offset: ss
                            .saturating_mul(g.entries_lba)
                            .saturating_add(u64::from(e.number - 1) * u64::from(g.entry_size)),
                        message: format!("GPT partition {} ends before it starts", e.number),
                    });
                } else if e.last_lba.saturating_add(1).saturating_mul(ss) > len {
                    past.push(format!("GPT partition {}", e.number));
                }
            }
        }
        if let Some(a) = &l.apm {
            for e in &a.entries {
                let end = (u64::from(e.start) + u64::from(e.blocks)) * u64::from(a.block_size);
                if end > len {
                    past.push(format!("Apple partition {}", e.number));
                }
            }
        }
        for p in past {
            l.warnings.push(Warning {
                offset: 0,
                message: format!("{p} runs past the end of the image ({len} bytes)"),
            });
        }
        l
    }
}

impl Image<'_> {
    /// Partition tables (MBR, GPT, Apple) and HFS+ and UDF structures found beside the ISO 9660
    /// trees. Read on each call, from the system area and the sectors after the volume
    /// descriptors; never fails.
    pub fn layout(&self) -> Layout {
        let last = self
            .volume_descriptors()
            .last()
            .map_or(16, |d| u64::from(d.sector));
        Layout::read(self.data, last)
    }
}

fn u16_le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_le(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn u16_be(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// `data[start..start + len]`, if all of it is in `data`.
fn get(data: &[u8], start: u64, len: u64) -> Option<&[u8]> {
    let s = usize::try_from(start).ok()?;
    let e = usize::try_from(start.checked_add(len)?).ok()?;
    data.get(s..e)
}

/// The CRC32 (IEEE, as in gzip and GPT) of `b`.
fn crc32(b: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(b);
    c.sum()
}

/// The MBR in the first sector: signature 55 AA, and every status byte 0 or 0x80 (which tells
/// a table from boot code that happens to end in 55 AA). `None` without a non-empty entry.
fn mbr(data: &[u8]) -> Option<Mbr> {
    let s = get(data, 0, SECTOR)?;
    if s[510..512] != [0x55, 0xAA] {
        return None;
    }
    let mut entries = Vec::new();
    for i in 0..4u8 {
        let e = &s[446 + 16 * usize::from(i)..462 + 16 * usize::from(i)];
        if e[0] != 0 && e[0] != 0x80 {
            return None;
        }
        let entry = MbrEntry {
            number: i + 1,
            bootable: e[0] == 0x80,
            kind: e[4],
            start: u32_le(e, 8)?,
            sectors: u32_le(e, 12)?,
        };
        if entry.kind != 0 || entry.sectors != 0 {
            entries.push(entry);
        }
    }
    if entries.is_empty() {
        return None;
    }
    Some(Mbr {
        disk_signature: u32_le(s, 440)?,
        entries,
    })
}

/// A GUID in its text form: the first three fields little-endian, the rest as stored.
fn guid(b: &[u8]) -> String {
    if b.len() < 16 {
        return String::new();
    }
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// The fields of one GPT header (primary or backup) and whether its CRC32 is right.
struct GptHeader {
    header_crc_ok: bool,
    my_lba: u64,
    alternate_lba: u64,
    first_usable_lba: u64,
    last_usable_lba: u64,
    disk_guid: [u8; 16],
    entries_lba: u64,
    entry_count: u32,
    entry_size: u32,
    entries_crc: u32,
}

/// Reads the header at byte `at`; `None` without the `EFI PART` signature. A header size
/// outside 92..=sector size is reported and makes the CRC wrong.
fn gpt_header(
    data: &[u8],
    at: u64,
    sector: u64,
    what: &str,
    warnings: &mut Vec<Warning>,
) -> Option<GptHeader> {
    let h = get(data, at, sector)?;
    if h.get(..8)? != b"EFI PART" {
        return None;
    }
    let header_size = u32_le(h, 12)?;
    let header_crc_ok = if (92..=sector).contains(&u64::from(header_size)) {
        let mut copy = h.get(..header_size as usize)?.to_vec();
        copy[16..20].fill(0);
        crc32(&copy) == u32_le(h, 16)?
    } else {
        warnings.push(Warning {
            offset: at + 12,
            message: format!("{what} header size {header_size} is not between 92 and {sector}"),
        });
        false
    };
    if !header_crc_ok {
        warnings.push(Warning {
            offset: at + 16,
            message: format!("{what} header CRC32 is wrong"),
        });
    }
    let mut disk_guid = [0u8; 16];
    disk_guid.copy_from_slice(h.get(56..72)?);
    Some(GptHeader {
        header_crc_ok,
        my_lba: u64_le(h, 24)?,
        alternate_lba: u64_le(h, 32)?,
        first_usable_lba: u64_le(h, 40)?,
        last_usable_lba: u64_le(h, 48)?,
        disk_guid,
        entries_lba: u64_le(h, 72)?,
        entry_count: u32_le(h, 80)?,
        entry_size: u32_le(h, 84)?,
        entries_crc: u32_le(h, 88)?,
    })
}

/// A GPT entry size the UEFI specification allows: a multiple of 8 from 128 (what is read
/// of each entry) to 4096.
fn gpt_entry_size_ok(size: u32) -> bool {
    (128..=4096).contains(&size) && size % 8 == 0
}

/// The CRC32 of a header's entry array, when its size is sane and it lies in the image.
fn gpt_array_crc(
    data: &[u8],
    h: &GptHeader,
    at: u64,
    sector: u64,
    what: &str,
    warnings: &mut Vec<Warning>,
) -> Option<u32> {
    let array_len = u64::from(h.entry_count) * u64::from(h.entry_size);
    match h.entries_lba.checked_mul(sector) {
        Some(a) if array_len <= MAX_GPT_ARRAY_BYTES => match get(data, a, array_len) {
            Some(bytes) => Some(crc32(bytes)),
            None => {
                warnings.push(Warning {
                    offset: at + 72,
                    message: format!("{what} entry array runs past the end of the image"),
                });
                None
            }
        },
        _ => {
            warnings.push(Warning {
                offset: at + 80,
                message: format!(
                    "{what} entry array of {} entries of {} bytes too large to check",
                    h.entry_count, h.entry_size
                ),
            });
            None
        }
    }
}

/// A GPT: its header at sector 1, for sectors of 512, 2048 or 4096 bytes (the first size
/// whose sector 1 holds the signature), its entries and its backup header.
fn gpt(data: &[u8], warnings: &mut Vec<Warning>) -> Option<Gpt> {
    let sector = [512u64, 2048, 4096]
        .into_iter()
        .find(|&s| get(data, s, 8) == Some(b"EFI PART".as_slice()))?;
    let h = gpt_header(data, sector, sector, "GPT", warnings)?;
    if h.my_lba != 1 {
        warnings.push(Warning {
            offset: sector + 24,
            message: format!("GPT header says it is at sector {}, not 1", h.my_lba),
        });
    }
    let mut g = Gpt {
        sector_size: sector as u32,
        header_lba: 1,
        disk_guid: guid(&h.disk_guid),
        backup_lba: h.alternate_lba,
        first_usable_lba: h.first_usable_lba,
        last_usable_lba: h.last_usable_lba,
        entries_lba: h.entries_lba,
        entry_count: h.entry_count,
        entry_size: h.entry_size,
        header_crc_ok: h.header_crc_ok,
        entries_crc_ok: false,
        backup: None,
        entries: Vec::new(),
    };
    let entry_size = h.entry_size;
    if !gpt_entry_size_ok(entry_size) {
        warnings.push(Warning {
            offset: sector + 84,
            message: format!("GPT entry size {entry_size} is not a multiple of 8 from 128 to 4096; entries not read"),
        });
        return Some(g);
    }
    g.entries_crc_ok =
        gpt_array_crc(data, &h, sector, sector, "GPT", warnings) == Some(h.entries_crc);
    if !g.entries_crc_ok {
        warnings.push(Warning {
            offset: sector + 88,
            message: "GPT entry array CRC32 is wrong or unchecked".into(),
        });
    }
    g.backup = gpt_backup(data, &h, sector, warnings);
    let entry_count = h.entry_count;
    if entry_count > MAX_GPT_ENTRIES {
        warnings.push(Warning {
            offset: sector + 80,
            message: format!(
                "GPT claims {entry_count} entries; the first {MAX_GPT_ENTRIES} are read"
            ),
        });
    }
    let Some(at) = h.entries_lba.checked_mul(sector) else {
        return Some(g);
    };
    for i in 0..entry_count.min(MAX_GPT_ENTRIES) {
        let off = at.checked_add(u64::from(i) * u64::from(entry_size));
        let Some(e) = off.and_then(|off| get(data, off, 128)) else {
            break;
        };
        if e[..16].iter().all(|&b| b == 0) {
            continue;
        }
        let units: Vec<u16> = (0..36)
            .filter_map(|k| u16_le(e, 56 + 2 * k))
            .take_while(|&u| u != 0)
            .collect();
        g.entries.push(GptEntry {
            number: i + 1,
            type_guid: guid(&e[..16]),
            guid: guid(&e[16..32]),
            first_lba: u64_le(e, 32)?,
            last_lba: u64_le(e, 40)?,
            attributes: u64_le(e, 48)?,
            name: String::from_utf16_lossy(&units),
        });
    }
    Some(g)
}

/// The backup header the primary one points to, checked against it: every problem is a
/// warning (a missing backup too: a GPT disk without one is damaged).
fn gpt_backup(
    data: &[u8],
    primary: &GptHeader,
    sector: u64,
    warnings: &mut Vec<Warning>,
) -> Option<GptBackup> {
    let lba = primary.alternate_lba;
    let Some(at) = lba.checked_mul(sector).filter(|&at| at > sector) else {
        warnings.push(Warning {
            offset: sector + 32,
            message: format!("GPT backup header sector {lba} is impossible"),
        });
        return None;
    };
    let Some(b) = gpt_header(data, at, sector, "GPT backup", warnings) else {
        warnings.push(Warning {
            offset: at,
            message: format!(
                "no GPT backup header at sector {lba} (byte {at}){}",
                if at.saturating_add(sector) > data.len() as u64 {
                    ", past the end of the image"
                } else {
                    ""
                }
            ),
        });
        return None;
    };
    let array_ok = gpt_entry_size_ok(b.entry_size)
        && gpt_array_crc(data, &b, at, sector, "GPT backup", warnings) == Some(b.entries_crc);
    if !array_ok {
        warnings.push(Warning {
            offset: at + 88,
            message: "GPT backup entry array CRC32 is wrong or unchecked".into(),
        });
    }
    let matches_primary = b.my_lba == lba
        && b.alternate_lba == 1
        && b.disk_guid == primary.disk_guid
        && b.first_usable_lba == primary.first_usable_lba
        && b.last_usable_lba == primary.last_usable_lba
        && b.entry_count == primary.entry_count
        && b.entry_size == primary.entry_size
        && b.entries_crc == primary.entries_crc;
    if !matches_primary {
        warnings.push(Warning {
            offset: at,
            message: format!("GPT backup header at sector {lba} does not match the primary one"),
        });
    }
    Some(GptBackup {
        lba,
        header_crc_ok: b.header_crc_ok,
        entries_crc_ok: array_ok,
        entries_lba: b.entries_lba,
        matches_primary,
    })
}

/// A NUL-padded ASCII field.
fn ascii(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The Apple partition map: `ER` and a block size at byte 0, `PM` entries from block 1.
fn apm(data: &[u8], warnings: &mut Vec<Warning>) -> Option<Apm> {
    if data.get(..2)? != b"ER" {
        return None;
    }
    let block_size = u32::from(u16_be(data, 2)?);
    if !matches!(block_size, 512 | 1024 | 2048 | 4096) {
        return None;
    }
    let bs = u64::from(block_size);
    let first = get(data, bs, bs)?;
    if &first[..2] != b"PM" {
        return None;
    }
    let count = u32_be(first, 4)?;
    if count > MAX_APM_ENTRIES {
        warnings.push(Warning {
            offset: bs + 4,
            message: format!(
                "Apple partition map claims {count} entries; the first {MAX_APM_ENTRIES} are read"
            ),
        });
    }
    let mut entries = Vec::new();
    for i in 0..count.min(MAX_APM_ENTRIES) {
        let off = bs * (1 + u64::from(i));
        let Some(e) = get(data, off, 80).filter(|e| &e[..2] == b"PM") else {
            warnings.push(Warning {
                offset: off,
                message: format!(
                    "Apple partition map entry {} is missing or has no PM signature",
                    i + 1
                ),
            });
            break;
        };
        entries.push(ApmEntry {
            number: i + 1,
            start: u32_be(e, 8)?,
            blocks: u32_be(e, 12)?,
            name: ascii(&e[16..48]),
            kind: ascii(&e[48..80]),
        });
    }
    Some(Apm {
        block_size,
        entries,
    })
}

/// The HFS+ or HFSX volume header of a volume at `offset`.
fn hfsplus_at(data: &[u8], offset: u64) -> Option<HfsPlus> {
    let h = get(data, offset.checked_add(1024)?, 4)?;
    let version = u16_be(h, 2)?;
    match (&h[..2], version) {
        (b"H+", 4) | (b"HX", 5) => Some(HfsPlus {
            offset,
            signature: ascii(&h[..2]),
            version,
        }),
        _ => None,
    }
}

/// At most this many sessions are followed.
const MAX_SESSIONS: u32 = 256;

/// The primary volume descriptor of a session starting at sector `start`: its volume space
/// in 2048-byte sectors, its root directory's extent and its volume identifier.
fn session_pvd(data: &[u8], start: u64) -> Option<(u64, u32, String)> {
    let vd = get(data, start.checked_add(16)?.checked_mul(2048)?, 2048)?;
    if vd[0] != 1 || &vd[1..6] != b"CD001" {
        return None;
    }
    let space = u64::from(u32_le(vd, 80)?);
    let bs = u64::from(u16_le(vd, 128)?);
    if !matches!(bs, 512 | 1024 | 2048) {
        return None;
    }
    let end = (space * bs).div_ceil(2048);
    Some((
        end,
        u32_le(vd, 158)?,
        ascii(&vd[40..72]).trim_end().to_string(),
    ))
}

/// The sessions, when there are two or more. xorriso's images on files start their first
/// session at sector 32 (sector 16 holds a copy of the newest session's descriptors) and
/// record each session's size in its own descriptor; other multi-session images start at 0
/// and record the end of the volume. Each next session starts at the end of the previous one
/// rounded up to 32 sectors. The session read is the one whose root directory is that of the
/// descriptor at sector 16.
fn sessions(data: &[u8]) -> Vec<Session> {
    let Some((_, cur_root, _)) = session_pvd(data, 0) else {
        return Vec::new();
    };
    let relative = session_pvd(data, 32).is_some();
    let mut start = if relative { 32 } else { 0 };
    let mut out = Vec::new();
    for number in 1..=MAX_SESSIONS {
        let Some((space, root, volume_id)) = session_pvd(data, start) else {
            break;
        };
        let end = if relative { start + space } else { space };
        if end <= start {
            break;
        }
        out.push(Session {
            number,
            start,
            sectors: end - start,
            volume_id,
            current: root == cur_root,
        });
        start = end.div_ceil(32) * 32;
    }
    if out.len() < 2 {
        out.clear();
    }
    out
}

/// The UDF volume recognition sequence in the 2048-byte sectors after `last_descriptor`:
/// `BEA01` first, then descriptors up to `TEA01`.
fn udf(data: &[u8], last_descriptor: u64) -> Option<Udf> {
    let mut descriptors = Vec::new();
    let mut nsr = None;
    let first = last_descriptor.saturating_add(1);
    for s in first..first.saturating_add(MAX_VRS_SECTORS) {
        let Some(d) = s.checked_mul(2048).and_then(|at| get(data, at, 7)) else {
            break;
        };
        let id = &d[1..6];
        let known = matches!(
            id,
            b"BEA01" | b"NSR02" | b"NSR03" | b"TEA01" | b"BOOT2" | b"CD001" | b"CDW02"
        );
        if !known || (descriptors.is_empty() && id != b"BEA01") {
            break;
        }
        let name = ascii(id);
        if id == b"NSR02" || id == b"NSR03" {
            nsr.get_or_insert_with(|| name.clone());
        }
        descriptors.push(UdfDescriptor {
            id: name,
            sector: s,
        });
        if id == b"TEA01" {
            break;
        }
    }
    (!descriptors.is_empty()).then_some(Udf { descriptors, nsr })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn put32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn put64(b: &mut [u8], at: usize, v: u64) {
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// An image of `len` bytes with a GPT of `count` entries of `size` bytes at sector 2,
    /// the first used, both CRCs right, in 512-byte sectors, with its backup at the end.
    fn gpt_image(len: usize, count: u32, size: u32) -> Vec<u8> {
        gpt_image_in(512, len, count, size)
    }

    /// The same in sectors of `ss` bytes: the backup header in the last sector, its copy
    /// of the entry array just before it.
    fn gpt_image_in(ss: usize, len: usize, count: u32, size: u32) -> Vec<u8> {
        let mut d = vec![0u8; len];
        d[510] = 0x55;
        d[511] = 0xAA;
        d[446 + 4] = 0xEE;
        put32(&mut d, 446 + 8, 1);
        put32(&mut d, 446 + 12, 99);
        let e = 2 * ss;
        if e + 128 <= len {
            d[e..e + 16].copy_from_slice(&[0x11; 16]);
            d[e + 16..e + 32].copy_from_slice(&[0x22; 16]);
            put64(&mut d, e + 32, 64);
            put64(&mut d, e + 40, 127);
            d[e + 56] = b'E';
            d[e + 58] = b'F';
        }
        let alen = count as usize * size as usize;
        let last = (len / ss) as u64 - 1;
        let array_sectors = alen.div_ceil(ss) as u64;
        let h = ss;
        d[h..h + 8].copy_from_slice(b"EFI PART");
        put32(&mut d, h + 8, 0x10000);
        put32(&mut d, h + 12, 92);
        put64(&mut d, h + 24, 1);
        put64(&mut d, h + 32, last);
        put64(&mut d, h + 40, 34);
        put64(&mut d, h + 48, last.saturating_sub(array_sectors + 1));
        d[h + 56..h + 72].copy_from_slice(&[0x33; 16]);
        put64(&mut d, h + 72, 2);
        put32(&mut d, h + 80, count);
        put32(&mut d, h + 84, size);
        if e + alen <= len {
            let c = crc32(&d[e..e + alen]);
            put32(&mut d, h + 88, c);
            let b = last as usize * ss;
            let be = b.saturating_sub(array_sectors as usize * ss);
            if be > e + alen {
                d.copy_within(e..e + alen, be);
                d.copy_within(h..h + ss, b);
                put64(&mut d, b + 24, last);
                put64(&mut d, b + 32, 1);
                put64(&mut d, b + 72, (be / ss) as u64);
                let c = crc32(&d[b..b + 92]);
                put32(&mut d, b + 16, c);
            }
        }
        let c = crc32(&d[h..h + 92]);
        put32(&mut d, h + 16, c);
        d
    }

    #[test]
    fn gpt_in_large_sectors() {
        for ss in [2048usize, 4096] {
            let d = gpt_image_in(ss, 1 << 20, 4, 128);
            let l = Layout::read(&d, 17);
            let g = l.gpt.as_ref().unwrap();
            assert_eq!(g.sector_size as usize, ss);
            assert!(g.header_crc_ok && g.entries_crc_ok, "{l:?}");
            assert_eq!(g.entries[0].name, "EF");
            let b = g.backup.as_ref().unwrap();
            assert_eq!(b.lba as usize, (1 << 20) / ss - 1);
            assert!(
                b.header_crc_ok && b.entries_crc_ok && b.matches_primary,
                "{b:?}"
            );
            assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        }
    }

    #[test]
    fn backup_header_damage_is_a_warning() {
        let good = gpt_image(65536, 4, 128);
        // The backup gone (image cut), its CRC broken, its entries different.
        let cut = &good[..65536 - 512];
        let l = Layout::read(cut, 17);
        assert!(l.gpt.as_ref().unwrap().backup.is_none());
        assert!(
            l.warnings
                .iter()
                .any(|w| w.message.contains("past the end")),
            "{:?}",
            l.warnings
        );
        let mut d = good.clone();
        d[65536 - 512 + 40] ^= 1;
        let l = Layout::read(&d, 17);
        let b = l.gpt.as_ref().unwrap().backup.clone().unwrap();
        assert!(!b.header_crc_ok && !b.matches_primary, "{b:?}");
        let mut d = good;
        let be = 65536 - 512 - 512;
        d[be + 60] ^= 1;
        let l = Layout::read(&d, 17);
        let b = l.gpt.as_ref().unwrap().backup.clone().unwrap();
        assert!(b.header_crc_ok && !b.entries_crc_ok, "{b:?}");
        assert!(l
            .warnings
            .iter()
            .any(|w| w.message.contains("backup entry array")));
    }

    #[test]
    fn crc32_is_ieee() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn guid_text_form() {
        let b = [
            0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
            0xc9, 0x3b,
        ];
        assert_eq!(guid(&b), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    }

    #[test]
    fn good_gpt() {
        let d = gpt_image(65536, 4, 128);
        let l = Layout::read(&d, 17);
        let g = l.gpt.as_ref().unwrap();
        assert!(g.header_crc_ok && g.entries_crc_ok, "{l:?}");
        assert_eq!(g.entries.len(), 1);
        assert_eq!(g.entries[0].name, "EF");
        assert_eq!((g.entries[0].first_lba, g.entries[0].last_lba), (64, 127));
        assert_eq!(l.mbr.as_ref().unwrap().entries[0].kind, 0xEE);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn bad_crc_is_a_warning() {
        let mut d = gpt_image(65536, 4, 128);
        d[1024 + 33] = 0xFF; // first sector moved past the last, after the CRC was taken
        let l = Layout::read(&d, 17);
        let g = l.gpt.as_ref().unwrap();
        assert!(g.header_crc_ok && !g.entries_crc_ok);
        assert!(l.warnings.iter().any(|w| w.message.contains("CRC32")));
        assert!(l.warnings.iter().any(|w| w.message.contains("ends before")));
    }

    #[test]
    fn huge_counts_and_sizes_are_capped() {
        for (count, size) in [
            (u32::MAX, 128),
            (1_000_000, 128),
            (4, u32::MAX),
            (4, 0),
            (4, 127),
            (u32::MAX, 4096),
        ] {
            let d = gpt_image(65536, count, size);
            let l = Layout::read(&d, 17);
            let g = l.gpt.as_ref().unwrap();
            assert!(g.entries.len() <= MAX_GPT_ENTRIES as usize);
            assert!(!l.warnings.is_empty(), "{count} {size}");
        }
    }

    #[test]
    fn truncated_tables_do_not_panic() {
        let full = gpt_image(65536, 128, 128);
        for len in [0, 1, 2, 511, 512, 600, 1023, 1024, 1100, 1152, 5000] {
            let _ = Layout::read(&full[..len], 17);
        }
        let mut apm = vec![0u8; 4096];
        apm[..4].copy_from_slice(&[b'E', b'R', 0x02, 0x00]);
        apm[512..514].copy_from_slice(b"PM");
        apm[516..520].copy_from_slice(&u32::MAX.to_be_bytes());
        apm[520..524].copy_from_slice(&u32::MAX.to_be_bytes());
        apm[524..528].copy_from_slice(&u32::MAX.to_be_bytes());
        for len in [0, 2, 4, 512, 514, 560, 1024, 4096] {
            let l = Layout::read(&apm[..len], 17);
            if let Some(a) = &l.apm {
                assert!(a.entries.len() <= 1);
            }
        }
        let l = Layout::read(&apm, 17);
        assert!(l.warnings.iter().any(|w| w.message.contains("claims")));
        assert!(l
            .warnings
            .iter()
            .any(|w| w.message.contains("past the end")));
        // HFS+ at a partition start past the end of addressable memory.
        assert!(l.hfsplus.is_empty());
    }

    #[test]
    fn mbr_entries_past_the_image_are_warned() {
        let mut d = vec![0u8; 4096];
        d[510] = 0x55;
        d[511] = 0xAA;
        d[446] = 0x80;
        d[446 + 4] = 0xEF;
        put32(&mut d, 446 + 8, 4);
        put32(&mut d, 446 + 12, u32::MAX);
        d[462 + 4] = 0x83;
        put32(&mut d, 462 + 8, 2);
        put32(&mut d, 462 + 12, 4); // overlaps the first
        let l = Layout::read(&d, 17);
        let m = l.mbr.as_ref().unwrap();
        assert_eq!(m.entries.len(), 2);
        assert!(m.entries[0].bootable);
        assert!(l
            .warnings
            .iter()
            .any(|w| w.message.contains("MBR partition 1")));
        // A status byte other than 0 and 0x80 means boot code, not a table.
        d[446] = 0x12;
        assert!(Layout::read(&d, 17).mbr.is_none());
    }

    #[test]
    fn random_mutations_do_not_panic() {
        let mut apm = vec![0u8; 16 * 512];
        apm[..4].copy_from_slice(&[b'E', b'R', 0x02, 0x00]);
        for i in 1..4usize {
            let e = &mut apm[i * 512..i * 512 + 80];
            e[..2].copy_from_slice(b"PM");
            e[4..8].copy_from_slice(&3u32.to_be_bytes());
            e[8..12].copy_from_slice(&(i as u32 * 4).to_be_bytes());
            e[12..16].copy_from_slice(&4u32.to_be_bytes());
            e[48..57].copy_from_slice(b"Apple_HFS");
        }
        let gpt = gpt_image(16 * 512, 8, 128);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for base in [&apm, &gpt] {
            for _ in 0..3000 {
                let mut d = base.clone();
                for _ in 0..1 + next() % 8 {
                    let at = (next() % d.len() as u64) as usize;
                    d[at] = next() as u8;
                }
                let cut = (next() % (d.len() as u64 + 1)) as usize;
                let l = Layout::read(&d[..cut], next() % 64);
                if let Some(g) = &l.gpt {
                    assert!(g.entries.len() <= MAX_GPT_ENTRIES as usize);
                }
                if let Some(a) = &l.apm {
                    assert!(a.entries.len() <= MAX_APM_ENTRIES as usize);
                }
            }
        }
    }

    /// A primary volume descriptor at sector `at` of `d`: `space` blocks of 2048, root at
    /// `root`.
    fn pvd(d: &mut [u8], at: usize, space: u32, root: u32) {
        let vd = &mut d[at * 2048..at * 2048 + 2048];
        vd[..6].copy_from_slice(b"\x01CD001");
        vd[80..84].copy_from_slice(&space.to_le_bytes());
        vd[128..130].copy_from_slice(&2048u16.to_le_bytes());
        vd[158..162].copy_from_slice(&root.to_le_bytes());
    }

    #[test]
    fn sessions_chain() {
        let mut d = vec![0u8; 128 * 2048];
        pvd(&mut d, 16, 91, 70); // the copy of the newest session's descriptor
        pvd(&mut d, 48, 26, 40);
        pvd(&mut d, 80, 27, 70);
        let s = Layout::read(&d, 17).sessions;
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!((s[0].start, s[0].sectors, s[0].current), (32, 26, false));
        assert_eq!((s[1].start, s[1].sectors, s[1].current), (64, 27, true));
        // A session of 0 sectors ends the chain; so do sizes past the image.
        pvd(&mut d, 80, 0, 70);
        assert!(Layout::read(&d, 17).sessions.is_empty());
        pvd(&mut d, 48, u32::MAX, 40);
        assert!(Layout::read(&d, 17).sessions.is_empty());
        // Absolute ends from sector 0, as other multi-session writers record them.
        let mut d = vec![0u8; 128 * 2048];
        pvd(&mut d, 16, 40, 20);
        pvd(&mut d, 64 + 16, 100, 90);
        let s = Layout::read(&d, 17).sessions;
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!((s[1].start, s[1].sectors), (64, 36));
        assert!(s[0].current && !s[1].current);
    }

    #[test]
    fn udf_sequence() {
        let mut d = vec![0u8; 24 * 2048];
        for (s, id) in [
            (18, b"BEA01"),
            (19, b"NSR03"),
            (20, b"TEA01"),
            (21, b"NSR02"),
        ] {
            d[s * 2048 + 1..s * 2048 + 6].copy_from_slice(id);
        }
        let u = Layout::read(&d, 17).udf.unwrap();
        assert_eq!(u.nsr.as_deref(), Some("NSR03"));
        assert_eq!(u.descriptors.len(), 3);
        // No BEA01 first: not UDF.
        assert!(Layout::read(&d, 18).udf.is_none());
        // Cut inside the sequence.
        assert_eq!(Layout::read(&d[..19 * 2048 + 3], 17).udf.unwrap().nsr, None);
        assert!(Layout::read(&d, u64::MAX - 3).udf.is_none());
    }
}
