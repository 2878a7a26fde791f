//! Volume descriptors (ECMA-119 8) and the parsed [`Image`].

use super::bytes::{both_u16, both_u32_at, le_u32_at, text, text_ucs2};
use super::date::Timestamp;
use super::dirent::{flags, DirRecord, DirRecords};
use super::susp::{self, SuspCtx};
use crate::{Error, ErrorKind, Limits, Result};

/// Bytes per volume descriptor; descriptors start at sector 16.
const VD_SIZE: u64 = 2048;
const VD_START: u64 = 16 * VD_SIZE;

/// A tree of names over the image's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Namespace {
    /// The primary tree with Rock Ridge names, attributes, links and relocations.
    RockRidge,
    /// The Joliet tree (UCS-2/UTF-16 names) of a supplementary volume descriptor.
    Joliet,
    /// The ISO 9660:1999 tree of an enhanced volume descriptor.
    Enhanced,
    /// The primary tree as recorded: ISO 9660 identifiers, `;1` and a trailing dot removed.
    Primary,
    /// The UDF (ECMA-167) file set of the same image, read through [`Image::udf`]; the ISO
    /// 9660 methods (`root`, `walk`, `lookup`, ...) answer [`ErrorKind::UdfNamespace`] for it.
    Udf,
}

impl Namespace {
    /// Short name, as the CLI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::RockRidge => "rr",
            Namespace::Joliet => "joliet",
            Namespace::Enhanced => "iso1999",
            Namespace::Primary => "primary",
            Namespace::Udf => "udf",
        }
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Namespace::RockRidge => "Rock Ridge",
            Namespace::Joliet => "Joliet",
            Namespace::Enhanced => "ISO 9660:1999",
            Namespace::Primary => "primary ISO 9660",
            Namespace::Udf => "UDF",
        })
    }
}

impl std::str::FromStr for Namespace {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "rr" | "rock-ridge" | "rockridge" => Ok(Namespace::RockRidge),
            "joliet" => Ok(Namespace::Joliet),
            "iso1999" | "enhanced" => Ok(Namespace::Enhanced),
            "primary" | "iso9660" | "plain" => Ok(Namespace::Primary),
            "udf" => Ok(Namespace::Udf),
            _ => Err(format!(
                "unknown namespace {s:?} (rr, joliet, iso1999, primary or udf)"
            )),
        }
    }
}

/// Kind of a volume descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum VolumeKind {
    /// Type 0.
    BootRecord,
    /// Type 1.
    Primary,
    /// Type 2, Joliet (by escape sequence).
    Joliet,
    /// Type 2 with file structure version 2 (ISO 9660:1999).
    Enhanced,
    /// Type 2, neither Joliet nor enhanced.
    Supplementary,
    /// Type 3.
    Partition,
    /// Type 255.
    Terminator,
    /// Any other type (skipped).
    Unknown(u8),
}

/// One volume descriptor of the set, as found.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct VolumeDescriptor {
    /// Sector it sits in (16 for the first).
    pub sector: u32,
    /// Its kind.
    pub kind: VolumeKind,
}

/// A primary, supplementary (Joliet) or enhanced volume descriptor.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct VolumeInfo {
    /// Which kind of descriptor.
    pub kind: VolumeKind,
    /// Sector it sits in.
    pub sector: u32,
    /// System identifier.
    pub system_id: String,
    /// Volume identifier.
    pub volume_id: String,
    /// Volume set identifier.
    pub volume_set_id: String,
    /// Publisher identifier.
    pub publisher_id: String,
    /// Data preparer identifier.
    pub preparer_id: String,
    /// Application identifier.
    pub application_id: String,
    /// Volume space size, in logical blocks.
    pub volume_space_blocks: u32,
    /// Logical block size in bytes.
    pub block_size: u32,
    /// Joliet level (1 to 3) for a Joliet descriptor.
    pub joliet_level: Option<u8>,
    /// File structure version (1, or 2 for ISO 9660:1999).
    pub file_structure_version: u8,
    /// Volume creation date.
    pub created: Option<Timestamp>,
    /// Volume modification date.
    pub modified: Option<Timestamp>,
    /// Volume expiration date.
    pub expires: Option<Timestamp>,
    /// Volume effective date.
    pub effective: Option<Timestamp>,
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) root: RootRef,
}

/// Where a tree's root directory is.
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub(crate) struct RootRef {
    pub extent: u32,
    pub size: u32,
    pub xattr_len: u8,
    pub record_offset: u64,
    pub recorded: [u8; 7],
}

