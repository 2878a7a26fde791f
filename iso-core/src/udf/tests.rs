//! Adversarial tests of the UDF reader: a small genuine image (`genisoimage -udf`) patched
//! where it hurts, tags recomputed where the point is to reach deeper code. Each case must be
//! a typed error: no panic, no hang, no huge allocation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::process::Command;

use super::desc::{check_tag, crc_itu, tag_checksum, u16_at, u32_at};
use super::*;

const BS: usize = 2048;

/// A small UDF 1.02 bridge image made by genisoimage, or `None` (with the skip message) when
/// it is not installed.
fn genuine() -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("tree");
    std::fs::create_dir_all(t.join("dir/sub")).unwrap();
    std::fs::write(t.join("a.txt"), b"hello").unwrap();
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(t.join("big.bin"), big).unwrap();
    std::fs::write(t.join("dir/b.txt"), b"bee\n").unwrap();
    std::fs::write(t.join("dir/sub/c.txt"), b"sea\n").unwrap();
    let iso = dir.path().join("u.iso");
    let st = Command::new("genisoimage")
        .args(["-quiet", "-udf", "-R", "-o"])
        .arg(&iso)
        .arg(&t)
        .status();
    match st {
        Ok(s) if s.success() => Some(std::fs::read(iso).unwrap()),
        _ => {
            println!("skipping: genisoimage is not installed");
            None
        }
    }
}

struct Fixture {
    img: Vec<u8>,
    entries: BTreeMap<String, UdfEntry>,
    root: UdfEntry,
    pstart: usize,
}

fn fixture() -> Option<Fixture> {
    let img = genuine()?;
    let vol = UdfVolume::parse(&img, &Limits::DEFAULT).unwrap().unwrap();
    let entries = vol
        .walk()
        .unwrap()
        .map(|i| {
            let i = i.unwrap();
            (i.path, i.entry)
        })
        .collect();
    let root = vol.root().clone();
    let pstart = vol.info().partitions[0].start as usize;
    Some(Fixture {
        img: img.clone(),
        entries,
        root,
        pstart,
    })
}

/// Parses, walks, reads every file and link target and looks every path up: the first error.
fn exercise(img: &[u8], limits: &Limits) -> Result<usize> {
    let Some(vol) = UdfVolume::parse(img, limits)? else {
        return Ok(0);
    };
    let mut n = 0;
    for item in vol.walk()? {
        let item = item?;
        let e = &item.entry;
        if e.is_symlink() {
            vol.symlink_target(e)?;
        } else if !e.is_dir() {
            let c = vol.contents(e)?;
            assert_eq!(c.len(), c.parts().iter().map(|p| p.len()).sum::<u64>());
            assert_eq!(c.len(), e.size);
        }
        vol.lookup(&item.path)?;
        n += 1;
    }
    Ok(n)
}

/// Recomputes the CRC (over the tag's CRC length) and checksum of the tag at `off`.
fn retag(img: &mut [u8], off: usize) {
    let crc_len = usize::from(u16_at(img, off + 10));
    let crc = crc_itu(&img[off + 16..off + 16 + crc_len]);
    img[off + 8..off + 10].copy_from_slice(&crc.to_le_bytes());
    img[off + 4] = tag_checksum(&img[off..off + 16]);
}

