//! The adversarial checklist of ISO 9660 readers (hostile-input cases, §5.3 of our readers notes), item 5. SUSP: the `SP`
//! entry, entry lengths, continuation (`CE`) loops, bounds and budgets, `ER`, name and link
//! length caps.
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

/// The records of `E/` whose System Use area has a `CE` (the long names, the symlinks).
fn e_records_with_ce(img: &[u8]) -> Vec<Rec> {
    let e = find_primary(img, "E");
    children(img, &e)
        .into_iter()
        .filter(|r| susp(img, r).iter().any(|s| &s.sig == b"CE"))
        .collect()
}

/// A free run of `n` sectors near the end of `img` (genisoimage pads with 150 zero sectors).
fn free_sectors(img: &[u8], n: u32) -> u32 {
    let first = sectors(img) - 2 - n;
    let (s, e) = (first as usize * SECTOR, (first + n) as usize * SECTOR);
    assert!(
        img[s..e].iter().all(|&b| b == 0),
        "sectors {first}.. are in use"
    );
    first
}

fn ce_bytes(block: u32, offset: u32, len: u32) -> Vec<u8> {
    let mut d = both32(block).to_vec();
    d.extend(both32(offset));
    d.extend(both32(len));
    make_susp(b"CE", &d)
}

// =============================================================================================
// 5. SUSP and Rock Ridge
// =============================================================================================

