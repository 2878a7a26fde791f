//! xorriso's MD5 checksums (`-md5 on`, `-as mkisofs --md5`): [`Image::md5_tags`] finds the
//! tags and the checksum array, [`Image::check_md5`] verifies them and every file, and its
//! verdict agrees with xorriso's own (`-check_md5`, `-check_md5_r`, `-check_media`) on
//! clean images, on a two-session image, and on copies with one byte changed in a file, in a
//! directory record and in each tag's `md5=` field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use iso_core::{ErrorKind, Image, Md5Item, Md5Report, Md5Status, Md5TagKind, Namespace};
use isolution_tests::tool;

/// A small tree: a 2000-line file, a file in a subdirectory, an empty file and a file of
/// 300 KiB.
fn tree(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let seq: String = (1..=2000).map(|i| format!("{i}\n")).collect();
    std::fs::write(src.join("seq.txt"), seq).unwrap();
    std::fs::write(src.join("sub/a.txt"), b"hello\n").unwrap();
    std::fs::write(src.join("empty"), b"").unwrap();
    let big: Vec<u8> = (0..300 * 1024u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(src.join("sub/big.bin"), big).unwrap();
    src
}

fn xorriso(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new("xorriso")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// `xorriso -md5 on -outdev NAME -map src /`.
fn native(dir: &Path, name: &str) -> PathBuf {
    tree(dir);
    let (rc, log) = xorriso(dir, &["-md5", "on", "-outdev", name, "-map", "src", "/"]);
    assert_eq!(rc, 0, "{log}");
    dir.join(name)
}

/// `xorriso -as mkisofs --md5 -R -o NAME src`.
fn mkisofs(dir: &Path, name: &str) -> PathBuf {
    tree(dir);
    let (rc, log) = xorriso(dir, &["-as", "mkisofs", "--md5", "-R", "-o", name, "src"]);
    assert_eq!(rc, 0, "{log}");
    dir.join(name)
}

/// What xorriso says about an image.
#[derive(Debug)]
struct Oracle {
    /// `-check_md5 FAILURE --` succeeded: the session matches its recorded MD5.
    session_ok: bool,
    /// Paths `-check_md5_r` names as MISMATCH (with their leading `/`).
    file_mismatches: Vec<String>,
    /// `-check_md5_r` found no mismatch and loaded the tree.
    files_ok: bool,
    /// `-check_media` found no NON-MATCHING or CORRUPTED tag and loaded the tree.
    media_ok: bool,
}

impl Oracle {
    fn all_ok(&self) -> bool {
        self.session_ok && self.files_ok && self.media_ok
    }
}

fn oracle(iso: &Path) -> Oracle {
    let dir = iso.parent().unwrap();
    let name = iso.to_str().unwrap();
    let (rc, _) = xorriso(
        dir,
        &["-md5", "on", "-indev", name, "-check_md5", "FAILURE", "--"],
    );
    let session_ok = rc == 0;
    let (rc, log) = xorriso(
        dir,
        &[
            "-md5",
            "on",
            "-indev",
            name,
            "-check_md5_r",
            "FAILURE",
            "/",
            "--",
        ],
    );
    let file_mismatches: Vec<String> = log
        .lines()
        .filter_map(|l| l.strip_prefix("MD5 MISMATCH: '"))
        .map(|p| p.trim_end_matches('\'').to_string())
        .collect();
    let files_ok = rc == 0 && file_mismatches.is_empty();
    let (rc, log) = xorriso(dir, &["-md5", "on", "-indev", name, "-check_media", "--"]);
    let media_ok = rc == 0 && !log.contains("NON-MATCHING") && !log.contains("CORRUPTED");
    Oracle {
        session_ok,
        file_mismatches,
        files_ok,
        media_ok,
    }
}

fn check(iso: &Path) -> Md5Report {
    let data = std::fs::read(iso).unwrap();
    let image = Image::parse(&data).unwrap();
    let mut last = (0, 0);
    let r = image
        .check_md5(&mut |done, total| {
            assert!(done <= total && done >= last.0);
            last = (done, total);
        })
        .unwrap();
    assert_eq!(last.0, last.1, "progress ends at the total");
    assert_eq!(r.bytes, last.1);
    r
}

/// A copy of `iso` named `name` with byte `at` changed.
fn tampered(iso: &Path, name: &str, at: u64) -> PathBuf {
    set_byte(iso, name, at, |b| b ^ 0x01)
}

/// A copy of `iso` named `name` with byte `at` replaced by `f(byte)`.
fn set_byte(iso: &Path, name: &str, at: u64, f: impl Fn(u8) -> u8) -> PathBuf {
    let mut data = std::fs::read(iso).unwrap();
    data[at as usize] = f(data[at as usize]);
    let out = iso.with_file_name(name);
    std::fs::write(&out, data).unwrap();
    out
}

fn failures(r: &Md5Report) -> Vec<String> {
    r.failures().map(|c| c.to_string()).collect()
}

fn kinds(iso: &Path) -> Vec<Md5TagKind> {
    let data = std::fs::read(iso).unwrap();
    let image = Image::parse(&data).unwrap();
    let tags = image.md5_tags().unwrap();
    assert!(tags.bad_tags.is_empty(), "{:?}", tags.bad_tags);
    tags.tags.iter().map(|t| t.kind).collect()
}

#[test]
fn clean_images_match_and_agree_with_xorriso() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (iso, want) in [
        (
            native(&dir.path().join("n"), "native.iso"),
            vec![
                Md5TagKind::RelocatedSuperblock,
                Md5TagKind::Superblock,
                Md5TagKind::Tree,
                Md5TagKind::Session,
            ],
        ),
        (
            mkisofs(&dir.path().join("m"), "mkisofs.iso"),
            vec![
                Md5TagKind::Superblock,
                Md5TagKind::Tree,
                Md5TagKind::Session,
            ],
        ),
    ] {
        assert_eq!(kinds(&iso), want, "{}", iso.display());
        let r = check(&iso);
        assert!(r.all_ok(), "{}: {:?}", iso.display(), failures(&r));
        let o = oracle(&iso);
        assert!(o.all_ok(), "xorriso disagrees on {}: {o:?}", iso.display());
        let items: Vec<&Md5Item> = r.checks.iter().map(|c| &c.item).collect();
        assert!(items.contains(&&Md5Item::SessionChecksum));
        assert!(items.contains(&&Md5Item::ChecksumArray));
        let mut files: Vec<&str> = r
            .checks
            .iter()
            .filter_map(|c| match &c.item {
                Md5Item::File(p) => Some(p.as_str()),
                _ => None,
            })
            .collect();
        files.sort();
        assert_eq!(files, ["empty", "seq.txt", "sub/a.txt", "sub/big.bin"]);
        let data = std::fs::read(&iso).unwrap();
        let image = Image::parse(&data).unwrap();
        let ca = image.md5_tags().unwrap().checksum_array.unwrap();
        assert_eq!((ca.files(), ca.algorithm.as_str()), (4, "MD5"));
        assert!(r.summary().starts_with("MD5 ok"), "{}", r.summary());
    }
}

#[test]
fn an_image_without_md5_reports_nothing_and_xorriso_fails_its_session_check() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let (rc, log) = xorriso(dir.path(), &["-outdev", "plain.iso", "-map", "src", "/"]);
    assert_eq!(rc, 0, "{log}");
    let iso = dir.path().join("plain.iso");
    let data = std::fs::read(&iso).unwrap();
    let image = Image::parse(&data).unwrap();
    assert!(image.md5_tags().unwrap().is_empty());
    let r = check(&iso);
    assert!(r.is_empty() && !r.all_ok());
    assert!(r.summary().contains("no MD5"));
    // xorriso -check_md5 calls that a mismatch ("No session MD5 is recorded"): the CLI's
    // exit status 1 follows it.
    assert!(!oracle(&iso).session_ok);
}