fn put16(img: &mut [u8], at: usize, v: u16) {
    img[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(img: &mut [u8], at: usize, v: u32) {
    img[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// (AD type, offset, length) of the allocation descriptors of the file entry at `fe`.
fn ad_area(img: &[u8], fe: usize) -> (u16, usize, usize) {
    assert_eq!(u16_at(img, fe), 261, "genisoimage writes file entries");
    let l_ea = u32_at(img, fe + 168) as usize;
    let l_ad = u32_at(img, fe + 172) as usize;
    (u16_at(img, fe + 34) & 7, fe + 176 + l_ea, l_ad)
}

/// Writes an indirect entry at block `lbn` (image offset `off`) pointing to `target`.
fn indirect(img: &mut [u8], off: usize, lbn: u32, target: u32) {
    img[off..off + BS].fill(0);
    put16(img, off, 259);
    put16(img, off + 2, 2);
    put16(img, off + 10, 36);
    put32(img, off + 12, lbn);
    put16(img, off + 20, 4);
    img[off + 27] = 3;
    put32(img, off + 36, BS as u32);
    put32(img, off + 40, target);
    retag(img, off);
}

/// The image offset of the file identifiers of directory `e`, and their offsets.
fn fids(f: &Fixture, e: &UdfEntry) -> Vec<usize> {
    let UdfExtent::Recorded { lbn, len, .. } = e.extents()[0] else {
        panic!("directory data recorded in a block");
    };
    let start = (f.pstart + lbn as usize) * BS;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < len as usize {
        let at = start + pos;
        out.push(at);
        let raw = 38 + usize::from(u16_at(&f.img, at + 36)) + usize::from(f.img[at + 19]);
        pos += (raw + 3) & !3;
    }
    out
}

fn kind_of(r: Result<usize>) -> Error {
    match r {
        Ok(n) => panic!("expected an error, got {n} entries"),
        Err(e) => {
            assert!(
                e.offset().is_some() || e.path().is_some(),
                "{e}: no location"
            );
            e
        }
    }
}

#[test]
fn the_genuine_image_reads_whole() {
    let Some(f) = fixture() else { return };
    assert_eq!(exercise(&f.img, &Limits::DEFAULT).unwrap(), 6);
    let vol = UdfVolume::parse(&f.img, &Limits::DEFAULT).unwrap().unwrap();
    let e = vol.lookup("/dir/sub/c.txt").unwrap();
    assert_eq!(vol.contents(&e).unwrap().to_vec(), b"sea\n");
    assert_eq!(vol.lookup("").unwrap().icb, f.root.icb);
}

#[test]
fn indirect_entries_are_followed_and_their_loops_refused() {
    let Some(f) = fixture() else { return };
    let a = &f.entries["a.txt"];
    let b = &f.entries["dir/b.txt"];
    let a_off = a.entry_offset as usize;
    let b_off = b.entry_offset as usize;
    // a.txt's ICB is an indirect entry to b.txt's file entry: a.txt reads as b.txt.
    let mut img = f.img.clone();
    indirect(&mut img, a_off, a.icb.lbn, b.icb.lbn);
    let vol = UdfVolume::parse(&img, &Limits::DEFAULT).unwrap().unwrap();
    let e = vol.lookup("a.txt").unwrap();
    assert_eq!(vol.contents(&e).unwrap().to_vec(), b"bee\n");
    // Pointing at itself.
    let mut img = f.img.clone();
    indirect(&mut img, a_off, a.icb.lbn, a.icb.lbn);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::UdfLoop("indirect entries")
    ));
    // A loop of two.
    let mut img = f.img.clone();
    indirect(&mut img, a_off, a.icb.lbn, b.icb.lbn);
    indirect(&mut img, b_off, b.icb.lbn, a.icb.lbn);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::UdfLoop("indirect entries")
    ));
}

#[test]
fn strategy_4096_takes_the_newest_entry_and_refuses_loops() {
    let Some(f) = fixture() else { return };
    let a = &f.entries["a.txt"];
    let b = &f.entries["dir/b.txt"];
    let (a_off, b_off) = (a.entry_offset as usize, b.entry_offset as usize);
    let mut img = f.img.clone();
    put16(&mut img, a_off + 20, 4096);
    put16(&mut img, a_off + 24, 2);
    retag(&mut img, a_off);
    // The second entry of a.txt's ICB: b.txt's file entry, recorded there.
    let next = a_off + BS;
    img.copy_within(b_off..b_off + BS, next);
    put32(&mut img, next + 12, a.icb.lbn + 1);
    retag(&mut img, next);
    let vol = UdfVolume::parse(&img, &Limits::DEFAULT).unwrap().unwrap();
    let e = vol.lookup("a.txt").unwrap();
    assert_eq!(vol.contents(&e).unwrap().to_vec(), b"bee\n");
    assert_eq!(e.icb, a.icb);
    // An indirect entry there that leads back to the start.
    indirect(&mut img, next, a.icb.lbn + 1, a.icb.lbn);
    let vol = UdfVolume::parse(&img, &Limits::DEFAULT).unwrap().unwrap();
    let err = vol.lookup("a.txt").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::UdfLoop("indirect entries")),
        "{err}"
    );
}