/// An El Torito boot record descriptor.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BootRecord {
    /// Sector it sits in.
    pub sector: u32,
    /// Boot system identifier (`EL TORITO SPECIFICATION` for El Torito).
    pub boot_system_id: String,
    /// Block of the boot catalog, for El Torito.
    pub catalog_lba: Option<u32>,
}

/// Rock Ridge as announced in the root directory.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RockRidgeInfo {
    /// Bytes skipped at the start of every System Use area (`SP` `LEN_SKP`).
    pub skip: u8,
    /// `ER` extension identifiers (`RRIP_1991A` for 1.09/1.10, `IEEE_P1282` / `IEEE_1282` for
    /// 1.12).
    pub extensions: Vec<String>,
    /// The version those identifiers imply: "1.09/1.10", "1.12", or "unknown".
    pub version: &'static str,
    /// `SP` was found where SUSP requires it (the root's `.` record).
    pub has_sp: bool,
}

/// Something odd but readable, found while parsing: reported, not fatal.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Warning {
    /// Byte offset in the image.
    pub offset: u64,
    /// What was found.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "offset {:#x}: {}", self.offset, self.message)
    }
}

/// A parsed ISO 9660 image over borrowed bytes.
///
/// Parsing reads the volume descriptor set and the root directories' first records only;
/// directories are read when walked. All file contents are slices of the bytes given to
/// [`Image::parse`].
#[derive(Clone, Debug)]
pub struct Image<'data> {
    pub(crate) data: &'data [u8],
    pub(crate) limits: Limits,
    pub(crate) block_size: u32,
    descriptors: Vec<VolumeDescriptor>,
    primary: VolumeInfo,
    joliet: Option<VolumeInfo>,
    enhanced: Option<VolumeInfo>,
    boot: Option<BootRecord>,
    pub(crate) rock_ridge: Option<RockRidgeInfo>,
    warnings: Vec<Warning>,
    /// Extents of the Rock Ridge tree that carry `ZF`, built on first need (a Joliet or ISO
    /// 9660:1999 file that starts with the zisofs magic); `None` when the walk failed.
    pub(crate) zf_extents:
        std::sync::OnceLock<Option<std::collections::HashMap<u32, super::ZisofsInfo>>>,
    /// Whether the image holds a readable UDF volume, and whether it is the default tree;
    /// found on first need (see [`Image::default_namespace`]).
    udf_state: std::sync::OnceLock<UdfState>,
}

/// What [`Image::namespaces`] knows of the UDF side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UdfState {
    /// No UDF volume recognition sequence, or a UDF volume that does not parse.
    Absent,
    /// A readable UDF volume beside a real ISO 9660 tree (a bridge image): UDF comes last.
    Bridge,
    /// A readable UDF volume holding the tree while the ISO 9660 side is a stub: UDF is the
    /// default.
    Stub,
}

/// The most files a stub ISO 9660 tree holds (see [`Image::default_namespace`]).
const STUB_MAX_FILES: usize = 4;

impl<'data> Image<'data> {
    /// Parses the image in `data` with the default [`Limits`].
    pub fn parse(data: &'data [u8]) -> Result<Self> {
        Self::parse_with_limits(data, Limits::DEFAULT)
    }

    /// Parses the image in `data` with the given [`Limits`].
    pub fn parse_with_limits(data: &'data [u8], limits: Limits) -> Result<Self> {
        let len = data.len() as u64;
        if len < VD_START + VD_SIZE {
            return Err(Error::new(ErrorKind::TooSmall { len }));
        }
        let DescriptorSet {
            descriptors,
            primary,
            joliet,
            enhanced,
            boot,
            mut warnings,
        } = scan_descriptors(data, &limits)?;
        let primary = checked_primary(primary, len, &mut warnings)?;
        let block_size = primary.block_size;
        let mut image = Image {
            data,
            limits,
            block_size,
            descriptors,
            primary,
            joliet,
            enhanced,
            boot,
            rock_ridge: None,
            warnings,
            zf_extents: std::sync::OnceLock::new(),
            udf_state: std::sync::OnceLock::new(),
        };
        image.rock_ridge = image.detect_rock_ridge();
        Ok(image)
    }

