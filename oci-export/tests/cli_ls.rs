//! End-to-end tests of `isolution ls`: every path, subdirectories, `-l` (modes, sizes, link
//! targets), `--json`, the Joliet namespace.
//!
//! The real executable, run on the committed fixtures (`tests/fixtures/*.iso`) and checked
//! against their reference listings (`.tsv`), hard-link groups (`.links`) and source tree
//! (`tree/`); see `tests/fixtures/README.md`. Exit codes (see `src/bin/isolution/main.rs`): 0
//! success, 1 ran but reported problems (refused entries), 2 bad input or usage, with one
//! `isolution: ...` line on stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{HashMap, HashSet};

mod common;
use common::fixtures::*;
use common::run;

// ---------------------------------------------------------------------------------------------
// ls

#[test]
fn ls_prints_every_path_of_the_listing() {
    for name in FIXTURES {
        let out = run(&["ls", &iso(name)]);
        let got = lines(ok(&out));
        let want: Vec<String> = listing(name).iter().map(Entry::ls_path).collect();
        assert_same_set(&format!("ls {name}"), &got, &want);
    }
}

#[test]
fn ls_subdirectory_lists_only_below_it() {
    let all = listing("rr-only");
    for (arg, dir) in [
        ("dir", "dir"),
        ("/dir/", "dir"),
        ("dir/sub", "dir/sub"),
        // d7 is relocated to rr_moved; listing d6 must follow the CL entry back.
        ("deep/d1/d2/d3/d4/d5/d6", "deep/d1/d2/d3/d4/d5/d6"),
        ("empty-dir", "empty-dir"),
    ] {
        let out = run(&["ls", &iso("rr-only"), arg]);
        let got = lines(ok(&out));
        let prefix = format!("{dir}/");
        let want: Vec<String> = all
            .iter()
            .filter(|e| e.path.starts_with(&prefix))
            .map(Entry::ls_path)
            .collect();
        assert_same_set(&format!("ls rr-only {arg}"), &got, &want);
    }
    // A file lists itself.
    let out = run(&["ls", &iso("rr-only"), "dir/file.txt"]);
    assert_eq!(lines(ok(&out)), ["dir/file.txt"]);
}

#[test]
fn ls_long_shows_modes_sizes_and_link_targets() {
    for name in ["rr-only", "rr-joliet", "xorriso-rr", "plain-l1"] {
        let want = listing_map(name);
        let short = lines(ok(&run(&["ls", &iso(name)])));
        let long = lines(ok(&run(&["ls", "-l", &iso(name)])));
        assert_eq!(short.len(), long.len(), "ls vs ls -l on {name}");
        let mut modes = HashMap::new();
        for (s, l) in short.iter().zip(&long) {
            let e = &want[s.trim_end_matches('/')];
            let mode = &l[..10];
            let type_char = match e.kind {
                'f' => '-',
                k => k,
            };
            assert!(mode.starts_with(type_char), "{name}: {l:?}");
            assert!(
                mode[1..]
                    .chars()
                    .zip("rwxrwxrwx".chars())
                    .all(|(c, p)| c == p || c == '-'),
                "{name}: mode string {l:?}"
            );
            let suffix = match &e.target {
                Some(t) => format!(" {s} -> {t}"),
                None => format!(" {s}"),
            };
            assert!(
                l.ends_with(&suffix),
                "{name}: {l:?} should end with {suffix:?}"
            );
            let fields: Vec<&str> = l.split_whitespace().collect();
            if let Some(size) = e.size {
                assert_eq!(fields[4], size.to_string(), "{name}: size in {l:?}");
            }
            modes.insert(e.path.clone(), mode.to_string());
        }
        if has_rock_ridge(name) {
            for (path, mode) in [
                ("modes/private.txt", "-rw-------"),
                ("modes/run.sh", "-rwxr-xr-x"),
                ("modes/readonly.txt", "-r--r--r--"),
                ("modes/secret", "drwx------"),
                ("modes/secret/inner.txt", "-rw-r--r--"),
                ("hello.txt", "-rw-r--r--"),
                ("dir", "drwxr-xr-x"),
                ("abs", "lrwxrwxrwx"),
            ] {
                assert_eq!(modes[path], mode, "{name}: mode of {path}");
            }
        }
    }
}

