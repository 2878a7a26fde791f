//! The adversarial checklist of ISO 9660 readers (hostile-input cases, §5.3 of our readers notes), item 6. zisofs: headers,
//! block pointers, sizes and algorithms, and a zero-block bomb that must be streamed.
//!
//! Each case patches bytes of a small genuine image made by genisoimage
//! (`isolution_tests::images`), then checks the reader answers with a typed error (kind,
//! offset, path) or the documented tolerant result. Every case also goes through
//! `exercise` inside `case` (`isolution_tests::exercise`): parse, walk every namespace, look
//! every path up, read every file and the boot catalog, in under 2 s and without a single
//! allocation larger than 16 MiB (the tracking global allocator below checks it): the reader
//! must never allocate by a size the image claims.

use std::io::Read;

use iso_core::{ErrorKind, Image};
use isolution_tests::exercise::*;
use isolution_tests::images::*;
use isolution_tests::patch::*;
use isolution_tests::{assert_kind, need};

#[global_allocator]
static GLOBAL: Tracking = Tracking;

// =============================================================================================
// 6. zisofs
// =============================================================================================

/// Reads all of `path` through `Image::reader`, up to [`READ_CAP`].
fn read_file(img: &[u8], path: &str) -> Result<Vec<u8>, String> {
    let image = Image::parse(img).map_err(|e| e.to_string())?;
    let e = image.lookup(RR, path).map_err(|e| e.to_string())?;
    let r = image.reader(&e).map_err(|e| format!("{:?}", e.kind()))?;
    let mut out = Vec::new();
    r.take(READ_CAP)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn zisofs_headers_and_pointers() {
    let base = need!(zisofs_iso, "genisoimage", "mkzftree");
    let rec = find_primary(&base, "BIG.TXT");
    let zf = entry(&susp(&base, &rec), b"ZF");
    let data = rec.extent as usize * SECTOR;
    assert_eq!(
        &base[data..data + 8],
        &[0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07]
    );
    let src = zisofs_source();
    assert_eq!(case("zisofs", || read_file(&base, "big.txt")).unwrap(), src);
    let image = Image::parse(&base).unwrap();
    let e = image.lookup(RR, "big.txt").unwrap();
    assert_eq!(e.size(), src.len() as u64);
    assert_kind!(image.contents(&e).unwrap_err(), ErrorKind::Unsupported(_));

    let log2_at = data + 13;
    let ptr = |i: usize| data + 16 + 4 * i;
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // log2_bs outside 15..=17 (CVE-2026-4426), in ZF, in the header, in both.
    for v in [0u8, 14, 18, 31, 255] {
        let mut img = base.clone();
        img[zf.data() + 3] = v;
        cases.push(("ZF log2", img.clone()));
        img[log2_at] = v;
        cases.push(("ZF and header log2", img.clone()));
        let mut img = base.clone();
        img[log2_at] = v;
        cases.push(("header log2", img));
    }
    // Uncompressed size: huge in both places (the pointer table would be 512 KiB), and
    // header/ZF disagreeing.
    let mut img = base.clone();
    put_both32(&mut img, zf.data() + 4, u32::MAX);
    img[data + 8..data + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("huge uncompressed size", img));
    let mut img = base.clone();
    put_both32(&mut img, zf.data() + 4, 5);
    cases.push(("ZF size disagrees", img));
    // Header size field 0 and 255.
    for v in [0u8, 255] {
        let mut img = base.clone();
        img[data + 12] = v;
        cases.push(("header size field", img));
    }
    // Pointers not monotonic, past the extent, before the table; equal pointers (a zero
    // block) where data was.
    let mut img = base.clone();
    let (p2, p3) = (le32(&base, ptr(2)), le32(&base, ptr(3)));
    img[ptr(2)..ptr(2) + 4].copy_from_slice(&p3.to_le_bytes());
    img[ptr(3)..ptr(3) + 4].copy_from_slice(&p2.to_le_bytes());
    cases.push(("pointers out of order", img));
    let mut img = base.clone();
    img[ptr(1)..ptr(1) + 4].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
    cases.push(("pointer past the extent", img));
    let mut img = base.clone();
    img[ptr(0)..ptr(0) + 4].copy_from_slice(&0u32.to_le_bytes());
    cases.push(("pointer into the header", img));
    let mut img = base.clone();
    let p0 = le32(&base, ptr(0));
    img[ptr(1)..ptr(1) + 4].copy_from_slice(&p0.to_le_bytes());
    cases.push(("equal pointers", img));
    // Corrupt zlib data.
    let mut img = base.clone();
    let z = data + p0 as usize;
    img[z..z + 64].fill(0x5A);
    cases.push(("corrupt zlib", img));
    // ZF too short for its fields (libarchive PR #2960): ignored; the stored bytes are read.
    let mut img = base.clone();
    img[zf.offset + 2] = 8;
    cases.push(("short ZF", img));
    // An algorithm other than pz (zisofs2 `PZ`/`by`): Unsupported.
    let mut img = base.clone();
    write(&mut img, zf.data(), b"by");
    cases.push(("unknown algorithm", img));
    for (name, img) in &cases {
        let _ = run(name, img).unwrap();
        let got = case(name, || read_file(img, "big.txt"));
        match *name {
            "equal pointers" => {
                let g = got.unwrap();
                assert!(g[..32768].iter().all(|&b| b == 0));
            }
            "short ZF" => assert_eq!(got.unwrap(), &base[data..data + rec.size as usize]),
            _ => assert!(got.is_err(), "{name}: read succeeded"),
        }
    }
}

/// A zisofs file of 4 GiB - 1 made of zero blocks (equal pointers) from a 512 KiB extent: the
/// size is reported as claimed, memory stays at one block, and reading is streamed.
#[test]
fn zisofs_zero_block_bomb_is_streamed() {
    let base = need!(zisofs_iso, "genisoimage", "mkzftree");
    let rec = find_primary(&base, "BIG.TXT");
    let zf = entry(&susp(&base, &rec), b"ZF");
    let data = rec.extent as usize * SECTOR;
    let size = u32::MAX;
    let blocks = (u64::from(size)).div_ceil(1 << 15) as usize;
    let mut file = base[data..data + 16].to_vec();
    file[8..12].copy_from_slice(&size.to_le_bytes());
    let table_end = (16 + 4 * (blocks + 1)) as u32;
    for _ in 0..=blocks {
        file.extend(table_end.to_le_bytes());
    }
    let mut img = base.clone();
    let lba = sectors(&img);
    img.extend(&file);
    img.resize(img.len().next_multiple_of(SECTOR), 0);
    rec.set_extent(&mut img, lba);
    rec.set_size(&mut img, file.len() as u32);
    put_both32(&mut img, zf.data() + 4, size);
    let (n, zeros) = case("zisofs bomb, first 64 MiB", || {
        let image = Image::parse(&img).unwrap();
        let e = image.lookup(RR, "big.txt").unwrap();
        let mut r = image.reader(&e).unwrap().take(READ_CAP);
        let (mut n, mut zeros) = (0u64, true);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let k = r.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            zeros &= buf[..k].iter().all(|&b| b == 0);
            n += k as u64;
        }
        (n, zeros)
    });
    assert_eq!(n, READ_CAP);
    assert!(zeros);
    let image = Image::parse(&img).unwrap();
    assert_eq!(image.lookup(RR, "big.txt").unwrap().size(), u64::from(size));
}
