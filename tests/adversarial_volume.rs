//! The adversarial checklist of ISO 9660 readers (hostile-input cases, §5.3 of our readers notes), the volume items: 1.
//! volume descriptors, 2. the root record, 11. path tables, 12. both-endian fields.
//!
//! Each case patches bytes of a small genuine image made by genisoimage
//! (`isolution_tests::images`), then checks the reader answers with a typed error (kind,
//! offset, path) or the documented tolerant result. Every case also goes through
//! `exercise` inside `case` (`isolution_tests::exercise`): parse, walk every namespace, look
//! every path up, read every file and the boot catalog, in under 2 s and without a single
//! allocation larger than 16 MiB (the tracking global allocator below checks it): the reader
//! must never allocate by a size the image claims.

use iso_core::{ErrorKind, Image, Limits};
use isolution_tests::exercise::*;
use isolution_tests::images::*;
use isolution_tests::patch::*;
use isolution_tests::{assert_kind, need};

#[global_allocator]
static GLOBAL: Tracking = Tracking;

// =============================================================================================
// 1. Volume descriptors
// =============================================================================================

#[test]
fn vd_image_too_small() {
    let base = need!(main_iso);
    for len in [0usize, 1, 2048, 32 * 1024, 34 * 1024 - 1] {
        let r = run("too small", &base[..len]);
        let e = r.unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::TooSmall { len: l } if *l == len as u64),
            "{e:?}"
        );
        // (TooSmall is about the whole image: it may carry no offset.)
    }
    // Exactly 34,816 bytes: the PVD parses, then the root directory lies past the end.
    let r = run("just the PVD", &base[..34 * 1024]);
    let image = Image::parse(&base[..34 * 1024]).unwrap();
    assert!(image
        .warnings()
        .iter()
        .any(|w| w.message.contains("terminator")));
    let e = walk_error(&r, PRIMARY);
    assert_kind!(*e, ErrorKind::OutOfBounds { .. });
    assert_eq!(e.path(), Some(""));
}

#[test]
fn vd_no_terminator_scan_is_bounded() {
    let base = need!(main_iso);
    let root = find_primary(&base, "");
    // (a) Garbage right after the PVD: the scan stops with a warning; no Joliet.
    let mut img = base.clone();
    for (i, b) in img[17 * SECTOR..19 * SECTOR].iter_mut().enumerate() {
        *b = (i * 13 % 251) as u8 | 1;
    }
    let r = run("garbage after PVD", &img);
    let image = Image::parse(&img).unwrap();
    assert!(image.joliet().is_none());
    assert!(
        image
            .warnings()
            .iter()
            .any(|w| w.offset == 17 * SECTOR as u64 && w.message.contains("CD001")),
        "{:?}",
        image.warnings()
    );
    assert_eq!(walk_paths(&r, RR), walk_paths(&run("base", &base), RR));

    // (b) Every sector up to the root directory is an unknown CD001 descriptor, no
    // terminator: the scan is bounded by max_volume_descriptors.
    let mut img = base.clone();
    for s in 17..root.extent as usize {
        let o = s * SECTOR;
        img[o..o + SECTOR].fill(0);
        img[o] = 77;
        img[o + 1..o + 6].copy_from_slice(b"CD001");
        img[o + 6] = 1;
    }
    let limits = Limits {
        max_volume_descriptors: 4,
        ..Limits::DEFAULT
    };
    let r = run_with("unterminated, limit 4", &img, limits);
    let image = Image::parse_with_limits(&img, limits).unwrap();
    assert_eq!(image.volume_descriptors().len(), 4);
    assert!(image
        .warnings()
        .iter()
        .any(|w| w.message.contains("no terminator in the first 4")));
    walk_paths(&r, RR);
    // With the default budget the scan ends at the first sector without CD001.
    let r = run("unterminated", &img);
    walk_paths(&r, RR);
    let image = Image::parse(&img).unwrap();
    assert_eq!(
        image.volume_descriptors().len(),
        root.extent as usize - 16,
        "{:?}",
        image.volume_descriptors()
    );

    // (c) A budget of 0 descriptors finds no PVD: a clean NotIso9660.
    let limits = Limits {
        max_volume_descriptors: 0,
        ..Limits::DEFAULT
    };
    let e = run_with("budget 0", &base, limits).unwrap_err();
    assert_kind!(e, ErrorKind::NotIso9660 { .. });
    // (d) No CD001 at sector 16 at all.
    let mut img = base.clone();
    img[PVD + 1] = b'X';
    let e = run("no CD001", &img).unwrap_err();
    assert_kind!(e, ErrorKind::NotIso9660 { .. });
    assert_eq!(e.offset(), Some(PVD as u64));
}