#[test]
fn continuation_extents_are_followed_and_their_loops_refused() {
    let Some(f) = fixture() else { return };
    let big = &f.entries["big.bin"];
    let fe = big.entry_offset as usize;
    let (ty, ad, l_ad) = ad_area(&f.img, fe);
    let size = if ty == 0 { 8 } else { 16 };
    assert!(ty <= 1 && l_ad >= size);
    // The AED goes in a.txt's data block.
    let UdfExtent::Recorded { lbn: x, .. } = f.entries["a.txt"].extents()[0] else {
        panic!()
    };
    let x_off = (f.pstart + x as usize) * BS;
    let write_aed = |img: &mut Vec<u8>, ads: &[u8]| {
        img[x_off..x_off + BS].fill(0);
        put16(img, x_off, 258);
        put16(img, x_off + 2, 2);
        put32(img, x_off + 12, x);
        put32(img, x_off + 20, ads.len() as u32);
        img[x_off + 24..x_off + 24 + ads.len()].copy_from_slice(ads);
        put16(img, x_off + 10, (8 + ads.len()) as u16);
        retag(img, x_off);
    };
    let point_to_aed = |img: &mut Vec<u8>| {
        put32(img, ad, (3 << 30) | BS as u32);
        put32(img, ad + 4, x);
        if ty == 1 {
            put16(img, ad + 8, 0);
        }
        retag(img, fe);
    };
    // The FE's descriptors moved to an AED: same contents.
    let mut img = f.img.clone();
    let original = f.img[ad..ad + l_ad].to_vec();
    write_aed(&mut img, &original);
    point_to_aed(&mut img);
    let vol = UdfVolume::parse(&img, &Limits::DEFAULT).unwrap().unwrap();
    let e = vol.lookup("big.bin").unwrap();
    let want: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(vol.contents(&e).unwrap().to_vec(), want);
    assert_eq!(e.extents().len(), l_ad / size);
    // An AED whose continuation is itself.
    let mut img = f.img.clone();
    let mut selfref = vec![0u8; size];
    selfref[0..4].copy_from_slice(&((3u32 << 30) | BS as u32).to_le_bytes());
    selfref[4..8].copy_from_slice(&x.to_le_bytes());
    write_aed(&mut img, &selfref);
    point_to_aed(&mut img);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::UdfLoop("allocation extent descriptors")
    ));
    // An AED whose length runs past its block.
    let mut img = f.img.clone();
    write_aed(&mut img, &original);
    put32(&mut img, x_off + 20, u32::MAX);
    retag(&mut img, x_off);
    point_to_aed(&mut img);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdf(_)
    ));
}

