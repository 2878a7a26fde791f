//! `Walk::with_helper_thread` (a second core decodes parts of large directories) yields what
//! the walk yields alone: the same entries, paths and errors (kind, offset, path), in the
//! same order, on a genuine image with a large directory and on damaged copies of it, the
//! damage put before, on and after the sector boundaries where the directory is cut.

use iso_core::{Image, Limits, Namespace};
use isolution_tests::images::{build, put_file};

/// `big/` of 3,000 files (some 120 sectors of records in each tree, so several parts), with
/// three small directories among them, and `top.txt`; `-R -J`.
fn big_iso() -> Option<Vec<u8>> {
    build(
        |s| {
            for i in 0..3000 {
                put_file(s, &format!("big/file-with-a-longer-name-{i:05}.txt"), b"x");
            }
            for d in [
                "file-with-a-longer-name-00500.d",
                "file-with-a-longer-name-01700.d",
                "m",
            ] {
                put_file(s, &format!("big/{d}/inner.txt"), b"inner\n");
            }
            put_file(s, "top.txt", b"top\n");
        },
        &["-R", "-J"],
    )
}

/// What a walk yields, one line per item.
fn listing(img: &[u8], ns: Namespace, limits: Limits, helper: bool) -> Vec<String> {
    let image = match Image::parse_with_limits(img, limits) {
        Ok(i) => i,
        Err(e) => return vec![format!("parse error {e}")],
    };
    let mut walk = match image.walk(ns) {
        Ok(w) => w,
        Err(e) => return vec![format!("walk error {e}")],
    };
    let body = |walk: &mut iso_core::Walk<'_>| {
        let mut out = Vec::new();
        while let Some(item) = walk.next_entry() {
            out.push(match item {
                Ok((path, e)) => format!(
                    "{path} {:?} {} {:?} {}",
                    e.kind(),
                    e.size(),
                    e.extents(),
                    e.record_offset()
                ),
                Err(e) => format!("error {:?} {:?} {:?} {e}", e.kind(), e.offset(), e.path()),
            });
        }
        out
    };
    if helper {
        walk.with_helper_thread(body)
    } else {
        body(&mut walk)
    }
}

/// The damage is in the primary tree, which the Rock Ridge one shares; the genuine image is
/// also walked in its Joliet tree.
fn assert_same(name: &str, img: &[u8], limits: Limits) {
    let mut namespaces = vec![Namespace::RockRidge, Namespace::Primary];
    if name == "genuine" {
        namespaces.push(Namespace::Joliet);
    }
    for ns in namespaces {
        let alone = listing(img, ns, limits, false);
        // Two runs: which thread decodes which part varies.
        for _ in 0..2 {
            let helped = listing(img, ns, limits, true);
            if helped != alone {
                let i = alone
                    .iter()
                    .zip(&helped)
                    .position(|(a, b)| a != b)
                    .unwrap_or(alone.len().min(helped.len()));
                panic!(
                    "{name} ({ns}): the walks differ at item {i} of {} / {}:\n  alone:  {:?}\n  helped: {:?}",
                    alone.len(),
                    helped.len(),
                    alone.get(i),
                    helped.get(i)
                );
            }
        }
    }
}

/// The byte range of `big/`'s records in the primary (and Rock Ridge) tree.
fn big_dir(img: &[u8]) -> (usize, usize) {
    let image = Image::parse(img).unwrap();
    let e = image.lookup(Namespace::Primary, "BIG").unwrap();
    let x = e.extents()[0];
    let start = x.lba as usize * 2048;
    (start, start + x.len as usize)
}

/// Offsets of the records of the directory at `start..end`.
fn records(img: &[u8], start: usize, end: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut p = start;
    while p < end {
        let len = img[p] as usize;
        if len == 0 {
            p = (p - start) / 2048 * 2048 + 2048 + start;
            continue;
        }
        out.push(p);
        p += len;
    }
    out
}

