//! End-to-end tests of `isolution cat`: file contents against the digests, `--all` (each
//! distinct file once), `--boot`.
//!
//! The real executable, run on the committed fixtures (`tests/fixtures/*.iso`) and checked
//! against their reference listings (`.tsv`), hard-link groups (`.links`) and source tree
//! (`tree/`); see `tests/fixtures/README.md`. Exit codes (see `src/bin/isolution/main.rs`): 0
//! success, 1 ran but reported problems (refused entries), 2 bad input or usage, with one
//! `isolution: ...` line on stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;

mod common;
use common::fixtures::*;
use common::run;

// ---------------------------------------------------------------------------------------------
// cat

/// `bytes` is the contents of `files`, one after the other: their total size, then each
/// file's digest (`what` names the command in messages).
#[track_caller]
fn assert_concatenation(what: &str, bytes: &[u8], files: &[&Entry]) {
    let total: u64 = files.iter().map(|e| e.size.unwrap()).sum();
    assert_eq!(bytes.len() as u64, total, "{what}");
    let mut at = 0usize;
    for e in files {
        let n = e.size.unwrap() as usize;
        assert_eq!(
            Some(sha256(&bytes[at..at + n])),
            e.sha256,
            "{what}: {} at byte {at}",
            e.path
        );
        at += n;
    }
}

#[test]
fn cat_matches_the_digests() {
    for name in FIXTURES {
        let files: Vec<Entry> = listing(name)
            .into_iter()
            .filter(|e| e.kind == 'f')
            .collect();
        // All files in one run, in order: the output is their concatenation.
        let iso = iso(name);
        let mut args = vec!["cat", &iso];
        args.extend(files.iter().map(|e| e.path.as_str()));
        let out = run(&args);
        let files: Vec<&Entry> = files.iter().collect();
        assert_concatenation(&format!("cat {name} (all paths)"), ok(&out), &files);
    }
    // And one at a time, for a few (a multi-block file, unicode and long names).
    let want = listing_map("rr-only");
    for path in [
        "data/seventy-k.bin",
        "names/🎉 party.txt",
        "names/héllo wörld.txt",
        "/deep/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/leaf.txt",
        "empty.txt",
    ] {
        let out = run(&["cat", &iso("rr-only"), path]);
        let e = &want[path.trim_start_matches('/')];
        assert_eq!(Some(sha256(ok(&out))), e.sha256, "cat rr-only {path}");
    }
}

#[test]
fn cat_all_writes_each_distinct_file_once() {
    for name in FIXTURES {
        let want = listing_map(name);
        // A hard link after the first of its group is not written again.
        let walk_order = lines(ok(&run(&["ls", &iso(name)])));
        let mut later = HashSet::new();
        for group in links(name) {
            let mut members: Vec<&String> =
                walk_order.iter().filter(|p| group.contains(p)).collect();
            assert_eq!(members.len(), group.len(), "{name}: {group:?}");
            members.remove(0);
            later.extend(members.into_iter().cloned());
        }
        let files: Vec<&Entry> = walk_order
            .iter()
            .filter_map(|p| want.get(p.as_str()))
            .filter(|e| e.kind == 'f' && !later.contains(&e.path))
            .collect();
        let out = run(&["cat", "--all", &iso(name)]);
        assert_concatenation(&format!("cat --all {name}"), ok(&out), &files);
    }
}

#[test]
fn cat_boot_writes_the_boot_image() {
    let img = std::fs::read(fixtures_dir().join("tree/boot/boot.img")).unwrap();
    assert_eq!(img.len(), 2048);
    for name in ["rr-joliet", "xorriso-rr"] {
        let out = run(&["cat", "--boot", "0", &iso(name)]);
        assert_eq!(ok(&out), &img[..2048], "cat --boot 0 {name}");
    }
    let err = fails(&run(&["cat", "--boot", "1", &iso("rr-joliet")]));
    assert!(err.contains("boot entry 1"), "{err}");
    fails(&run(&["cat", "--boot", "0", &iso("rr-only")]));
}

#[test]
fn cat_of_a_directory_is_an_error() {
    let err = fails(&run(&["cat", &iso("rr-only"), "dir"]));
    assert!(err.contains("dir"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// zisofs2

/// zisofs2 as xorriso writes it (`ZF` version 2 with 1 MiB blocks, `Z2` with 64 KiB blocks):
/// `ls` lists the uncompressed size and `cat` writes the file byte for byte; with `-n primary`
/// (plain ISO 9660) both show the stored, compressed bytes, as `isoinfo` without `-R` does.
#[test]
fn cat_inflates_zisofs2_and_primary_shows_stored_bytes() {
    if !common::tool("xorriso") {
        return;
    }
    let text: Vec<u8> = (0..200_000)
        .flat_map(|i| format!("line {i} of zisofs2 text\n").into_bytes())
        .collect();
    for (opts, sig) in [
        ("version_2=on:block_size_v2=1m", b"ZF"),
        ("version_2=on:susp_z2=on:block_size_v2=64k", b"Z2"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("big.txt"), &text).unwrap();
        let iso = tmp.path().join("z.iso");
        let out = std::process::Command::new("xorriso")
            .args(["-no_rc", "-report_about", "SORRY", "-outdev"])
            .arg(&iso)
            .args(["-zisofs", opts, "-map"])
            .arg(&src)
            .args(["/", "-set_filter_r", "--zisofs", "/", "--"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let img = std::fs::read(&iso).unwrap();
        assert!(img.windows(4).any(|w| w[..2] == *sig && w[2..] == [16, 2]));
        let iso = iso.to_str().unwrap();
        let listed = |ns: &str| -> (u64, u64) {
            let out = run(&["ls", "--json", "-n", ns, iso]);
            let v: serde_json::Value = serde_json::from_slice(ok(&out)).unwrap();
            let stored = v["extents"][0]["len"].as_u64().unwrap();
            (v["size"].as_u64().unwrap(), stored)
        };
        let (size, stored) = listed("rr");
        assert_eq!(size, text.len() as u64, "{opts}: listed size");
        assert!(stored < size / 4, "{opts}: not compressed ({stored} bytes)");
        assert!(ok(&run(&["cat", iso, "big.txt"])) == text, "{opts}: cat");
        // Plain ISO 9660: the stored bytes, a zisofs2 header first.
        assert_eq!(listed("primary"), (stored, stored), "{opts}: primary size");
        let raw = run(&["cat", "-n", "primary", iso, "BIG.TXT"]);
        let raw = ok(&raw);
        assert_eq!(raw.len() as u64, stored);
        assert!(raw.starts_with(&[0xEF, 0x22, 0x55, 0xA1, 0xBC, 0x1B, 0x95, 0xA0]));
    }
}
