//! The adversarial checklist of ISO 9660 readers (hostile-input cases, §5.3 of our readers notes), item 5. Rock Ridge: `CL`
//! loops and bad targets, relocation (`CL`/`PL`/`RE`), the `PX` and `TF` forms.
//!
//! Each case patches bytes of a small genuine image made by genisoimage
//! (`isolution_tests::images`), then checks the reader answers with a typed error (kind,
//! offset, path) or the documented tolerant result. Every case also goes through
//! `exercise` inside `case` (`isolution_tests::exercise`): parse, walk every namespace, look
//! every path up, read every file and the boot catalog, in under 2 s and without a single
//! allocation larger than 16 MiB (the tracking global allocator below checks it): the reader
//! must never allocate by a size the image claims.

use iso_core::{EntryKind, ErrorKind, Image};
use isolution_tests::exercise::*;
use isolution_tests::images::*;
use isolution_tests::patch::*;
use isolution_tests::{assert_kind, need};

#[global_allocator]
static GLOBAL: Tracking = Tracking;

// =============================================================================================
// 5. SUSP and Rock Ridge
// =============================================================================================

/// Replaces the `TF` entry of record `r` with `bytes` (padded with a skipped entry).
fn replace_tf(img: &mut [u8], r: &Rec, bytes: &[u8]) {
    let tf = entry(&susp(img, r), b"TF");
    assert!(bytes.len() == tf.len || bytes.len() + 4 <= tf.len);
    let mut b = bytes.to_vec();
    if b.len() < tf.len {
        b.extend(filler(tf.len - b.len()));
    }
    write(img, tf.offset, &b);
}

#[test]
fn rr_cl_loops_and_bad_targets() {
    let base = need!(main_iso);
    let root = find_primary(&base, "");
    let a = find_primary(&base, "A");
    let b = find_primary(&base, "A/B");
    let f = find_primary(&base, "A/F.TXT");
    let cl = |t: u32| make_susp(b"CL", &both32(t));
    // CL at the root, and at the record's own directory (itself).
    for (rec, target, path) in [(&a, root.extent, "A"), (&b, a.extent, "A/B")] {
        let mut img = base.clone();
        replace_tf(&mut img, rec, &cl(target));
        let r = run("CL loop", &img);
        let e = walk_error(&r, RR);
        assert_kind!(*e, ErrorKind::DirectoryLoop { lba } if *lba == target);
        assert_eq!(e.path(), Some(path));
        // The primary tree ignores CL.
        walk_paths(&r, PRIMARY);
    }
    // CL at a block that is not a directory, and past the end.
    let mut img = base.clone();
    replace_tf(&mut img, &a, &cl(f.extent));
    let e = walk_error(&run("CL at file data", &img), RR).to_string();
    assert!(e.contains("malformed directory record"), "{e}");
    for t in [sectors(&base), u32::MAX] {
        let mut img = base.clone();
        replace_tf(&mut img, &a, &cl(t));
        let r = run("CL past EOF", &img);
        assert_kind!(*walk_error(&r, RR), ErrorKind::OutOfBounds { .. });
    }
    // CL on a regular file's record (a placeholder pointing at a real directory, A/B/C):
    // it becomes that directory; C is then reached twice.
    let c = find_primary(&base, "A/B/C");
    let mut img = base.clone();
    replace_tf(&mut img, &f, &cl(c.extent));
    let r = run("CL on a file", &img);
    assert_kind!(*walk_error(&r, RR), ErrorKind::DirectoryLoop { .. });
}