#[test]
fn extents_past_the_end_and_huge_lengths_are_errors() {
    let Some(f) = fixture() else { return };
    let a = &f.entries["a.txt"];
    let fe = a.entry_offset as usize;
    let (_, ad, _) = ad_area(&f.img, fe);
    // Extent far past the partition and the image.
    let mut img = f.img.clone();
    put32(&mut img, ad + 4, 0x3fff_0000);
    retag(&mut img, fe);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdf("extent lies past the end of its partition")
    ));
    // Information length u64::MAX.
    let mut img = f.img.clone();
    img[fe + 56..fe + 64].fill(0xff);
    retag(&mut img, fe);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdf(_)
    ));
    // Length of allocation descriptors u32::MAX (the CRC length stays what it was).
    let mut img = f.img.clone();
    put32(&mut img, fe + 172, u32::MAX);
    retag(&mut img, fe);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdf(_)
    ));
    // A directory of u32::MAX-ish bytes.
    let mut img = f.img.clone();
    let d = f.entries["dir"].entry_offset as usize;
    img[d + 56..d + 64].copy_from_slice(&(u64::from(u32::MAX) * 4).to_le_bytes());
    retag(&mut img, d);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdf(_)
    ));
    // A file identifier whose implementation use length is 0xffff.
    let mut img = f.img.clone();
    let at = fids(&f, &f.root)[1];
    put16(&mut img, at + 36, 0xffff);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdf(_)
    ));
    // The limit on extents per file.
    let tight = Limits {
        max_extents_per_file: 0,
        ..Limits::DEFAULT
    };
    assert!(matches!(
        kind_of(exercise(&f.img, &tight)).kind(),
        ErrorKind::LimitExceeded { .. }
    ));
}

/// Every block whose tag is valid at its own sector: (offset, identifier).
fn tagged_blocks(img: &[u8], pstart: usize) -> Vec<(usize, u16)> {
    (0..img.len() / BS)
        .filter_map(|s| {
            let b = &img[s * BS..(s + 1) * BS];
            let id = check_tag(b, s as u32, 0)
                .or_else(|_| check_tag(b, s.wrapping_sub(pstart) as u32, 0))
                .ok()?;
            Some((s * BS, id))
        })
        .collect()
}

#[test]
fn volume_descriptors_out_of_range_are_errors() {
    let Some(f) = fixture() else { return };
    let blocks = tagged_blocks(&f.img, f.pstart);
    let patch_all = |id: u16, edit: &dyn Fn(&mut Vec<u8>, usize)| {
        let mut img = f.img.clone();
        for &(off, i) in &blocks {
            if i == id {
                edit(&mut img, off);
                retag(&mut img, off);
            }
        }
        img
    };
    // A partition starting past the end of the image.
    let img = patch_all(5, &|img, off| put32(img, off + 188, 0xffff_ff00));
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::OutOfBounds { .. }
    ));
    // A partition longer than the image.
    let img = patch_all(5, &|img, off| put32(img, off + 192, u32::MAX));
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::OutOfBounds { .. }
    ));
    // u32::MAX partition maps.
    let img = patch_all(6, &|img, off| put32(img, off + 268, u32::MAX));
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdf(_)
    ));
    // A map table longer than the descriptor.
    let img = patch_all(6, &|img, off| put32(img, off + 264, u32::MAX));
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdf(_)
    ));
    // A sparable map: a named unsupported error.
    let img = patch_all(6, &|img, off| {
        let m = off + 440;
        img[m] = 2;
        img[m + 1] = 64;
        img[m + 5..m + 28].copy_from_slice(b"*UDF Sparable Partition");
        put32(img, off + 264, 64);
        put16(img, off + 10, (440 + 64 - 16) as u16);
    });
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::Unsupported("UDF sparable partition map")
    ));
    // Volume descriptor sequences of u32::MAX bytes: bounded by the terminator or the limit.
    let img = patch_all(2, &|img, off| {
        put32(img, off + 16, u32::MAX);
        put32(img, off + 24, u32::MAX);
    });
    let _ = exercise(&img, &Limits::DEFAULT);
    // A volume descriptor pointer to itself.
    let img = patch_all(8, &|img, off| {
        let s = (off / BS) as u32;
        img[off..off + 2].copy_from_slice(&3u16.to_le_bytes());
        put32(img, off + 20, BS as u32);
        put32(img, off + 24, s);
        put16(img, off + 10, 12);
    });
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::UdfLoop("volume descriptor pointers") | ErrorKind::LimitExceeded { .. }
    ));
    // No anchor at all: an error, since the recognition sequence says UDF.
    let mut img = f.img.clone();
    for &(off, id) in &blocks {
        if id == 2 {
            img[off] ^= 0xff;
        }
    }
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdf(_)
    ));
}

