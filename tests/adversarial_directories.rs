//! The adversarial checklist of ISO 9660 readers (hostile-input cases, §5.3 of our readers notes), the directory items: 3.
//! directory records, 4. the directory graph (loops, depth, entry, directory and path
//! limits).
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
// 3. Directory records
// =============================================================================================

#[test]
fn dirrec_bad_lengths() {
    let base = need!(main_iso);
    let a = find_primary(&base, "A");
    // len < 34
    for len in [1u8, 20, 33] {
        let mut img = base.clone();
        img[a.offset] = len;
        let r = run("record len < 34", &img);
        for ns in [RR, PRIMARY] {
            let e = walk_error(&r, ns);
            assert_kind!(*e, ErrorKind::BadRecord { .. });
            assert_eq!(e.offset(), Some(a.offset as u64));
            assert_eq!(e.path(), Some(""));
        }
    }
    // len_fi == 0
    let mut img = base.clone();
    img[a.offset + 32] = 0;
    let r = run("len_fi 0", &img);
    let e = walk_error(&r, RR);
    assert_kind!(*e, ErrorKind::BadRecord { reason } if reason.contains("identifier length"));
    assert_eq!(e.offset(), Some(a.offset as u64));
    // len < 33 + len_fi
    let mut img = base.clone();
    img[a.offset + 32] = 200;
    let r = run("len_fi past the record", &img);
    let e = walk_error(&r, PRIMARY);
    assert_kind!(*e, ErrorKind::BadRecord { .. });
    assert_eq!(e.offset(), Some(a.offset as u64));
    // A record running past the end of its directory (the directory size cut short).
    let mut img = base.clone();
    let adot = dot(&base, &a);
    a.set_size(&mut img, 300);
    adot.set_size(&mut img, 300);
    let r = run("directory size cuts a record", &img);
    let e = walk_error(&r, RR);
    assert_kind!(*e, ErrorKind::BadRecord { .. });
    assert_eq!(e.path(), Some("A"));
}

#[test]
fn dirrec_crossing_a_sector_boundary() {
    let base = need!(main_iso);
    let mut img = base.clone();
    let root = find_primary(&base, "");
    let recs = dir_records(&base, &root);
    let last_end = recs.last().unwrap().end();
    let sector_end = root.extent as usize * SECTOR + SECTOR;
    let top = find_primary(&base, "TOP.TXT");
    // Fill the rest of the sector with records so that the last one starts 10 bytes before
    // the boundary and crosses it. The directory is made two sectors long.
    let need = sector_end - 10 - last_end;
    let n = (need - 40) / 40;
    let first_len = need - 40 * n;
    let mut fill = make_record(b"G;1", top.extent, 0, 0, &filler(first_len - 36));
    for i in 0..n {
        fill.extend(make_record(
            format!("F{i:04};1").as_bytes(),
            top.extent,
            0,
            0,
            &[],
        ));
    }
    assert_eq!(fill.len(), need);
    fill.extend(make_record(b"X;1", top.extent, 0, 0, &filler(60)));
    write(&mut img, last_end, &fill);
    root.set_size(&mut img, 4096);
    let r = run("crossing record", &img);
    for ns in [RR, PRIMARY] {
        let e = walk_error(&r, ns);
        assert_kind!(*e, ErrorKind::BadRecord { reason } if reason.contains("sector boundary"));
        assert_eq!(e.offset(), Some(sector_end as u64 - 10));
        assert_eq!(e.path(), Some(""));
        // Everything before it was listed.
        assert!(walked(&r, ns).paths.iter().any(|p| p == "G"));
    }
}

#[test]
fn dirrec_nonzero_padding_is_tolerated() {
    let base = need!(main_iso);
    let mut img = base.clone();
    let root = find_primary(&base, "");
    let last_end = dir_records(&base, &root).last().unwrap().end();
    let sector_end = root.extent as usize * SECTOR + SECTOR;
    // A zero length byte, then garbage up to the sector end.
    img[last_end + 1..sector_end].fill(0xEE);
    // The pad byte after an even-length identifier.
    let empty = find_primary(&base, "EMPTY");
    assert_eq!(empty.id.len() % 2, 0);
    img[empty.offset + 33 + empty.id.len()] = 0xEE;
    run("non-zero padding", &img).unwrap();
    assert_same_listing("non-zero padding", &img, &base);
    // A directory size that is not a multiple of 2048 but covers the records: fine.
    let mut img = base.clone();
    let a = find_primary(&base, "A");
    a.set_size(&mut img, 1000);
    assert_same_listing("directory size 1000", &img, &base);
}

