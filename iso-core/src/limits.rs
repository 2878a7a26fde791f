//! Safety budgets for reading untrusted images.

/// Budgets that bound the work and memory spent on one image.
///
/// Every budget is checked inside the loop it protects and reported as
/// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) naming the budget. The defaults
/// ([`Limits::DEFAULT`]) are far above what real images use (a Linux distribution DVD has some
/// 10,000 directories and 100,000 entries) and far below what would hurt a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Limits {
    /// Deepest directory nesting followed by a walk or a lookup (the root is depth 0).
    pub max_depth: u32,
    /// Most entries a walk yields.
    pub max_entries: u64,
    /// Most directories a walk opens; each directory extent is opened at most once (a second
    /// visit is a [`DirectoryLoop`](crate::ErrorKind::DirectoryLoop)).
    pub max_directories: u64,
    /// Longest name of one entry, in bytes (Rock Ridge `NM` pieces joined, Joliet decoded).
    pub max_name_bytes: usize,
    /// Longest symbolic link target, in bytes (Rock Ridge `SL` components joined).
    pub max_link_bytes: usize,
    /// Longest path a walk builds, in bytes.
    pub max_path_bytes: usize,
    /// Most SUSP continuation areas (`CE`) followed for one directory record.
    pub max_ce_count: u32,
    /// Most System Use bytes (record plus continuation areas) read for one directory record.
    pub max_susp_bytes: u64,
    /// Most directory records making up one multi-extent file.
    pub max_extents_per_file: u32,
    /// Most volume descriptors scanned from sector 16 before giving up on a terminator.
    pub max_volume_descriptors: u32,
    /// Most El Torito catalog entries read.
    pub max_boot_entries: u32,
    /// Most bytes of AAIP attribute data (the component records of all `AL` entries, headers
    /// included) decoded for one entry's extended attributes and ACLs.
    pub max_aaip_bytes: u64,
}

impl Limits {
    /// The defaults.
    pub const DEFAULT: Limits = Limits {
        max_depth: 256,
        max_entries: 10_000_000,
        max_directories: 1_000_000,
        max_name_bytes: 4096,
        max_link_bytes: 4096,
        max_path_bytes: 64 * 1024,
        max_ce_count: 32,
        max_susp_bytes: 64 * 1024,
        max_extents_per_file: 65_536,
        max_volume_descriptors: 256,
        max_boot_entries: 1024,
        max_aaip_bytes: 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
