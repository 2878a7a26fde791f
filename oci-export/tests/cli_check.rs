//! `isolution check`: the MD5 checksums of an xorriso image (`-md5 on`). Exit 0 when all
//! match, 1 with one line naming each mismatch (a file by path, a tag by kind and offset),
//! 1 with a clear message when the image records no MD5 (as `xorriso -check_md5`), 2 when the
//! file is not an ISO image; `--json` lists every item. `info` shows the tags present.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, show, tool};

/// `xorriso [ARGS]` in `dir`; it must succeed.
fn xorriso(dir: &Path, args: &[&str]) {
    let out = Command::new("xorriso")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xorriso {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An image of a small tree made with `-md5 on` (or without, when `md5` is false).
fn image(dir: &Path, name: &str, md5: bool) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let seq: String = (1..=2000).map(|i| format!("{i}\n")).collect();
    std::fs::write(src.join("seq.txt"), seq).unwrap();
    std::fs::write(src.join("sub/a.txt"), b"hello\n").unwrap();
    let mut args = vec![];
    if md5 {
        args.extend(["-md5", "on"]);
    }
    args.extend(["-outdev", name, "-map", "src", "/"]);
    xorriso(dir, &args);
    dir.join(name)
}

/// A copy with byte `at` changed.
fn tamper(iso: &Path, name: &str, at: usize) -> PathBuf {
    tamper_with(iso, name, at, |b| b ^ 1)
}

/// A copy of `iso` named `name` whose hex digit at `at` is another hex digit (flipping a bit
/// of `a` or `f` would give a non-hex character: a tag that no longer parses).
fn other_hex_digit(iso: &Path, name: &str, at: usize) -> PathBuf {
    tamper_with(iso, name, at, |b| if b == b'0' { b'1' } else { b'0' })
}

fn tamper_with(iso: &Path, name: &str, at: usize, f: impl Fn(u8) -> u8) -> PathBuf {
    let mut data = std::fs::read(iso).unwrap();
    data[at] = f(data[at]);
    let out = iso.with_file_name(name);
    std::fs::write(&out, data).unwrap();
    out
}

#[test]
fn a_clean_image_passes() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iso = image(dir.path(), "good.iso", true);
    let p = iso.to_str().unwrap();
    let out = run(&["check", p]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("MD5 ok:"), "{text}");
    assert_eq!(text.lines().count(), 1);
    // The bar is hidden when stderr is not a terminal.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(&["check", "--verbose", p]);
    let text = String::from_utf8(out.stdout).unwrap();
    for item in [
        "ok relocated superblock tag",
        "ok superblock tag",
        "ok tree tag",
        "ok session tag",
        "ok file /seq.txt",
        "ok file /sub/a.txt",
    ] {
        assert!(text.contains(item), "{item}: {text}");
    }

    let out = run(&["check", "--json", p]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["md5_recorded"], true);
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["status"] == "ok"));
    assert!(checks
        .iter()
        .any(|c| c["item"] == "file" && c["path"] == "seq.txt"));

    // `info` names the tags and the array.
    let out = run(&["info", p]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("MD5 tags:          rlsb32@18, superblock@50, tree@"),
        "{text}"
    );
    assert!(text.contains("MD5 array:         MD5 at block "), "{text}");
    let out = run(&["info", "--json", p]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["md5"]["tags"].as_array().unwrap().len(), 4);
    assert_eq!(v["md5"]["tags"][0]["kind"], "rlsb32");
    assert_eq!(v["md5"]["tags"][3]["kind"], "session");
    assert_eq!(v["md5"]["checksum_array"]["algorithm"], "MD5");
}

#[test]
fn mismatches_are_named_and_exit_1() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iso = image(dir.path(), "good.iso", true);
    let data = std::fs::read(&iso).unwrap();
    let at = data.windows(8).position(|w| w == b"1\n2\n3\n4\n").unwrap();
    let bad = tamper(&iso, "file.iso", at + 50);
    let out = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("MISMATCH file /seq.txt (offset 0x"), "{text}");
    assert!(text.contains("MISMATCH session tag (offset 0x"), "{text}");
    assert!(
        text.lines().last().unwrap().starts_with("MD5 FAILED: 3 of"),
        "{text}"
    );

    // A damaged tag: named with its offset.
    let tag = data
        .windows(27)
        .position(|w| w == b"libisofs_sb_checksum_tag_v1")
        .unwrap();
    let md5 = tag + data[tag..].windows(4).position(|w| w == b"md5=").unwrap();
    let bad = other_hex_digit(&iso, "tag.iso", md5 + 10);
    let out = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let want = format!(
        "UNREADABLE superblock tag (offset {tag:#x}): bad MD5 superblock tag: self= checksum \
         does not match"
    );
    assert!(text.contains(&want), "{want}\n{text}");

    let out = run(&["check", "--json", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let sb = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["item"] == "superblock")
        .unwrap();
    assert_eq!(sb["status"], "unreadable");
    assert_eq!(sb["offset"], tag as u64);

    // `info` still describes it, naming the damage.
    let out = run(&["info", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("  damaged: offset"), "{text}");
}

#[test]
fn no_md5_is_said_and_exits_1_and_info_is_unchanged() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iso = image(dir.path(), "plain.iso", false);
    let p = iso.to_str().unwrap();
    let out = run(&["check", p]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text,
        "no MD5 checksums recorded (the image was not made with xorriso -md5 on)\n"
    );
    let out = run(&["check", "--json", p]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["ok"].as_bool(), v["md5_recorded"].as_bool()),
        (Some(false), Some(false))
    );
    let out = run(&["info", p]);
    assert!(!String::from_utf8(out.stdout).unwrap().contains("MD5"));
    let out = run(&["info", "--json", p]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("md5").is_none());
}

#[test]
fn not_an_image_or_missing_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.iso");
    std::fs::write(&f, vec![0u8; 40_000]).unwrap();
    let out = run(&["check", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = run(&["check", dir.path().join("none.iso").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = run(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}
