//! El Torito boot catalog.

use super::bytes::{le_u16_at, le_u32_at};
use super::volume::Image;
use crate::{Error, ErrorKind, Result};

/// Boot media emulation of a boot entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Emulation {
    /// No emulation: the image is loaded as is.
    NoEmulation,
    /// 1.2 MB floppy.
    Floppy1200,
    /// 1.44 MB floppy.
    Floppy1440,
    /// 2.88 MB floppy.
    Floppy2880,
    /// Hard disk (an MBR image).
    HardDisk,
    /// Any other value.
    Unknown(u8),
}

/// One boot entry (the initial/default entry or a section entry).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BootEntry {
    /// Index in the catalog (0 for the initial entry).
    pub index: usize,
    /// Byte offset of the entry in the image.
    pub offset: u64,
    /// Boot indicator 0x88.
    pub bootable: bool,
    /// Platform id of its section (0 x86, 1 PowerPC, 2 Mac, 0xEF EFI).
    pub platform: u8,
    /// Media emulation.
    pub emulation: Emulation,
    /// Load segment (0 means the default 0x7C0).
    pub load_segment: u16,
    /// System type (partition type for hard-disk emulation).
    pub system_type: u8,
    /// Sectors (512 bytes) loaded at boot.
    pub sector_count: u16,
    /// First logical block of the boot image.
    pub load_rba: u32,
    /// Section identifier string (section entries).
    pub section_id: String,
}

impl BootEntry {
    /// Bytes of the boot image: the emulated floppy size, or `sector_count` × 512 (at least
    /// 512) for no-emulation and hard-disk entries. For no-emulation images the real file is
    /// often longer; find it in the tree by its block (`load_rba`) for its full size.
    pub fn image_len(&self) -> u64 {
        match self.emulation {
            Emulation::Floppy1200 => 1_228_800,
            Emulation::Floppy1440 => 1_474_560,
            Emulation::Floppy2880 => 2_949_120,
            _ => u64::from(self.sector_count.max(1)) * 512,
        }
    }
}

/// A parsed El Torito boot catalog.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BootCatalog {
    /// Block of the catalog.
    pub lba: u32,
    /// Platform id of the validation entry.
    pub platform: u8,
    /// Manufacturer/developer id string of the validation entry.
    pub id: String,
    /// The validation entry's checksum is right (a wrong one is tolerated and reported here).
    pub checksum_ok: bool,
    /// Boot entries, initial entry first.
    pub entries: Vec<BootEntry>,
}

fn emulation(media: u8) -> Emulation {
    match media & 0x0F {
        0 => Emulation::NoEmulation,
        1 => Emulation::Floppy1200,
        2 => Emulation::Floppy1440,
        3 => Emulation::Floppy2880,
        4 => Emulation::HardDisk,
        m => Emulation::Unknown(m),
    }
}

fn entry(e: &[u8], index: usize, offset: u64, platform: u8, section_id: String) -> BootEntry {
    BootEntry {
        index,
        offset,
        bootable: e[0] == 0x88,
        platform,
        emulation: emulation(e[1]),
        load_segment: le_u16_at(e, 2).unwrap_or(0),
        system_type: e[4],
        sector_count: le_u16_at(e, 6).unwrap_or(0),
        load_rba: le_u32_at(e, 8).unwrap_or(0),
        section_id,
    }
}

/// A [`ErrorKind::BadBootCatalog`] error at `at`.
fn bad(m: &'static str, at: u64) -> Error {
    Error::at(ErrorKind::BadBootCatalog(m), at)
}