#[test]
fn susp_sp_missing_or_huge_skip() {
    let base = need!(main_iso);
    let rootdot = dot(&base, &find_primary(&base, ""));
    let sp = entry(&susp(&base, &rootdot), b"SP");
    // No SP: Rock Ridge still found through its entries, with a warning.
    let mut img = base.clone();
    img[sp.offset..sp.offset + 2].copy_from_slice(b"XX");
    run("no SP", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    let rr = image.rock_ridge().expect("Rock Ridge");
    assert!(!rr.has_sp);
    assert!(image.warnings().iter().any(|w| w.message.contains("SP")));
    assert_same_listing("no SP", &img, &base);
    // LEN_SKP 255: every System Use area is skipped; names fall back to ISO 9660 ones.
    let mut img = base.clone();
    img[sp.data() + 2] = 255;
    let r = run("LEN_SKP 255", &img);
    let paths = walk_paths(&r, RR);
    assert!(paths.contains(&"TOP.TXT".to_string()), "{paths:?}");
    assert_eq!(Image::parse(&img).unwrap().rock_ridge().unwrap().skip, 255);
    // SP with a bad check word: not an SP.
    let mut img = base.clone();
    img[sp.data()] = 0;
    run("bad SP check bytes", &img).unwrap();
    assert!(!Image::parse(&img).unwrap().rock_ridge().unwrap().has_sp);
}

#[test]
fn susp_bad_entry_lengths_are_skipped() {
    let base = need!(main_iso);
    let f = find_primary(&base, "A/F.TXT");
    let nm = entry(&susp(&base, &f), b"NM");
    // Length below 4, zero, and past the end of the area: the area ends there, the name
    // falls back to the ISO 9660 one, the content is unaffected.
    for len in [0u8, 2, 3, 250] {
        let mut img = base.clone();
        img[nm.offset + 2] = len;
        let r = run("bad SUSP length", &img);
        let paths = walk_paths(&r, RR);
        assert!(paths.contains(&"A/F.TXT".to_string()), "{paths:?}");
        assert!(!paths.contains(&"A/f.txt".to_string()));
        assert_eq!(contents_of(&img, RR, "A/F.TXT").unwrap(), b"hello\n");
    }
    // An unknown signature is skipped: PX renamed, the name stays, the mode is the default.
    let mut img = base.clone();
    let px = entry(&susp(&base, &f), b"PX");
    img[px.offset..px.offset + 2].copy_from_slice(b"ZZ");
    run("unknown signature", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    let e = image.lookup(RR, "A/f.txt").unwrap();
    assert_eq!(e.mode(), 0o100444);
    // NM with CURRENT or PARENT flags is not a name: fallback.
    for flags in [0x02u8, 0x04] {
        let mut img = base.clone();
        img[nm.data()] = flags;
        let r = run("NM CURRENT/PARENT", &img);
        assert!(walk_paths(&r, RR).contains(&"A/F.TXT".to_string()));
    }
}

#[test]
fn susp_continuation_loops() {
    let base = need!(main_iso);
    let recs = e_records_with_ce(&base);
    let (r0, r1) = (&recs[0], &recs[1]);
    let ce0 = entry(&susp(&base, r0), b"CE");
    let ce1 = entry(&susp(&base, r1), b"CE");
    let (b0, o0, l0) = ce_target(&base, &ce0);
    let (b1, o1, l1) = ce_target(&base, &ce1);
    assert!(l0 >= 28 && l1 >= 28, "{l0} {l1}");
    let x = (b0 * 2048 + o0) as usize;
    let y = (b1 * 2048 + o1) as usize;
    // A continuation area whose CE points at itself.
    let mut img = base.clone();
    write(&mut img, x, &ce_bytes(b0, o0, l0));
    let r = run("CE self loop", &img);
    let e = walk_error(&r, RR);
    assert_kind!(*e, ErrorKind::ContinuationLoop { lba, offset } if *lba == b0 && *offset == o0);
    assert_eq!(e.offset(), Some(x as u64));
    assert_eq!(e.path(), Some("E"));
    // The primary tree parses SUSP too (for ZF), so today it stops the same way; a reader
    // that ignored Rock Ridge there would list it. Either is fine, a hang is not.
    if let Some(e) = &walked(&r, PRIMARY).error {
        assert_kind!(*e, ErrorKind::ContinuationLoop { .. });
    }
    walk_paths(&r, JOLIET);
    // Two areas pointing at each other.
    let mut img = base.clone();
    write(&mut img, x, &ce_bytes(b1, o1, l1));
    write(&mut img, y, &ce_bytes(b0, o0, l0));
    let r = run("CE two-area loop", &img);
    let e = walk_error(&r, RR);
    assert_kind!(*e, ErrorKind::ContinuationLoop { lba, offset } if *lba == b0 && *offset == o0);
    assert_eq!(e.offset(), Some(y as u64));
    // The record's CE pointing at its own System Use area (which holds that CE).
    let mut img = base.clone();
    let su_len = (r0.end() - r0.su) as u32;
    let (blk, off) = ((r0.su / SECTOR) as u32, (r0.su % SECTOR) as u32);
    set_ce(&mut img, &ce0, blk, off, su_len);
    let r = run("CE -> own record", &img);
    assert_kind!(*walk_error(&r, RR), ErrorKind::ContinuationLoop { .. });
}

#[test]
fn susp_continuation_bounds_and_budgets() {
    let base = need!(main_iso);
    let recs = e_records_with_ce(&base);
    let r0 = &recs[0];
    let ce0 = entry(&susp(&base, r0), b"CE");
    let (b0, o0, l0) = ce_target(&base, &ce0);
    // Block past the end of the image.
    for blk in [sectors(&base), 0x7FFF_FFFF, u32::MAX] {
        let mut img = base.clone();
        set_ce(&mut img, &ce0, blk, o0, l0);
        let r = run("CE past EOF", &img);
        let e = walk_error(&r, RR);
        assert_kind!(*e, ErrorKind::OutOfBounds { .. });
        assert_eq!(e.path(), Some("E"));
    }
    // Offset past the block, and offset + length past the block (libcdio #81): read as
    // bytes of the image when inside it (tolerated), OutOfBounds when not.
    for (off, len) in [(2040u32, 100u32), (5000, 28), (u32::MAX, 28)] {
        let mut img = base.clone();
        set_ce(&mut img, &ce0, b0, off, len);
        let _ = run("CE offset/len past the block", &img);
    }
    // A huge length: bounded by max_susp_bytes before anything is read.
    let mut img = base.clone();
    set_ce(&mut img, &ce0, b0, o0, 0xFFFF_FF00);
    let r = run("CE huge length", &img);
    let e = walk_error(&r, RR);
    assert_kind!(
        *e,
        ErrorKind::LimitExceeded {
            limit: "max_susp_bytes",
            ..
        }
    );
    assert_eq!(e.path(), Some("E"));
    // A chain of 40 continuation areas: bounded by max_ce_count (32 by default).
    let mut img = base.clone();
    let f = free_sectors(&base, 1);
    for i in 0..40u32 {
        write(
            &mut img,
            f as usize * SECTOR + 28 * i as usize,
            &ce_bytes(f, 28 * (i + 1), 28),
        );
    }
    set_ce(&mut img, &ce0, f, 0, 28);
    let r = run("CE chain of 40", &img);
    let e = walk_error(&r, RR);
    assert_kind!(
        *e,
        ErrorKind::LimitExceeded {
            limit: "max_ce_count",
            value: 33,
            max: 32
        }
    );
    // max_ce_count 0, with the root's own CE (to its ER) disarmed: the first file CE trips it.
    let mut img = base.clone();
    let rootdot = dot(&base, &find_primary(&base, ""));
    let rce = entry(&susp(&base, &rootdot), b"CE");
    img[rce.offset..rce.offset + 2].copy_from_slice(b"XX");
    let limits = Limits {
        max_ce_count: 0,
        ..Limits::DEFAULT
    };
    let r = run_with("max_ce_count 0", &img, limits);
    let e = walk_error(&r, RR);
    assert_kind!(
        *e,
        ErrorKind::LimitExceeded {
            limit: "max_ce_count",
            value: 1,
            max: 0
        }
    );
    assert_eq!(e.path(), Some("E"));
}

/// The root's `.` record holds `SP`, then a `CE` (genisoimage puts the `ER` there). A budget
/// or loop problem in that one `CE` must not silently turn Rock Ridge off.
#[test]

fn susp_root_continuation_error_keeps_rock_ridge() {
    let base = need!(main_iso);
    let limits = Limits {
        max_ce_count: 0,
        ..Limits::DEFAULT
    };
    let r = run_with("max_ce_count 0 on the root CE", &base, limits);
    let image = Image::parse_with_limits(&base, limits).unwrap();
    // Either Rock Ridge stays (SP was found) and walking reports the limit, or at least the
    // loss is reported.
    if image.rock_ridge().is_none() {
        assert!(
            !image.warnings().is_empty(),
            "Rock Ridge vanished without a warning"
        );
    } else {
        assert_kind!(
            *walk_error(&r, RR),
            ErrorKind::LimitExceeded {
                limit: "max_ce_count",
                ..
            }
        );
    }
    // The same with a CE loop in the root's continuation.
    let rootdot = dot(&base, &find_primary(&base, ""));
    let rce = entry(&susp(&base, &rootdot), b"CE");
    let (b, o, l) = ce_target(&base, &rce);
    let mut img = base.clone();
    write(&mut img, (b * 2048 + o) as usize, &ce_bytes(b, o, l));
    let image = Image::parse(&img).unwrap();
    assert!(
        image.rock_ridge().is_some() || !image.warnings().is_empty(),
        "Rock Ridge vanished without a warning"
    );
}

#[test]
fn susp_er_with_bad_lengths() {
    let base = need!(main_iso);
    let rootdot = dot(&base, &find_primary(&base, ""));
    let rce = entry(&susp(&base, &rootdot), b"CE");
    let (s, e) = ce_area(&base, &rce);
    let er = entry(&susp_area(&base, s, e), b"ER");
    let mut img = base.clone();
    // id, descriptor and source lengths all 255 inside a much shorter entry.
    img[er.data()..er.data() + 3].fill(255);
    run("ER bad lengths", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    assert_eq!(image.rock_ridge().unwrap().version, "unknown");
    assert_same_listing("ER bad lengths", &img, &base);
    // ER length byte pointing past the area: the area ends there.
    let mut img = base.clone();
    img[er.offset + 2] = 255;
    run("ER past the area", &img).unwrap();
    assert_same_listing("ER past the area", &img, &base);
}

#[test]
fn susp_name_and_link_length_caps() {
    let base = need!(main_iso);
    let limits = Limits {
        max_name_bytes: 100,
        ..Limits::DEFAULT
    };
    let r = run_with("max_name_bytes 100", &base, limits);
    let e = walk_error(&r, RR);
    assert_kind!(*e, ErrorKind::LimitExceeded { limit: "max_name_bytes", value, max: 100 } if *value > 100);
    assert_eq!(e.path(), Some("E"));
    // Joliet names are at most 64 characters here.
    walk_paths(&r, JOLIET);

    // NM continued over 17 entries of 245 bytes in a continuation area: over the default
    // 4096-byte cap, whatever the entry count.
    let recs = e_records_with_ce(&base);
    let ce0 = entry(&susp(&base, &recs[0]), b"CE");
    let f = free_sectors(&base, 3);
    let mut area = Vec::new();
    for _ in 0..17 {
        area.extend(make_susp(b"NM", &[&[1u8][..], &[b'n'; 245]].concat()));
    }
    let mut img = base.clone();
    write(&mut img, f as usize * SECTOR, &area);
    set_ce(&mut img, &ce0, f, 0, area.len() as u32);
    let r = run("NM over 4096 bytes", &img);
    let e = walk_error(&r, RR);
    assert_kind!(
        *e,
        ErrorKind::LimitExceeded {
            limit: "max_name_bytes",
            max: 4096,
            ..
        }
    );
    assert_eq!(e.path(), Some("E"));

    let limits = Limits {
        max_link_bytes: 50,
        ..Limits::DEFAULT
    };
    let r = run_with("max_link_bytes 50", &base, limits);
    let e = walk_error(&r, RR);
    assert_kind!(
        *e,
        ErrorKind::LimitExceeded {
            limit: "max_link_bytes",
            ..
        }
    );
    assert_eq!(e.path(), Some("E"));
}
