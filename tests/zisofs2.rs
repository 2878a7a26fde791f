//! zisofs2 as xorriso writes it (`-zisofs version_2=on`): `ZF` version 2 entries, and `Z2`
//! entries with `susp_z2=on`, block sizes 32 KiB to 1 MiB. Files of 0, 1, block - 1, block,
//! block + 1 bytes and a few MiB (with zero blocks and incompressible parts) read back byte
//! for byte through the Rock Ridge and Joliet trees, with their uncompressed size listed;
//! the primary tree (plain ISO 9660) shows and reads the stored bytes, as `isoinfo` without
//! `-R` does. Patched copies of a real zisofs2 image (algorithms this reader does not decode,
//! block sizes, sizes and pointers out of range) give named errors, never compressed bytes,
//! and are walked and read whole without a panic or an allocation over 16 MiB.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use iso_core::{EntryKind, ErrorKind, Image, Namespace};
use isolution_tests::exercise::{run, Tracking};
use isolution_tests::tool;

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Deterministic bytes: compressible text when `text`, else noise (which zlib cannot shrink).
fn bytes(seed: u64, n: usize, text: bool) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if text {
            out.extend_from_slice(format!("line {} of text {}\n", out.len(), x % 97).as_bytes());
        } else {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out.truncate(n);
    out
}

/// The files of one image, for block size `bs`.
fn tree(bs: usize) -> Vec<(String, Vec<u8>)> {
    let mut big = bytes(1, (3 << 20).max(8 * bs) + 123, true);
    big[bs..3 * bs].fill(0);
    let noise = bytes(2, 2 * bs, false);
    big[5 * bs..7 * bs].copy_from_slice(&noise);
    let mut files = vec![
        ("empty.txt".to_string(), Vec::new()),
        ("one.txt".to_string(), b"x".to_vec()),
        ("big.txt".to_string(), big),
        ("sub/zeros.bin".to_string(), vec![0; 2 * bs + 3]),
    ];
    for (name, n) in [("bsm1", bs - 1), ("bs", bs), ("bsp1", bs + 1)] {
        files.push((format!("{name}.txt"), bytes(n as u64, n, true)));
    }
    files
}

