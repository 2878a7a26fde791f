//! AAIP (`AL` entries) as xorriso writes them with `-for_backup` and with
//! `-acl on -xattr any`, from a tree where `setfacl` and `setfattr` set ACLs and extended
//! attributes: [`DirEntry::attributes`] shows what `getfacl` and `getfattr` show on the source
//! (and what `xorriso -getfacl_r` shows on the image), [`DirEntry::xattr`] finds each value
//! (the root's `isofs.ca` included), a 3000-byte value split over `AL` entries in a
//! continuation area reads back whole, extraction with `xattrs` and `acls` gives back what
//! the source had, and patched copies give named errors at the `AL` entry's offset.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "common/aaip_tree.rs"]
mod aaip_tree;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use aaip_tree::{big_value, getfacl, getfattr, hex, is_minimal, AaipTree, PATHS, TOOLS};
use iso_core::extract::{extract, ExtractOptions};
use iso_core::{AaipError, ErrorKind, Image, Limits, Namespace};
use isolution_tests::tools;

fn tree() -> Option<AaipTree> {
    if !tools(&TOOLS) {
        return None;
    }
    AaipTree::make(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// What the image says of `path`: access and default ACL lines, and user-visible xattrs.
fn shown(image: &Image<'_>, path: &str) -> (Vec<String>, Vec<String>, BTreeMap<String, String>) {
    let e = image.lookup(Namespace::RockRidge, path).unwrap();
    let a = e.attributes().unwrap().unwrap_or_default();
    let acl = a.access_acl.map(|a| a.lines()).unwrap_or_default();
    let dacl = a.default_acl.map(|a| a.lines()).unwrap_or_default();
    let x = a
        .xattrs
        .iter()
        .map(|x| (x.name_lossy().into_owned(), hex(&x.value)))
        .collect();
    (acl, dacl, x)
}

/// Checks every path of the image against getfacl/getfattr on `src`.
fn compare(image: &Image<'_>, src: &Path, what: &str) {
    for path in PATHS {
        let (acl, dacl, x) = shown(image, path);
        if path == "l" {
            assert!(
                acl.is_empty() && dacl.is_empty() && x.is_empty(),
                "{what} {path}"
            );
            continue;
        }
        let (want_acl, want_dacl) = getfacl(&src.join(path));
        if is_minimal(&want_acl) {
            assert!(is_minimal(&acl), "{what} {path}: {acl:?}");
        } else {
            assert_eq!(acl, want_acl, "{what} {path}: access ACL");
        }
        assert_eq!(dacl, want_dacl, "{what} {path}: default ACL");
        assert_eq!(x, getfattr(&src.join(path)), "{what} {path}: xattrs");
    }
}

#[test]
fn for_backup_and_acl_xattr_images_match_getfacl_and_getfattr() {
    let Some(t) = tree() else { return };
    for (name, args) in [
        ("backup.iso", &["-for_backup"][..]),
        ("acl-xattr.iso", &["-acl", "on", "-xattr", "any"][..]),
        ("acl-only.iso", &["-acl", "on"][..]),
        ("xattr-user.iso", &["-xattr", "user"][..]),
    ] {
        let iso = t.master(name, args);
        let data = std::fs::read(&iso).unwrap();
        let image = Image::parse(&data).unwrap();
        match name {
            "acl-only.iso" => {
                // ACLs only: no xattr shows.
                let (acl, _, x) = shown(&image, "f");
                assert_eq!(acl, getfacl(&t.src.join("f")).0);
                assert!(x.is_empty());
            }
            "xattr-user.iso" => {
                // User xattrs only: no ACL shows.
                let (acl, dacl, x) = shown(&image, "d");
                assert!(acl.is_empty() && dacl.is_empty(), "{acl:?} {dacl:?}");
                assert_eq!(x, getfattr(&t.src.join("d")));
            }
            _ => compare(&image, &t.src, name),
        }
        // Joliet and the primary tree do not read AAIP.
        let plain = image.lookup(Namespace::Primary, "F").unwrap();
        assert!(plain.attributes().unwrap().is_none());
    }
}

#[test]
fn values_by_name_root_and_continuation_areas() {
    let Some(t) = tree() else { return };
    let iso = t.master("backup.iso", &["-for_backup"]);
    let data = std::fs::read(&iso).unwrap();
    let image = Image::parse(&data).unwrap();
    let f = image.lookup(Namespace::RockRidge, "f").unwrap();
    assert_eq!(f.xattr(b"user.foo").unwrap().unwrap(), b"bar");
    assert_eq!(
        f.xattr(b"user.bin").unwrap().unwrap(),
        b"\x00\x01\x02\x03\xff"
    );
    assert_eq!(f.xattr(b"user.none").unwrap(), None);
    // -for_backup records each file's index in the MD5 array, and the array on the root.
    assert!(f.xattr(b"isofs.cx").unwrap().is_some());
    let root = image.root(Namespace::RockRidge).unwrap();
    let ca = root
        .xattr(b"isofs.ca")
        .unwrap()
        .expect("isofs.ca on the root");
    assert!(!ca.is_empty());
    assert!(!root.attributes().unwrap().unwrap().is_extended());
    // Not in the other namespaces.
    assert!(image
        .root(Namespace::Primary)
        .unwrap()
        .xattr(b"isofs.ca")
        .unwrap()
        .is_none());
    // A 3000-byte value, split over AL entries in a continuation area.
    let big = image.lookup(Namespace::RockRidge, "d/big").unwrap();
    assert_eq!(big.xattr(b"user.big").unwrap().unwrap(), big_value());
    let many = image.lookup(Namespace::RockRidge, "d/many").unwrap();
    let a = many.attributes().unwrap().unwrap();
    assert_eq!(a.xattrs.len(), 20);
    assert!(a.is_extended());
    let plain = image.lookup(Namespace::RockRidge, "plain").unwrap();
    assert!(!plain.attributes().unwrap().unwrap().is_extended());
    // The walk reads the same.
    let mut n = 0;
    for item in image.walk(Namespace::RockRidge).unwrap() {
        let item = item.unwrap();
        item.entry.attributes().unwrap();
        n += 1;
    }
    assert!(n >= PATHS.len());
    // A budget below the 3000 bytes.
    let limits = Limits {
        max_aaip_bytes: 1000,
        ..Limits::DEFAULT
    };
    let image = Image::parse_with_limits(&data, limits).unwrap();
    let big = image.lookup(Namespace::RockRidge, "d/big").unwrap();
    let e = big.attributes().unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::LimitExceeded {
                limit: "max_aaip_bytes",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.offset().is_some());
}

/// `xorriso -getfacl_r /` on the image: path -> entry lines.
fn xorriso_getfacl(iso: &Path) -> BTreeMap<String, Vec<String>> {
    let out = Command::new("xorriso")
        .args(["-for_backup", "-indev"])
        .arg(iso)
        .args(["-getfacl_r", "/", "--"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cur = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(p) = line.strip_prefix("# file: ") {
            cur = Some(p.to_string());
            map.insert(p.to_string(), Vec::new());
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(c) = &cur {
                map.get_mut(c).unwrap().push(line.to_string());
            }
        }
    }
    map
}

#[test]
fn acls_match_xorriso_getfacl_r() {
    let Some(t) = tree() else { return };
    let iso = t.master("backup.iso", &["-for_backup"]);
    let data = std::fs::read(&iso).unwrap();
    let image = Image::parse(&data).unwrap();
    let theirs = xorriso_getfacl(&iso);
    for path in ["f", "d", "ro"] {
        let (acl, dacl, _) = shown(&image, path);
        let mut ours = acl;
        ours.extend(dacl.iter().map(|l| format!("default:{l}")));
        assert_eq!(Some(&ours), theirs.get(path), "{path}");
    }
}

#[test]
fn extract_restores_xattrs_and_acls() {
    let Some(t) = tree() else { return };
    let iso = t.master("backup.iso", &["-for_backup"]);
    let data = std::fs::read(&iso).unwrap();
    let image = Image::parse(&data).unwrap();
    let dest = t.dir.path().join("out");
    let mut opts = ExtractOptions::new(Namespace::RockRidge);
    opts.xattrs = true;
    opts.acls = true;
    let report = extract(&image, &dest, &opts, &mut |_| {}).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    for path in PATHS.iter().filter(|p| **p != "l") {
        assert_eq!(
            getfacl(&dest.join(path)),
            getfacl(&t.src.join(path)),
            "{path}"
        );
        assert_eq!(
            getfattr(&dest.join(path)),
            getfattr(&t.src.join(path)),
            "{path}"
        );
    }
    // Without the options, nothing beyond the modes.
    let dest = t.dir.path().join("out-plain");
    extract(
        &image,
        &dest,
        &ExtractOptions::new(Namespace::RockRidge),
        &mut |_| {},
    )
    .unwrap();
    assert!(getfattr(&dest.join("f")).is_empty());
    assert!(is_minimal(&getfacl(&dest.join("f")).0));
}

/// The offset of the `AL` entry whose component area holds `needle`.
fn al_offset(data: &[u8], needle: &[u8]) -> usize {
    let at = data
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    (0..at)
        .rev()
        .find(|&p| &data[p..p + 2] == b"AL" && data[p + 3] == 1 && p + data[p + 2] as usize > at)
        .unwrap()
}

#[test]
fn patched_al_entries_give_named_errors_at_their_offset() {
    let Some(t) = tree() else { return };
    let iso = t.master("backup.iso", &["-for_backup"]);
    let data = std::fs::read(&iso).unwrap();
    let al = al_offset(&data, b"\x03foo");
    let check = |patch: &dyn Fn(&mut Vec<u8>), want: AaipError| {
        let mut d = data.clone();
        patch(&mut d);
        let image = Image::parse(&d).unwrap();
        // Listing does not decode: the entry is found, then decoding fails.
        let f = image.lookup(Namespace::RockRidge, "f").unwrap();
        let e = f.attributes().unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::BadAaip(k) if *k == want),
            "{e}"
        );
        assert_eq!(e.offset(), Some(al as u64), "{e}");
        assert!(f.xattr(b"user.foo").is_err());
        assert!(e.is_malformed());
    };
    // The list's only entry says it continues.
    check(&|d| d[al + 4] |= 1, AaipError::UnterminatedList);
    // The first component claims more bytes than the entry has.
    check(&|d| d[al + 6] = 250, AaipError::TruncatedComponent);
    // The name uses a reserved namespace byte.
    check(&|d| d[al + 7] = 0x1f, AaipError::ReservedNamePrefix(0x1f));
}
