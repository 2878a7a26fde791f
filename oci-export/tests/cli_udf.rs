//! UDF as a namespace (issue 18): `-n udf` for `ls` (plain, `-l`, `--json`), `cat` and
//! `extract`, `info`'s UDF lines, the default namespace of a stub-ISO image, and the Rust API
//! (`Namespace::Udf`, `Image::udf`, the typed error of the ISO 9660 methods).
//!
//! Images are made here by real writers: `genisoimage -udf -R -J` (a UDF 1.02 bridge: both
//! sides hold the tree) and pycdlib's UDF writer for a stub-ISO image (the ISO 9660 side holds
//! one README, UDF the tree, a symbolic link and a hard link). The UDF listing is compared
//! with the source tree and with 7-Zip's (`7zz l -slt -tudf`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{run, show, tool, tools};

use iso_core::{ErrorKind, Image, Namespace};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", show(out));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A source tree: nested directories, an empty directory, an empty file, a file of several
/// blocks, names with spaces and UTF-8. Returns path -> contents (`None` for a directory).
fn make_tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut want = BTreeMap::new();
    let dirs = ["dir", "dir/sub", "dir/sub/deeper", "empty", "sp ace"];
    for d in dirs {
        std::fs::create_dir_all(root.join(d)).unwrap();
        want.insert(d.to_string(), None);
    }
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("top.txt", b"top\n".to_vec()),
        ("zero", Vec::new()),
        (
            "dir/a.bin",
            (0..70_001u32).map(|i| (i * 31 + 7) as u8).collect(),
        ),
        ("dir/sub/n.txt", b"nested\n".to_vec()),
        ("dir/sub/deeper/d.txt", b"deepest file\n".to_vec()),
        ("sp ace/h\u{e9}llo.txt", b"utf-8 name\n".to_vec()),
    ];
    for (p, d) in files {
        std::fs::write(root.join(p), &d).unwrap();
        want.insert(p.to_string(), Some(d));
    }
    want
}

/// `ls` lines as they should be for `want`: directories end in `/`.
fn ls_lines(want: &BTreeMap<String, Option<Vec<u8>>>) -> Vec<String> {
    let mut v: Vec<String> = want
        .iter()
        .map(|(p, d)| match d {
            None => format!("{p}/"),
            Some(_) => p.clone(),
        })
        .collect();
    v.sort();
    v
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// `7zz l -slt -tudf`: path -> (is folder, size).
fn sevenzip(iso: &Path) -> BTreeMap<String, (bool, u64)> {
    let out = Command::new("7zz")
        .args(["l", "-slt", "-tudf"])
        .arg(iso)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut res = BTreeMap::new();
    let body = text.split("----------").nth(1).unwrap_or("");
    for block in body.split("\n\n") {
        let mut path = None;
        let (mut folder, mut size) = (false, 0);
        for line in block.lines() {
            if let Some(p) = line.strip_prefix("Path = ") {
                path = Some(p.to_string());
            } else if let Some(v) = line.strip_prefix("Size = ") {
                size = v.parse().unwrap_or(0);
            } else if let Some(f) = line.strip_prefix("Folder = ") {
                folder = f == "+";
            }
        }
        if let Some(p) = path {
            res.insert(p, (folder, size));
        }
    }
    res
}

/// `ls -n udf --json`: path -> JSON object.
fn ls_json(iso: &Path, extra: &[&str]) -> BTreeMap<String, serde_json::Value> {
    let mut args = vec!["ls", s(iso), "--json"];
    args.extend_from_slice(extra);
    let text = ok(&run(&args));
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["path"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Every path under `root` (relative, `/`-separated) with its metadata (not followed).
fn dest_tree(root: &Path) -> BTreeMap<String, std::fs::Metadata> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeMap<String, std::fs::Metadata>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                go(root, &p, out);
            }
            out.insert(rel, m);
        }
    }
    let mut out = BTreeMap::new();
    go(root, root, &mut out);
    out
}