/// The catalog at block `lba` (image offset `start`) from its first 64 bytes `first`: the
/// validation entry (whose header must be right; a bad checksum is only recorded) and the
/// initial entry (whose boot indicator must be 0x88 or 0).
fn validation_and_initial(first: &[u8], lba: u32, start: u64) -> Result<BootCatalog> {
    let v = &first[..32];
    if v[0] != 1 || v[30] != 0x55 || v[31] != 0xAA {
        return Err(bad(
            "validation entry has no header id 1 and key 55 AA",
            start,
        ));
    }
    let sum = v.chunks(2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    let cat = BootCatalog {
        lba,
        platform: v[1],
        id: super::bytes::text(&v[4..28]),
        checksum_ok: sum == 0,
        entries: vec![entry(&first[32..64], 0, start + 32, v[1], String::new())],
    };
    if !matches!(first[32], 0x88 | 0x00) {
        return Err(bad(
            "initial entry has an invalid boot indicator",
            start + 32,
        ));
    }
    Ok(cat)
}

/// Appends to `entries` the entries of the sections that follow the initial entry in the
/// catalog bytes `rest` (from image offset `start`): headers 0x90 (more follow) / 0x91
/// (last), each followed by its entries, at most `max` entries in all.
fn sections(rest: &[u8], start: u64, max: u64, entries: &mut Vec<BootEntry>) -> Result<()> {
    let mut pos = 64usize;
    let mut seen = 0u64;
    while let Some(h) = rest.get(pos..pos + 32) {
        if !matches!(h[0], 0x90 | 0x91) {
            break;
        }
        let last = h[0] == 0x91;
        let platform = h[1];
        let count = le_u16_at(h, 2).unwrap_or(0);
        let id = super::bytes::text(&h[4..32]);
        pos += 32;
        for _ in 0..count {
            let Some(e) = rest.get(pos..pos + 32) else {
                return Err(bad(
                    "section entries run past the catalog",
                    start + pos as u64,
                ));
            };
            seen += 1;
            if seen > max {
                return Err(Error::at(
                    ErrorKind::LimitExceeded {
                        limit: "max_boot_entries",
                        value: seen,
                        max,
                    },
                    start + pos as u64,
                ));
            }
            let has_ext = e[12] & 0x20 != 0;
            entries.push(entry(
                e,
                entries.len(),
                start + pos as u64,
                platform,
                id.clone(),
            ));
            pos = skip_extensions(rest, pos + 32, has_ext);
        }
        if last {
            break;
        }
    }
    Ok(())
}

/// The position after the extension entries (0x44) that follow a section entry in `rest` at
/// `pos`: they follow while bit 5 of the flags (the entry's, `more`, then each extension's)
/// says so.
fn skip_extensions(rest: &[u8], mut pos: usize, mut more: bool) -> usize {
    while more {
        let Some(x) = rest.get(pos..pos + 32) else {
            break;
        };
        if x[0] != 0x44 {
            break;
        }
        more = x[1] & 0x20 != 0;
        pos += 32;
    }
    pos
}

impl<'data> Image<'data> {
    /// The El Torito boot catalog, if the image has an El Torito boot record.
    pub fn boot_catalog(&self) -> Result<Option<BootCatalog>> {
        let Some(lba) = self.boot_record().and_then(|b| b.catalog_lba) else {
            return Ok(None);
        };
        let start = u64::from(lba) * u64::from(self.block_size);
        let first = super::slice(self.data, start, start + 64, "boot catalog")?;
        let mut cat = validation_and_initial(first, lba, start)?;
        let max = u64::from(self.limits.max_boot_entries);
        // Room for the validation and initial entries, and per budgeted entry a section
        // header and an extension record besides the entry itself.
        let end = (start + 32 * (3 * max + 2)).min(self.data.len() as u64);
        let rest = super::slice(self.data, start, end, "boot catalog")?;
        sections(rest, start, max, &mut cat.entries)?;
        Ok(Some(cat))
    }

    /// The bytes of a boot entry's image ([`BootEntry::image_len`] bytes from `load_rba`,
    /// cut at the end of the image with a [`ErrorKind::OutOfBounds`] error if it runs past).
    pub fn boot_image(&self, e: &BootEntry) -> Result<&'data [u8]> {
        let start = u64::from(e.load_rba) * u64::from(self.block_size);
        super::slice(self.data, start, start + e.image_len(), "boot image")
            .map_err(|err| err.with_offset(e.offset))
    }
}