#[test]
fn the_reserve_sequence_stands_in_for_a_damaged_main_one() {
    let Some(f) = fixture() else { return };
    let blocks = tagged_blocks(&f.img, f.pstart);
    let first_lvd = blocks.iter().find(|b| b.1 == 6).unwrap().0;
    let mut img = f.img.clone();
    img[first_lvd + 100] ^= 1; // CRC mismatch
    let vol = UdfVolume::parse(&img, &Limits::DEFAULT).unwrap().unwrap();
    assert!(vol.info().reserve_sequence);
    assert_eq!(exercise(&img, &Limits::DEFAULT).unwrap(), 6);
}

#[test]
fn a_directory_containing_itself_or_its_ancestor_is_an_error() {
    let Some(f) = fixture() else { return };
    // A root entry pointing to the root.
    let mut img = f.img.clone();
    let at = fids(&f, &f.root)[1];
    put32(&mut img, at + 24, f.root.icb.lbn);
    put16(&mut img, at + 28, f.root.icb.partition);
    retag(&mut img, at);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::DirectoryLoop { .. }
    ));
    // An entry of dir/sub pointing to the root: its own ancestor.
    let mut img = f.img.clone();
    let at = fids(&f, &f.entries["dir/sub"])[1];
    put32(&mut img, at + 24, f.root.icb.lbn);
    put16(&mut img, at + 28, f.root.icb.partition);
    retag(&mut img, at);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::DirectoryLoop { .. }
    ));
    // A tag location that is not where the descriptor is.
    let mut img = f.img.clone();
    let at = fids(&f, &f.root)[1];
    put32(&mut img, at + 12, 12345);
    retag(&mut img, at);
    assert!(matches!(
        kind_of(exercise(&img, &Limits::DEFAULT)).kind(),
        ErrorKind::BadUdfTag { id: 257, .. }
    ));
}

/// Turns the image into one with a metadata partition (UDF 2.50) over the physical one: the
/// metadata file (and its mirror) map it block for block in two extents, the root is reached
/// through it.
fn with_metadata_partition(f: &Fixture, first: u32) -> (Vec<u8>, u32) {
    let mut img = f.img.clone();
    let blocks = tagged_blocks(&img, f.pstart);
    let plen = {
        let vol = UdfVolume::parse(&img, &Limits::DEFAULT).unwrap().unwrap();
        vol.info().partitions[0].blocks
    };
    // The metadata file and mirror take big.bin's data blocks.
    let UdfExtent::Recorded { lbn: x, .. } = f.entries["big.bin"].extents()[0] else {
        panic!()
    };
    for (k, ty) in [(0u32, 250u8), (1, 251)] {
        let off = (f.pstart + (x + k) as usize) * BS;
        img[off..off + BS].fill(0);
        put16(&mut img, off, 261);
        put16(&mut img, off + 2, 2);
        put32(&mut img, off + 12, x + k);
        put16(&mut img, off + 20, 4);
        img[off + 27] = ty;
        put16(&mut img, off + 34, 0); // short ADs
        put32(&mut img, off + 36, u32::MAX);
        put32(&mut img, off + 40, u32::MAX);
        img[off + 56..off + 64].copy_from_slice(&(u64::from(plen) * BS as u64).to_le_bytes());
        put32(&mut img, off + 172, 16);
        put32(&mut img, off + 176, first * BS as u32);
        put32(&mut img, off + 180, 0);
        put32(&mut img, off + 184, (plen - first) * BS as u32);
        put32(&mut img, off + 188, first);
        put16(&mut img, off + 10, (176 + 16 - 16) as u16);
        retag(&mut img, off);
    }
    for &(off, id) in &blocks {
        if id == 6 {
            let m = off + 446;
            img[m] = 2;
            img[m + 1] = 64;
            img[m + 5..m + 28].copy_from_slice(b"*UDF Metadata Partition");
            put16(&mut img, m + 36, 1);
            put16(&mut img, m + 38, 0);
            put32(&mut img, m + 40, x);
            put32(&mut img, m + 44, x + 1);
            put32(&mut img, m + 48, u32::MAX);
            put32(&mut img, off + 264, 70);
            put32(&mut img, off + 268, 2);
            put16(&mut img, off + 10, (440 + 70 - 16) as u16);
            retag(&mut img, off);
        }
        if id == 256 {
            put16(&mut img, off + 408, 1);
            retag(&mut img, off);
        }
    }
    (img, x)
}