#[test]
fn bridge_image_keeps_rock_ridge_and_udf_reads_the_same_tree() {
    if !tools(&["genisoimage"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let want = make_tree(&src);
    let iso = tmp.path().join("bridge.iso");
    let st = Command::new("genisoimage")
        .args(["-quiet", "-udf", "-R", "-J", "-V", "BRIDGE", "-o"])
        .arg(&iso)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());

    // info: UDF shown, the default stays Rock Ridge, UDF last.
    let info = ok(&run(&["info", s(&iso)]));
    assert!(
        info.contains("Namespaces:        rr, joliet, primary, udf (default rr)\n"),
        "{info}"
    );
    assert!(
        info.contains("UDF volume:        revision 1.02 (NSR02), volume id \"BRIDGE\""),
        "{info}"
    );
    assert!(info.contains(", 11 entries\n"), "{info}");
    assert!(info.contains("its tree is read with -n udf"), "{info}");
    assert!(!info.contains("stub"), "{info}");
    let j: serde_json::Value =
        serde_json::from_str(&ok(&run(&["info", s(&iso), "--json"]))).unwrap();
    assert_eq!(j["default_namespace"], "rr");
    assert_eq!(
        j["namespaces"],
        serde_json::json!(["rr", "joliet", "primary", "udf"])
    );
    assert_eq!(j["udf_volume"]["revision"], "1.02");
    assert_eq!(j["udf_volume"]["entries"], 11);
    assert_eq!(j["udf_volume"]["default"], false);

    // ls: the default is the Rock Ridge tree; -n udf lists the source tree.
    let default = sorted_lines(&ok(&run(&["ls", s(&iso)])));
    let rr = sorted_lines(&ok(&run(&["ls", s(&iso), "-n", "rr"])));
    assert_eq!(default, rr);
    let udf = sorted_lines(&ok(&run(&["ls", s(&iso), "-n", "udf"])));
    assert_eq!(udf, ls_lines(&want));
    assert_eq!(udf, rr, "both sides of the bridge hold the same tree");

    // ls of a subdirectory: only below it, paths from the root.
    let sub = sorted_lines(&ok(&run(&["ls", s(&iso), "dir/sub", "-n", "udf"])));
    assert_eq!(
        sub,
        vec!["dir/sub/deeper/", "dir/sub/deeper/d.txt", "dir/sub/n.txt"]
    );
    // ls of a file: that file.
    let one = ok(&run(&["ls", s(&iso), "/dir/a.bin", "-n", "udf"]));
    assert_eq!(one, "dir/a.bin\n");

    // ls -l: sizes and kinds of the source.
    let long = ok(&run(&["ls", s(&iso), "-n", "udf", "-l"]));
    assert_eq!(long.lines().count(), want.len());
    for line in long.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f.len() >= 8, "{line}");
        // The path follows the time (`HH:MM `).
        let name = line
            .match_indices(':')
            .next()
            .map(|(i, _)| &line[i + 4..])
            .unwrap();
        match name.strip_suffix('/') {
            Some(d) => {
                assert!(f[0].starts_with('d'), "{line}");
                assert_eq!(want.get(d), Some(&None), "{line}");
            }
            None => {
                assert!(f[0].starts_with('-'), "{line}");
                let data = want[name].as_ref().unwrap();
                assert_eq!(f[4], data.len().to_string(), "{line}");
            }
        }
    }

    // --json: the same paths, types, sizes; recorded extents cover the size.
    let js = ls_json(&iso, &["-n", "udf"]);
    assert_eq!(js.len(), want.len());
    for (p, d) in &want {
        let v = &js[p];
        match d {
            None => assert_eq!(v["type"], "directory", "{v}"),
            Some(data) => {
                assert_eq!(v["type"], "file", "{v}");
                assert_eq!(v["size"], data.len() as u64, "{v}");
                let ext_len: u64 = v["extents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        let (_, inner) = e.as_object().unwrap().iter().next().unwrap();
                        inner["len"].as_u64().unwrap()
                    })
                    .sum();
                assert_eq!(ext_len, data.len() as u64, "{v}");
            }
        }
        assert!(v["icb"]["lbn"].is_u64(), "{v}");
    }

    // cat: the bytes of each file; a directory is refused (exit 2).
    for (p, d) in &want {
        let out = run(&["cat", s(&iso), "-n", "udf", p]);
        match d {
            Some(data) => {
                assert!(out.status.success(), "{}", show(&out));
                assert!(out.stdout == *data, "cat {p}");
            }
            None => {
                assert_eq!(out.status.code(), Some(2), "{}", show(&out));
                assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
            }
        }
    }
    // cat --all: every file once, in walk order; as many bytes as the files hold.
    let all = run(&["cat", s(&iso), "-n", "udf", "--all"]);
    assert!(all.status.success(), "{}", show(&all));
    let total: usize = want.values().flatten().map(Vec::len).sum();
    assert_eq!(all.stdout.len(), total);

    // extract: the source tree, byte for byte.
    let dest = tmp.path().join("out");
    let out = run(&["extract", s(&iso), s(&dest), "-n", "udf", "-q"]);
    assert!(out.status.success(), "{}", show(&out));
    let got = dest_tree(&dest);
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        want.keys().cloned().collect::<Vec<_>>()
    );
    for (p, d) in &want {
        match d {
            None => assert!(got[p].is_dir(), "{p}"),
            Some(data) => assert!(std::fs::read(dest.join(p)).unwrap() == *data, "{p}"),
        }
    }
    // extract of one subdirectory: only it.
    let dest2 = tmp.path().join("out2");
    let out = run(&["extract", s(&iso), s(&dest2), "dir/sub", "-n", "udf", "-q"]);
    assert!(out.status.success(), "{}", show(&out));
    let got: Vec<String> = dest_tree(&dest2).into_keys().collect();
    assert_eq!(
        got,
        vec![
            "dir",
            "dir/sub",
            "dir/sub/deeper",
            "dir/sub/deeper/d.txt",
            "dir/sub/n.txt"
        ]
    );

    // 7-Zip's view of the UDF side: the same paths and sizes.
    if tool("7zz") {
        let z = sevenzip(&iso);
        let ours: BTreeMap<String, (bool, u64)> = js
            .iter()
            .map(|(p, v)| {
                let dir = v["type"] == "directory";
                (
                    p.clone(),
                    (dir, if dir { 0 } else { v["size"].as_u64().unwrap() }),
                )
            })
            .collect();
        let theirs: BTreeMap<String, (bool, u64)> = z
            .into_iter()
            .map(|(p, (dir, size))| (p, (dir, if dir { 0 } else { size })))
            .collect();
        assert_eq!(ours, theirs);
    }

    // The Rust API: Namespace::Udf, the typed error of the ISO 9660 methods.
    let bytes = std::fs::read(&iso).unwrap();
    let image = Image::parse(&bytes).unwrap();
    assert!(image.has_udf() && !image.udf_is_default());
    assert!(image.has_namespace(Namespace::Udf));
    assert_eq!(image.default_namespace(), Namespace::RockRidge);
    for err in [
        image.walk(Namespace::Udf).err().unwrap(),
        image.lookup(Namespace::Udf, "top.txt").err().unwrap(),
        image.root(Namespace::Udf).err().unwrap(),
    ] {
        assert!(matches!(err.kind(), ErrorKind::UdfNamespace), "{err}");
        assert!(err.to_string().contains("Image::udf()"), "{err}");
    }
    let vol = image.udf().unwrap().unwrap();
    assert_eq!(vol.lookup("dir/sub/n.txt").unwrap().size, 7);
    assert_eq!("udf".parse::<Namespace>().unwrap(), Namespace::Udf);
    assert_eq!(Namespace::Udf.as_str(), "udf");
    assert_eq!(Namespace::Udf.to_string(), "UDF");
}