#[test]
fn dirrec_huge_directory_size() {
    let base = need!(main_iso);
    let a = find_primary(&base, "A");
    for size in [0xFFFF_F800u32, u32::MAX] {
        let mut img = base.clone();
        a.set_size(&mut img, size);
        let r = run("huge directory", &img);
        for ns in [RR, PRIMARY] {
            let e = walk_error(&r, ns);
            let start = u64::from(a.extent) * 2048;
            assert_kind!(*e, ErrorKind::OutOfBounds { start: s, end, .. }
                if *s == start && *end == start + u64::from(size));
            assert_eq!(e.path(), Some("A"));
        }
    }
    // The same on the root.
    let mut img = base.clone();
    find_primary(&base, "").set_size(&mut img, 0xFFFF_F800);
    let r = run("huge root", &img);
    assert_kind!(*walk_error(&r, PRIMARY), ErrorKind::OutOfBounds { .. });
}

#[test]
fn dirrec_file_extent_past_eof() {
    let base = need!(main_iso);
    let f = find_primary(&base, "A/F.TXT");
    let len = base.len() as u64;
    // Entirely past the end; straddling the end; a 4 GiB size in a small image.
    let patches: [(u32, u32); 4] = [
        (sectors(&base), 6),
        (sectors(&base) - 1, 4096),
        (f.extent, 0xFFFF_F000),
        (f.extent, u32::MAX),
    ];
    for (ext, size) in patches {
        let mut img = base.clone();
        f.set_extent(&mut img, ext);
        f.set_size(&mut img, size);
        let r = run("file past EOF", &img);
        // The walk lists it with its claimed size; reading it is a clean OutOfBounds.
        let w = walked(&r, RR);
        assert!(w.error.is_none(), "{:?}", w.error);
        let (p, e) = &w.read_errors[0];
        assert_eq!(p, "A/f.txt");
        assert_kind!(*e, ErrorKind::OutOfBounds { end, image_len, .. } if *end > *image_len && *image_len == len);
        assert_eq!(e.offset(), Some(u64::from(ext) * 2048));
        let e = contents_of(&img, RR, "A/f.txt").unwrap_err();
        assert_kind!(e, ErrorKind::OutOfBounds { .. });
        let image = Image::parse(&img).unwrap();
        let entry = image.lookup(RR, "A/f.txt").unwrap();
        assert_eq!(entry.size(), u64::from(size));
        assert!(image.reader(&entry).is_err());
        // The listing helper reports it as an error, never short or stale bytes.
        assert!(listing(&image, RR).is_err());
    }
}

#[test]
fn dirrec_extent_zero_for_empty_files_and_links() {
    let base = need!(main_iso);
    let mut img = base.clone();
    find_primary(&base, "EMPTY").set_extent(&mut img, 0);
    find_primary(&base, "LINK").set_extent(&mut img, 0);
    run("extent 0", &img).unwrap();
    assert_same_listing("extent 0", &img, &base);
    assert_eq!(contents_of(&img, RR, "empty").unwrap(), b"");
    assert_eq!(contents_of(&img, PRIMARY, "EMPTY").unwrap(), b"");
    // A non-empty file at extent 0 reads the system area: in bounds, so no error (the
    // reader cannot know better).
    let mut img = base.clone();
    find_primary(&base, "TOP.TXT").set_extent(&mut img, 0);
    assert_eq!(contents_of(&img, RR, "top.txt").unwrap(), &base[..4]);
}

#[test]
fn dirrec_extents_beyond_2_pow_31() {
    let base = need!(main_iso);
    let f = find_primary(&base, "A/F.TXT");
    for (ext, size, xattr) in [
        (0x8000_0000u32, 6u32, 0u8),
        (0xFFFF_FFFF, u32::MAX, 0),
        (0xFFFF_FFFF, u32::MAX, 255),
        (0x7FFF_FFFF, 6, 255),
    ] {
        let mut img = base.clone();
        f.set_extent(&mut img, ext);
        f.set_size(&mut img, size);
        img[f.offset + 1] = xattr;
        run("extent >= 2^31", &img).unwrap();
        let e = contents_of(&img, RR, "A/f.txt").unwrap_err();
        let start = (u64::from(ext) + u64::from(xattr)) * 2048;
        assert_kind!(e, ErrorKind::OutOfBounds { start: s, end, .. }
            if *s == start && *end == start + u64::from(size));
    }
    // A directory extent >= 2^31.
    let mut img = base.clone();
    find_primary(&base, "A").set_extent(&mut img, 0x8000_0000);
    let r = run("directory extent >= 2^31", &img);
    let e = walk_error(&r, RR);
    assert_kind!(*e, ErrorKind::OutOfBounds { start, .. } if *start == 0x8000_0000u64 * 2048);
    assert_eq!(e.path(), Some("A"));
}