#[test]
fn metadata_partition_and_its_mirror() {
    let Some(f) = fixture() else { return };
    for first in [1, 7] {
        let (img, x) = with_metadata_partition(&f, first);
        let vol = UdfVolume::parse(&img, &Limits::DEFAULT).unwrap().unwrap();
        assert_eq!(
            vol.info().partitions[1].kind,
            UdfPartitionKind::Metadata { mirror: false }
        );
        assert_eq!(vol.root().icb.partition, 1);
        assert_eq!(exercise(&img, &Limits::DEFAULT).unwrap(), 6);
        let c = vol.lookup("dir/sub/c.txt").unwrap();
        assert_eq!(vol.contents(&c).unwrap().to_vec(), b"sea\n");
        // The main metadata file damaged: the mirror.
        let mut img2 = img.clone();
        let off = (f.pstart + x as usize) * BS;
        img2[off + 100] ^= 1;
        let vol = UdfVolume::parse(&img2, &Limits::DEFAULT).unwrap().unwrap();
        assert_eq!(
            vol.info().partitions[1].kind,
            UdfPartitionKind::Metadata { mirror: true }
        );
        assert_eq!(exercise(&img2, &Limits::DEFAULT).unwrap(), 6);
        // Both damaged: an error (the main sequence's, the reserve having the same maps).
        img2[off + BS + 100] ^= 1;
        assert!(UdfVolume::parse(&img2, &Limits::DEFAULT).is_err());
    }
}

/// A few thousand random mutations of the genuine image (descriptors re-tagged most of the
/// time, so that the damage reaches past the tag checks): every call returns, none panics.
#[test]
fn random_mutations_never_panic() {
    let Some(f) = fixture() else { return };
    let mut targets: Vec<usize> = tagged_blocks(&f.img, f.pstart)
        .into_iter()
        .map(|b| b.0)
        .collect();
    let mut fid_offs = Vec::new();
    for e in std::iter::once(&f.root).chain(f.entries.values().filter(|e| e.is_dir())) {
        fid_offs.extend(fids(&f, e));
    }
    targets.extend(&fid_offs);
    let limits = Limits {
        max_entries: 1000,
        max_directories: 100,
        ..Limits::DEFAULT
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut ok, mut err) = (0, 0);
    for _ in 0..3000 {
        let mut img = f.img.clone();
        let n = 1 + rnd() % 4;
        for _ in 0..n {
            let t = targets[(rnd() % targets.len() as u64) as usize];
            let span = if fid_offs.contains(&t) { 64 } else { 512 };
            let at = t + 16 + (rnd() % (span - 16)) as usize;
            match rnd() % 4 {
                0 => img[at] = rnd() as u8,
                1 => img[at] ^= 1 << (rnd() % 8),
                2 if at + 4 <= img.len() => put32(&mut img, at, u32::MAX),
                _ if at + 4 <= img.len() => put32(&mut img, at, (rnd() % 4096) as u32),
                _ => {}
            }
            if rnd() % 5 != 0 {
                let crc_len = usize::from(u16_at(&img, t + 10));
                if t + 16 + crc_len <= img.len() {
                    retag(&mut img, t);
                }
            }
        }
        match exercise(&img, &limits) {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
    }
    // Both outcomes occur: the mutations reach past the checks.
    assert!(ok > 100 && err > 100, "ok {ok}, err {err}");
}