/// Each one-byte change is caught and named, and xorriso agrees that the image is damaged.
#[test]
fn tampering_is_caught_and_named_like_xorriso() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iso = native(dir.path(), "good.iso");
    let data = std::fs::read(&iso).unwrap();
    let image = Image::parse(&data).unwrap();
    let tags = image.md5_tags().unwrap();
    let seq = image.lookup(Namespace::RockRidge, "seq.txt").unwrap();
    let content = u64::from(seq.extents()[0].lba) * 2048 + 100;
    let record = seq.record_offset();

    // One byte of a file: that file, the session checksum and the session tag.
    let t = tampered(&iso, "file.iso", content);
    let r = check(&t);
    let o = oracle(&t);
    assert_eq!(o.file_mismatches, ["/seq.txt"], "{o:?}");
    assert!(!o.session_ok && !o.media_ok);
    let bad: Vec<&Md5Item> = r.failures().map(|c| &c.item).collect();
    assert_eq!(
        bad,
        [
            &Md5Item::Tag(Md5TagKind::Session),
            &Md5Item::SessionChecksum,
            &Md5Item::File("seq.txt".into())
        ],
        "{:?}",
        failures(&r)
    );
    let file = r.failures().last().unwrap();
    assert_eq!(file.offset, record);
    assert!(matches!(file.status, Md5Status::Mismatch { .. }));
    assert!(file.to_string().starts_with("MISMATCH file /seq.txt"));

    // One byte of a directory record (the recording date of seq.txt's): the tree, the
    // session; xorriso refuses to load the tree.
    let t = tampered(&iso, "dirrec.iso", record + 20);
    let r = check(&t);
    let o = oracle(&t);
    assert!(!o.session_ok && !o.files_ok && !o.media_ok, "{o:?}");
    let bad: Vec<&Md5Item> = r.failures().map(|c| &c.item).collect();
    assert_eq!(
        bad,
        [
            &Md5Item::Tag(Md5TagKind::Tree),
            &Md5Item::Tag(Md5TagKind::Session),
            &Md5Item::SessionChecksum
        ],
        "{:?}",
        failures(&r)
    );

    // One byte of each tag's md5= field: that tag, named, at its offset.
    for t in &tags.tags {
        let block = &data[t.offset() as usize..][..2048];
        let md5_at = block.windows(4).position(|w| w == b"md5=").unwrap() as u64;
        let name = format!("tag-{}.iso", t.kind.as_str());
        // Another hex digit: the tag still parses as one, for xorriso too.
        let damaged = set_byte(&iso, &name, t.offset() + md5_at + 6, |b| {
            if b == b'0' {
                b'1'
            } else {
                b'0'
            }
        });
        let r = check(&damaged);
        let tag = r
            .failures()
            .find(|c| c.item == Md5Item::Tag(t.kind))
            .unwrap_or_else(|| panic!("{}: {:?}", t.kind, failures(&r)));
        assert_eq!(tag.offset, t.offset());
        let Md5Status::Unreadable(e) = &tag.status else {
            panic!("{tag}")
        };
        assert!(matches!(e.kind(), ErrorKind::BadMd5Tag { .. }), "{e}");
        assert_eq!(e.offset(), Some(t.offset()));
        assert!(tag.to_string().contains(t.kind.name()), "{tag}");
        if matches!(t.kind, Md5TagKind::Superblock | Md5TagKind::Tree) {
            // The chain of next= is broken there: the later tags are still found (by their
            // position), and their ranges, which cover the damaged tag, do not match.
            assert!(
                r.failures()
                    .any(|c| c.item == Md5Item::Tag(Md5TagKind::Session)
                        && matches!(c.status, Md5Status::Mismatch { .. })),
                "{:?}",
                failures(&r)
            );
        }
        let o = oracle(&damaged);
        match t.kind {
            // Inside the range of the session checksum: xorriso's session check fails.
            Md5TagKind::Superblock | Md5TagKind::Tree => assert!(!o.session_ok, "{o:?}"),
            // After the array: -check_media reports a CORRUPTED session tag.
            Md5TagKind::Session => assert!(!o.media_ok, "{o:?}"),
            // Read first, at block 0: xorriso refuses the image.
            Md5TagKind::RelocatedSuperblock => assert!(!o.session_ok && !o.files_ok, "{o:?}"),
        }
    }

    // Where we are stricter: a session tag that no longer parses (a non-hex digit in md5=)
    // is reported as damaged; xorriso's -check_media silently stops at the tree tag.
    let s = tags.of_kind(Md5TagKind::Session).next().unwrap();
    let block = &data[s.offset() as usize..][..2048];
    let md5_at = block.windows(4).position(|w| w == b"md5=").unwrap() as u64;
    let damaged = set_byte(&iso, "tag-nonhex.iso", s.offset() + md5_at + 5, |_| b'`');
    let r = check(&damaged);
    let bad: Vec<String> = failures(&r);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0].contains("bad MD5 session tag: md5= is not 32 hex digits"),
        "{bad:?}"
    );
    assert!(oracle(&damaged).all_ok());
}