    fn detect_rock_ridge(&mut self) -> Option<RockRidgeInfo> {
        let root = self.primary.root;
        let start =
            (u64::from(root.extent) + u64::from(root.xattr_len)) * u64::from(self.block_size);
        let dir = super::slice(
            self.data,
            start,
            start + u64::from(root.size),
            "root directory",
        )
        .ok()?;
        let first = DirRecords::new(dir, start).next()?.ok()?;
        if first.identifier != [0] {
            return None;
        }
        // SUSP puts SP first in the root's `.` record; finding it needs no continuation area.
        let su = first.system_use;
        let sp =
            (su.len() >= 7 && &su[..2] == b"SP" && su[4] == 0xBE && su[5] == 0xEF).then(|| su[6]);
        let ctx = self.susp_ctx();
        let at = first.offset + u64::from(first.system_use_at);
        let parsed = susp::parse(&ctx, su, at, 0);
        let s = match parsed {
            Ok(s) => s,
            Err(e) if sp.is_some() => {
                self.warnings.push(Warning {
                    offset: e.offset().unwrap_or(at),
                    message: format!(
                        "Rock Ridge announced (SP) but the root's System Use data is unreadable: {e}"
                    ),
                });
                susp::Susp::default()
            }
            Err(_) => return None,
        };
        let sp_skip = sp.or(s.sp_skip);
        if sp_skip.is_none() && !s.rock_ridge {
            return None;
        }
        if sp_skip.is_none() {
            self.warnings.push(Warning {
                offset: first.offset,
                message: "Rock Ridge entries without a SUSP SP entry in the root".into(),
            });
        }
        let version = if s.extensions.iter().any(|e| e.starts_with("IEEE_")) {
            "1.12"
        } else if s.extensions.iter().any(|e| e == "RRIP_1991A") {
            "1.09/1.10"
        } else {
            "unknown"
        };
        Some(RockRidgeInfo {
            skip: sp_skip.unwrap_or(0),
            has_sp: sp_skip.is_some(),
            extensions: s.extensions,
            version,
        })
    }