fn has_pycdlib() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pycdlib"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("skipping: pycdlib is not installed");
    }
    ok
}

/// pycdlib: the ISO 9660 side holds README.TXT only; UDF holds the tree, a hard link (a
/// second identifier of one file entry), a symbolic link inside and one that escapes.
fn stub_image(iso: &Path) {
    let script = r#"
import sys, io, pycdlib
iso = pycdlib.PyCdlib()
iso.new(udf='2.60')
readme = b'This disc is UDF: read it with a UDF reader.\n'
iso.add_fp(io.BytesIO(readme), len(readme), '/README.TXT;1')
iso.add_directory(udf_path='/dir')
iso.add_directory(udf_path='/dir/sub')
for p, d in [('/top.txt', b'top\n'), ('/dir/a.bin', bytes(range(256)) * 40), ('/dir/sub/deep.txt', b'deep\n')]:
    iso.add_fp(io.BytesIO(d), len(d), udf_path=p)
iso.add_hard_link(udf_old_path='/top.txt', udf_new_path='/dir/top-link')
iso.add_symlink(udf_symlink_path='/dir/ln', udf_target='sub/deep.txt')
iso.add_symlink(udf_symlink_path='/dir/bad', udf_target='../../etc/passwd')
iso.write(sys.argv[1])
iso.close()
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(iso)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
}