#[test]
fn two_sessions_are_both_checked() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iso = native(dir.path(), "multi.iso");
    std::fs::create_dir_all(dir.path().join("src2")).unwrap();
    std::fs::write(dir.path().join("src2/b.txt"), b"second\n").unwrap();
    let (rc, log) = xorriso(
        dir.path(),
        &[
            "-md5",
            "on",
            "-dev",
            "multi.iso",
            "-map",
            "src2",
            "/two",
            "-commit",
        ],
    );
    assert_eq!(rc, 0, "{log}");
    assert_eq!(
        kinds(&iso),
        [
            Md5TagKind::RelocatedSuperblock,
            Md5TagKind::Superblock,
            Md5TagKind::Tree,
            Md5TagKind::Session,
            Md5TagKind::Superblock,
            Md5TagKind::Tree,
            Md5TagKind::Session,
        ]
    );
    let r = check(&iso);
    assert!(r.all_ok(), "{:?}", failures(&r));
    assert!(oracle(&iso).all_ok());
    let files = r
        .checks
        .iter()
        .filter(|c| matches!(&c.item, Md5Item::File(_)))
        .count();
    assert_eq!(files, 5, "the old session's files are in the new array");

    // A byte of an old file: named by both.
    let data = std::fs::read(&iso).unwrap();
    let image = Image::parse(&data).unwrap();
    let seq = image.lookup(Namespace::RockRidge, "seq.txt").unwrap();
    let t = tampered(
        &iso,
        "multi-file.iso",
        u64::from(seq.extents()[0].lba) * 2048 + 7,
    );
    let r = check(&t);
    let o = oracle(&t);
    assert_eq!(o.file_mismatches, ["/seq.txt"]);
    assert!(
        r.failures()
            .any(|c| c.item == Md5Item::File("seq.txt".into())),
        "{:?}",
        failures(&r)
    );
    // And the first session's session tag, which covers it.
    assert!(!o.media_ok);
    assert!(r
        .failures()
        .any(|c| c.item == Md5Item::Tag(Md5TagKind::Session)));
}

