//! End-to-end tests of `isolution extract`: whole fixtures (types, sizes, digests, link
//! targets, hard links, modes, mtimes; the absolute symlink refused), twice into one
//! destination, subsets.
//!
//! The real executable, run on the committed fixtures (`tests/fixtures/*.iso`) and checked
//! against their reference listings (`.tsv`), hard-link groups (`.links`) and source tree
//! (`tree/`); see `tests/fixtures/README.md`. Exit codes (see `src/bin/isolution/main.rs`): 0
//! success, 1 ran but reported problems (refused entries), 2 bad input or usage, with one
//! `isolution: ...` line on stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

mod common;
use common::fixtures::*;
use common::{run, show};

// ---------------------------------------------------------------------------------------------
// extract

/// Extracts `name` whole into a new directory and checks it against the listing, except the
/// absolute symlink `abs`, which must be refused. Returns the directory.
fn extract_and_check(name: &str) -> Scratch {
    let tmp = Scratch::new();
    let dest = tmp.path().join("out");
    let out = run(&["extract", &iso(name), path_str(&dest)]);
    check_extraction(name, &dest, &out);
    tmp
}

fn check_extraction(name: &str, dest: &Path, out: &Output) {
    let all = listing(name);
    let has_abs = all.iter().any(|e| e.path == "abs");
    if has_abs {
        // Refused: exit 1, one message naming it, nothing created.
        assert_eq!(out.status.code(), Some(1), "extract {name}: {}", show(out));
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "extract {name}: {}", show(out));
        assert!(
            lines[0].starts_with("isolution: ") && lines[0].contains("abs"),
            "extract {name}: {}",
            show(out)
        );
        assert!(!err.contains("panicked"));
        assert!(
            std::fs::symlink_metadata(dest.join("abs")).is_err(),
            "extract {name}: abs was created"
        );
    } else {
        ok(out);
    }
    let want: Vec<&Entry> = all.iter().filter(|e| e.path != "abs").collect();
    assert_tree_matches(&format!("extract {name}"), dest, &want);

    // Hard links: the files sharing an inode are exactly the `.links` groups.
    let got = walk_dest(dest);
    let mut by_ino: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (p, n) in &got {
        if n.kind == 'f' {
            by_ino.entry(n.ino).or_default().push(p.clone());
        }
    }
    let mut groups: Vec<Vec<String>> = by_ino.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    assert_eq!(groups, links(name), "extract {name}: hard-link groups");

    if has_rock_ridge(name) {
        for (path, mode) in [
            ("modes/private.txt", 0o600),
            ("modes/run.sh", 0o755),
            ("modes/readonly.txt", 0o444),
            ("modes/secret", 0o700),
            ("modes/secret/inner.txt", 0o644),
            ("modes", 0o755),
            ("hello.txt", 0o644),
            ("dir/sub", 0o755),
        ] {
            assert_eq!(got[path].mode, mode, "extract {name}: mode of {path}");
        }
        for path in ["hello.txt", "modes/secret", "dir", "data/seventy-k.bin"] {
            assert_eq!(got[path].mtime, MTIME, "extract {name}: mtime of {path}");
        }
    }
}

#[test]
fn extract_rr_only_matches_the_listing() {
    extract_and_check("rr-only");
}

#[test]
fn extract_every_other_fixture() {
    for name in FIXTURES.into_iter().filter(|n| *n != "rr-only") {
        extract_and_check(name);
    }
}

/// The second run must replace what the first wrote. As a non-root user this also covers
/// files the first run made read-only (`modes/readonly.txt`, 0444).
#[test]
fn extract_twice_into_the_same_destination() {
    let tmp = extract_and_check("rr-only");
    let dest = tmp.path().join("out");
    let out = run(&["extract", &iso("rr-only"), path_str(&dest)]);
    check_extraction("rr-only", &dest, &out);
}