#[test]
fn helper_thread_walks_like_one_thread() {
    let Some(base) = big_iso() else {
        eprintln!("skipped: genisoimage is not installed");
        return;
    };
    let (start, end) = big_dir(&base);
    assert!(end - start > 128 * 1024, "big/ should span several parts");
    let full = listing(&base, Namespace::RockRidge, Limits::DEFAULT, false);
    assert!(full.len() > 3000 && !full.iter().any(|l| l.starts_with("error")));
    assert_same("genuine", &base, Limits::DEFAULT);

    let recs = records(&base, start, end);
    // The first and last record of the sectors around each cut (parts are 16 sectors, and
    // a cut moves on by a sector when it would split a multi-extent file), and a few more.
    let mut picks = Vec::new();
    for (i, &r) in recs.iter().enumerate() {
        let sector = (r - start) / 2048;
        let next = recs.get(i + 1).copied().unwrap_or(end);
        let sector_end = sector != (next - start) / 2048 || next == end;
        let sector_start = i == 0 || (recs[i - 1] - start) / 2048 != sector;
        let near_cut = matches!(sector % 16, 15 | 0 | 1);
        if (near_cut && (sector_end || sector_start)) || i % 499 == 0 {
            picks.push(r);
        }
    }
    for &r in &picks {
        // A record length below the minimum.
        let mut img = base.clone();
        img[r] = 20;
        assert_same(&format!("length 20 at {r:#x}"), &img, Limits::DEFAULT);
        // A record that crosses its sector's end.
        let mut img = base.clone();
        img[r] = 255;
        assert_same(&format!("length 255 at {r:#x}"), &img, Limits::DEFAULT);
        // Padding where a record should be: the rest of the sector is skipped.
        let mut img = base.clone();
        img[r] = 0;
        assert_same(&format!("padding at {r:#x}"), &img, Limits::DEFAULT);
        // The multi-extent flag: the cut must not separate the parts of a file.
        let mut img = base.clone();
        img[r + 25] |= 0x80;
        assert_same(&format!("multi-extent at {r:#x}"), &img, Limits::DEFAULT);
        // A bad Rock Ridge entry length (the System Use area is cut short).
        let mut img = base.clone();
        let id_len = img[r + 32] as usize;
        let su = r + 33 + id_len + usize::from(id_len % 2 == 0);
        if su + 3 < r + img[r] as usize {
            img[su + 2] = 250;
            assert_same(&format!("SUSP length at {r:#x}"), &img, Limits::DEFAULT);
        }
    }
    // Every record of the last few sectors a multi-extent part (errors at the very end).
    let mut img = base.clone();
    for &r in recs.iter().rev().take(40) {
        img[r + 25] |= 0x80;
    }
    assert_same("multi-extent tail", &img, Limits::DEFAULT);
    // The directory cut short, and limits hit in the parts the helper decodes.
    let mut img = base.clone();
    let dir = Image::parse(&base)
        .unwrap()
        .lookup(Namespace::Primary, "BIG")
        .unwrap()
        .record_offset() as usize;
    let short = ((end - start) as u32 / 2).to_le_bytes();
    img[dir + 10..dir + 14].copy_from_slice(&short);
    assert_same("short directory", &img, Limits::DEFAULT);
    for max_entries in [10, 1500, 2990] {
        let limits = Limits {
            max_entries,
            ..Limits::DEFAULT
        };
        assert_same(&format!("max_entries {max_entries}"), &base, limits);
    }
    let limits = Limits {
        max_path_bytes: 40,
        ..Limits::DEFAULT
    };
    assert_same("max_path_bytes", &base, limits);
}

/// A walk given up early (a closed pipe) ends the helper's work: no hang, nothing more.
#[test]
fn helper_thread_stops_with_the_walk() {
    let Some(base) = big_iso() else {
        return;
    };
    let image = Image::parse(&base).unwrap();
    let mut walk = image.walk(Namespace::RockRidge).unwrap();
    let seen = walk.with_helper_thread(|walk| {
        let mut n = 0;
        while let Some(item) = walk.next_entry() {
            item.unwrap();
            n += 1;
            if n == 100 {
                break;
            }
        }
        n
    });
    assert_eq!(seen, 100);
    assert!(walk.next_entry().is_none());
}
