//! Comparing a regenerated `registry-config.inc.j2` with the one a Solution ships.
//!
//! Shared by two crates: the `isolution-tests` library (`tests/common/mod.rs`) and, through a
//! `#[path]` include, the integration tests of `oci-export` (`oci-export/tests/common/mod.rs`).

/// The lines of a `registry-config.inc.j2`, trimmed, blank ones left out: two renderings that
/// agree block for block have the same lines.
pub fn lines(t: &str) -> Vec<String> {
    t.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