    pub(crate) fn susp_ctx(&self) -> SuspCtx<'data> {
        SuspCtx {
            data: self.data,
            block_size: self.block_size,
            limits: self.limits,
        }
    }

    /// The image's bytes.
    pub fn data(&self) -> &'data [u8] {
        self.data
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Logical block size in bytes.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// Every volume descriptor found, in order.
    pub fn volume_descriptors(&self) -> &[VolumeDescriptor] {
        &self.descriptors
    }

    /// The primary volume descriptor.
    pub fn primary(&self) -> &VolumeInfo {
        &self.primary
    }

    /// The Joliet supplementary volume descriptor, if any.
    pub fn joliet(&self) -> Option<&VolumeInfo> {
        self.joliet.as_ref()
    }

    /// The ISO 9660:1999 enhanced volume descriptor, if any.
    pub fn enhanced(&self) -> Option<&VolumeInfo> {
        self.enhanced.as_ref()
    }

    /// Rock Ridge, if the primary tree carries it.
    pub fn rock_ridge(&self) -> Option<&RockRidgeInfo> {
        self.rock_ridge.as_ref()
    }

    /// The boot record descriptor, if any.
    pub fn boot_record(&self) -> Option<&BootRecord> {
        self.boot.as_ref()
    }

    /// Odd but readable things found while parsing the descriptors.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The namespaces present, best first: the ISO 9660 trees, then UDF when the image holds
    /// a readable UDF volume (its volume recognition sequence names NSR02 or NSR03 and
    /// [`Image::udf`] parses it; checked once, on first need). When the ISO 9660 side is a
    /// stub (see [`Image::default_namespace`]), UDF comes first.
    pub fn namespaces(&self) -> Vec<Namespace> {
        let mut v = Vec::with_capacity(5);
        let udf = self.udf_state();
        if udf == UdfState::Stub {
            v.push(Namespace::Udf);
        }
        if self.rock_ridge.is_some() {
            v.push(Namespace::RockRidge);
        }
        if self.joliet.is_some() {
            v.push(Namespace::Joliet);
        }
        if self.enhanced.is_some() {
            v.push(Namespace::Enhanced);
        }
        v.push(Namespace::Primary);
        if udf == UdfState::Bridge {
            v.push(Namespace::Udf);
        }
        v
    }

    /// Rock Ridge if present, else Joliet, else ISO 9660:1999, else primary; but UDF when
    /// the image holds a readable UDF volume and its ISO 9660 side is a stub: the root of the
    /// best ISO 9660 tree holds no directory and at most 4 files (an installer's README),
    /// while the UDF root holds a directory or more entries than that ISO 9660 root. On a
    /// bridge image (`genisoimage -udf`: both sides hold the tree) UDF comes last.
    pub fn default_namespace(&self) -> Namespace {
        if self.udf_state() == UdfState::Stub {
            return Namespace::Udf;
        }
        self.best_iso9660_namespace()
    }

    /// The richest ISO 9660 tree present: Rock Ridge, Joliet, ISO 9660:1999, then primary.
    fn best_iso9660_namespace(&self) -> Namespace {
        if self.rock_ridge.is_some() {
            Namespace::RockRidge
        } else if self.joliet.is_some() {
            Namespace::Joliet
        } else if self.enhanced.is_some() {
            Namespace::Enhanced
        } else {
            Namespace::Primary
        }
    }

    /// The UDF volume of the same image (a UDF bridge image, or a UDF image whose ISO 9660
    /// side is a stub), parsed now from the same bytes under the same [`Limits`]: `Ok(None)`
    /// when the image has no UDF volume recognition sequence (NSR02/NSR03), an error when it
    /// has one but the volume is unreadable. Each call parses again; keep the volume.
    pub fn udf(&self) -> Result<Option<crate::udf::UdfVolume<'data>>> {
        crate::udf::UdfVolume::parse(self.data, &self.limits)
    }

    /// True when the image holds a readable UDF volume (what puts [`Namespace::Udf`] in
    /// [`Image::namespaces`]).
    pub fn has_udf(&self) -> bool {
        self.udf_state() != UdfState::Absent
    }

    /// True when UDF is the default tree because the ISO 9660 side is a stub (see
    /// [`Image::default_namespace`]).
    pub fn udf_is_default(&self) -> bool {
        self.udf_state() == UdfState::Stub
    }

    fn udf_state(&self) -> UdfState {
        *self.udf_state.get_or_init(|| self.find_udf_state())
    }

    fn find_udf_state(&self) -> UdfState {
        let Ok(Some(vol)) = self.udf() else {
            return UdfState::Absent;
        };
        // The best ISO 9660 tree's root: its directories and files, counted up to the stub
        // bound (an unreadable root counts as a real tree: UDF stays last).
        let best = self.best_iso9660_namespace();
        let iso_entries = (|| -> Result<Option<usize>> {
            let root = self.root(best)?;
            let mut n = 0usize;
            for e in self.read_dir(&root)? {
                let e = e?;
                if e.is_dir() {
                    return Ok(None);
                }
                n += 1;
                if n > STUB_MAX_FILES {
                    return Ok(None);
                }
            }
            Ok(Some(n))
        })();
        let Ok(Some(iso_entries)) = iso_entries else {
            return UdfState::Bridge;
        };
        let Ok(rd) = vol.read_dir(vol.root()) else {
            return UdfState::Bridge;
        };
        let mut n = 0usize;
        for e in rd {
            let Ok(e) = e else {
                return UdfState::Bridge;
            };
            n += 1;
            if e.is_dir() || n > iso_entries {
                return UdfState::Stub;
            }
        }
        UdfState::Bridge
    }

    /// True when `ns` is present.
    pub fn has_namespace(&self, ns: Namespace) -> bool {
        self.namespaces().contains(&ns)
    }

    pub(crate) fn root_ref(&self, ns: Namespace) -> Result<RootRef> {
        let v = match ns {
            Namespace::RockRidge if self.rock_ridge.is_some() => &self.primary,
            Namespace::Primary => &self.primary,
            Namespace::Joliet => self.joliet.as_ref().ok_or(ErrorKind::NoNamespace(ns))?,
            Namespace::Enhanced => self.enhanced.as_ref().ok_or(ErrorKind::NoNamespace(ns))?,
            Namespace::RockRidge => return Err(ErrorKind::NoNamespace(ns).into()),
            Namespace::Udf => return Err(ErrorKind::UdfNamespace.into()),
        };
        Ok(v.root)
    }
}

/// What the scan of the volume descriptor set found.
#[derive(Default)]
struct DescriptorSet {
    descriptors: Vec<VolumeDescriptor>,
    /// The first primary volume descriptor.
    primary: Option<VolumeInfo>,
    /// The first Joliet supplementary volume descriptor.
    joliet: Option<VolumeInfo>,
    /// The first enhanced volume descriptor.
    enhanced: Option<VolumeInfo>,
    /// The first boot record.
    boot: Option<BootRecord>,
    warnings: Vec<Warning>,
}