#[test]
fn extract_a_subset_creates_only_that_subtree() {
    let all = listing("rr-only");
    for (args, roots) in [
        (&["dir"][..], &["dir"][..]),
        (&["/modes/"], &["modes"]),
        (&["data/lines.txt", "hard"], &["data/lines.txt", "hard"]),
    ] {
        let tmp = Scratch::new();
        let dest = tmp.path().join("out");
        let iso = iso("rr-only");
        let mut cmd = vec!["extract", &iso, path_str(&dest)];
        cmd.extend_from_slice(args);
        let out = run(&cmd);
        ok(&out);
        // The roots, what is below them, and their parent directories.
        let want: Vec<&Entry> = all
            .iter()
            .filter(|e| {
                roots.iter().any(|r| {
                    e.path == *r
                        || e.path.starts_with(&format!("{r}/"))
                        || r.starts_with(&format!("{}/", e.path))
                })
            })
            .collect();
        assert_tree_matches(&format!("extract rr-only {args:?}"), &dest, &want);
    }
}

#[test]
fn extract_missing_path_is_an_error() {
    let tmp = Scratch::new();
    let dest = tmp.path().join("out");
    let err = fails(&run(&[
        "extract",
        &iso("rr-only"),
        path_str(&dest),
        "no-such-thing",
    ]));
    assert!(err.contains("no-such-thing"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// A full disk, a lost summary

/// A tmpfs of `size` mounted on a new directory, unmounted when dropped.
struct SmallFs {
    mnt: std::path::PathBuf,
    _dir: Scratch,
}

impl SmallFs {
    /// `None` (the caller skips its test, saying why) when mounting is not allowed here.
    fn mount(size: &str) -> Option<SmallFs> {
        let dir = Scratch::new();
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mnt)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallFs { mnt, _dir: dir }),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a {size} tmpfs (root needed): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.mnt).status();
    }
}

/// No file is under its final name unless complete: a write that fails (no space left) is
/// an error (exit 2), the file being written is absent, its temporary file removed, and
/// every file that is there has its full content.
#[test]
fn extract_on_a_full_disk_leaves_no_cut_off_file() {
    let Some(fs) = SmallFs::mount("64k") else {
        return;
    };
    let dest = fs.mnt.join("out");
    let out = run(&["extract", &iso("rr-only"), path_str(&dest), "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("isolution: ")
            && err.lines().count() == 1
            && err.contains("No space left on device"),
        "{}",
        show(&out)
    );
    assert!(out.stdout.is_empty(), "{}", show(&out));
    let want = listing_map("rr-only");
    let got = walk_dest(&dest);
    for (path, n) in &got {
        assert!(!path.contains(".isolution-partial-"), "leftover {path}");
        let e = want
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in the image"));
        assert_eq!(n.kind, e.kind, "{path}");
        if n.kind == 'f' {
            assert_eq!(Some(n.size), e.size, "{path}: cut off");
            assert_eq!(n.sha256, e.sha256, "{path}: wrong content");
        }
    }
    // The 70,001-byte file cannot fit in 64 KiB: absent.
    assert!(!got.contains_key("data/seventy-k.bin"), "{:?}", got.keys());
}

/// `sh -c 'exec isolution ARGS... >&-'`: run with file descriptor 1 closed.
fn run_with_stdout_closed(args: &[&str]) -> Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" >&-")
        .arg(common::BIN)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `cmd` with stdout a pipe whose reader is already closed (deterministically: closed
/// before the child starts), stderr captured.
fn run_with_reader_gone(cmd: &mut std::process::Command) -> std::process::Output {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    cmd.stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

/// `extract --json` prints its record: a closed stdout is refused before anything is
/// written, a reader gone is exit 2; without `--json` nothing is printed, so stdout does not
/// matter.
#[test]
fn extract_json_to_a_closed_stdout_is_an_error() {
    let tmp = Scratch::new();
    let dest = tmp.path().join("out");
    let iso = iso("rr-only");
    let out = run_with_stdout_closed(&["extract", &iso, path_str(&dest), "hello.txt", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().count() == 1 && err.contains("standard output is closed"),
        "{err}"
    );
    assert!(!dest.exists());
    let out = run_with_stdout_closed(&["extract", &iso, path_str(&dest), "hello.txt"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(dest.join("hello.txt").exists());

    let out = run_with_reader_gone(std::process::Command::new(common::BIN).args([
        "extract",
        &iso,
        path_str(&tmp.path().join("again")),
        "hello.txt",
        "--json",
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.lines().count() == 1 && err.contains("cannot write the summary to standard output"),
        "{err}"
    );
}
