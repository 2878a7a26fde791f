//! What the fuzz targets share; each includes this file with `#[path = "common.rs"] mod common;`.

use iso_core::{Image, Limits};

/// `data` parsed as an ISO image under budgets small enough for fuzzing, or `None` when it is
/// not one.
pub fn parse(data: &[u8]) -> Option<Image<'_>> {
    let limits = Limits {
        max_entries: 20_000,
        max_directories: 2_000,
        ..Limits::DEFAULT
    };
    Image::parse_with_limits(data, limits).ok()
}
