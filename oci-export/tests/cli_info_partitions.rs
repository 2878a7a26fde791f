//! `isolution info` on images that hold more than ISO 9660: an MBR and a GPT
//! (`xorriso -append_partition ... -appended_part_as_gpt`), an Apple partition map with HFS+
//! (`-hfsplus on`, `apm_block_size=2048`), UDF descriptors (`genisoimage -udf`) and two
//! sessions (`xorriso -dev FILE ... -commit` twice). The text
//! names each table with its entries and says the HFS+ and UDF trees are not read; `--json`
//! carries the same under `layout`. Images without any of these get no new lines (the golden
//! outputs of `tests/golden.rs` hold that for every fixture).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{run, show, tool};

/// Runs `prog ARGS` in `dir`; it must succeed.
fn make(dir: &Path, prog: &str, args: &[&str]) {
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `isolution info` and `info --json` on `iso`: the text and the `layout` object.
fn info(iso: &Path) -> (String, serde_json::Value) {
    let p = iso.to_str().unwrap();
    let out = run(&["info", p]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let out = run(&["info", "--json", p]);
    assert!(out.status.success(), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (text, v["layout"].clone())
}

fn tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("tree")).unwrap();
    std::fs::write(dir.join("tree/a.txt"), b"hello\n").unwrap();
    std::fs::write(dir.join("part.img"), vec![7u8; 70_000]).unwrap();
}

#[test]
fn info_shows_mbr_and_gpt() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    make(
        d,
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-R",
            "-o",
            "gpt.iso",
            "-append_partition",
            "2",
            "0xef",
            "part.img",
            "-appended_part_as_gpt",
            "tree",
        ],
    );
    let (text, layout) = info(&d.join("gpt.iso"));
    assert!(text.contains("MBR:               1 partition,"), "{text}");
    assert!(text.contains("  [1] type 0xee,"), "{text}");
    assert!(text.contains("GPT:               3 partitions,"), "{text}");
    assert!(text.contains(", backup at sector "), "{text}");
    assert!(
        text.contains("\"Appended2\" type C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
        "{text}"
    );
    assert!(!text.contains("CRC"), "{text}");
    assert!(
        !text.contains("Apple map:") && !text.contains("UDF:"),
        "{text}"
    );
    assert_eq!(layout["gpt"]["header_crc_ok"], true, "{layout}");
    assert_eq!(layout["gpt"]["entries"].as_array().unwrap().len(), 3);
    assert_eq!(layout["mbr"]["entries"][0]["kind"], 0xEE);
    assert!(layout["apm"].is_null() && layout["udf"].is_null());
}

#[test]
fn info_shows_apple_map_and_hfsplus() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    make(
        d,
        "xorriso",
        &[
            "-outdev",
            "apm.iso",
            "-hfsplus",
            "on",
            "-boot_image",
            "any",
            "apm_block_size=2048",
            "-map",
            "tree",
            "/",
        ],
    );
    let (text, layout) = info(&d.join("apm.iso"));
    assert!(text.contains("Apple map:         "), "{text}");
    assert!(text.contains("blocks of 2048 bytes"), "{text}");
    assert!(text.contains("\"HFSPLUS_Hybrid\" Apple_HFS"), "{text}");
    assert!(
        text.contains("HFS+:              H+ version 4 volume at byte ")
            && text.contains("(its tree is not read)"),
        "{text}"
    );
    assert_eq!(layout["apm"]["block_size"], 2048);
    assert_eq!(layout["hfsplus"][0]["signature"], "H+");
}

#[test]
fn info_shows_udf() {
    if !tool("genisoimage") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    make(
        d,
        "genisoimage",
        &["-quiet", "-udf", "-o", "udf.iso", "tree"],
    );
    let (text, layout) = info(&d.join("udf.iso"));
    assert!(text.contains("UDF:               NSR02 (BEA01@"), "{text}");
    // The UDF tree is read now (issue 18): `-n udf`, and a line about the volume.
    assert!(text.contains("its tree is read with -n udf"), "{text}");
    assert!(
        text.contains("UDF volume:        revision 1.02 (NSR02)"),
        "{text}"
    );
    assert!(!text.contains("MBR:") && !text.contains("GPT:"), "{text}");
    assert_eq!(layout["udf"]["nsr"], "NSR02");

    make(d, "genisoimage", &["-quiet", "-o", "plain.iso", "tree"]);
    let (text, layout) = info(&d.join("plain.iso"));
    for label in ["MBR:", "GPT:", "Apple map:", "HFS+:", "UDF:"] {
        assert!(!text.contains(label), "{text}");
    }
    assert!(
        layout["mbr"].is_null() && layout["udf"].is_null(),
        "{layout}"
    );
    assert_eq!(layout["hfsplus"], serde_json::json!([]));
}

#[test]
fn info_shows_sessions() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    make(
        d,
        "xorriso",
        &["-outdev", "ms.iso", "-map", "tree", "/", "-commit"],
    );
    let (text, layout) = info(&d.join("ms.iso"));
    assert!(!text.contains("Sessions:"), "{text}");
    assert_eq!(layout["sessions"], serde_json::json!([]));
    std::fs::write(d.join("tree/b.txt"), b"more\n").unwrap();
    make(
        d,
        "xorriso",
        &["-dev", "ms.iso", "-map", "tree", "/", "-commit"],
    );
    let (text, layout) = info(&d.join("ms.iso"));
    assert!(text.contains("Sessions:          2\n"), "{text}");
    assert!(text.contains("  [1] "), "{text}");
    assert!(
        text.contains(" at sector 32, volume id \"ISOIMAGE\"\n"),
        "{text}"
    );
    assert!(
        text.contains(" at sector 64, volume id \"ISOIMAGE\" (read)\n"),
        "{text}"
    );
    assert_eq!(layout["sessions"][1]["current"], true, "{layout}");
    assert_eq!(layout["sessions"][0]["current"], false, "{layout}");
}