#[test]
fn vd_unknown_type_and_two_pvds() {
    let base = need!(main_iso);
    let term = vd(&base, 255).unwrap();
    assert_eq!(term, 18 * SECTOR);
    assert!(base[19 * SECTOR..20 * SECTOR].iter().all(|&b| b == 0));
    // Unknown type 42 where the terminator was, terminator moved one sector on.
    let mut img = base.clone();
    img.copy_within(term..term + SECTOR, term + SECTOR);
    img[term] = 42;
    run("unknown VD type", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    let kinds: Vec<_> = image.volume_descriptors().iter().map(|d| d.kind).collect();
    assert!(
        kinds.contains(&iso_core::iso9660::VolumeKind::Unknown(42)),
        "{kinds:?}"
    );
    assert_same_listing("unknown VD type", &img, &base);

    // A second PVD (with another volume id and a root past the end): the first is used.
    let mut img = base.clone();
    img.copy_within(term..term + SECTOR, term + SECTOR);
    img.copy_within(PVD..PVD + SECTOR, term);
    img[term + 40..term + 72].copy_from_slice(&[b'Z'; 32]);
    put_both32(&mut img, term + ROOT_IN_VD + 2, 0x00FF_FFFF);
    run("two PVDs", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    assert_eq!(
        image.primary().volume_id,
        Image::parse(&base).unwrap().primary().volume_id
    );
    assert!(image
        .warnings()
        .iter()
        .any(|w| w.message.contains("another primary")));
    assert_same_listing("two PVDs", &img, &base);
}

#[test]
fn vd_udf_descriptors_after_terminator() {
    let base = need!(main_iso);
    let mut img = base.clone();
    // Sectors 19..22 (genisoimage's path tables live there: the reader does not use them).
    for (i, id) in [b"BEA01", b"NSR02", b"TEA01"].iter().enumerate() {
        let o = (19 + i) * SECTOR;
        img[o..o + SECTOR].fill(0);
        img[o + 1..o + 6].copy_from_slice(*id);
        img[o + 6] = 1;
    }
    run("UDF after terminator", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    assert_eq!(image.volume_descriptors().len(), 3);
    assert!(image.warnings().is_empty(), "{:?}", image.warnings());
    assert_same_listing("UDF after terminator", &img, &base);
}

#[test]
fn vd_logical_block_size() {
    let base = need!(main_iso);
    for bs in [0u16, 1, 1000, 4096, 0xFFFF] {
        let mut img = base.clone();
        put_both16(&mut img, PVD + 128, bs);
        let e = run("bad block size", &img).unwrap_err();
        assert_kind!(e, ErrorKind::BadBlockSize(b) if *b == u32::from(bs));
        assert_eq!(e.offset(), Some(PVD as u64 + 128));
    }
    // 512 and 1024 are accepted (as pycdlib does). The tree of a 2048-byte image is then read
    // at the wrong places: whatever comes out must be typed.
    for bs in [512u16, 1024] {
        let mut img = base.clone();
        put_both16(&mut img, PVD + 128, bs);
        let r = run("small block size", &img).unwrap();
        assert_eq!(Image::parse(&img).unwrap().block_size(), u32::from(bs));
        // The root (block 28 of 2048) now reads from byte 28*bs, inside the system area.
        assert!(r.iter().all(|w| w.paths.is_empty()), "{r:?}");
    }
    // 512 with the root moved to its 512-byte block: the root is read correctly, its
    // children (still in 2048-byte blocks) are not, cleanly.
    let mut img = base.clone();
    put_both16(&mut img, PVD + 128, 512);
    let root = find_primary(&base, "");
    root.set_extent(&mut img, root.extent * 4);
    let _ = run("512 with the root moved", &img).unwrap();
    // LE and BE disagree: LE wins, with a warning.
    let mut img = base.clone();
    img[PVD + 130..PVD + 132].copy_from_slice(&0u16.to_be_bytes());
    run("block size LE/BE mismatch", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    assert_eq!(image.block_size(), 2048);
    assert!(image
        .warnings()
        .iter()
        .any(|w| w.message.contains("logical block size")));
}

#[test]
fn vd_volume_space_size_differs_from_file() {
    let base = need!(main_iso);
    // Larger than the file: a warning, and everything still reads.
    for blocks in [sectors(&base) + 1, 0x7FFF_FFFF, u32::MAX] {
        let mut img = base.clone();
        put_both32(&mut img, PVD + 80, blocks);
        let image = Image::parse(&img).unwrap();
        assert!(
            image
                .warnings()
                .iter()
                .any(|w| w.offset == PVD as u64 + 80 && w.message.contains("truncated")),
            "{:?}",
            image.warnings()
        );
        assert_eq!(image.primary().volume_space_blocks, blocks);
        assert_same_listing("volume larger than the file", &img, &base);
    }
    // Smaller than the file (pycdlib #106): accepted silently, files past it still read.
    for blocks in [0, 20] {
        let mut img = base.clone();
        put_both32(&mut img, PVD + 80, blocks);
        assert_same_listing("volume smaller than the file", &img, &base);
    }
}

#[test]
fn vd_nonzero_reserved_fields_are_accepted() {
    let base = need!(main_iso);
    let mut img = base.clone();
    let term = vd(&base, 255).unwrap();
    for r in [7..8, 72..80, 88..120, 882..883, 1395..2048] {
        img[PVD + r.start..PVD + r.end].fill(0xA5);
    }
    img[term + 7..term + SECTOR].fill(0xA5);
    // Odd but harmless: file structure version 2 in the PVD, garbage application use.
    img[PVD + 881] = 2;
    img[PVD + 883..PVD + 1395].fill(0xFF);
    run("reserved fields", &img).unwrap();
    assert_same_listing("reserved fields", &img, &base);

    // An SVD whose escape sequence is not Joliet's: a plain supplementary descriptor.
    let jvd = joliet_vd(&base).unwrap();
    let mut img = base.clone();
    img[jvd + 90] = b'Q';
    run("bad Joliet escape", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    assert!(image.joliet().is_none());
    assert_eq!(image.namespaces(), vec![RR, PRIMARY]);
    // Joliet level 1 escape.
    let mut img = base.clone();
    img[jvd + 90] = b'@';
    run("Joliet level 1", &img).unwrap();
    assert_eq!(
        Image::parse(&img).unwrap().joliet().unwrap().joliet_level,
        Some(1)
    );
}

// =============================================================================================
// 2. Root record
// =============================================================================================

#[test]
fn root_record_variants() {
    let base = need!(main_iso);
    let root_at = PVD + ROOT_IN_VD;
    // Length 34..=68 (libarchive test _3): accepted.
    for len in [35u8, 68, 255] {
        let mut img = base.clone();
        img[root_at] = len;
        assert_same_listing("root record length", &img, &base);
    }
    // Shorter than 34: a typed refusal at the record.
    let mut img = base.clone();
    img[root_at] = 20;
    let e = run("root record 20 bytes", &img).unwrap_err();
    assert_kind!(e, ErrorKind::BadVolumeDescriptor { .. });
    assert_eq!(e.offset(), Some(root_at as u64));
    // Identifier not 0x00: tolerated. Flags without the directory bit: tolerated, warned.
    let mut img = base.clone();
    img[root_at + 33] = b'X';
    img[root_at + 25] = 0;
    run("root id and flags", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    assert!(image
        .warnings()
        .iter()
        .any(|w| w.message.contains("not flagged as a directory")));
    assert_same_listing("root id and flags", &img, &base);
    // Identifier length 0 in the root record: BadRecord at the root record.
    let mut img = base.clone();
    img[root_at + 32] = 0;
    let e = run("root id length 0", &img).unwrap_err();
    assert_kind!(e, ErrorKind::BadRecord { .. });
    assert_eq!(e.offset(), Some(root_at as u64));
}

#[test]
fn root_extent_outside_the_volume() {
    let base = need!(main_iso);
    for ext in [sectors(&base), sectors(&base) + 1000, 0x8000_0000, u32::MAX] {
        let mut img = base.clone();
        find_primary(&base, "").set_extent(&mut img, ext);
        let r = run("root past EOF", &img);
        // Rock Ridge cannot be detected without the root: the primary walk reports it.
        let e = walk_error(&r, PRIMARY);
        assert_kind!(*e, ErrorKind::OutOfBounds { start, .. } if *start == u64::from(ext) * 2048);
        assert_eq!(e.path(), Some(""));
        // Joliet has its own root and still reads.
        walk_paths(&r, JOLIET);
    }
    // Root size 0: a typed error, not an empty listing.
    let mut img = base.clone();
    find_primary(&base, "").set_size(&mut img, 0);
    let r = run("root size 0", &img);
    assert_kind!(*walk_error(&r, PRIMARY), ErrorKind::BadRecord { .. });
}

// =============================================================================================
// 11. Path tables
// =============================================================================================

#[test]
fn path_tables_are_not_trusted() {
    let base = need!(main_iso);
    let mut img = base.clone();
    for vdo in [PVD, joliet_vd(&base).unwrap()] {
        let size = le32(&base, vdo + 132) as usize;
        let l = le32(&base, vdo + 140) as usize * SECTOR;
        let m =
            u32::from_be_bytes(base[vdo + 148..vdo + 152].try_into().unwrap()) as usize * SECTOR;
        img[l..l + size].fill(0xFF);
        img[m..m + size].fill(0xFF);
        put_both32(&mut img, vdo + 132, u32::MAX);
        img[vdo + 140..vdo + 156].fill(0xFF);
    }
    run("garbage path tables", &img).unwrap();
    assert_same_listing("garbage path tables", &img, &base);
}

// =============================================================================================
// 12. Both-endian fields
// =============================================================================================

#[test]
fn both_endian_mismatches() {
    let base = need!(main_iso);
    let f = find_primary(&base, "A/F.TXT");
    let mut img = base.clone();
    img[f.offset + 6..f.offset + 10].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    img[f.offset + 14..f.offset + 18].copy_from_slice(&999u32.to_be_bytes());
    run("record LE/BE mismatch", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    for ns in [RR, PRIMARY] {
        for item in entries(&image, ns) {
            let mismatch = item.path.eq_ignore_ascii_case("A/f.txt");
            assert_eq!(item.entry.has_endian_mismatch(), mismatch, "{}", item.path);
        }
    }
    assert_eq!(contents_of(&img, RR, "A/f.txt").unwrap(), b"hello\n");
    // Volume space size in the PVD: LE wins, a warning at its offset.
    let mut img = base.clone();
    img[PVD + 84..PVD + 88].copy_from_slice(&1u32.to_be_bytes());
    run("PVD LE/BE mismatch", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    assert_eq!(image.primary().volume_space_blocks, le32(&base, PVD + 80));
    assert!(image
        .warnings()
        .iter()
        .any(|w| w.offset == PVD as u64 + 80 && w.message.contains("volume space size")));
    assert_same_listing("PVD LE/BE mismatch", &img, &base);
    // The root record's extent in the PVD: LE wins, with a warning.
    let mut img = base.clone();
    img[PVD + ROOT_IN_VD + 6..PVD + ROOT_IN_VD + 10].copy_from_slice(&[0xFF; 4]);
    let image = Image::parse(&img).unwrap();
    assert!(image
        .warnings()
        .iter()
        .any(|w| w.offset == (PVD + ROOT_IN_VD) as u64));
    assert_same_listing("root LE/BE mismatch", &img, &base);
}
