//! End-to-end tests of how `isolution` fails: missing files and paths, not an ISO, usage errors
//! (exit 2) and help (exit 0), a broken pipe (not an error), and every image the shared corpus
//! expects to be rejected.
//!
//! The real executable, run on the committed fixtures (`tests/fixtures/*.iso`) and checked
//! against their reference listings (`.tsv`), hard-link groups (`.links`) and source tree
//! (`tree/`); see `tests/fixtures/README.md`. Exit codes (see `src/bin/isolution/main.rs`): 0
//! success, 1 ran but reported problems (refused entries), 2 bad input or usage, with one
//! `isolution: ...` line on stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::fixtures::*;
use common::{run, show, BIN};

// ---------------------------------------------------------------------------------------------
// Errors, exit codes, help

#[test]
fn missing_image_file() {
    let tmp = Scratch::new();
    let missing = tmp.path().join("missing.iso");
    for cmd in ["ls", "info", "cat"] {
        let mut args = vec![cmd, path_str(&missing)];
        if cmd == "cat" {
            args.push("x");
        }
        let err = fails(&run(&args));
        assert!(err.contains("missing.iso"), "{cmd}: {err}");
    }
}

#[test]
fn not_an_iso() {
    let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    for cmd in ["ls", "info"] {
        let err = fails(&run(&[cmd, path_str(&toml)]));
        assert!(err.contains("Cargo.toml"), "{cmd}: {err}");
    }
    // A directory, and an empty file.
    fails(&run(&["ls", path_str(&fixtures_dir())]));
    let tmp = Scratch::new();
    let empty = tmp.path().join("empty.iso");
    std::fs::write(&empty, b"").unwrap();
    fails(&run(&["ls", path_str(&empty)]));
}

#[test]
fn missing_path_inside_the_image() {
    for (cmd, path) in [
        ("ls", "nope"),
        ("ls", "/nope/"),
        ("cat", "nope.txt"),
        ("cat", "dir/nope.txt"),
    ] {
        let err = fails(&run(&[cmd, &iso("rr-only"), path]));
        let path = path.trim_matches('/');
        assert!(err.contains(path), "{cmd} {path}: {err}");
    }
    // A missing component in the middle: the message names where the lookup stopped.
    let err = fails(&run(&["ls", &iso("rr-only"), "nope/deeper"]));
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [
        &[][..],
        &["ls"],
        &["frobnicate"],
        &["ls", "--no-such-flag", "x.iso"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        assert!(!out.stderr.is_empty());
    }
    for args in [
        &["--help"][..],
        &["ls", "--help"],
        &["help"],
        &["--version"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

/// `isolution ls ISO | head -1`: the reader goes away; that is not an error.
#[test]
fn broken_pipe_is_not_an_error() {
    // Read one line, then close the pipe.
    let mut child = Command::new(BIN)
        .args(["ls", &iso("rr-joliet")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(out.stderr.is_empty(), "{}", show(&out));

    // Close the pipe before the child writes anything, so its first write surely fails.
    for args in [
        &["ls", "-l"][..],
        &["ls", "--json"],
        &["cat", "--all"],
        &["info"],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .arg(iso("rr-joliet"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", show(&out));
        assert!(out.stderr.is_empty(), "{args:?}: {}", show(&out));
    }
}

// ---------------------------------------------------------------------------------------------
// The shared corpus

/// Every image the corpus expects to be rejected fails cleanly: exit 2, one line, no panic.
#[test]
fn corpus_error_images_fail_cleanly() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let Ok(index) = std::fs::read_to_string(corpus.join("expected/index.tsv")) else {
        eprintln!("SKIP: {} is absent", corpus.display());
        return;
    };
    let mut rows = index.lines();
    let header: Vec<&str> = rows.next().expect("header").split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect(n);
    let (ci, ce) = (col("image"), col("expected"));
    let mut n = 0;
    for row in rows {
        let f: Vec<&str> = row.split('\t').collect();
        if f[ce] != "error" {
            continue;
        }
        let out = run(&["ls", path_str(&corpus.join(f[ci]))]);
        let err = fails(&out);
        assert!(!err.contains("panicked"), "{}: {err}", f[ci]);
        n += 1;
    }
    assert!(n > 0, "no `error` images in the index");
}
