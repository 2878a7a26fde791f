//! Images made here by xorriso and genisoimage from a known tree (issue 13):
//!
//! - device numbers: `ls -l` and `ls --json` show the `major, minor` of the tree's device
//!   nodes (`mknod`, root needed) whichever writer recorded them (xorriso's whole `dev_t` in
//!   the low word of `PN`, genisoimage's major and minor words), as `stat` of the tree does and
//!   as `bsdtar -tvf` does for xorriso's images;
//! - `extract` keeps going: a Rock Ridge name holding a `/` (a file and a directory, patched
//!   into the image) is refused, never made into directories; a file whose extent lies past
//!   the end of the image is reported as failed; every other entry is extracted, no temporary
//!   file is left, and it exits 1 listing each.
//!
//! Each test skips, saying why, when a tool is missing or `mknod` is not allowed.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::Command;

mod common;
use common::fixtures::{path_str, Scratch};
use common::{run, show, tool};

/// The device nodes of the tree: name, `b` or `c`, major, minor.
const DEVICES: &[(&str, &str, u32, u32)] = &[
    ("null", "c", 1, 3),
    ("big", "b", 259, 65537),
    ("max", "c", 4095, 1_048_575),
    ("disk", "b", 8, 1),
];

/// Masters `src` into `iso` with Rock Ridge: `xorriso` or `genisoimage`.
fn master(tool: &str, src: &Path, iso: &Path) {
    let mut cmd = Command::new(tool);
    if tool == "xorriso" {
        cmd.args(["-outdev", path_str(iso), "-map", path_str(src), "/", "--"]);
    } else {
        cmd.args(["-quiet", "-R", "-J", "-o", path_str(iso), path_str(src)]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{tool}: {}", show(&out));
}

/// `(major, minor)` of a device node by `stat` (the oracle: coreutils' own decoding).
fn stat_device(p: &Path) -> (u32, u32) {
    let out = Command::new("stat")
        .args(["-c", "%Hr %Lr", path_str(p)])
        .output()
        .unwrap();
    assert!(out.status.success(), "stat: {}", show(&out));
    let s = String::from_utf8(out.stdout).unwrap();
    let mut it = s.split_whitespace().map(|v| v.parse::<u32>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn ls_shows_the_device_numbers_of_the_tree_for_both_writers() {
    let tmp = Scratch::new();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("dev")).unwrap();
    for (name, ty, major, minor) in DEVICES {
        let p = tree.join("dev").join(name);
        let st = Command::new("mknod")
            .args([path_str(&p), ty, &major.to_string(), &minor.to_string()])
            .output()
            .unwrap();
        if !st.status.success() {
            eprintln!(
                "skipping: cannot mknod (root needed): {}",
                String::from_utf8_lossy(&st.stderr).trim()
            );
            return;
        }
        assert_eq!(stat_device(&p), (*major, *minor), "stat of {name}");
    }
    std::fs::write(tree.join("plain.txt"), "plain\n").unwrap();
    for writer in ["xorriso", "genisoimage"] {
        if !tool(writer) {
            continue;
        }
        let iso = tmp.path().join(format!("{writer}.iso"));
        master(writer, &tree, &iso);
        let out = run(&["ls", "-l", path_str(&iso), "dev"]);
        assert_eq!(out.status.code(), Some(0), "{writer}: {}", show(&out));
        let text = String::from_utf8(out.stdout.clone()).unwrap();
        for (name, ty, _, _) in DEVICES {
            let want = stat_device(&tree.join("dev").join(name));
            let line = text
                .lines()
                .find(|l| l.ends_with(&format!(" dev/{name}")))
                .unwrap_or_else(|| panic!("{writer}: dev/{name} not listed: {text}"));
            assert!(line.starts_with(ty), "{writer}: {line}");
            assert!(
                line.contains(&format!(" {}, {} ", want.0, want.1)),
                "{writer}: dev/{name}: want {want:?}: {line}"
            );
            let out = run(&["ls", "--json", path_str(&iso), &format!("dev/{name}")]);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{writer}: {e}: {}", show(&out)));
            assert_eq!(v["device"], serde_json::json!([want.0, want.1]), "{writer}");
        }
        // bsdtar splits the whole 64-bit dev_t: right for xorriso, not for genisoimage's
        // major and minor words.
        if writer == "xorriso" && tool("bsdtar") {
            let out = Command::new("bsdtar")
                .args(["-tvf", path_str(&iso)])
                .output()
                .unwrap();
            let listing = String::from_utf8_lossy(&out.stdout);
            for (name, _, major, minor) in DEVICES {
                let line = listing
                    .lines()
                    .find(|l| l.ends_with(&format!("dev/{name}")))
                    .unwrap_or_else(|| panic!("bsdtar: dev/{name}: {listing}"));
                assert!(line.contains(&format!("{major},{minor}")), "bsdtar: {line}");
            }
        }
    }
}

/// Every path under `dir`, relative, sorted (symbolic links not followed).
fn all_paths(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Replaces every occurrence of `from` in `img` by `to` (same length); returns how many.
fn replace_all(img: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= img.len() {
        if &img[i..i + from.len()] == from {
            img[i..i + from.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    n
}

#[test]
fn extract_refuses_slash_names_reports_unreadable_files_and_extracts_the_rest() {
    let tmp = Scratch::new();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("ddQee")).unwrap();
    std::fs::create_dir_all(tree.join("d")).unwrap();
    std::fs::write(tree.join("ok1.txt"), "one\n").unwrap();
    std::fs::write(tree.join("zzdirQzzfile"), "evil\n").unwrap();
    std::fs::write(tree.join("ddQee/inner.txt"), "inner\n").unwrap();
    std::fs::write(tree.join("bad.bin"), vec![7u8; 5000]).unwrap();
    std::fs::write(tree.join("z_last.txt"), "last\n").unwrap();
    std::fs::write(tree.join("d/sub.txt"), "sub\n").unwrap();
    let mut ran = false;
    for writer in ["xorriso", "genisoimage"] {
        if !tool(writer) {
            continue;
        }
        ran = true;
        let iso = tmp.path().join(format!("{writer}.iso"));
        master(writer, &tree, &iso);
        // The extent of bad.bin, from its record, pointed far past the end.
        let out = run(&["ls", "--json", path_str(&iso), "bad.bin"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{writer}: {e}: {}", show(&out)));
        let rec = v["record_offset"].as_u64().unwrap() as usize;
        let mut img = std::fs::read(&iso).unwrap();
        let lba = 0x00ff_ffffu32;
        img[rec + 2..rec + 6].copy_from_slice(&lba.to_le_bytes());
        img[rec + 6..rec + 10].copy_from_slice(&lba.to_be_bytes());
        // The Rock Ridge names (NM, ASCII as given; the ISO 9660 and Joliet names are
        // upper-case or UCS-2) get a `/`.
        assert_eq!(replace_all(&mut img, b"zzdirQzzfile", b"zzdir/zzfile"), 1);
        assert_eq!(replace_all(&mut img, b"ddQee", b"dd/ee"), 1);
        std::fs::write(&iso, &img).unwrap();

        // ls shows the names as recorded, and creates nothing.
        let out = run(&["ls", path_str(&iso)]);
        assert_eq!(out.status.code(), Some(0), "{writer}: {}", show(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.lines().any(|l| l == "zzdir/zzfile"), "{text}");
        assert!(text.lines().any(|l| l == "dd/ee/"), "{text}");

        let dest = tmp.path().join(format!("out-{writer}"));
        let out = run(&["extract", path_str(&iso), path_str(&dest), "--json"]);
        assert_eq!(out.status.code(), Some(1), "{writer}: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{writer}: {}", show(&out));
        for (what, path) in [
            ("refused", "zzdir/zzfile"),
            ("refused", "dd/ee"),
            ("failed", "bad.bin"),
        ] {
            let prefix = format!("isolution: {what} {path}: ");
            assert!(
                lines.iter().any(|l| l.starts_with(&prefix)),
                "{writer}: no {prefix:?}: {}",
                show(&out)
            );
        }
        assert!(err.contains("past the end"), "{writer}: {err}");
        // Everything else, complete; nothing of the refused or failed entries, no leftovers.
        assert_eq!(
            all_paths(&dest),
            ["d", "d/sub.txt", "ok1.txt", "z_last.txt"],
            "{writer}"
        );
        for (p, want) in [
            ("ok1.txt", "one\n"),
            ("z_last.txt", "last\n"),
            ("d/sub.txt", "sub\n"),
        ] {
            assert_eq!(std::fs::read_to_string(dest.join(p)).unwrap(), want, "{p}");
        }
        assert!(!tmp.path().join("zzdir").exists() && !tmp.path().join("dd").exists());
        // The summary lists the failure and the refusals.
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{writer}: {e}: {}", show(&out)));
        assert_eq!(v["files"], 3, "{writer}: {v}");
        let failed = v["failed"].as_array().unwrap();
        assert_eq!(failed.len(), 1, "{writer}: {v}");
        assert_eq!(failed[0]["path"], "bad.bin");
        let mut refused: Vec<&str> = v["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["refused"] == true)
            .map(|s| s["path"].as_str().unwrap())
            .collect();
        refused.sort_unstable();
        assert_eq!(refused, ["dd/ee", "zzdir/zzfile"], "{writer}: {v}");

        // Only the good entries asked for: exit 0; the failed one alone: exit 1, nothing left.
        let dest2 = tmp.path().join(format!("sub-{writer}"));
        let out = run(&["extract", path_str(&iso), path_str(&dest2), "d", "ok1.txt"]);
        assert_eq!(out.status.code(), Some(0), "{writer}: {}", show(&out));
        let dest3 = tmp.path().join(format!("bad-{writer}"));
        let out = run(&["extract", path_str(&iso), path_str(&dest3), "bad.bin"]);
        assert_eq!(out.status.code(), Some(1), "{writer}: {}", show(&out));
        assert!(all_paths(&dest3).is_empty(), "{:?}", all_paths(&dest3));
    }
    if !ran {
        eprintln!("skipping: neither xorriso nor genisoimage is installed");
    }
}

/// A zisofs file (xorriso `--zisofs`) whose compressed stream is garbled: reported as failed
/// (naming the path inside the image), the others extracted, no temporary file left, exit 1.
#[test]
fn extract_goes_on_after_a_zisofs_file_that_does_not_inflate() {
    if !tool("xorriso") {
        return;
    }
    let tmp = Scratch::new();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.txt"), "a\n").unwrap();
    std::fs::write(tree.join("big.txt"), "x".repeat(200_000)).unwrap();
    std::fs::write(tree.join("z.txt"), "z\n").unwrap();
    let iso = tmp.path().join("z.iso");
    let out = Command::new("xorriso")
        .args(["-outdev", path_str(&iso), "-map", path_str(&tree), "/"])
        .args(["-set_filter_r", "--zisofs", "/", "--"])
        .output()
        .unwrap();
    assert!(out.status.success(), "xorriso: {}", show(&out));
    let out = run(&["ls", "--json", path_str(&iso), "big.txt"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)));
    let extent = &v["extents"][0];
    let (lba, len) = (
        extent["lba"].as_u64().unwrap() as usize,
        extent["len"].as_u64().unwrap() as usize,
    );
    assert!(len < 20_000, "not compressed: {v}");
    // Past the zisofs header and block pointers, the zlib stream is garbled.
    let mut img = std::fs::read(&iso).unwrap();
    let start = lba * 2048 + 40;
    img[start..lba * 2048 + len].fill(0x55);
    std::fs::write(&iso, &img).unwrap();

    let dest = tmp.path().join("out");
    let out = run(&["extract", path_str(&iso), path_str(&dest)]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{}", show(&out));
    assert!(
        err.starts_with("isolution: failed big.txt: ") && !err.contains(path_str(&dest)),
        "{}",
        show(&out)
    );
    assert_eq!(all_paths(&dest), ["a.txt", "z.txt"]);
}

/// A directory whose extent lies past the end of the image, and one whose record points back
/// at a directory already walked (a loop): each is reported as failed with its path, and
/// everything around them is extracted (exit 1), for both writers.
#[test]
fn extract_goes_on_past_unreadable_and_looping_directories() {
    let tmp = Scratch::new();
    let tree = tmp.path().join("tree");
    for d in ["broken", "d", "loop"] {
        std::fs::create_dir_all(tree.join(d)).unwrap();
    }
    std::fs::write(tree.join("a.txt"), "a\n").unwrap();
    std::fs::write(tree.join("broken/x.txt"), "x\n").unwrap();
    std::fs::write(tree.join("d/in.txt"), "in\n").unwrap();
    std::fs::write(tree.join("loop/y.txt"), "y\n").unwrap();
    std::fs::write(tree.join("z.txt"), "z\n").unwrap();
    let mut ran = false;
    for writer in ["xorriso", "genisoimage"] {
        if !tool(writer) {
            continue;
        }
        ran = true;
        let iso = tmp.path().join(format!("dirs-{writer}.iso"));
        master(writer, &tree, &iso);
        // The directories' own records, from the listing of the whole tree (JSON lines).
        let out = run(&["ls", "--json", path_str(&iso)]);
        let listing: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let json = |p: &str| -> serde_json::Value {
            listing
                .iter()
                .find(|v| v["path"] == p)
                .unwrap_or_else(|| panic!("{writer}: no {p} in {listing:?}"))
                .clone()
        };
        let (broken, looped, d) = (json("broken"), json("loop"), json("d"));
        let mut img = std::fs::read(&iso).unwrap();
        let set = |img: &mut Vec<u8>, rec: usize, lba: u32| {
            img[rec + 2..rec + 6].copy_from_slice(&lba.to_le_bytes());
            img[rec + 6..rec + 10].copy_from_slice(&lba.to_be_bytes());
        };
        set(
            &mut img,
            broken["record_offset"].as_u64().unwrap() as usize,
            0x00ff_ffff,
        );
        let d_lba = d["extents"][0]["lba"].as_u64().unwrap() as u32;
        set(
            &mut img,
            looped["record_offset"].as_u64().unwrap() as usize,
            d_lba,
        );
        std::fs::write(&iso, &img).unwrap();

        let dest = tmp.path().join(format!("dirs-out-{writer}"));
        let out = run(&["extract", path_str(&iso), path_str(&dest), "--json"]);
        assert_eq!(out.status.code(), Some(1), "{writer}: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        for path in ["broken", "loop"] {
            let prefix = format!("isolution: failed {path}: ");
            assert!(
                err.lines().any(|l| l.starts_with(&prefix)),
                "{writer}: no {prefix:?}: {}",
                show(&out)
            );
        }
        assert_eq!(
            all_paths(&dest),
            ["a.txt", "d", "d/in.txt", "z.txt"],
            "{writer}: {}",
            show(&out)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut failed: Vec<&str> = v["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        failed.sort_unstable();
        assert_eq!(failed, ["broken", "loop"], "{writer}: {v}");
        assert_eq!(v["files"], 3, "{writer}: {v}");

        // ls still stops at the first error (a listing must not look complete when it is not).
        let out = run(&["ls", path_str(&iso)]);
        assert_ne!(out.status.code(), Some(0), "{writer}: {}", show(&out));
    }
    if !ran {
        eprintln!("skipping: neither xorriso nor genisoimage is installed");
    }
}