#[test]
fn dirrec_xattr_length_moves_the_data() {
    let base = need!(main_iso);
    let f = find_primary(&base, "A/F.TXT");
    let mut img = base.clone();
    img[f.offset + 1] = 1;
    run("XAR 1", &img).unwrap();
    // The data starts one block later (ECMA-119 9.1.2), the length is unchanged.
    let start = (f.extent as usize + 1) * SECTOR;
    let got = contents_of(&img, RR, "A/f.txt").unwrap();
    assert_eq!(got, &base[start..start + 6]);
    assert_ne!(got, b"hello\n");
    // An XAR pushing the data past the end.
    let mut img = base.clone();
    f.set_extent(&mut img, sectors(&base) - 1);
    img[f.offset + 1] = 200;
    let e = contents_of(&img, RR, "A/f.txt").unwrap_err();
    assert_kind!(e, ErrorKind::OutOfBounds { .. });
    // An XAR on a directory moves its records too: reading A then fails cleanly or finds
    // other records, never panics.
    let mut img = base.clone();
    img[find_primary(&base, "A").offset + 1] = 3;
    let _ = run("XAR on a directory", &img);
}

// =============================================================================================
// 4. Directory graph
// =============================================================================================

#[test]
fn graph_loops() {
    let base = need!(main_iso);
    let root = find_primary(&base, "");
    let a = find_primary(&base, "A");
    let b = find_primary(&base, "A/B");
    let c = find_primary(&base, "A/B/C");
    let e = find_primary(&base, "E");
    // A subdirectory pointing at the root.
    let mut img = base.clone();
    a.set_extent(&mut img, root.extent);
    let r = run("subdir -> root", &img);
    for ns in [RR, PRIMARY] {
        let err = walk_error(&r, ns);
        assert_kind!(*err, ErrorKind::DirectoryLoop { lba } if *lba == root.extent);
        assert_eq!(err.path(), Some("A"));
        assert_eq!(err.offset(), Some(a.offset as u64));
    }
    walk_paths(&r, JOLIET);
    // A subdirectory pointing at its parent.
    let mut img = base.clone();
    b.set_extent(&mut img, a.extent);
    let r = run("subdir -> parent", &img);
    let err = walk_error(&r, RR);
    assert_kind!(*err, ErrorKind::DirectoryLoop { lba } if *lba == a.extent);
    assert_eq!(err.path(), Some("A/B"));
    // Two directories sharing one extent (a DAG, which fans out as branching^depth): refused
    // as a loop on the second visit (documented in ErrorKind::DirectoryLoop).
    let mut img = base.clone();
    e.set_extent(&mut img, c.extent);
    let r = run("shared subdir", &img);
    let err = walk_error(&r, RR);
    assert_kind!(*err, ErrorKind::DirectoryLoop { lba } if *lba == c.extent);
    assert_eq!(err.path(), Some("E"));
    // `..` records pointing anywhere are not followed.
    let mut img = base.clone();
    let dotdot = dir_records(&base, &a)[1].clone();
    assert_eq!(dotdot.id, [1]);
    dotdot.set_extent(&mut img, u32::MAX);
    dir_records(&base, &b)[1].set_extent(&mut img, b.extent);
    assert_same_listing("odd ..", &img, &base);
}

#[test]
fn graph_depth_entry_directory_and_path_limits() {
    let base = need!(main_iso);
    let limits = Limits {
        max_depth: 2,
        ..Limits::DEFAULT
    };
    let r = run_with("max_depth 2", &base, limits);
    for ns in [RR, JOLIET, PRIMARY] {
        let e = walk_error(&r, ns);
        assert_kind!(
            *e,
            ErrorKind::LimitExceeded {
                limit: "max_depth",
                value: 3,
                max: 2
            }
        );
        assert!(
            e.path().unwrap().eq_ignore_ascii_case("A/B/C"),
            "{:?}",
            e.path()
        );
    }
    let image = Image::parse_with_limits(&base, limits).unwrap();
    let e = image.lookup(RR, "A/B/C/deep.txt").unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::LimitExceeded {
                limit: "max_depth",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.path().is_some());
    // (lookup's depth error is about the path asked for: it carries no image offset.)
    assert!(image.lookup(RR, "A/B").is_ok());

    let limits = Limits {
        max_entries: 3,
        ..Limits::DEFAULT
    };
    let r = run_with("max_entries 3", &base, limits);
    let e = walk_error(&r, RR);
    assert_kind!(
        *e,
        ErrorKind::LimitExceeded {
            limit: "max_entries",
            value: 4,
            max: 3
        }
    );
    assert_eq!(walked(&r, RR).paths.len(), 3);
    assert!(e.path().is_some());

    let limits = Limits {
        max_directories: 2,
        ..Limits::DEFAULT
    };
    let r = run_with("max_directories 2", &base, limits);
    let e = walk_error(&r, RR);
    assert_kind!(
        *e,
        ErrorKind::LimitExceeded {
            limit: "max_directories",
            ..
        }
    );
    assert_eq!(e.path(), Some("A/B"));

    let limits = Limits {
        max_path_bytes: 100,
        ..Limits::DEFAULT
    };
    let r = run_with("max_path_bytes 100", &base, limits);
    let e = walk_error(&r, RR);
    assert_kind!(
        *e,
        ErrorKind::LimitExceeded {
            limit: "max_path_bytes",
            ..
        }
    );
    assert_eq!(e.path(), Some(format!("E/{}", long_name(0)).as_str()));
    walk_paths(&r, PRIMARY);
}