/// Masters `files` with xorriso and `zisofs` options, every file through the zisofs filter.
fn master(dir: &Path, files: &[(String, Vec<u8>)], zisofs: &str) -> Vec<u8> {
    let src = dir.join("src");
    for (path, data) in files {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let iso = dir.join("z.iso");
    let out = Command::new("xorriso")
        .args(["-no_rc", "-report_about", "SORRY", "-outdev"])
        .arg(&iso)
        .args(["-joliet", "on", "-zisofs", zisofs, "-map"])
        .arg(&src)
        .args(["/", "-set_filter_r", "--zisofs", "/", "--"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xorriso: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(iso).unwrap()
}

fn read(image: &Image<'_>, ns: Namespace, path: &str) -> Vec<u8> {
    let e = image.lookup(ns, path).unwrap();
    let mut out = Vec::new();
    image
        .reader(&e)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap_or_else(|err| panic!("{ns:?} {path}: {err}"));
    out
}

const MAGIC2: [u8; 8] = [0xEF, 0x22, 0x55, 0xA1, 0xBC, 0x1B, 0x95, 0xA0];

/// Checks one image: `sig` is the System Use signature xorriso used (`ZF` or `Z2`).
fn check(img: &[u8], files: &[(String, Vec<u8>)], sig: &[u8; 2], log2: u8) {
    let image = Image::parse(img).unwrap();
    let mut compressed = 0;
    for (path, data) in files {
        let e = image.lookup(Namespace::RockRidge, path).unwrap();
        assert_eq!(e.size(), data.len() as u64, "{path}: listed size");
        assert!(read(&image, Namespace::RockRidge, path) == *data, "{path}");
        assert!(read(&image, Namespace::Joliet, path) == *data, "{path}");
        let Some(zf) = e.zisofs() else { continue };
        compressed += 1;
        assert_eq!((zf.version, &zf.algorithm), (2, b"PZ"), "{path}");
        assert_eq!(zf.log2_block_size, log2, "{path}");
        let stored = image.stored_bytes(&e);
        assert!(stored.starts_with(&MAGIC2), "{path}: not zisofs2");
        assert!(img.windows(4).any(|w| w[..2] == *sig && w[2..] == [16, 2]));
        // Plain ISO 9660: the same extent, shown and read as stored.
        let lba = e.extents()[0].lba;
        let primary = image
            .walk(Namespace::Primary)
            .unwrap()
            .map(|i| i.unwrap())
            .find(|i| i.entry.kind() == EntryKind::File && i.entry.extents()[0].lba == lba)
            .unwrap();
        let p = &primary.entry;
        assert!(p.zisofs().is_none());
        assert_eq!(p.size(), stored.len() as u64, "{path}: primary size");
        assert_eq!(image.contents(p).unwrap().to_vec(), stored, "{path}");
        assert_eq!(read(&image, Namespace::Primary, &primary.path), stored);
        assert!(
            image.contents(&e).is_err(),
            "{path}: zero-copy of compressed bytes"
        );
    }
    // Everything big enough to shrink was compressed (not empty.txt, one.txt).
    assert!(compressed >= 5, "only {compressed} files compressed");
}

/// Helper trait: the stored bytes of an entry (its extent), whatever the namespace says.
trait Stored {
    fn stored_bytes(&self, e: &iso_core::DirEntry<'_>) -> Vec<u8>;
}

impl Stored for Image<'_> {
    fn stored_bytes(&self, e: &iso_core::DirEntry<'_>) -> Vec<u8> {
        let x = &e.extents()[0];
        let at = x.lba as usize * 2048;
        self.data()[at..at + x.len as usize].to_vec()
    }
}

fn case(zisofs: &str, bs: usize, sig: &[u8; 2]) {
    let tmp = tempfile::tempdir().unwrap();
    let files = tree(bs);
    let img = master(tmp.path(), &files, zisofs);
    check(&img, &files, sig, bs.trailing_zeros() as u8);
    // The primary tree as isoinfo shows it without -R: the stored (compressed) bytes.
    if tool("isoinfo") {
        let iso = tmp.path().join("z.iso");
        let image = Image::parse(&img).unwrap();
        let e = image.lookup(Namespace::Primary, "BIG.TXT").unwrap();
        let out = Command::new("isoinfo")
            .arg("-i")
            .arg(&iso)
            .args(["-x", "/BIG.TXT;1"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(out.stdout.starts_with(&MAGIC2));
        assert_eq!(image.contents(&e).unwrap().to_vec(), out.stdout);
    }
}

#[test]
fn zf_version_2_one_mib_blocks() {
    if tool("xorriso") {
        case("version_2=on:block_size_v2=1m", 1 << 20, b"ZF");
    }
}

#[test]
fn zf_version_2_32k_blocks() {
    if tool("xorriso") {
        case("version_2=on:block_size_v2=32k", 1 << 15, b"ZF");
    }
}

#[test]
fn z2_entries_128k_blocks() {
    if tool("xorriso") {
        case("version_2=on:susp_z2=on:block_size_v2=128k", 1 << 17, b"Z2");
    }
}

fn find(img: &[u8], what: &[u8]) -> usize {
    img.windows(what.len()).position(|w| w == what).unwrap()
}

#[test]
fn patched_zisofs2_gives_named_errors() {
    if !tool("xorriso") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let files = vec![("big.txt".to_string(), bytes(3, 300_000, true))];
    let base = master(
        tmp.path(),
        &files,
        "version_2=on:susp_z2=on:block_size_v2=32k",
    );
    let z2 = find(&base, b"Z2\x10\x02PZ");
    let hdr = find(&base, &MAGIC2);
    let ptr = |i: usize| hdr + 24 + 8 * i;
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    for (alg, id, name) in [
        (b"XZ", 2u8, "XZ (xz)"),
        (b"L4", 3, "LZ4"),
        (b"ZD", 4, "Zstandard"),
        (b"B2", 5, "bzip2"),
    ] {
        let mut img = base.clone();
        img[z2 + 4..z2 + 6].copy_from_slice(alg);
        cases.push(("Z2 algorithm", img.clone(), name));
        img[hdr + 10] = id;
        cases.push(("Z2 and header algorithm", img, name));
    }
    let mut img = base.clone();
    img[hdr + 10] = 77;
    cases.push(("unknown header algorithm", img, "unknown"));
    for log2 in [14u8, 21, 255] {
        let mut img = base.clone();
        img[z2 + 7] = log2;
        img[hdr + 11] = log2;
        cases.push(("block size", img, "block size"));
    }
    let mut img = base.clone();
    img[z2 + 8..z2 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    img[hdr + 12..hdr + 20].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("size past the limits", img, "run past"));
    let mut img = base.clone();
    img[z2 + 8..z2 + 16].copy_from_slice(&1u64.to_le_bytes());
    cases.push(("Z2 size disagrees", img, "disagrees"));
    let mut img = base.clone();
    let (p1, p2) = (ptr(1), ptr(2));
    let (a, b) = (base[p1..p1 + 8].to_vec(), base[p2..p2 + 8].to_vec());
    img[p1..p1 + 8].copy_from_slice(&b);
    img[p2..p2 + 8].copy_from_slice(&a);
    cases.push(("pointers out of order", img, "out of order"));
    let mut img = base.clone();
    img[p1..p1 + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    cases.push(("pointer out of range", img, "out of order or past"));
    for (name, img, says) in &cases {
        let _ = run(name, img);
        let image = Image::parse(img).unwrap();
        let e = image.lookup(Namespace::RockRidge, "big.txt").unwrap();
        assert!(image.contents(&e).is_err(), "{name}");
        let err = match image.reader(&e) {
            Err(err) => {
                assert!(
                    matches!(
                        err.kind(),
                        ErrorKind::Unsupported(_) | ErrorKind::BadZisofs(_)
                    ),
                    "{name}: {err:?}"
                );
                err.to_string()
            }
            Ok(mut r) => {
                let mut out = Vec::new();
                r.read_to_end(&mut out).unwrap_err().to_string()
            }
        };
        assert!(err.contains(says), "{name}: {err}");
    }
}