#[test]
fn stub_iso_side_makes_udf_the_default() {
    if !has_pycdlib() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let iso = tmp.path().join("stub.iso");
    stub_image(&iso);
    let a_bin: Vec<u8> = (0..=255u8).cycle().take(256 * 40).collect();

    let info = ok(&run(&["info", s(&iso)]));
    assert!(
        info.contains(
            "Namespaces:        udf, primary (default udf: the ISO 9660 side is a stub)\n"
        ),
        "{info}"
    );
    assert!(
        info.contains("the ISO 9660 side is a stub: UDF is the default tree"),
        "{info}"
    );
    assert!(info.contains(", 8 entries\n"), "{info}");
    let j: serde_json::Value =
        serde_json::from_str(&ok(&run(&["info", s(&iso), "--json"]))).unwrap();
    assert_eq!(j["default_namespace"], "udf");
    assert_eq!(j["udf_volume"]["default"], true);

    // ls with no -n: the UDF tree; -n primary: the README.
    let want = [
        "dir/",
        "dir/a.bin",
        "dir/bad",
        "dir/ln",
        "dir/sub/",
        "dir/sub/deep.txt",
        "dir/top-link",
        "top.txt",
    ];
    assert_eq!(sorted_lines(&ok(&run(&["ls", s(&iso)]))), want);
    assert_eq!(sorted_lines(&ok(&run(&["ls", s(&iso), "-n", "udf"]))), want);
    assert_eq!(ok(&run(&["ls", s(&iso), "-n", "primary"])), "README.TXT\n");

    // ls -l: link targets from the path components; -json: the same target, the shared ICB.
    let long = ok(&run(&["ls", s(&iso), "-l"]));
    assert!(
        long.lines()
            .any(|l| l.starts_with('l') && l.ends_with(" dir/ln -> sub/deep.txt")),
        "{long}"
    );
    assert!(
        long.lines()
            .any(|l| l.ends_with(" dir/bad -> ../../etc/passwd")),
        "{long}"
    );
    assert!(
        long.lines()
            .any(|l| l.starts_with('-') && l.contains(" 10240 ") && l.ends_with(" dir/a.bin")),
        "{long}"
    );
    let js = ls_json(&iso, &[]);
    assert_eq!(js["dir/ln"]["type"], "symlink");
    assert_eq!(js["dir/ln"]["target"], "sub/deep.txt");
    assert_eq!(js["top.txt"]["icb"], js["dir/top-link"]["icb"]);
    assert_ne!(js["top.txt"]["icb"], js["dir/a.bin"]["icb"]);

    // cat: files; a symbolic link is refused as in the ISO 9660 trees.
    assert_eq!(run(&["cat", s(&iso), "dir/sub/deep.txt"]).stdout, b"deep\n");
    assert!(run(&["cat", s(&iso), "dir/a.bin"]).stdout == a_bin);
    let out = run(&["cat", s(&iso), "dir/ln"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dir/ln: not a regular file"));
    // cat --all: the hard-linked file once.
    let all = run(&["cat", s(&iso), "--all"]);
    assert_eq!(all.stdout.len(), 4 + 10240 + 5, "{}", show(&all));
    // cat -n primary: the README.
    assert!(run(&["cat", s(&iso), "-n", "primary", "README.TXT"])
        .stdout
        .starts_with(b"This disc is UDF"));

    // extract (default namespace: UDF): bytes, the symbolic link, the hard link; the
    // escaping link refused by name (exit 1), the rest extracted.
    let dest = tmp.path().join("out");
    let out = run(&["extract", s(&iso), s(&dest), "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "refused dir/bad: symbolic link target \"../../etc/passwd\" leaves the destination"
        ),
        "{err}"
    );
    let got = dest_tree(&dest);
    assert_eq!(
        got.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "dir",
            "dir/a.bin",
            "dir/ln",
            "dir/sub",
            "dir/sub/deep.txt",
            "dir/top-link",
            "top.txt"
        ]
    );
    assert_eq!(std::fs::read(dest.join("top.txt")).unwrap(), b"top\n");
    assert!(std::fs::read(dest.join("dir/a.bin")).unwrap() == a_bin);
    assert_eq!(
        std::fs::read_link(dest.join("dir/ln")).unwrap(),
        Path::new("sub/deep.txt")
    );
    assert_eq!(std::fs::read(dest.join("dir/ln")).unwrap(), b"deep\n");
    assert_eq!(got["top.txt"].ino(), got["dir/top-link"].ino(), "hard link");
    assert_eq!(got["top.txt"].nlink(), 2);
    // --json report: counts.
    let dest3 = tmp.path().join("out3");
    let out = run(&["extract", s(&iso), s(&dest3), "-q", "--json"]);
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rep["files"], 3, "{rep}");
    assert_eq!(rep["hard_links"], 1, "{rep}");
    assert_eq!(rep["symlinks"], 1, "{rep}");
    assert_eq!(rep["directories"], 2, "{rep}");

    // -n rr and -n joliet are absent: exit 2 naming what is there.
    let out = run(&["ls", s(&iso), "-n", "joliet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(present: udf, primary)"));

    // The Rust API.
    let bytes = std::fs::read(&iso).unwrap();
    let image = Image::parse(&bytes).unwrap();
    assert_eq!(image.default_namespace(), Namespace::Udf);
    assert!(image.udf_is_default());
    assert_eq!(image.namespaces(), vec![Namespace::Udf, Namespace::Primary]);
}

#[test]
fn udf_namespace_on_an_image_without_udf_is_exit_2() {
    if !tools(&["genisoimage"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let iso = tmp.path().join("plain.iso");
    let st = Command::new("genisoimage")
        .args(["-quiet", "-R", "-J", "-o"])
        .arg(&iso)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    for args in [
        vec!["ls", s(&iso), "-n", "udf"],
        vec!["cat", s(&iso), "-n", "udf", "top.txt"],
        vec!["extract", s(&iso), s(tmp.path()), "-n", "udf"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("the image has no UDF tree (present: rr, joliet, primary)"),
            "{err}"
        );
    }
    let info = ok(&run(&["info", s(&iso)]));
    assert!(!info.contains("UDF"), "{info}");
    let bytes = std::fs::read(&iso).unwrap();
    let image = Image::parse(&bytes).unwrap();
    assert!(!image.has_udf() && image.udf().unwrap().is_none());
    assert!(!image.namespaces().contains(&Namespace::Udf));
}
