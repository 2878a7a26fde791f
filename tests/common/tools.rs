//! Whether an external tool (genisoimage, skopeo, minisign, …) is installed, and the one
//! message a test prints when it skips for want of one: `skipping: NAME is not installed`.
//!
//! Shared by two crates: the `isolution-tests` library (`tests/common/mod.rs`) and, through a
//! `#[path]` include, the integration tests of `oci-export` (`oci-export/tests/common/mod.rs`).

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::Location;
use std::path::{Path, PathBuf};

/// The executable file `name` names: itself when it holds a `/`, else the first one found on
/// `PATH`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return runnable(&p).then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| runnable(p))
}

/// Whether `name` is installed. When it is not, prints `skipping: NAME is not installed`:
/// once per call site in each test (each test runs on a thread of its own), however often a
/// loop or a proptest case gets there.
#[track_caller]
pub fn tool(name: &str) -> bool {
    let found = find_tool(name).is_some();
    if !found {
        skipping(name, Location::caller());
    }
    found
}

/// Whether every tool of `names` is installed; the message names the first one missing.
#[track_caller]
pub fn tools(names: &[&str]) -> bool {
    for name in names {
        if !tool(name) {
            return false;
        }
    }
    true
}

/// The tool `$ENV` names when that is set, else `name` found on `PATH`; `None`, with the
/// message of [`tool`], when neither.
#[track_caller]
pub fn tool_path(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let found = find_tool(name);
    if found.is_none() {
        skipping(name, Location::caller());
    }
    found
}

fn skipping(name: &str, at: &'static Location<'static>) {
    thread_local! {
        static SAID: RefCell<HashSet<(&'static str, u32, u32, String)>> =
            RefCell::new(HashSet::new());
    }
    let key = (at.file(), at.line(), at.column(), name.to_string());
    if SAID.with(|s| s.borrow_mut().insert(key)) {
        eprintln!("skipping: {name} is not installed");
    }
}