#[test]
fn garbage_after_a_terminator_is_not_a_tag() {
    // A fixture made without MD5s: no tag, no array, nothing checked.
    let data =
        std::fs::read(isolution_tests::repo_dir().join("tests/fixtures/xorriso-rr.iso")).unwrap();
    let image = Image::parse(&data).unwrap();
    assert!(image.md5_tags().unwrap().is_empty());
    assert!(image.check_md5(&mut |_, _| {}).unwrap().is_empty());
}

/// Random one- to four-byte changes anywhere in the tag, descriptor, directory and array
/// blocks of a real image: never a panic, and a damaged image never checks clean unless the
/// change missed every checksummed byte.
#[test]
fn mutations_never_panic() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iso = native(dir.path(), "good.iso");
    let good = std::fs::read(&iso).unwrap();
    let mut seed = 0x9660_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // Blocks 0..70: relocated superblock, descriptors, tags, directories, the array.
    let span = (70 * 2048).min(good.len()) as u64;
    for _ in 0..100 {
        let mut data = good.clone();
        for _ in 0..=(next() % 4) {
            let at = (next() % span) as usize;
            data[at] = next() as u8;
        }
        let Ok(image) = Image::parse(&data) else {
            continue;
        };
        let _ = image.md5_tags();
        let _ = image.check_md5(&mut |_, _| {});
    }
}

/// zisofs-compressed files: libisofs records the MD5 of the stored (compressed) bytes, and
/// that is what is checked; a changed byte of the compressed stream is named, as by xorriso.
#[test]
fn zisofs_files_are_checked_as_stored() {
    if !tool("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let text: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(dir.path().join("src/big.txt"), text).unwrap();
    let (rc, log) = xorriso(
        dir.path(),
        &[
            "-md5",
            "on",
            "-outdev",
            "z.iso",
            "-map",
            "src",
            "/",
            "-set_filter_r",
            "--zisofs",
            "/",
            "--",
        ],
    );
    assert_eq!(rc, 0, "{log}");
    let iso = dir.path().join("z.iso");
    let r = check(&iso);
    assert!(r.all_ok(), "{:?}", failures(&r));
    assert!(oracle(&iso).all_ok());
    let data = std::fs::read(&iso).unwrap();
    let image = Image::parse(&data).unwrap();
    let big = image.lookup(Namespace::RockRidge, "big.txt").unwrap();
    assert!(big.zisofs().is_some());
    let at = u64::from(big.extents()[0].lba) * 2048 + 200;
    let t = tampered(&iso, "z-bad.iso", at);
    let r = check(&t);
    assert!(r
        .failures()
        .any(|c| c.item == Md5Item::File("big.txt".into())));
    assert_eq!(oracle(&t).file_mismatches, ["/big.txt"]);
}
