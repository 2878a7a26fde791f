//! The adversarial checklist of ISO 9660 readers (hostile-input cases, §5.3 of our readers notes), the naming items: 7.
//! Joliet names, 14. timestamps, 15. extraction safety (unsafe names and links).
//!
//! Each case patches bytes of a small genuine image made by genisoimage
//! (`isolution_tests::images`), then checks the reader answers with a typed error (kind,
//! offset, path) or the documented tolerant result. Every case also goes through
//! `exercise` inside `case` (`isolution_tests::exercise`): parse, walk every namespace, look
//! every path up, read every file and the boot catalog, in under 2 s and without a single
//! allocation larger than 16 MiB (the tracking global allocator below checks it): the reader
//! must never allocate by a size the image claims.

use iso_core::Image;
use isolution_tests::exercise::*;
use isolution_tests::images::*;
use isolution_tests::need;
use isolution_tests::patch::*;

#[global_allocator]
static GLOBAL: Tracking = Tracking;

// =============================================================================================
// 7. Joliet
// =============================================================================================

fn joliet_rec(img: &[u8], path: &str) -> Rec {
    find(img, joliet_vd(img).unwrap(), path, true)
}

#[test]
fn joliet_bad_names() {
    let base = need!(main_iso);
    let top = joliet_rec(&base, "top.txt");
    let n = top.id.len();
    assert_eq!(n % 2, 0);
    let names = |img: &[u8]| -> Vec<String> {
        let image = Image::parse(img).unwrap();
        image
            .read_dir(&image.root(JOLIET).unwrap())
            .unwrap()
            .map(|e| e.unwrap().name().to_string())
            .collect()
    };
    // Odd byte length: the lone byte becomes U+FFFD.
    let mut img = base.clone();
    img[top.offset + 32] = (n - 1) as u8;
    run("Joliet odd length", &img).unwrap();
    assert!(names(&img)
        .iter()
        .any(|s| s.starts_with("top.tx") && s.ends_with('\u{FFFD}')));
    // Unpaired surrogates (a high one before `o`, a low one after `t`): U+FFFD, decoding
    // goes on.
    for (at, unit, want) in [
        (33, [0xD8, 0x00], "\u{FFFD}op.txt"),
        (35, [0xDC, 0x00], "t\u{FFFD}p.txt"),
        (33 + n - 2, [0xDB, 0xFF], "top.tx\u{FFFD}"),
    ] {
        let mut img = base.clone();
        write(&mut img, top.offset + at, &unit);
        run("Joliet unpaired surrogate", &img).unwrap();
        assert!(names(&img).contains(&want.to_string()), "{:?}", names(&img));
    }
    // A paired surrogate decodes.
    let mut img = base.clone();
    write(&mut img, top.offset + 33, &[0xD8, 0x3D, 0xDE, 0x00]);
    assert!(names(&img).contains(&"\u{1F600}p.txt".to_string()));
    // `/`, `\` and NUL inside a name: kept in the name (nothing is split or dropped), and
    // refused by the extraction path check.
    for (unit, ch) in [([0u8, b'/'], '/'), ([0, b'\\'], '\\'), ([0, 0], '\0')] {
        let mut img = base.clone();
        write(&mut img, top.offset + 35, &unit);
        run("Joliet separator in a name", &img).unwrap();
        let want = format!("t{ch}p.txt");
        assert!(names(&img).contains(&want), "{:?}", names(&img));
        assert!(iso_core::extract::enclosed([want.as_str()]).is_none());
    }
    // `..` as a whole name.
    let mut img = base.clone();
    img[top.offset + 32] = 4;
    write(&mut img, top.offset + 33, &[0, b'.', 0, b'.']);
    run("Joliet ..", &img).unwrap();
    assert!(names(&img).contains(&"..".to_string()));
}

// =============================================================================================
// 14. Timestamps
// =============================================================================================