#[test]
fn rr_relocation_re_and_pl() {
    let base = need!(deep_iso);
    let logical = "d1/d2/d3/d4/d5/d6/d7/d8/d9/f.txt";
    // Genuine relocation: the file is at its logical path, rr_moved/d8 is hidden.
    let r = run("relocation", &base);
    let paths = walk_paths(&r, RR);
    assert!(paths.contains(&logical.to_string()), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.starts_with("rr_moved/d8")),
        "{paths:?}"
    );
    assert_eq!(contents_of(&base, RR, logical).unwrap(), b"deepest\n");
    let image = Image::parse(&base).unwrap();
    assert!(entry_at(&image, RR, "d1/d2/d3/d4/d5/d6/d7/d8")
        .entry
        .is_relocated());

    let placeholder = find_primary(&base, "D1/D2/D3/D4/D5/D6/D7/D8");
    let cl = entry(&susp(&base, &placeholder), b"CL");
    let moved = find_primary(&base, "RR_MOVED/D8");
    // RE without a CL pointing at it: the placeholder is an empty file, the relocated
    // directory stays hidden (its subtree is only in the primary tree). Documented.
    let mut img = base.clone();
    img[cl.offset..cl.offset + 2].copy_from_slice(b"XX");
    let r = run("RE without CL", &img);
    let paths = walk_paths(&r, RR);
    assert!(!paths.contains(&logical.to_string()));
    let image = Image::parse(&img).unwrap();
    assert_eq!(
        entry_at(&image, RR, "d1/d2/d3/d4/d5/d6/d7/d8").entry.kind(),
        EntryKind::File
    );
    assert!(walk_paths(&r, PRIMARY)
        .iter()
        .any(|p| p.ends_with("D9/F.TXT")));
    // CL -> CL: d9 (inside the relocated directory) relocated to an ancestor, d1.
    let d1 = find_primary(&base, "D1");
    let d9 = find_primary(&base, "RR_MOVED/D8/D9");
    let mut img = base.clone();
    replace_tf(&mut img, &d9, &make_susp(b"CL", &both32(d1.extent)));
    let r = run("CL to an ancestor", &img);
    let e = walk_error(&r, RR);
    assert_kind!(*e, ErrorKind::DirectoryLoop { lba } if *lba == d1.extent);
    assert_eq!(e.path(), Some("d1/d2/d3/d4/d5/d6/d7/d8/d9"));
    // CL at the relocated directory from a second record (rr_moved itself, walked after
    // d1/...): the directory is reached twice.
    let rr_moved = find_primary(&base, "RR_MOVED");
    let mut img = base.clone();
    replace_tf(
        &mut img,
        &rr_moved,
        &make_susp(b"CL", &both32(moved.extent)),
    );
    let r = run("two CL to one directory", &img);
    let e = walk_error(&r, RR);
    assert_kind!(*e, ErrorKind::DirectoryLoop { lba } if *lba == moved.extent);
    assert_eq!(e.path(), Some("rr_moved"));
    // CL on d2 at the relocated directory: d2's own subtree is replaced; no loop, no hang.
    let d2 = find_primary(&base, "D1/D2");
    let mut img = base.clone();
    replace_tf(&mut img, &d2, &make_susp(b"CL", &both32(moved.extent)));
    let r = run("CL replaces a subtree", &img);
    assert!(walk_paths(&r, RR).contains(&"d1/d2/d9/f.txt".to_string()));
    // PL in the relocated directory's `..` pointing anywhere: ignored.
    let dd = dir_records(&base, &moved)[1].clone();
    let pl = entry(&susp(&base, &dd), b"PL");
    let mut img = base.clone();
    put_both32(&mut img, pl.data(), u32::MAX);
    run("PL mismatch", &img).unwrap();
    assert_same_listing("PL mismatch", &img, &base);
    // RE on an ordinary directory (main image): hidden from the Rock Ridge tree only.
    let main = need!(main_iso);
    let a = find_primary(&main, "A");
    let mut img = main.clone();
    replace_tf(&mut img, &a, &make_susp(b"RE", &[]));
    let r = run("RE on a plain directory", &img);
    assert!(!walk_paths(&r, RR).iter().any(|p| p.starts_with('A')));
    assert!(walk_paths(&r, PRIMARY).contains(&"A/F.TXT".to_string()));
}