impl DescriptorSet {
    /// Takes in the descriptor `vd` of `kind` (not a terminator) in `sector`, at image offset
    /// `off`, unless one of its kind came first.
    fn add(&mut self, vd: &[u8], sector: u32, kind: VolumeKind, off: u64) -> Result<()> {
        match kind {
            VolumeKind::Primary => {
                if self.primary.is_some() {
                    self.warnings.push(Warning {
                        offset: off,
                        message: "another primary volume descriptor; the first is used".into(),
                    });
                } else {
                    self.primary = Some(volume_info(vd, sector, kind, off, &mut self.warnings)?);
                }
            }
            VolumeKind::Joliet if self.joliet.is_none() => {
                self.joliet = Some(volume_info(vd, sector, kind, off, &mut self.warnings)?);
            }
            VolumeKind::Enhanced if self.enhanced.is_none() => {
                self.enhanced = Some(volume_info(vd, sector, kind, off, &mut self.warnings)?);
            }
            VolumeKind::BootRecord if self.boot.is_none() => {
                self.boot = Some(boot_record(vd, sector));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Reads the volume descriptor set from sector 16 up to its terminator, at most
/// [`Limits::max_volume_descriptors`] descriptors. No CD001 at sector 16 is an error; the
/// image ending first, a later descriptor without CD001 or no terminator within the limit
/// are warnings.
fn scan_descriptors(data: &[u8], limits: &Limits) -> Result<DescriptorSet> {
    let mut set = DescriptorSet::default();
    let mut terminated = false;
    for i in 0..u64::from(limits.max_volume_descriptors) {
        let off = VD_START + i * VD_SIZE;
        let Some(vd) = data.get(off as usize..(off + VD_SIZE) as usize) else {
            set.warnings.push(Warning {
                offset: off,
                message: "image ends before a volume descriptor set terminator".into(),
            });
            break;
        };
        let sector = (off / VD_SIZE) as u32;
        if &vd[1..6] != b"CD001" {
            if i == 0 {
                return Err(Error::at(
                    ErrorKind::NotIso9660 {
                        reason: "no CD001 volume descriptor at sector 16",
                    },
                    off,
                ));
            }
            set.warnings.push(Warning {
                offset: off,
                message: "volume descriptor without CD001 before a terminator; scan stopped".into(),
            });
            break;
        }
        let kind = descriptor_kind(vd);
        set.descriptors.push(VolumeDescriptor { sector, kind });
        if kind == VolumeKind::Terminator {
            terminated = true;
            break;
        }
        set.add(vd, sector, kind, off)?;
    }
    if !terminated && set.descriptors.len() as u32 >= limits.max_volume_descriptors {
        set.warnings.push(Warning {
            offset: VD_START,
            message: format!(
                "no terminator in the first {} volume descriptors",
                limits.max_volume_descriptors
            ),
        });
    }
    Ok(set)
}

/// The kind of the volume descriptor `vd`, from its type byte.
fn descriptor_kind(vd: &[u8]) -> VolumeKind {
    match vd[0] {
        0 => VolumeKind::BootRecord,
        1 => VolumeKind::Primary,
        2 => svd_kind(vd),
        3 => VolumeKind::Partition,
        255 => VolumeKind::Terminator,
        t => VolumeKind::Unknown(t),
    }
}

/// The boot record descriptor `vd` in `sector`; the catalog block is read for El Torito only.
fn boot_record(vd: &[u8], sector: u32) -> BootRecord {
    let boot_system_id = text(&vd[7..39]);
    let catalog_lba = (boot_system_id == "EL TORITO SPECIFICATION")
        .then(|| le_u32_at(vd, 71))
        .flatten();
    BootRecord {
        sector,
        boot_system_id,
        catalog_lba,
    }
}

/// The primary volume descriptor, which must exist and have a block size of 512, 1024 or
/// 2048; a volume larger than the image's `len` bytes is a warning.
fn checked_primary(
    primary: Option<VolumeInfo>,
    len: u64,
    warnings: &mut Vec<Warning>,
) -> Result<VolumeInfo> {
    let primary = primary.ok_or_else(|| {
        Error::at(
            ErrorKind::NotIso9660 {
                reason: "no primary volume descriptor",
            },
            VD_START,
        )
    })?;
    let block_size = primary.block_size;
    if !matches!(block_size, 512 | 1024 | 2048) {
        return Err(Error::at(
            ErrorKind::BadBlockSize(block_size),
            u64::from(primary.sector) * VD_SIZE + 128,
        ));
    }
    let claimed = u64::from(primary.volume_space_blocks) * u64::from(block_size);
    if claimed > len {
        warnings.push(Warning {
            offset: u64::from(primary.sector) * VD_SIZE + 80,
            message: format!("volume claims {claimed} bytes but the image holds {len}: truncated?"),
        });
    }
    Ok(primary)
}

fn svd_kind(vd: &[u8]) -> VolumeKind {
    let esc = &vd[88..120];
    let joliet = esc.starts_with(b"%/@") || esc.starts_with(b"%/C") || esc.starts_with(b"%/E");
    if joliet {
        VolumeKind::Joliet
    } else if vd[6] == 2 || vd[881] == 2 {
        VolumeKind::Enhanced
    } else {
        VolumeKind::Supplementary
    }
}

/// Warns that the two halves of a both-endian `field` at `at` disagree.
fn mismatch(warnings: &mut Vec<Warning>, field: &str, at: u64) {
    warnings.push(Warning {
        offset: at,
        message: format!("both-endian {field} disagrees; little-endian value used"),
    })
}

/// The primary, Joliet or enhanced volume descriptor `vd` of `kind` in `sector`, at image
/// offset `off`.
fn volume_info(
    vd: &[u8],
    sector: u32,
    kind: VolumeKind,
    off: u64,
    warnings: &mut Vec<Warning>,
) -> Result<VolumeInfo> {
    let space = both_u32_at(vd, 80).unwrap_or_default();
    if space.mismatch {
        mismatch(warnings, "volume space size", off + 80);
    }
    let bs = both_u16(&vd[128..132]).map(|(_, v)| v).unwrap_or_default();
    if bs.mismatch {
        mismatch(warnings, "logical block size", off + 128);
    }
    let root = root_ref(vd, off, warnings)?;
    let joliet_level = (kind == VolumeKind::Joliet).then(|| match vd[90] {
        b'@' => 1,
        b'C' => 2,
        _ => 3,
    });
    let t = |b: &[u8]| {
        if kind == VolumeKind::Joliet {
            text_ucs2(b)
        } else {
            text(b)
        }
    };
    Ok(VolumeInfo {
        kind,
        sector,
        system_id: t(&vd[8..40]),
        volume_id: t(&vd[40..72]),
        volume_set_id: t(&vd[190..318]),
        publisher_id: t(&vd[318..446]),
        preparer_id: t(&vd[446..574]),
        application_id: t(&vd[574..702]),
        volume_space_blocks: space.value,
        block_size: u32::from(bs.value),
        joliet_level,
        file_structure_version: vd[881],
        created: Timestamp::from_digits(&vd[813..830]),
        modified: Timestamp::from_digits(&vd[830..847]),
        expires: Timestamp::from_digits(&vd[847..864]),
        effective: Timestamp::from_digits(&vd[864..881]),
        root,
    })
}

/// The root directory record of the descriptor `vd` at image offset `off`: shorter than 34
/// bytes is an error; disagreeing both-endian fields or no directory flag are warnings.
fn root_ref(vd: &[u8], off: u64, warnings: &mut Vec<Warning>) -> Result<RootRef> {
    let root_rec = &vd[156..190];
    let root_offset = off + 156;
    if root_rec[0] < 34 {
        return Err(Error::at(
            ErrorKind::BadVolumeDescriptor {
                reason: "root directory record shorter than 34 bytes",
            },
            root_offset,
        ));
    }
    // The record may claim more than 34 bytes (68 is seen in the wild); the fields we need
    // are in the first 34.
    let mut rec34 = [0u8; 34];
    rec34.copy_from_slice(root_rec);
    rec34[0] = 34;
    let root = DirRecord::parse(&rec34, root_offset).map_err(|e| e.with_offset(root_offset))?;
    if root.endian_mismatch {
        mismatch(warnings, "root directory record field", root_offset);
    }
    if root.flags & flags::DIRECTORY == 0 {
        warnings.push(Warning {
            offset: root_offset,
            message: "root directory record is not flagged as a directory".into(),
        });
    }
    Ok(RootRef {
        extent: root.extent,
        size: root.size,
        xattr_len: root.xattr_len,
        record_offset: root_offset,
        recorded: root.recorded,
    })
}