#[test]
fn bad_dates() {
    let base = need!(main_iso);
    let mut img = base.clone();
    write(&mut img, PVD + 813, b"2026132104330800\x00"); // month 13
    img[PVD + 830..PVD + 847].fill(0); // all zero bytes
    write(&mut img, PVD + 847, b"20x6112104330800\x00"); // non-digit
    write(&mut img, PVD + 864, b"0000000000000000\x7f"); // all '0', bad offset
    let jvd = joliet_vd(&base).unwrap();
    img[jvd + 813..jvd + 881].fill(0xFF);
    // Directory records: month 13, all zero, all 0xFF, GMT offset out of range.
    let f = find_primary(&base, "A/F.TXT");
    write(&mut img, f.offset + 18, &[126, 13, 1, 0, 0, 0, 0]);
    write(
        &mut img,
        find_primary(&base, "TOP.TXT").offset + 18,
        &[0; 7],
    );
    write(
        &mut img,
        find_primary(&base, "EMPTY").offset + 18,
        &[0xFF; 7],
    );
    write(
        &mut img,
        find_primary(&base, "A").offset + 18,
        &[0, 1, 1, 0, 0, 0, 0x7F],
    );
    // Rock Ridge TF dates out of range.
    let tf = entry(&susp(&base, &f), b"TF");
    img[tf.data() + 1..tf.offset + tf.len].fill(0xFF);
    run("bad dates", &img).unwrap();
    let image = Image::parse(&img).unwrap();
    let p = image.primary();
    assert_eq!(
        (p.created, p.modified, p.expires, p.effective),
        (None, None, None, None)
    );
    let j = image.joliet().unwrap();
    assert_eq!((j.created, j.modified), (None, None));
    let e = image.lookup(RR, "A/f.txt").unwrap();
    assert_eq!(e.recorded_time(), None);
    assert_eq!(e.modified(), None);
    assert_eq!(image.lookup(RR, "top.txt").unwrap().recorded_time(), None);
    assert_eq!(image.lookup(RR, "empty").unwrap().recorded_time(), None);
    let a = image.lookup(PRIMARY, "A").unwrap().recorded_time().unwrap();
    assert_eq!((a.year, a.utc_offset_minutes), (1900, 0));
    let _ = a.unix_seconds();
    assert_same_listing("bad dates", &img, &base);
}

// =============================================================================================
// 15. Extraction safety
// =============================================================================================

#[test]
fn extraction_refuses_unsafe_names_and_links() {
    let base = need!(main_iso);
    let mut img = base.clone();
    // top.txt named `..` through NM; link -> `/passwd` through SL ROOT.
    let top = find_primary(&base, "TOP.TXT");
    let nm = entry(&susp(&base, &top), b"NM");
    let mut b = make_susp(b"NM", b"\x00..");
    b.extend(filler(nm.len - b.len()));
    write(&mut img, nm.offset, &b);
    let link = find_primary(&base, "LINK");
    let sl = entry(&susp(&base, &link), b"SL");
    let b = make_susp(b"SL", b"\x00\x08\x00\x00\x06passwd");
    assert_eq!(b.len(), sl.len);
    write(&mut img, sl.offset, &b);
    // A/f.txt named `x/../../../escaped`.
    let f = find_primary(&base, "A/F.TXT");
    let nm = entry(&susp(&base, &f), b"NM");
    let tf = entry(&susp(&base, &f), b"TF");
    assert_eq!(tf.offset, nm.offset + nm.len + 36);
    let px = entry(&susp(&base, &f), b"PX");
    let mut b = make_susp(b"NM", b"\x00../../escaped");
    let px_bytes = base[px.offset..px.offset + 36].to_vec();
    b.extend(px_bytes);
    b.extend(filler(nm.len + 36 + tf.len - b.len()));
    write(&mut img, nm.offset, &b);
    run("unsafe names", &img).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let image = Image::parse(&img).unwrap();
    let report = case("extract", || {
        iso_core::extract::extract(
            &image,
            &dest,
            &iso_core::extract::ExtractOptions::new(RR),
            &mut |_| {},
        )
        .unwrap()
    });
    let refused: Vec<_> = report
        .skipped
        .iter()
        .filter(|s| s.refused)
        .map(|s| s.path.as_str())
        .collect();
    assert!(refused.contains(&".."), "{refused:?}");
    assert!(refused.contains(&"link"), "{refused:?}");
    assert!(refused.iter().any(|p| p.contains("escaped")), "{refused:?}");
    let outside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("out")]);
    assert!(dest.join("A/B/C/deep.txt").is_file());
}
