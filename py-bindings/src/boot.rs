//! `Image.boot_catalog`: the El Torito boot catalog as plain Python objects.

use iso_core::Emulation;
use pyo3::prelude::*;

/// One entry of an El Torito boot catalog (the initial/default entry, or a section entry):
/// plain data, like `Entry`. `Image.read_boot(entry.index)` gives the boot image's bytes
/// (what `isolution cat --boot N` writes).
#[pyclass(
    frozen,
    skip_from_py_object,
    module = "isolution",
    name = "BootEntry",
    get_all
)]
#[derive(Clone)]
pub struct BootEntry {
    /// Index in the catalog: 0 for the initial (default) entry, then section entries in order.
    pub index: usize,
    /// Byte offset of the 32-byte entry in the image.
    pub offset: u64,
    /// The boot indicator is 0x88 (bootable).
    pub bootable: bool,
    /// Platform id of its section (0 x86, 1 PowerPC, 2 Mac, 0xEF EFI).
    pub platform: u8,
    /// `"no-emulation"`, `"floppy-1.2m"`, `"floppy-1.44m"`, `"floppy-2.88m"`, `"hard-disk"`
    /// or `"unknown"`.
    pub emulation: &'static str,
    /// The boot media type code (low nibble of the entry's media byte: 0 to 4 for the
    /// emulations above, another value for `"unknown"`).
    pub media_type: u8,
    /// Load segment (0 means the BIOS default, 0x7C0).
    pub load_segment: u16,
    /// System type (the partition type, for hard-disk emulation).
    pub system_type: u8,
    /// Number of 512-byte sectors loaded at boot.
    pub sector_count: u16,
    /// First logical block (2 KiB) of the boot image.
    pub load_rba: u32,
    /// Size in bytes of the boot image `read_boot()` gives: the emulated floppy size, or
    /// `sector_count` × 512 (at least 512) for no-emulation and hard-disk entries. A
    /// no-emulation image is often a longer file of the tree: find it by its block
    /// (`Entry.extents[0][0] == load_rba`).
    pub size: u64,
    /// The section identifier string of a section entry, or None (initial entry, or empty).
    pub section_id: Option<String>,
}

#[pymethods]
impl BootEntry {
    fn __repr__(&self) -> String {
        format!(
            "<isolution.BootEntry {} {} platform={:#04x} {} {} sector(s) at block {}>",
            self.index,
            if self.bootable {
                "bootable"
            } else {
                "not-bootable"
            },
            self.platform,
            self.emulation,
            self.sector_count,
            self.load_rba
        )
    }
}

/// Name and media type code of an emulation.
fn emulation(e: Emulation) -> (&'static str, u8) {
    match e {
        Emulation::NoEmulation => ("no-emulation", 0),
        Emulation::Floppy1200 => ("floppy-1.2m", 1),
        Emulation::Floppy1440 => ("floppy-1.44m", 2),
        Emulation::Floppy2880 => ("floppy-2.88m", 3),
        Emulation::HardDisk => ("hard-disk", 4),
        Emulation::Unknown(m) => ("unknown", m),
    }
}

impl From<&iso_core::BootEntry> for BootEntry {
    fn from(e: &iso_core::BootEntry) -> Self {
        let (name, code) = emulation(e.emulation);
        BootEntry {
            index: e.index,
            offset: e.offset,
            bootable: e.bootable,
            platform: e.platform,
            emulation: name,
            media_type: code,
            load_segment: e.load_segment,
            system_type: e.system_type,
            sector_count: e.sector_count,
            load_rba: e.load_rba,
            size: e.image_len(),
            section_id: Some(e.section_id.clone()).filter(|s| !s.is_empty()),
        }
    }
}

/// An El Torito boot catalog (`Image.boot_catalog`): where it is, its validation entry, and
/// its boot entries.
#[pyclass(
    frozen,
    skip_from_py_object,
    module = "isolution",
    name = "BootCatalog",
    get_all
)]
pub struct BootCatalog {
    /// Logical block of the catalog.
    pub lba: u32,
    /// Platform id of the validation entry (0 x86, 1 PowerPC, 2 Mac, 0xEF EFI).
    pub platform: u8,
    /// The manufacturer/developer id string of the validation entry (often empty).
    pub id: String,
    /// The validation entry's checksum is right (a wrong one is tolerated and reported here).
    pub checksum_ok: bool,
    /// The boot entries, initial entry first: a list of `BootEntry`.
    pub entries: Vec<BootEntry>,
}

#[pymethods]
impl BootCatalog {
    fn __len__(&self) -> usize {
        self.entries.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<isolution.BootCatalog at block {}, {} entr{}>",
            self.lba,
            self.entries.len(),
            if self.entries.len() == 1 { "y" } else { "ies" }
        )
    }
}

impl From<&iso_core::BootCatalog> for BootCatalog {
    fn from(c: &iso_core::BootCatalog) -> Self {
        BootCatalog {
            lba: c.lba,
            platform: c.platform,
            id: c.id.clone(),
            checksum_ok: c.checksum_ok,
            entries: c.entries.iter().map(BootEntry::from).collect(),
        }
    }
}
