//! The adversarial checklist of ISO 9660 readers (hostile-input cases, §5.3 of our readers notes), the file data items: 8.
//! multi-extent files, 9. interleaved files, 13. data ranges, 16. mapped files.
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
use isolution_tests::listing;
use isolution_tests::patch::*;
use isolution_tests::{assert_kind, need};

#[global_allocator]
static GLOBAL: Tracking = Tracking;

// =============================================================================================
// 8. Multi-extent
// =============================================================================================

#[test]
fn multi_extent_chains() {
    let base = need!(main_iso);
    // The last record of A flagged "not final": UnterminatedMultiExtent.
    let f = find_primary(&base, "A/F.TXT");
    assert_eq!(children(&base, &find_primary(&base, "A")).last(), Some(&f));
    let mut img = base.clone();
    f.set_flags(&mut img, f.flags | 0x80);
    let r = run("unterminated multi-extent", &img);
    for ns in [RR, PRIMARY] {
        let e = walk_error(&r, ns);
        assert_kind!(*e, ErrorKind::UnterminatedMultiExtent);
        assert_eq!(e.offset(), Some(f.offset as u64));
        assert_eq!(e.path(), Some("A"));
    }
    // A part followed by a record with another name.
    let empty = find_primary(&base, "EMPTY");
    let link = find_primary(&base, "LINK");
    let mut img = base.clone();
    empty.set_flags(&mut img, 0x80);
    let r = run("multi-extent parts with different names", &img);
    let e = walk_error(&r, RR);
    assert_kind!(*e, ErrorKind::BadRecord { reason } if reason.contains("different names"));
    assert_eq!(e.offset(), Some(link.offset as u64));
    assert_eq!(e.path(), Some(""));

    // A genuine two-part file: E/0L... (0 bytes) + E/1L... renamed to the same identifier
    // (1 byte): one entry, two extents, one byte.
    let e_dir = find_primary(&base, "E");
    let kids = children(&base, &e_dir);
    let (p0, p1) = (&kids[0], &kids[1]);
    assert_eq!((p0.size, p1.size), (0, 1));
    let mut img = base.clone();
    p0.set_flags(&mut img, 0x80);
    write(&mut img, p1.offset + 33, &p0.id);
    run("two-part file", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    for (ns, path) in [
        (RR, format!("E/{}", long_name(0))),
        (PRIMARY, "E/0LLLLLLL".into()),
    ] {
        let e = entry_at(&image, ns, &path).entry;
        assert_eq!(e.extents().len(), 2);
        assert_eq!(e.size(), 1);
        assert_eq!(image.contents(&e).unwrap().to_vec(), b"x");
    }
    let limits = Limits {
        max_extents_per_file: 1,
        ..Limits::DEFAULT
    };
    let r = run_with("max_extents_per_file 1", &img, limits);
    assert_kind!(
        *walk_error(&r, RR),
        ErrorKind::LimitExceeded {
            limit: "max_extents_per_file",
            value: 2,
            max: 1
        }
    );
    // Parts of 4 GiB - 1 each: the u64 size does not wrap; reading is a clean OutOfBounds.
    let mut img2 = img.clone();
    p0.set_size(&mut img2, u32::MAX);
    p1.set_size(&mut img2, u32::MAX);
    run("two 4 GiB parts", &img2).unwrap();
    let image = Image::parse(&img2).unwrap();
    let e = entry_at(&image, PRIMARY, "E/0LLLLLLL").entry;
    assert_eq!(e.size(), 2 * u64::from(u32::MAX));
    assert_kind!(
        image.contents(&e).unwrap_err(),
        ErrorKind::OutOfBounds { .. }
    );
    // Parts out of order / overlapping (the second part before the first): read as recorded.
    let mut img3 = img.clone();
    p1.set_extent(&mut img3, find_primary(&base, "A/F.TXT").extent);
    p1.set_size(&mut img3, 6);
    p0.set_extent(&mut img3, find_primary(&base, "A/F.TXT").extent);
    p0.set_size(&mut img3, 3);
    let image = Image::parse(&img3).unwrap();
    let e = entry_at(&image, PRIMARY, "E/0LLLLLLL").entry;
    assert_eq!(image.contents(&e).unwrap().to_vec(), b"helhello\n");
}

// =============================================================================================
// 9. Interleaved files
// =============================================================================================

#[test]
fn interleaved_files_are_refused() {
    let base = need!(main_iso);
    let f = find_primary(&base, "A/F.TXT");
    for (unit, gap) in [(1u8, 1u8), (0, 1), (1, 0), (255, 255)] {
        let mut img = base.clone();
        img[f.offset + 26] = unit;
        img[f.offset + 27] = gap;
        let r = run("interleaved", &img);
        let w = walked(&r, RR);
        assert!(w.error.is_none());
        let (p, e) = &w.read_errors[0];
        assert_eq!(p, "A/f.txt");
        assert_kind!(*e, ErrorKind::Interleaved { unit_size, gap: g } if *unit_size == unit && *g == gap);
        assert_eq!(e.offset(), Some(f.offset as u64));
        let e = contents_of(&img, RR, "A/f.txt").unwrap_err();
        assert_kind!(e, ErrorKind::Interleaved { .. });
    }
}

// =============================================================================================
// 13. Data ranges
// =============================================================================================

#[test]
fn data_ranges() {
    let base = need!(main_iso);
    // Truncated inside the root directory: a clean error, no panic.
    let root = find_primary(&base, "");
    let cut = root.extent as usize * SECTOR + 300;
    let img = &base[..cut];
    let r = run("truncated in the root directory", img);
    let e = walk_error(&r, PRIMARY);
    assert_kind!(*e, ErrorKind::OutOfBounds { image_len, .. } if *image_len == cut as u64);
    assert_eq!(e.path(), Some(""));
    assert!(Image::parse(img)
        .unwrap()
        .warnings()
        .iter()
        .any(|w| w.message.contains("truncated")));
    // Truncated inside a file's data: that file is OutOfBounds, the rest reads.
    let f = find_primary(&base, "A/F.TXT");
    let cut = f.extent as usize * SECTOR + 3;
    let img = &base[..cut];
    let r = run("truncated in a file", img);
    let w = walked(&r, RR);
    assert!(w.error.is_none(), "{:?}", w.error);
    assert!(w
        .read_errors
        .iter()
        .any(|(p, e)| p == "A/f.txt" && matches!(e.kind(), ErrorKind::OutOfBounds { .. })));
    // Many entries sharing one extent (hard links): same FileId, read in place.
    let mut img = base.clone();
    for p in ["TOP.TXT", "EMPTY", "A/B/C/DEEP.TXT"] {
        let r = find_primary(&base, p);
        r.set_extent(&mut img, f.extent);
        r.set_size(&mut img, 6);
    }
    run("shared extents", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    let ids: Vec<_> = ["top.txt", "empty", "A/B/C/deep.txt", "A/f.txt"]
        .iter()
        .map(|p| image.lookup(RR, p).unwrap().file_id().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    // Directory extent overlapping a file's data, and a file extent overlapping directories.
    let mut img = base.clone();
    find_primary(&base, "TOP.TXT").set_extent(&mut img, root.extent);
    find_primary(&base, "TOP.TXT").set_size(&mut img, 2048);
    find_primary(&base, "A/B").set_extent(&mut img, f.extent);
    let _ = run("overlaps", &img);
    // Image length not a multiple of 2048.
    let mut img = base.clone();
    img.extend([0u8; 100]);
    assert_same_listing("length not a multiple of 2048", &img, &base);
    assert_same_listing("length cut by 100", &base[..base.len() - 100], &base);
}

// =============================================================================================
// 16. Mapped files
// =============================================================================================

#[test]
fn mapped_file_of_odd_length() {
    let base = need!(main_iso);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("odd.iso");
    let mut img = base.clone();
    img.truncate(img.len() - 777);
    std::fs::write(&p, &img).unwrap();
    let file = iso_core::IsoFile::open(&p).unwrap();
    let image = file.image().unwrap();
    assert_eq!(listing(&image, RR).unwrap(), listings(&base)[0].1);
    // A file too small to be an image.
    std::fs::write(&p, &base[..1000]).unwrap();
    let file = iso_core::IsoFile::open(&p).unwrap();
    assert!(matches!(
        file.image().unwrap_err().kind(),
        ErrorKind::TooSmall { len: 1000 }
    ));
    std::fs::write(&p, b"").unwrap();
    if let Ok(file) = iso_core::IsoFile::open(&p) {
        assert!(matches!(
            file.image().unwrap_err().kind(),
            ErrorKind::TooSmall { len: 0 }
        ));
    }
}