#[test]
fn ls_json_matches_the_listing() {
    for name in FIXTURES {
        let want = listing_map(name);
        let out = run(&["ls", "--json", &iso(name)]);
        let mut seen = Vec::new();
        for l in lines(ok(&out)) {
            let v: serde_json::Value =
                serde_json::from_str(&l).unwrap_or_else(|e| panic!("{name}: {e}: {l}"));
            let path = v["path"].as_str().expect("path").to_string();
            let e = want
                .get(&path)
                .unwrap_or_else(|| panic!("{name}: unexpected {path}"));
            let kind = match v["type"].as_str().expect("type") {
                "file" => 'f',
                "directory" => 'd',
                "symlink" => 'l',
                t => panic!("{name}: {path}: type {t}"),
            };
            assert_eq!(kind, e.kind, "{name}: type of {path}");
            if let Some(size) = e.size {
                assert_eq!(v["size"].as_u64(), Some(size), "{name}: size of {path}");
            }
            if e.kind == 'l' {
                assert_eq!(v["target"].as_str(), e.target.as_deref(), "{name}: {path}");
            } else {
                assert!(v["target"].is_null(), "{name}: {path}: {l}");
            }
            seen.push(path);
        }
        let want_paths: Vec<String> = want.keys().cloned().collect();
        assert_same_set(&format!("ls --json {name}"), &seen, &want_paths);
    }
}

#[test]
fn ls_joliet_namespace_gives_joliet_names() {
    let out = run(&["ls", "--namespace", "joliet", &iso("rr-joliet")]);
    let got: HashSet<String> = lines(ok(&out))
        .into_iter()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    // Every Joliet name genisoimage writes from this tree (see joliet-only.tsv) is there.
    for e in listing("joliet-only") {
        assert!(got.contains(&e.path), "missing Joliet name {:?}", e.path);
    }
    let long = listing("rr-joliet")
        .into_iter()
        .map(|e| e.path)
        .find(|p| p.len() > 200)
        .expect("the 200-character name");
    let short: String = long.chars().take("names/".len() + 103).collect();
    assert!(!got.contains(&long), "Rock Ridge name in the Joliet tree");
    assert!(got.contains(&short), "Joliet truncates to 103 characters");
    // Joliet has no symlinks: genisoimage records them as empty files.
    let out = run(&[
        "ls",
        "-n",
        "joliet",
        "--json",
        &iso("rr-joliet"),
        "link-to-file",
    ]);
    let v: serde_json::Value = serde_json::from_slice(ok(&out)).unwrap();
    assert_eq!(v["type"], "file");
}

#[test]
fn ls_absent_namespace_is_an_error() {
    let out = run(&["ls", "--namespace", "joliet", &iso("rr-only")]);
    let err = fails(&out);
    assert!(err.contains("Joliet") || err.contains("joliet"), "{err}");
    assert!(out.stdout.is_empty());
}

/// The binary has its own entry point (`main.rs`: no `/proc/self/maps` read at start-up), so
/// it must do what Rust's runtime did: with descriptor 1 closed, the image opened first must
/// not become standard output (`cat`, which copies from the image's descriptor to
/// descriptor 1, then fails with EBADF: the image is read-only); `/dev/null` takes the place,
/// and `ls` and `cat` succeed. With 0, 1 and 2 closed, the same.
#[test]
fn closed_standard_descriptors_are_opened_on_dev_null() {
    let iso = iso("rr-only");
    for (cmd, redirect) in [
        ("ls \"$1\"", ">&-"),
        ("cat \"$1\" hello.txt", ">&-"),
        ("cat \"$1\" --all", "<&- >&- 2>&-"),
        ("ls -l \"$1\"", "2>&-"),
    ] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec \"$0\" {cmd} {redirect}"))
            .arg(common::BIN)
            .arg(&iso)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{redirect}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{redirect}: {:?}", out.stderr);
    }
}