#[test]
fn rr_px_36_vs_44_and_tf_forms() {
    let base = need!(main_iso);
    let top = find_primary(&base, "TOP.TXT");
    let px = entry(&susp(&base, &top), b"PX");
    let tf = entry(&susp(&base, &top), b"TF");
    assert_eq!((px.len, tf.len, tf.offset), (36, 26, px.offset + 36));
    // genisoimage writes the 36-byte RRIP 1.10 form: no serial number.
    let image = Image::parse(&base).unwrap();
    let e = image.lookup(RR, "top.txt").unwrap();
    assert_eq!(e.rock_ridge().unwrap().ino, None);
    // The 44-byte RRIP 1.12 form, over PX + TF.
    let mut d = Vec::new();
    for v in [0o100640u32, 1, 7, 8, 4242] {
        d.extend(both32(v));
    }
    let mut img = base.clone();
    let mut b = make_susp(b"PX", &d);
    b.extend(filler(18));
    write(&mut img, px.offset, &b);
    run("PX 44", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    let e = image.lookup(RR, "top.txt").unwrap();
    let rr = e.rock_ridge().unwrap();
    assert_eq!(
        (rr.mode, rr.uid, rr.gid, rr.ino),
        (Some(0o100640), Some(7), Some(8), Some(4242))
    );
    // PN on a regular file: no device.
    let mut img = base.clone();
    replace_tf(
        &mut img,
        &top,
        &make_susp(b"PN", &[both32(8), both32(1)].concat()),
    );
    run("PN on a file", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    let e = image.lookup(RR, "top.txt").unwrap();
    assert_eq!((e.kind(), e.device()), (EntryKind::File, None));
    // A PX too short for its fields is ignored.
    let mut img = base.clone();
    let mut b = make_susp(b"PX", &d[..16]);
    b.extend(filler(16));
    write(&mut img, px.offset, &b);
    run("PX 20", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    assert_eq!(image.lookup(RR, "top.txt").unwrap().mode(), 0o100444);

    // TF LONG_FORM (17-byte dates).
    let f = find_primary(&base, "A/F.TXT");
    let mut img = base.clone();
    replace_tf(
        &mut img,
        &f,
        &make_susp(b"TF", &[&[0x82u8][..], b"2001020304050600", &[0]].concat()),
    );
    run("TF long form", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    let m = image.lookup(RR, "A/f.txt").unwrap().modified().unwrap();
    assert_eq!(
        (m.year, m.month, m.day, m.hour, m.minute, m.second),
        (2001, 2, 3, 4, 5, 6)
    );
    // LONG_FORM set over short-form data (the Linux 2025 bug): the dates do not fit, so they
    // are absent, never garbage; the record date is used.
    let mut img = base.clone();
    let tfd = entry(&susp(&base, &f), b"TF").data();
    img[tfd] |= 0x80;
    run("TF long flag, short data", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    let e = image.lookup(RR, "A/f.txt").unwrap();
    assert_eq!(e.rock_ridge().unwrap().modified, None);
    assert_eq!(e.modified(), e.recorded_time());
    assert!(e.modified().is_some());
    // A TF long date with month 13, non-digits, everything out of range.
    for date in [
        b"2001130304050600\0",
        b"20x1020304050600\0",
        b"9999999999999999\x7f",
    ] {
        let mut img = base.clone();
        replace_tf(
            &mut img,
            &f,
            &make_susp(b"TF", &[&[0x82u8][..], date].concat()),
        );
        run("TF bad long date", &img).unwrap();
        let image = Image::parse(&img).unwrap();
        let e = image.lookup(RR, "A/f.txt").unwrap();
        assert_eq!(e.rock_ridge().unwrap().modified, None);
        assert_eq!(e.modified(), e.recorded_time());
    }
}
