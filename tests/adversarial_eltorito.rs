//! The adversarial checklist of ISO 9660 readers (hostile-input cases, §5.3 of our readers notes), item 10. El Torito: the
//! boot catalog pointer, header, checksum and entries, and the boot entry budget.
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
// 10. El Torito
// =============================================================================================

#[test]
fn eltorito_catalog() {
    let base = need!(boot_iso);
    let bvd = vd(&base, 0).unwrap();
    let lba = le32(&base, bvd + 71);
    let cat = lba as usize * SECTOR;
    // The genuine catalog.
    let image = Image::parse(&base).unwrap();
    let c = image.boot_catalog().unwrap().unwrap();
    assert!(c.checksum_ok);
    assert_eq!(c.entries.len(), 1);
    assert!(c.entries[0].bootable);
    assert_eq!(image.boot_image(&c.entries[0]).unwrap(), &boot_bytes()[..]);
    run("El Torito", &base).unwrap();

    let catalog = |img: &[u8], limits| {
        case("boot catalog", || {
            let _ = exercise(img, limits);
            let image = Image::parse_with_limits(img, limits).unwrap();
            image.boot_catalog()
        })
    };
    // Catalog pointer past the end.
    for p in [sectors(&base), 0x8000_0000, u32::MAX] {
        let mut img = base.clone();
        img[bvd + 71..bvd + 75].copy_from_slice(&p.to_le_bytes());
        let e = catalog(&img, Limits::DEFAULT).unwrap_err();
        assert_kind!(e, ErrorKind::OutOfBounds { start, .. } if *start == u64::from(p) * 2048);
    }
    // Bad header id / key.
    for (at, v) in [(0usize, 2u8), (30, 0), (31, 0x55)] {
        let mut img = base.clone();
        img[cat + at] = v;
        let e = catalog(&img, Limits::DEFAULT).unwrap_err();
        assert_kind!(e, ErrorKind::BadBootCatalog(_));
        assert_eq!(e.offset(), Some(cat as u64));
    }
    // Bad checksum: tolerated, reported.
    let mut img = base.clone();
    img[cat + 28] ^= 1;
    let c = catalog(&img, Limits::DEFAULT).unwrap().unwrap();
    assert!(!c.checksum_ok);
    // Initial entry with an invalid boot indicator.
    let mut img = base.clone();
    img[cat + 32] = 0x42;
    assert_kind!(
        catalog(&img, Limits::DEFAULT).unwrap_err(),
        ErrorKind::BadBootCatalog(_)
    );
    // Boot image past the end; sector count 0.
    let mut img = base.clone();
    img[cat + 40..cat + 44].copy_from_slice(&u32::MAX.to_le_bytes());
    img[cat + 38..cat + 40].copy_from_slice(&0u16.to_le_bytes());
    let c = catalog(&img, Limits::DEFAULT).unwrap().unwrap();
    assert_eq!(c.entries[0].image_len(), 512);
    let image = Image::parse(&img).unwrap();
    assert_kind!(
        image.boot_image(&c.entries[0]).unwrap_err(),
        ErrorKind::OutOfBounds { .. }
    );

    // A final section header claiming 65,535 entries: bounded by max_boot_entries (the
    // catalog bytes read are capped, so it ends as LimitExceeded or BadBootCatalog).
    for max in [10u32, 1024] {
        let mut img = base.clone();
        let mut h = vec![0x91u8, 0xEF];
        h.extend(0xFFFFu16.to_le_bytes());
        write(&mut img, cat + 64, &h);
        let limits = Limits {
            max_boot_entries: max,
            ..Limits::DEFAULT
        };
        let e = catalog(&img, limits).unwrap_err();
        assert_kind!(
            e,
            ErrorKind::LimitExceeded {
                limit: "max_boot_entries",
                ..
            } | ErrorKind::BadBootCatalog(_)
        );
    }
    // Headers "more follow" (0x90) repeated to the end of the image, each with 0 entries;
    // and an entry followed by endless extension records.
    let mut img = base.clone();
    for i in 0..2000usize {
        let at = cat + 64 + 32 * i;
        if at + 32 > img.len() {
            break;
        }
        write(&mut img, at, &[0x90, 0, 0, 0]);
    }
    let _ = catalog(&img, Limits::DEFAULT);
    let mut img = base.clone();
    write(&mut img, cat + 64, &[0x91, 0, 1, 0]);
    let mut ent = vec![0u8; 32];
    ent[0] = 0x88;
    ent[12] = 0x20;
    write(&mut img, cat + 96, &ent);
    for i in 0..2000usize {
        let at = cat + 128 + 32 * i;
        if at + 32 > img.len() {
            break;
        }
        write(&mut img, at, &[0x44, 0x20]);
    }
    let c = catalog(&img, Limits::DEFAULT).unwrap().unwrap();
    assert_eq!(c.entries.len(), 2);
    // A "bare" section entry without a header after the initial entry: not read.
    let mut img = base.clone();
    write(&mut img, cat + 64, &ent);
    let c = catalog(&img, Limits::DEFAULT).unwrap().unwrap();
    assert_eq!(c.entries.len(), 1);
}

/// `max_boot_entries` is documented as the number of catalog entries read, and exceeding it
/// as `LimitExceeded`. The catalog window read is `32 * (max + 2)` bytes, which the
/// validation entry, the initial entry and every section header eat into: a catalog within
/// the budget is refused as `BadBootCatalog("section entries run past the catalog")`, and
/// the `LimitExceeded` branch can never be reached.
#[test]

fn eltorito_boot_entry_budget() {
    let base = need!(boot_iso);
    let bvd = vd(&base, 0).unwrap();
    let cat = le32(&base, bvd + 71) as usize * SECTOR;
    let mut img = base.clone();
    // One final section header with two no-emulation entries.
    write(&mut img, cat + 64, &[0x91, 0xEF, 2, 0]);
    let mut ent = [0u8; 32];
    ent[0] = 0x88;
    ent[6] = 4;
    write(&mut img, cat + 96, &ent);
    write(&mut img, cat + 128, &ent);
    let limits = |max| Limits {
        max_boot_entries: max,
        ..Limits::DEFAULT
    };
    let c = Image::parse(&img).unwrap().boot_catalog().unwrap().unwrap();
    assert_eq!(c.entries.len(), 3);
    // Two section entries with a budget of two: read.
    let got = Image::parse_with_limits(&img, limits(2))
        .unwrap()
        .boot_catalog();
    assert_eq!(got.unwrap().unwrap().entries.len(), 3);
    // A budget of one: LimitExceeded naming the budget.
    let e = Image::parse_with_limits(&img, limits(1))
        .unwrap()
        .boot_catalog()
        .unwrap_err();
    assert_kind!(
        e,
        ErrorKind::LimitExceeded {
            limit: "max_boot_entries",
            value: 2,
            max: 1
        }
    );
}
