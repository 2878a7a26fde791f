//! `isolution ls -l`, `ls --json` and `extract --xattrs --acls` on images xorriso makes with
//! AAIP (`-for_backup`) from a tree where `setfacl` and `setfattr` set ACLs and extended
//! attributes: `+` after the mode string exactly where `getfacl`/`getfattr` show more than the
//! mode bits, the JSON fields equal to what they show, extraction giving back the source's
//! ACLs and attributes, and a destination that refuses an attribute reported per file with
//! exit status 1 (the file itself extracted).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../../tests/common/aaip_tree.rs"]
mod aaip_tree;
mod common;

use std::path::Path;

use aaip_tree::{big_value, getfacl, getfattr, hex, is_minimal, AaipTree, PATHS, TOOLS};
use common::{run, show, tools};

fn tree() -> Option<AaipTree> {
    if !tools(&TOOLS) {
        return None;
    }
    AaipTree::make(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// True when the source shows more than the mode bits for `path`.
fn extended(src: &Path, path: &str) -> bool {
    if path == "l" {
        return false;
    }
    let (acl, dacl) = getfacl(&src.join(path));
    !is_minimal(&acl) || !dacl.is_empty() || !getfattr(&src.join(path)).is_empty()
}

#[test]
fn ls_long_marks_acls_and_xattrs_with_a_plus() {
    let Some(t) = tree() else { return };
    let iso = t.master("backup.iso", &["-for_backup"]);
    let out = run(&["ls", "-l", s(&iso)]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for path in PATHS {
        let line = text
            .lines()
            .find(|l| {
                let l = l.strip_suffix('/').unwrap_or(l);
                l.ends_with(&format!(" {path}")) || l.contains(&format!(" {path} -> "))
            })
            .unwrap_or_else(|| panic!("{path} not listed:\n{text}"));
        let mode = line.split(' ').next().unwrap();
        let want = extended(&t.src, path);
        assert_eq!(mode.ends_with('+'), want, "{path}: {line}");
        assert_eq!(mode.len(), if want { 11 } else { 10 }, "{path}: {line}");
    }
    assert!(text.contains("-r--r-----+ "), "{text}"); // `ro`: mode 0440 and an ACL
}

#[test]
fn ls_json_has_xattrs_and_acls() {
    let Some(t) = tree() else { return };
    let iso = t.master("backup.iso", &["-for_backup"]);
    let out = run(&["ls", "--json", s(&iso)]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let get = |p: &str| lines.iter().find(|v| v["path"] == p).unwrap().clone();
    for path in PATHS.iter().filter(|p| **p != "l") {
        let v = get(path);
        let (acl, dacl) = getfacl(&t.src.join(path));
        let shown: Vec<String> = v["acl"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        if is_minimal(&acl) {
            assert!(is_minimal(&shown), "{path}: {v}");
        } else {
            assert_eq!(shown, acl, "{path}");
        }
        let dshown: Vec<String> = v["default_acl"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        assert_eq!(dshown, dacl, "{path}");
        let want = getfattr(&t.src.join(path));
        let got: std::collections::BTreeMap<String, String> = v["xattrs"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, x)| {
                        let bytes = match (x.get("text"), x.get("base64")) {
                            (Some(t), None) => t.as_str().unwrap().as_bytes().to_vec(),
                            (None, Some(b)) => common_b64(b.as_str().unwrap()),
                            _ => panic!("{path}: {x}"),
                        };
                        (k.clone(), hex(&bytes))
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, want, "{path}");
        if want.is_empty() {
            assert!(v.get("xattrs").is_none(), "{path}: {v}");
        }
    }
    let f = get("f");
    assert_eq!(f["xattrs"]["user.foo"]["text"], "bar");
    assert_eq!(f["xattrs"]["user.bin"]["base64"], "AAECA/8=");
    assert_eq!(
        get("d/big")["xattrs"]["user.big"]["text"]
            .as_str()
            .unwrap()
            .as_bytes(),
        big_value()
    );
    assert!(get("l").get("acl").is_none());
}

/// Standard base64, decoded (the test's own decoder: no dependency for it).
fn common_b64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("bad base64 {s}"),
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s.as_bytes().iter().filter(|c| **c != b'=') {
        acc = (acc << 6) | u32::from(val(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn extract_restores_what_the_source_had() {
    let Some(t) = tree() else { return };
    let iso = t.master("backup.iso", &["-for_backup"]);
    let dest = t.dir.path().join("out");
    let out = run(&["extract", "-q", "--xattrs", "--acls", s(&iso), s(&dest)]);
    assert!(out.status.success(), "{}", show(&out));
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
    // Only ACLs: no xattrs; only xattrs: no ACLs.
    let dest = t.dir.path().join("acls");
    let out = run(&["extract", "-q", "--acls", s(&iso), s(&dest)]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(getfacl(&dest.join("f")), getfacl(&t.src.join("f")));
    assert!(getfattr(&dest.join("f")).is_empty());
    let dest = t.dir.path().join("xattrs");
    let out = run(&["extract", "-q", "--xattrs", s(&iso), s(&dest)]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(is_minimal(&getfacl(&dest.join("f")).0));
    assert_eq!(getfattr(&dest.join("f")), getfattr(&t.src.join("f")));
}

#[test]
fn refused_attributes_are_reported_per_file_with_exit_1() {
    let Some(t) = tree() else { return };
    let iso = t.master("backup.iso", &["-for_backup"]);
    // Rename `user.foo` (recorded `\x03foo`) to `x.yz`, a namespace no file system takes.
    let mut data = std::fs::read(&iso).unwrap();
    let at = data.windows(4).position(|w| w == b"\x03foo").unwrap();
    data[at..at + 4].copy_from_slice(b"x.yz");
    let patched = t.dir.path().join("patched.iso");
    std::fs::write(&patched, &data).unwrap();
    let dest = t.dir.path().join("out");
    let out = run(&["extract", "-q", "--xattrs", "--acls", s(&patched), s(&dest)]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("isolution: failed f: ") && lines[0].contains("x.yz"),
        "{err}"
    );
    // The file, its other attribute and its ACL are there all the same.
    assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"hello\n");
    assert_eq!(getfacl(&dest.join("f")), getfacl(&t.src.join("f")));
    assert!(getfattr(&dest.join("f")).contains_key("user.bin"));
    // ls shows the renamed attribute.
    let out = run(&["ls", "--json", s(&patched), "f"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"x.yz\""),
        "{}",
        show(&out)
    );
}

#[test]
fn malformed_attributes_are_a_warning_and_exit_1_for_ls() {
    let Some(t) = tree() else { return };
    let iso = t.master("backup.iso", &["-for_backup"]);
    let mut data = std::fs::read(&iso).unwrap();
    let at = data.windows(4).position(|w| w == b"\x03foo").unwrap();
    let al = (0..at)
        .rev()
        .find(|&p| &data[p..p + 2] == b"AL" && data[p + 3] == 1)
        .unwrap();
    data[al + 4] |= 1; // the list never ends
    let patched = t.dir.path().join("patched.iso");
    std::fs::write(&patched, &data).unwrap();
    for args in [&["ls", "-l"][..], &["ls", "--json"][..]] {
        let mut a = args.to_vec();
        a.push(s(&patched));
        let out = run(&a);
        assert_eq!(out.status.code(), Some(1), "{}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("offset {al:#x}, path f: malformed AAIP")),
            "{err}"
        );
        // Everything is still listed.
        assert!(String::from_utf8_lossy(&out.stdout).lines().count() >= PATHS.len());
    }
    // Plain `ls` does not decode attributes.
    let out = run(&["ls", s(&patched)]);
    assert!(out.status.success(), "{}", show(&out));
}
