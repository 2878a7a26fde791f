#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The ISO 9660 writer of `iso_core::write` (feature `write`), read back by every reader
//! here: this crate's (Rock Ridge, Joliet, primary), `isoinfo -R`/`-J`/`-x`, bsdtar, 7-Zip,
//! xorriso and pycdlib, each listing and each extracted byte compared with the source tree.
//!
//! - `fixed_tree_*`: one tree with what matters (files of 0, 1, 2048, 2049 and 3 MiB bytes,
//!   12-level and >255-byte-path directories, long and non-ASCII names, names that clash in
//!   the primary tree, relative, absolute, dangling and long symlinks, hard links, modes
//!   0755/0600/4755/2750), written with `IsoBuilder::from_dir` and read back by each tool.
//! - `roundtrip_*`: the round trips of `roundtrip.rs` (random trees, and the fixed tree) with
//!   the writer as the mastering tool: this test binary runs itself (`mkiso_helper`) as the
//!   "tool", so the same checks apply (paths, kinds, modes, sizes, bytes, link targets,
//!   hard-link groups, Joliet names).
//! - determinism (entries added in other orders, directories created in other orders),
//!   `SOURCE_DATE_EPOCH`, the errors, `write_file`'s temporary file.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use iso_core::write::{IsoBuilder, Meta, Source, WriteError, WriteOptions};
use iso_core::{EntryKind, Image, Namespace};
use isolution_tests::mastering::Tool;
use isolution_tests::roundtrip::{config, round_trip};
use isolution_tests::tool;
use isolution_tests::tree::{content, tree, write_tree, Node};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// The writer as a mastering tool of the round trips: this binary, running `mkiso_helper`.

#[test]
#[ignore = "helper: run by the round trips (this binary as a mastering tool)"]
fn mkiso_helper() {
    let args: Vec<String> = std::env::args().collect();
    let Some(i) = args.iter().position(|a| a == "--") else {
        return;
    };
    let (src, iso) = (&args[i + 1], &args[i + 2]);
    let b = IsoBuilder::from_dir(src, WriteOptions::default()).unwrap();
    b.write_file(iso).unwrap();
}

fn writer_tool() -> &'static Tool {
    static TOOL: OnceLock<Tool> = OnceLock::new();
    TOOL.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        Tool {
            label: "iso_core::write (IsoBuilder::from_dir + write_file)",
            program: Box::leak(exe.to_str().unwrap().to_string().into_boxed_str()),
            args: |src, iso| {
                let mut a: Vec<String> = ["mkiso_helper", "--exact", "--ignored", "--quiet", "--"]
                    .map(String::from)
                    .to_vec();
                a.push(src.to_str().unwrap().into());
                a.push(iso.to_str().unwrap().into());
                a
            },
            joliet_max: Some(103),
            relocates: false,
            bmp_only: false,
            max_link: 4000,
            joliet_path_max: None,
        }
    })
}

proptest! {
    // 32 cases (`ROUNDTRIP_CASES=n` overrides, as in `roundtrip.rs`).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("ROUNDTRIP_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32),
        ..config()
    })]

    /// Random small trees (see `tree.rs`) written by the writer come back from the reader.
    #[test]
    fn roundtrip_random_trees(nodes in tree(writer_tool())) {
        round_trip(writer_tool(), &nodes)?;
    }
}

proptest! {
    // 8 cases (`ROUNDTRIP_CASES=n` overrides).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("ROUNDTRIP_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(8),
        ..config()
    })]

    /// Random trees extracted by bsdtar (Rock Ridge: paths, bytes, modes, link targets).
    #[test]
    fn random_trees_through_bsdtar(nodes in tree(writer_tool())) {
        if !tool("bsdtar") {
            return Ok(());
        }
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        write_tree(&src, &nodes).unwrap();
        let iso = tmp.path().join("t.iso");
        IsoBuilder::from_dir(&src, WriteOptions::default()).unwrap().write_file(&iso).unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        run(Command::new("bsdtar").arg("-xpf").arg(&iso).arg("-C").arg(&out));
        compare_trees("bsdtar -xpf", &scan(&src), &out, true, |p| Some(p.to_string()));
    }
}

#[test]
fn roundtrip_fixed_tree() {
    round_trip(writer_tool(), &fixed_nodes()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The fixed tree.

fn long(prefix: &str, n: usize) -> String {
    let mut s = prefix.to_string();
    while s.len() < n {
        s.push((b'a' + (s.len() % 26) as u8) as char);
    }
    s
}

fn fixed_nodes() -> Vec<Node> {
    let mut v = Vec::new();
    let dir = |p: &str, mode| Node::Dir {
        path: p.into(),
        mode,
    };
    let file = |p: &str, size, mode| Node::File {
        path: p.into(),
        size,
        seed: p.len() as u64 * 7919 + size as u64,
        mode,
    };
    v.push(Node::Bytes {
        path: "manifest.yaml".into(),
        bytes: b"apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\n".to_vec(),
    });
    v.push(file("empty", 0, 0o644));
    v.push(file("one", 1, 0o600));
    v.push(file("block", 2048, 0o644));
    v.push(file("block-plus-one", 2049, 0o755));
    v.push(file("big.bin", 3 << 20, 0o644));
    v.push(file("setuid", 10, 0o4755));
    v.push(file("setgid", 11, 0o2750));
    v.push(dir("nested", 0o755));
    v.push(dir("nested/inner", 0o700));
    v.push(file("nested/inner/file.txt", 100, 0o644));
    // Names that clash in the primary tree.
    v.push(dir("clash", 0o755));
    for n in ["a.b.c", "A.B", "a.b", "A_B.C", "Readme", "README", "readme"] {
        v.push(file(&format!("clash/{n}"), n.len(), 0o644));
    }
    // Long and non-ASCII names.
    v.push(file(&long("n100-", 100), 5, 0o644));
    v.push(file(&long("n150-", 150), 6, 0o644));
    v.push(file(&long("n255-", 255), 7, 0o644));
    v.push(file("café.txt", 8, 0o644));
    v.push(file("日本語のファイル.md", 9, 0o644));
    v.push(file("emoji😀.txt", 12, 0o644));
    // 12 levels, and a path longer than 255 bytes.
    let mut p = String::from("deep");
    v.push(dir(&p, 0o755));
    for i in 1..12 {
        p = format!("{p}/l{i}");
        v.push(dir(&p, 0o755));
    }
    v.push(file(&format!("{p}/leaf.txt"), 30, 0o644));
    let mut p = String::from("longpath");
    v.push(dir(&p, 0o755));
    for i in 0..10 {
        p = format!("{p}/{}", long(&format!("component{i}-"), 40));
        v.push(dir(&p, 0o755));
    }
    v.push(file(&format!("{p}/end.txt"), 40, 0o644));
    // Symlinks.
    let link = |p: &str, t: &str| Node::Symlink {
        path: p.into(),
        target: t.into(),
    };
    v.push(link("rel-link", "manifest.yaml"));
    v.push(link("nested/up-link", "../big.bin"));
    v.push(link("abs-link", "/etc/passwd"));
    v.push(link("dangling", "nowhere/at/all"));
    v.push(link("dir-link", "nested/inner"));
    let mut t = String::new();
    for i in 0..30 {
        t.push_str(&format!("component-{i}/"));
    }
    t.push_str(&long("x", 300));
    v.push(link("long-link", &t));
    // Hard links: three names of one file, two of the big one.
    v.push(file("hard-a", 5000, 0o644));
    v.push(Node::HardLink {
        path: "nested/hard-b".into(),
        to: "hard-a".into(),
    });
    v.push(Node::HardLink {
        path: "clash/hard-c".into(),
        to: "hard-a".into(),
    });
    v.push(Node::HardLink {
        path: "nested/inner/big-again".into(),
        to: "big.bin".into(),
    });
    v
}

// ---------------------------------------------------------------------------------------------
// The source as the file system has it.

#[derive(Debug, Clone)]
struct Src {
    kind: char,
    mode: u32,
    size: u64,
    nlink: u64,
    target: Option<String>,
    sha: Option<String>,
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn scan(root: &Path) -> BTreeMap<String, Src> {
    fn go(dir: &Path, rel: &str, out: &mut BTreeMap<String, Src>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            let ft = md.file_type();
            let kind = if ft.is_dir() {
                'd'
            } else if ft.is_symlink() {
                'l'
            } else {
                'f'
            };
            out.insert(
                path.clone(),
                Src {
                    kind,
                    mode: md.mode() & 0o7777,
                    size: md.len(),
                    nlink: md.nlink(),
                    target: ft.is_symlink().then(|| {
                        std::fs::read_link(e.path())
                            .unwrap()
                            .to_str()
                            .unwrap()
                            .into()
                    }),
                    sha: ft.is_file().then(|| sha(&std::fs::read(e.path()).unwrap())),
                },
            );
            if ft.is_dir() {
                go(&e.path(), &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    go(root, "", &mut out);
    out
}

/// `ls -l` style mode string.
fn mode_string(kind: char, mode: u32) -> String {
    let mut s = String::new();
    s.push(match kind {
        'd' => 'd',
        'l' => 'l',
        _ => '-',
    });
    let bit = |b: u32, c: char| if mode & b != 0 { c } else { '-' };
    let x =
        |b: u32, special: u32, set: char, unset: char| match (mode & b != 0, mode & special != 0) {
            (true, true) => set,
            (false, true) => unset,
            (true, false) => 'x',
            (false, false) => '-',
        };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(x(0o100, 0o4000, 's', 'S'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(x(0o010, 0o2000, 's', 'S'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(x(0o001, 0o1000, 't', 'T'));
    s
}

/// The Joliet path the writer gives a Rock Ridge path, when every component fits in 103
/// UTF-16 units (else `None`: cut names are not compared).
fn joliet_path(p: &str) -> Option<String> {
    let mut out = Vec::new();
    for c in p.split('/') {
        if c.encode_utf16().count() > 103 {
            return None;
        }
        out.push(
            c.chars()
                .map(|ch| match ch {
                    '*' | ':' | ';' | '?' | '\\' => '_',
                    ch if u32::from(ch) < 0x20 || u32::from(ch) > 0xFFFF => '_',
                    ch => ch,
                })
                .collect::<String>(),
        );
    }
    Some(out.join("/"))
}

struct Fixture {
    _tmp: tempfile::TempDir,
    src: PathBuf,
    iso: PathBuf,
    tree: BTreeMap<String, Src>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        write_tree(&src, &fixed_nodes()).unwrap();
        let iso = tmp.path().join("fixed.iso");
        let options = WriteOptions {
            volume_id: "EXAMPLE_SOLUTION_1_0_2".into(),
            publisher: "isolution tests".into(),
            ..WriteOptions::default()
        };
        let n = IsoBuilder::from_dir(&src, options)
            .unwrap()
            .write_file(&iso)
            .unwrap();
        assert_eq!(n, std::fs::metadata(&iso).unwrap().len());
        let tree = scan(&src);
        Fixture {
            _tmp: tmp,
            src,
            iso,
            tree,
        }
    })
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.env("LC_ALL", "C.UTF-8").output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn report(errs: Vec<String>, who: &str) {
    assert!(
        errs.is_empty(),
        "{who}: {} difference(s):\n  {}",
        errs.len(),
        errs.join("\n  ")
    );
}

/// Compares extracted files (bytes, and modes and link targets when `posix`) under `dir`
/// with the source; `map` gives the extracted path of a source path (`None`: not expected).
fn compare_extracted(who: &str, dir: &Path, posix: bool, map: impl Fn(&str) -> Option<String>) {
    compare_trees(who, &fixture().tree, dir, posix, map);
}

fn compare_trees(
    who: &str,
    tree: &BTreeMap<String, Src>,
    dir: &Path,
    posix: bool,
    map: impl Fn(&str) -> Option<String>,
) {
    let got = scan(dir);
    let mut errs = Vec::new();
    let mut expected = BTreeSet::new();
    for (p, s) in tree {
        if !posix && s.kind == 'l' {
            continue;
        }
        let Some(q) = map(p) else { continue };
        expected.insert(q.clone());
        let Some(g) = got.get(&q) else {
            errs.push(format!("{p:?} ({q:?}) not extracted"));
            continue;
        };
        if g.kind != s.kind {
            errs.push(format!("{p:?}: kind {} not {}", g.kind, s.kind));
            continue;
        }
        if s.kind == 'f' && g.sha != s.sha {
            errs.push(format!("{p:?}: extracted bytes differ ({} bytes)", g.size));
        }
        if posix && s.kind != 'l' && g.mode != s.mode {
            errs.push(format!("{p:?}: mode {:o} not {:o}", g.mode, s.mode));
        }
        // `SL` has no trailing slash (`x/` is recorded `x`, `/tmp/` as `/tmp`).
        let want_target = s.target.as_deref().map(|t| match t.trim_end_matches('/') {
            "" => "/",
            t => t,
        });
        if posix && s.kind == 'l' && g.target.as_deref() != want_target {
            errs.push(format!("{p:?}: target {:?} not {:?}", g.target, s.target));
        }
    }
    for q in got.keys() {
        if !expected.contains(q) {
            errs.push(format!("{q:?} extracted, not in the source"));
        }
    }
    report(errs, who);
}

// ---------------------------------------------------------------------------------------------
// Each reader on the fixed tree.

/// The hard-link groups of the fixed tree.
fn hard_link_groups() -> BTreeSet<BTreeSet<String>> {
    [
        vec!["clash/hard-c", "hard-a", "nested/hard-b"],
        vec!["big.bin", "nested/inner/big-again"],
    ]
    .into_iter()
    .map(|g| g.into_iter().map(String::from).collect())
    .collect()
}

#[test]
fn fixed_tree_our_reader() {
    let f = fixture();
    let data = std::fs::read(&f.iso).unwrap();
    let image = Image::parse(&data).unwrap();
    let info = image.primary();
    assert_eq!(info.volume_id.trim_end(), "EXAMPLE_SOLUTION_1_0_2");
    assert!(
        image.warnings().is_empty(),
        "reader warnings: {:?}",
        image.warnings()
    );
    assert_eq!(
        image.namespaces(),
        [Namespace::RockRidge, Namespace::Joliet, Namespace::Primary]
    );
    // MetalK8s's read: the primary tree's `MANIFEST.YAML;1`.
    let m = image.lookup(Namespace::Primary, "MANIFEST.YAML;1").unwrap();
    assert_eq!(
        image.contents(&m).unwrap().to_vec(),
        std::fs::read(f.src.join("manifest.yaml")).unwrap()
    );
    // Rock Ridge: everything, with modes, link counts and hard-link groups.
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    let mut groups: BTreeMap<_, BTreeSet<String>> = BTreeMap::new();
    for item in image.walk(Namespace::RockRidge).unwrap() {
        let item = item.unwrap();
        let e = &item.entry;
        seen.insert(item.path.clone());
        let Some(s) = f.tree.get(&item.path) else {
            errs.push(format!("{:?}: not in the source", item.path));
            continue;
        };
        let kind = match e.kind() {
            EntryKind::Directory => 'd',
            EntryKind::Symlink => 'l',
            _ => 'f',
        };
        if kind != s.kind || e.mode() & 0o7777 != s.mode {
            errs.push(format!(
                "{:?}: {kind} {:o}, source {} {:o}",
                item.path,
                e.mode() & 0o7777,
                s.kind,
                s.mode
            ));
        }
        if kind == 'f' {
            if e.nlink() != Some(s.nlink as u32) {
                errs.push(format!(
                    "{:?}: nlink {:?} not {}",
                    item.path,
                    e.nlink(),
                    s.nlink
                ));
            }
            if Some(sha(&image.contents(e).unwrap().to_vec())) != s.sha {
                errs.push(format!("{:?}: bytes differ", item.path));
            }
            if let Some(id) = e.file_id() {
                groups.entry(id).or_default().insert(item.path.clone());
            }
        }
        if kind == 'l' && e.symlink_target() != s.target.as_deref() {
            errs.push(format!(
                "{:?}: target {:?} not {:?}",
                item.path,
                e.symlink_target(),
                s.target
            ));
        }
    }
    for p in f.tree.keys() {
        if !seen.contains(p) {
            errs.push(format!("{p:?}: missing"));
        }
    }
    let multi: BTreeSet<BTreeSet<String>> = groups.into_values().filter(|g| g.len() > 1).collect();
    let want = hard_link_groups();
    if multi != want {
        errs.push(format!("hard-link groups {multi:?}, want {want:?}"));
    }
    // Joliet: every file whose names fit, same bytes; no symlinks.
    let mut jol = BTreeMap::new();
    for item in image.walk(Namespace::Joliet).unwrap() {
        let item = item.unwrap();
        jol.insert(item.path.clone(), item.entry);
    }
    for (p, s) in &f.tree {
        let Some(j) = joliet_path(p) else { continue };
        match (s.kind, jol.get(&j)) {
            ('l', Some(_)) => errs.push(format!("Joliet {j:?}: a symlink in Joliet")),
            ('l', None) => {}
            (_, None) => errs.push(format!("Joliet {j:?}: missing")),
            ('f', Some(e)) if Some(sha(&image.contents(e).unwrap().to_vec())) != s.sha => {
                errs.push(format!("Joliet {j:?}: bytes differ"))
            }
            _ => {}
        }
    }
    // Primary: the names genisoimage gives the clashing names (checked against genisoimage
    // in `primary_names_match_genisoimage`; the reader drops `;1` and a trailing dot).
    let mut prim = BTreeSet::new();
    for item in image.walk(Namespace::Primary).unwrap() {
        let item = item.unwrap();
        if let Some(rest) = item.path.strip_prefix("CLASH/") {
            prim.insert(rest.to_string());
        }
    }
    let want: BTreeSet<String> = [
        "A.B",
        "A000.B",
        "A_B.C",
        "A_B000.C",
        "HARD_C",
        "README",
        "README000",
        "README001",
    ]
    .map(String::from)
    .into_iter()
    .collect();
    if prim != want {
        errs.push(format!("primary names in CLASH: {prim:?}, want {want:?}"));
    }
    report(errs, "our reader");
}

/// `isoinfo -R -l` (modes, sizes, link counts, targets), `-J -l` (names), `-x` (MetalK8s).
#[test]
fn fixed_tree_isoinfo() {
    if !tool("isoinfo") {
        return;
    }
    let f = fixture();
    let iso = f.iso.to_str().unwrap();
    let parse = |out: &[u8], joliet: bool| {
        let text = String::from_utf8_lossy(out).into_owned();
        let mut m = BTreeMap::new();
        let mut dir = String::new();
        for line in text.lines() {
            if let Some(d) = line.strip_prefix("Directory listing of /") {
                dir = d.trim_end().trim_end_matches('/').to_string();
                continue;
            }
            let Some(close) = line.find("]  ") else {
                continue;
            };
            let mut name = line[close + 3..].trim_end().to_string();
            let mut target = None;
            if let Some((n, t)) = name.split_once(" -> ") {
                target = Some(t.to_string());
                name = n.to_string();
            }
            if joliet {
                name = name.trim_end_matches(";1").to_string();
            }
            if name == "." || name == ".." {
                continue;
            }
            let cols: Vec<&str> = line[..close].split_whitespace().collect();
            let path = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            m.insert(
                path,
                (
                    cols[0].to_string(),
                    cols[1].parse::<u64>().unwrap(),
                    cols[4].parse::<u64>().unwrap(),
                    target,
                ),
            );
        }
        m
    };
    let rr = parse(
        &run(Command::new("isoinfo").args(["-R", "-l", "-i", iso])),
        false,
    );
    let mut errs = Vec::new();
    for (p, s) in &f.tree {
        let Some((mode, nlink, size, target)) = rr.get(p) else {
            errs.push(format!("-R {p:?}: missing"));
            continue;
        };
        // isoinfo shows no setuid, setgid or sticky bit (not for genisoimage's images either).
        let want = mode_string(s.kind, s.mode & 0o777);
        if *mode != want {
            errs.push(format!("-R {p:?}: {mode} not {want}"));
        }
        if s.kind == 'f' && (*size != s.size || *nlink != s.nlink) {
            errs.push(format!(
                "-R {p:?}: size {size} nlink {nlink}, source {} {}",
                s.size, s.nlink
            ));
        }
        if s.kind == 'l' && target != &s.target {
            errs.push(format!("-R {p:?}: target {target:?} not {:?}", s.target));
        }
    }
    if rr.len() != f.tree.len() {
        errs.push(format!("-R: {} entries, source {}", rr.len(), f.tree.len()));
    }
    // Joliet (isoinfo prints UCS-2 names in the C locale's way: ASCII paths only).
    let jol = parse(
        &run(Command::new("isoinfo").args(["-J", "-l", "-i", iso])),
        true,
    );
    for (p, s) in &f.tree {
        if !p.is_ascii() || s.kind == 'l' {
            continue;
        }
        let Some(j) = joliet_path(p) else { continue };
        match jol.get(&j) {
            None => errs.push(format!("-J {j:?}: missing")),
            Some((_, _, size, _)) if s.kind == 'f' && *size != s.size => {
                errs.push(format!("-J {j:?}: size {size} not {}", s.size))
            }
            _ => {}
        }
    }
    // MetalK8s's own read.
    let got = run(Command::new("isoinfo").args(["-i", iso, "-x", "/MANIFEST.YAML;1"]));
    if got != std::fs::read(f.src.join("manifest.yaml")).unwrap() {
        errs.push("-x /MANIFEST.YAML;1: other bytes".into());
    }
    let got = run(Command::new("isoinfo").args(["-i", iso, "-x", "/BIG.BIN;1"]));
    if Some(sha(&got)) != f.tree["big.bin"].sha {
        errs.push("-x /BIG.BIN;1: other bytes".into());
    }
    report(errs, "isoinfo");
}

/// bsdtar lists and extracts the Rock Ridge tree: paths, bytes, modes, link targets.
#[test]
fn fixed_tree_bsdtar() {
    if !tool("bsdtar") {
        return;
    }
    let f = fixture();
    let list = String::from_utf8(run(Command::new("bsdtar").arg("-tf").arg(&f.iso))).unwrap();
    let listed: BTreeSet<String> = list
        .lines()
        .filter(|l| *l != "." && *l != "./")
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .collect();
    let src: BTreeSet<String> = f.tree.keys().cloned().collect();
    assert_eq!(listed, src, "bsdtar -tf lists other paths");
    let out = tempfile::tempdir().unwrap();
    run(Command::new("bsdtar")
        .arg("-xpf")
        .arg(&f.iso)
        .arg("-C")
        .arg(out.path()));
    compare_extracted("bsdtar -xpf", out.path(), true, |p| Some(p.to_string()));
}

/// 7-Zip reads the Joliet tree: names (cut ones left out), bytes.
#[test]
fn fixed_tree_7zz() {
    if !tool("7zz") {
        return;
    }
    let f = fixture();
    let list =
        String::from_utf8(run(Command::new("7zz").arg("l").arg("-slt").arg(&f.iso))).unwrap();
    let paths: BTreeSet<String> = list
        .lines()
        .filter_map(|l| l.strip_prefix("Path = "))
        .map(String::from)
        .collect();
    let mut errs = Vec::new();
    for (p, s) in &f.tree {
        if s.kind == 'l' {
            continue;
        }
        if let Some(j) = joliet_path(p) {
            if !paths.contains(&j) {
                errs.push(format!("7zz l {j:?}: missing"));
            }
        }
    }
    report(errs, "7zz l");
    let out = tempfile::tempdir().unwrap();
    run(Command::new("7zz")
        .arg("x")
        .arg("-y")
        .arg(format!("-o{}", out.path().display()))
        .arg(&f.iso));
    // Names longer than 103 UTF-16 units are extracted under their first 103.
    compare_extracted("7zz x", out.path(), false, |p| {
        let cut: Vec<String> = p
            .split('/')
            .map(|c| String::from_utf16(&c.encode_utf16().take(103).collect::<Vec<u16>>()).unwrap())
            .collect();
        joliet_path(&cut.join("/"))
    });
}

/// xorriso's own listing: modes, link counts, sizes, targets.
#[test]
fn fixed_tree_xorriso() {
    if !tool("xorriso") {
        return;
    }
    let f = fixture();
    let out = run(Command::new("xorriso")
        .args(["-report_about", "SORRY", "-hardlinks", "on", "-indev"])
        .arg(&f.iso)
        .args(["-find", "/", "-exec", "lsdl"]));
    let text = String::from_utf8(out).unwrap();
    let mut got = BTreeMap::new();
    for line in text.lines() {
        let Some(q) = line.find(" '/") else { continue };
        let cols: Vec<&str> = line[..q].split_whitespace().collect();
        let rest = &line[q + 2..];
        let (path, target) = match rest.split_once("' -> '") {
            Some((p, t)) => (p.to_string(), Some(t.trim_end_matches('\'').to_string())),
            None => (rest.trim_end_matches('\'').to_string(), None),
        };
        let path = path.trim_start_matches('/').to_string();
        if path.is_empty() {
            continue;
        }
        got.insert(
            path,
            (
                cols[0].to_string(),
                cols[1].parse::<u64>().unwrap(),
                cols[4].parse::<u64>().unwrap(),
                target,
            ),
        );
    }
    let mut errs = Vec::new();
    for (p, s) in &f.tree {
        let Some((mode, nlink, size, target)) = got.get(p) else {
            errs.push(format!("{p:?}: missing"));
            continue;
        };
        if *mode != mode_string(s.kind, s.mode) {
            errs.push(format!("{p:?}: {mode} not {}", mode_string(s.kind, s.mode)));
        }
        // xorriso's `lsdl` shows a link count of 1 for every file (its own images too):
        // hard links are checked below through their extents.
        let _ = nlink;
        if s.kind == 'f' && *size != s.size {
            errs.push(format!("{p:?}: size {size}, source {}", s.size));
        }
        if s.kind == 'l' && target != &s.target {
            errs.push(format!("{p:?}: target {target:?} not {:?}", s.target));
        }
    }
    if got.len() != f.tree.len() {
        errs.push(format!("{} entries, source {}", got.len(), f.tree.len()));
    }
    // Hard links: the names sharing a start block are the source's inode groups.
    let out = run(Command::new("xorriso")
        .args(["-report_about", "SORRY", "-indev"])
        .arg(&f.iso)
        .args(["-find", "/", "-type", "f", "-exec", "report_lba"]));
    let mut by_lba: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let Some(rest) = line.strip_prefix("File data lba:") else {
            continue;
        };
        let cols: Vec<&str> = rest.splitn(5, ',').map(str::trim).collect();
        let path = cols[4]
            .trim_matches('\'')
            .trim_start_matches('/')
            .to_string();
        if cols[3] != "0" {
            by_lba
                .entry(cols[1].parse().unwrap())
                .or_default()
                .insert(path);
        }
    }
    let groups: BTreeSet<BTreeSet<String>> = by_lba.into_values().filter(|g| g.len() > 1).collect();
    if groups != hard_link_groups() {
        errs.push(format!(
            "shared extents {groups:?}, want {:?}",
            hard_link_groups()
        ));
    }
    report(errs, "xorriso -find / -exec lsdl");
}

const PYCDLIB_SCRIPT: &str = r#"
import hashlib, io, sys, pycdlib
iso = pycdlib.PyCdlib()
iso.open(sys.argv[1])
def digest(**kw):
    b = io.BytesIO()
    iso.get_file_from_iso_fp(b, **kw)
    return hashlib.sha256(b.getvalue()).hexdigest()
out = []
for root, dirs, files in iso.walk(rr_path='/'):
    for d in dirs:
        p = (root.rstrip('/') + '/' + d)
        r = iso.get_record(rr_path=p)
        out.append('rr\t%s\td\t%o\t-' % (p[1:], r.rock_ridge.get_file_mode() & 0o7777))
    for f in files:
        p = (root.rstrip('/') + '/' + f)
        r = iso.get_record(rr_path=p)
        mode = r.rock_ridge.get_file_mode() & 0o7777
        if r.rock_ridge.is_symlink():
            out.append('rr\t%s\tl\t%o\t%s' % (p[1:], mode, r.rock_ridge.symlink_path().decode('utf-8')))
        else:
            out.append('rr\t%s\tf\t%o\t%s' % (p[1:], mode, digest(rr_path=p)))
for root, dirs, files in iso.walk(joliet_path='/'):
    for f in files:
        p = (root.rstrip('/') + '/' + f)
        out.append('j\t%s\tf\t-\t%s' % (p[1:].replace(';1', ''), digest(joliet_path=p)))
iso.close()
sys.stdout.buffer.write(('\n'.join(out) + '\n').encode('utf-8', 'surrogateescape'))
"#;

/// pycdlib: the Rock Ridge tree (modes, targets, bytes) and the Joliet tree (bytes).
#[test]
fn fixed_tree_pycdlib() {
    if !tool("python3") {
        return;
    }
    let probe = Command::new("python3")
        .args(["-c", "import pycdlib"])
        .output()
        .unwrap();
    if !probe.status.success() {
        println!("skipping: pycdlib is not installed");
        return;
    }
    let f = fixture();
    let out = run(Command::new("python3")
        .args(["-c", PYCDLIB_SCRIPT])
        .arg(&f.iso));
    let text = String::from_utf8(out).unwrap();
    let mut rr = BTreeMap::new();
    let mut jol = BTreeMap::new();
    for line in text.lines() {
        let c: Vec<&str> = line.split('\t').collect();
        if c[0] == "rr" {
            rr.insert(
                c[1].to_string(),
                (
                    c[2].chars().next().unwrap(),
                    c[3].to_string(),
                    c[4].to_string(),
                ),
            );
        } else {
            jol.insert(c[1].to_string(), c[4].to_string());
        }
    }
    let mut errs = Vec::new();
    for (p, s) in &f.tree {
        match rr.get(p) {
            None => errs.push(format!("rr {p:?}: missing")),
            Some((k, mode, x)) => {
                if *k != s.kind || *mode != format!("{:o}", s.mode) {
                    errs.push(format!(
                        "rr {p:?}: {k} {mode}, source {} {:o}",
                        s.kind, s.mode
                    ));
                }
                let want = match s.kind {
                    'f' => s.sha.clone().unwrap(),
                    'l' => s.target.clone().unwrap(),
                    _ => "-".into(),
                };
                if *x != want {
                    errs.push(format!("rr {p:?}: {x:?}, source {want:?}"));
                }
            }
        }
        if s.kind == 'f' {
            if let Some(j) = joliet_path(p) {
                if jol.get(&j) != s.sha.as_ref() {
                    errs.push(format!("joliet {j:?}: {:?}", jol.get(&j)));
                }
            }
        }
    }
    if rr.len() != f.tree.len() {
        errs.push(format!("rr: {} entries, source {}", rr.len(), f.tree.len()));
    }
    report(errs, "pycdlib");
}

// ---------------------------------------------------------------------------------------------
// Primary names against genisoimage's.

#[test]
fn primary_names_match_genisoimage() {
    if !tools(&["genisoimage", "isoinfo"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("s");
    std::fs::create_dir(&src).unwrap();
    let names = [
        "a.b.c",
        "A.B",
        "a.b",
        "manifest.yaml",
        "README",
        ".hidden",
        "x.tar.gz",
        "y.ps.gz",
        "with space.txt",
        "semi;colon",
        "q?x",
        "a-b_c#d~e",
        "trail.",
        "two..dots",
        "x.~1~",
        "verylongnamewithmanycharacters1234567890.yaml",
        "verylongnamewithmanycharacters1234567890.yam2",
        "short.verylongextensionishere123",
        "nodotnamethatisverylongindeedmorethan31",
        "nodotnamethatisverylongindeedmorethan32",
        "café.txt",
        "日本語",
        "v1.2.3",
        "UPPER.TXT",
        "plus+equals=pct%",
        "[brackets]{braces}",
        "exclaim!at@dollar$",
    ];
    for n in names {
        std::fs::write(src.join(n), n).unwrap();
    }
    for d in [
        "dir.with.dots",
        "a.b.c.d",
        "Sub-Dir",
        "verylongdirectorynamethatgoesbeyond31chars",
        "verylongdirectorynamethatgoesbeyond31charz",
        "dir.a",
        "dir.b",
    ] {
        std::fs::create_dir(src.join(d)).unwrap();
        std::fs::write(src.join(d).join("file"), d).unwrap();
    }
    let g = tmp.path().join("g.iso");
    let o = tmp.path().join("o.iso");
    run(Command::new("genisoimage")
        .args([
            "-quiet",
            "-R",
            "-J",
            "-joliet-long",
            "-l",
            "-iso-level",
            "3",
            "-o",
        ])
        .arg(&g)
        .arg(&src));
    IsoBuilder::from_dir(&src, WriteOptions::default())
        .unwrap()
        .write_file(&o)
        .unwrap();
    // Name -> content, per image.
    let names_of = |iso: &Path| {
        let data = std::fs::read(iso).unwrap();
        let image = Image::parse(&data).unwrap();
        let mut m = BTreeMap::new();
        for item in image.walk(Namespace::Primary).unwrap() {
            let item = item.unwrap();
            let c = if item.entry.is_dir() {
                "dir".to_string()
            } else {
                String::from_utf8_lossy(&image.contents(&item.entry).unwrap().to_vec()).into_owned()
            };
            m.insert(item.path.clone(), c);
        }
        m
    };
    assert_eq!(names_of(&o), names_of(&g));
    // And as isoinfo shows them.
    let ls = |iso: &Path| run(Command::new("isoinfo").arg("-l").arg("-i").arg(iso));
    let names = |b: Vec<u8>| -> BTreeSet<String> {
        String::from_utf8_lossy(&b)
            .lines()
            .filter_map(|l| l.find("]  ").map(|i| l[i + 3..].trim_end().to_string()))
            .collect()
    };
    assert_eq!(names(ls(&o)), names(ls(&g)));
}

use isolution_tests::tools;

// ---------------------------------------------------------------------------------------------
// Determinism and SOURCE_DATE_EPOCH.

fn in_memory(order: &[usize], sde: Option<i64>) -> Vec<u8> {
    let entries: Vec<(&str, u8)> = vec![
        ("d", 0),
        ("d/e", 0),
        ("d/e/f.txt", 1),
        ("a.b.c", 1),
        ("A.B", 1),
        ("link", 2),
        ("d/hard", 3),
        ("z", 1),
        ("d/big", 4),
    ];
    let mut b = IsoBuilder::new(WriteOptions {
        source_date_epoch: sde,
        ..WriteOptions::default()
    });
    // Parents must come first: add directories in the given order among themselves, then
    // everything else in the given order (hard links after their target).
    let mut dirs: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| entries[i].1 == 0)
        .collect();
    dirs.sort_by_key(|&i| entries[i].0.len());
    for &i in &dirs {
        b.add_dir(entries[i].0, Meta::new(0o755).at(1_600_000_000))
            .unwrap();
    }
    let mut later = Vec::new();
    for &i in order {
        let (p, k) = entries[i];
        let meta = Meta::new(0o644).at(1_600_000_000 + i as i64);
        match k {
            1 => b
                .add_file(p, meta, Source::bytes(p.as_bytes().to_vec()))
                .unwrap(),
            2 => b.add_symlink(p, meta, "d/e/f.txt").unwrap(),
            3 => later.push(p),
            4 => b
                .add_file(
                    p,
                    meta,
                    Source::writer(100_000, |w| w.write_all(&content(5, 100_000))),
                )
                .unwrap(),
            _ => {}
        }
    }
    for p in later {
        b.add_hardlink(p, "z").unwrap();
    }
    let mut out = Vec::new();
    let n = b.write_to(&mut out).unwrap();
    assert_eq!(n, out.len() as u64);
    out
}

#[test]
fn same_bytes_whatever_the_order_entries_are_added() {
    let a = in_memory(&[0, 1, 2, 3, 4, 5, 6, 7, 8], None);
    let b = in_memory(&[8, 7, 6, 5, 4, 3, 2, 1, 0], None);
    let c = in_memory(&[4, 0, 7, 2, 8, 1, 5, 3, 6], None);
    assert_eq!(sha(&a), sha(&b));
    assert_eq!(sha(&a), sha(&c));
    let image = Image::parse(&a).unwrap();
    let e = image.lookup(Namespace::RockRidge, "d/big").unwrap();
    assert_eq!(image.contents(&e).unwrap().to_vec(), content(5, 100_000));
    let e = image.lookup(Namespace::RockRidge, "d/hard").unwrap();
    assert_eq!(image.contents(&e).unwrap().to_vec(), b"z");
    assert_eq!(e.nlink(), Some(2));
}

#[test]
fn same_bytes_whatever_the_directory_order_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..60)
        .map(|i| format!("file-{:02}-{}", (i * 37) % 60, i))
        .collect();
    let mut isos = Vec::new();
    for (k, order) in [false, true].iter().enumerate() {
        let root = tmp.path().join(format!("t{k}"));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        let mut ns = names.clone();
        if *order {
            ns.reverse();
        }
        for n in &ns {
            std::fs::write(root.join(n), n).unwrap();
            std::fs::write(root.join("sub").join(n), n).unwrap();
        }
        let a = if *order { "l2" } else { "l1" };
        let b = if *order { "l1" } else { "l2" };
        std::fs::write(root.join("orig"), "linked").unwrap();
        std::fs::hard_link(root.join("orig"), root.join("sub").join(a)).unwrap();
        std::fs::hard_link(root.join("orig"), root.join("sub").join(b)).unwrap();
        std::os::unix::fs::symlink("orig", root.join("sym")).unwrap();
        let iso = tmp.path().join(format!("t{k}.iso"));
        IsoBuilder::from_dir(
            &root,
            WriteOptions {
                source_date_epoch: Some(1_700_000_000),
                ..WriteOptions::default()
            },
        )
        .unwrap()
        .write_file(&iso)
        .unwrap();
        isos.push(std::fs::read(&iso).unwrap());
    }
    assert_eq!(sha(&isos[0]), sha(&isos[1]));
    // `write_to` (data read and written through the buffer) gives the bytes `write_file`
    // (`copy_file_range`) gives.
    let mut v = Vec::new();
    IsoBuilder::from_dir(
        tmp.path().join("t0"),
        WriteOptions {
            source_date_epoch: Some(1_700_000_000),
            ..WriteOptions::default()
        },
    )
    .unwrap()
    .write_to(&mut v)
    .unwrap();
    assert_eq!(sha(&v), sha(&isos[0]));
}

#[test]
fn source_date_epoch_sets_every_time() {
    let t = 1_234_567_890; // 2009-02-13 23:31:30 UTC
    let img = in_memory(&[0, 1, 2, 3, 4, 5, 6, 7, 8], Some(t));
    let other = in_memory(&[0, 1, 2, 3, 4, 5, 6, 7, 8], None);
    assert_ne!(sha(&img), sha(&other));
    // The volume's creation and modification dates.
    assert_eq!(&img[16 * 2048 + 813..16 * 2048 + 829], b"2009021323313000");
    assert_eq!(&img[16 * 2048 + 830..16 * 2048 + 846], b"2009021323313000");
    let image = Image::parse(&img).unwrap();
    for item in image.walk(Namespace::RockRidge).unwrap() {
        let item = item.unwrap();
        let m = item.entry.modified().expect("a TF modification time");
        assert_eq!(m.unix_seconds(), t, "{}", item.path);
    }
    // And from the environment variable.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("s");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    let env = Command::new(std::env::current_exe().unwrap())
        .args(["sde_env_helper", "--exact", "--ignored", "--quiet", "--"])
        .arg(&src)
        .arg(tmp.path().join("e.iso"))
        .env("SOURCE_DATE_EPOCH", t.to_string())
        .output()
        .unwrap();
    assert!(
        env.status.success(),
        "{}",
        String::from_utf8_lossy(&env.stdout)
    );
    let data = std::fs::read(tmp.path().join("e.iso")).unwrap();
    assert_eq!(&data[16 * 2048 + 813..16 * 2048 + 829], b"2009021323313000");
}

#[test]
#[ignore = "helper: run by source_date_epoch_sets_every_time with SOURCE_DATE_EPOCH set"]
fn sde_env_helper() {
    let args: Vec<String> = std::env::args().collect();
    let Some(i) = args.iter().position(|a| a == "--") else {
        return;
    };
    let sde = iso_core::write::source_date_epoch_from_env().unwrap();
    assert!(sde.is_some());
    IsoBuilder::from_dir(
        &args[i + 1],
        WriteOptions {
            source_date_epoch: sde,
            ..WriteOptions::default()
        },
    )
    .unwrap()
    .write_file(&args[i + 2])
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[test]
fn errors_name_what_and_where() {
    let mut b = IsoBuilder::new(WriteOptions::default());
    let m = Meta::new(0o644);
    b.add_dir("d", Meta::new(0o755)).unwrap();
    b.add_file("d/f", m, Source::bytes(&b"x"[..])).unwrap();
    let e = b.add_file("d/f", m, Source::bytes(&b"y"[..])).unwrap_err();
    assert!(
        matches!(e, WriteError::Duplicate { ref path } if path == "d/f"),
        "{e}"
    );
    let e = b.add_dir("d", Meta::new(0o755)).unwrap_err();
    assert!(matches!(e, WriteError::Duplicate { .. }), "{e}");
    let e = b
        .add_file("nope/f", m, Source::bytes(&b""[..]))
        .unwrap_err();
    assert!(
        matches!(e, WriteError::ParentMissing { ref parent, .. } if parent == "nope"),
        "{e}"
    );
    let e = b.add_file("d/f/g", m, Source::bytes(&b""[..])).unwrap_err();
    assert!(matches!(e, WriteError::ParentNotDirectory { .. }), "{e}");
    for bad in ["a//b", "d/..", "./x", "a\0b"] {
        let e = b.add_file(bad, m, Source::bytes(&b""[..])).unwrap_err();
        assert!(matches!(e, WriteError::InvalidName { .. }), "{bad:?}: {e}");
    }
    let e = b
        .add_file(&"n".repeat(256), m, Source::bytes(&b""[..]))
        .unwrap_err();
    assert!(matches!(e, WriteError::InvalidName { .. }), "{e}");
    let e = b.add_hardlink("h", "d").unwrap_err();
    assert!(matches!(e, WriteError::LinkTarget { .. }), "{e}");
    let e = b.add_symlink("s", m, "").unwrap_err();
    assert!(matches!(e, WriteError::InvalidTarget { .. }), "{e}");
    let e = b.add_symlink("s", m, &"t/".repeat(3000)).unwrap_err();
    assert!(matches!(e, WriteError::InvalidTarget { .. }), "{e}");
    // Options.
    let mut b = IsoBuilder::new(WriteOptions {
        volume_id: "x".repeat(33),
        ..WriteOptions::default()
    });
    b.add_dir("d", Meta::new(0o755)).unwrap();
    let e = b.write_to(Vec::new()).unwrap_err();
    assert!(
        matches!(
            e,
            WriteError::InvalidOption {
                field: "volume_id",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_writer_source_must_write_its_length() {
    for (declared, written) in [(10u64, 9usize), (10, 11), (0, 1)] {
        let mut b = IsoBuilder::new(WriteOptions::default());
        b.add_file("x", Meta::new(0o644), Source::bytes(&b"before"[..]))
            .unwrap();
        b.add_file(
            "y",
            Meta::new(0o644),
            Source::writer(declared, move |w| w.write_all(&vec![7u8; written])),
        )
        .unwrap();
        let e = b.write_to(Vec::new());
        if declared == 0 {
            // Nothing is asked of an empty source.
            assert!(e.is_ok());
            continue;
        }
        let e = e.unwrap_err();
        assert!(
            matches!(e, WriteError::SourceChanged { ref path, expected, .. } if path == "/y" && expected == declared),
            "{declared} {written}: {e}"
        );
    }
}

#[test]
fn a_file_that_changes_size_is_an_error_and_leaves_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src.bin");
    for (first, then) in [(5000usize, 4000usize), (5000, 6000)] {
        std::fs::write(&src, vec![1u8; first]).unwrap();
        let mut b = IsoBuilder::new(WriteOptions::default());
        b.add_file("f", Meta::new(0o644), Source::file(&src).unwrap())
            .unwrap();
        std::fs::write(&src, vec![2u8; then]).unwrap();
        let out = tmp.path().join("out.iso");
        let e = b.write_file(&out).unwrap_err();
        assert!(
            matches!(e, WriteError::SourceChanged { expected: 5000, actual, .. } if actual == then as u64),
            "{e}"
        );
        assert!(!out.exists());
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "temporary files left: {left:?}");
    }
    // A vanished source: an I/O error naming it.
    let mut b = IsoBuilder::new(WriteOptions::default());
    b.add_file("f", Meta::new(0o644), Source::file(&src).unwrap())
        .unwrap();
    std::fs::remove_file(&src).unwrap();
    let e = b.write_to(Vec::new()).unwrap_err();
    assert!(
        matches!(e, WriteError::Io { ref path, .. } if path == &src),
        "{e}"
    );
}

#[test]
fn write_file_replaces_atomically_and_never_follows_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.iso");
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    // The output name is a symlink: it is replaced (rename), the file it named is untouched.
    std::os::unix::fs::symlink(&victim, &out).unwrap();
    let mut b = IsoBuilder::new(WriteOptions::default());
    b.add_file("f", Meta::new(0o644), Source::bytes(&b"data"[..]))
        .unwrap();
    let n = b.write_file(&out).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    let md = std::fs::symlink_metadata(&out).unwrap();
    assert!(md.is_file());
    assert_eq!(md.len(), n);
    assert_eq!(md.permissions().mode() & 0o777 & !0o022, 0o644 & !0o022);
    // Progress reaches the total.
    let mut b = IsoBuilder::new(WriteOptions::default());
    b.add_file("f", Meta::new(0o644), Source::bytes(vec![3u8; 20 << 20]))
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    b.set_progress(move |done, total| s2.lock().unwrap().push((done, total)));
    let n = b.write_to(std::io::sink()).unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert_eq!(seen.last(), Some(&(n, n)));
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
}

// ---------------------------------------------------------------------------------------------
// Files of 4 GiB and more: several extents.

/// Writes into a file, skipping (leaving sparse) the buffers that are all zero.
struct Sparse {
    f: std::fs::File,
    pos: u64,
}

impl std::io::Write for Sparse {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        static ZERO: [u8; 1 << 20] = [0; 1 << 20];
        let zero = b.len() <= ZERO.len() && b == &ZERO[..b.len()];
        if !zero {
            self.f.write_all_at(b, self.pos)?;
        }
        self.pos += b.len() as u64;
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.f.set_len(self.pos)
    }
}

#[test]
fn files_of_4_gib_and_more_are_multi_extent() {
    const SIZE: u64 = (4 << 30) + 4096;
    let tmp = tempfile::tempdir().unwrap();
    let iso = tmp.path().join("big.iso");
    let marker: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8 + 1).collect();
    let m2 = marker.clone();
    let mut b = IsoBuilder::new(WriteOptions::default());
    b.add_file("small", Meta::new(0o644), Source::bytes(&b"before"[..]))
        .unwrap();
    b.add_file(
        "big",
        Meta::new(0o644),
        Source::writer(SIZE, move |w| {
            let zero = vec![0u8; 1 << 20];
            for _ in 0..(4 << 10) {
                w.write_all(&zero)?;
            }
            w.write_all(&m2)
        }),
    )
    .unwrap();
    b.add_file("z-after", Meta::new(0o644), Source::bytes(&b"after"[..]))
        .unwrap();
    let mut sink = Sparse {
        f: std::fs::File::create(&iso).unwrap(),
        pos: 0,
    };
    let n = b.write_to(&mut sink).unwrap();
    std::io::Write::flush(&mut sink).unwrap();
    assert_eq!(n, std::fs::metadata(&iso).unwrap().len());
    let file = iso_core::IsoFile::open(&iso).unwrap();
    let image = file.image().unwrap();
    for ns in [Namespace::RockRidge, Namespace::Joliet] {
        let e = image.lookup(ns, "big").unwrap();
        assert_eq!(e.size(), SIZE, "{ns}");
        assert_eq!(e.extents().len(), 2, "{ns}");
        let c = image.contents(&e).unwrap();
        let last = c.parts().last().unwrap();
        assert_eq!(&last[last.len() - 4096..], &marker[..], "{ns}");
        let e = image.lookup(ns, "z-after").unwrap();
        assert_eq!(image.contents(&e).unwrap().to_vec(), b"after");
    }
    if tool("isoinfo") {
        let out = run(Command::new("isoinfo").args(["-R", "-l", "-i"]).arg(&iso));
        let sizes: Vec<String> = String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| l.trim_end().ends_with(" big"))
            .map(|l| l.split_whitespace().nth(4).unwrap().to_string())
            .collect();
        assert_eq!(
            sizes,
            ["4294965248", "6144"],
            "isoinfo: one record per extent"
        );
    }
    if tool("xorriso") {
        let out = run(Command::new("xorriso")
            .args(["-report_about", "SORRY", "-indev"])
            .arg(&iso)
            .args(["-find", "/big", "-exec", "lsdl"]));
        let line = String::from_utf8(out).unwrap();
        assert!(line.contains(&format!(" {SIZE} ")), "xorriso: {line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Long symlink targets: several `SL` entries, in continuation areas.

#[test]
fn long_symlink_targets_come_back_from_every_reader() {
    let mut b = IsoBuilder::new(WriteOptions::default());
    let mut want = BTreeMap::new();
    for k in 0..48usize {
        let comp = k * 7 % 61 + 1;
        let mut t = if k % 3 == 0 {
            String::from("/")
        } else {
            String::new()
        };
        let mut i = 0;
        while t.len() < 200 + k * 23 {
            if i % 5 == 4 {
                t.push_str("../");
            } else {
                t.push_str(&format!("{}/", long(&format!("c{i}-"), comp + i % 3)));
            }
            i += 1;
        }
        t.push_str("end");
        let name = format!("link-{k:02}");
        b.add_symlink(&name, Meta::new(0o777), &t).unwrap();
        want.insert(name, t);
    }
    let tmp = tempfile::tempdir().unwrap();
    let iso = tmp.path().join("links.iso");
    b.write_file(&iso).unwrap();
    // libisofs refuses Rock Ridge symlink targets over 1,024 bytes (its own images too:
    // "Rock Ridge path too long"), and then reads no tree at all: xorriso gets an image of
    // the shorter ones.
    let short = tmp.path().join("short-links.iso");
    let mut b = IsoBuilder::new(WriteOptions::default());
    for (name, t) in want.iter().filter(|(_, t)| t.len() <= 1024) {
        b.add_symlink(name, Meta::new(0o777), t).unwrap();
    }
    b.write_file(&short).unwrap();
    let data = std::fs::read(&iso).unwrap();
    let image = Image::parse(&data).unwrap();
    for (name, t) in &want {
        let e = image.lookup(Namespace::RockRidge, name).unwrap();
        assert_eq!(e.symlink_target(), Some(t.as_str()), "our reader: {name}");
    }
    if tool("bsdtar") {
        let out = tmp.path().join("x");
        std::fs::create_dir(&out).unwrap();
        run(Command::new("bsdtar")
            .arg("-xf")
            .arg(&iso)
            .arg("-C")
            .arg(&out));
        for (name, t) in &want {
            let got = std::fs::read_link(out.join(name)).unwrap();
            assert_eq!(got.to_str(), Some(t.as_str()), "bsdtar: {name}");
        }
    }
    if tool("xorriso") {
        let out = run(Command::new("xorriso")
            .args(["-report_about", "SORRY", "-indev"])
            .arg(&short)
            .args(["-find", "/", "-type", "l", "-exec", "lsdl"]));
        let text = String::from_utf8(out).unwrap();
        for (name, t) in want.iter().filter(|(_, t)| t.len() <= 1024) {
            assert!(
                text.contains(&format!("'/{name}' -> '{t}'")),
                "xorriso: {name} -> {t}"
            );
        }
    }
}

#[test]
fn devices_fifos_and_sockets_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("s");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("ok"), "x").unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    let e = IsoBuilder::from_dir(&src, WriteOptions::default()).unwrap_err();
    assert!(
        matches!(e, WriteError::Unsupported { ref path, kind: "socket" } if path.ends_with("sock")),
        "{e}"
    );
    // `Source::file` takes regular files only, and never follows a symlink.
    std::os::unix::fs::symlink(src.join("ok"), src.join("lnk")).unwrap();
    let e = Source::file(src.join("lnk")).unwrap_err();
    assert!(
        matches!(
            e,
            WriteError::Unsupported {
                kind: "symlink",
                ..
            }
        ),
        "{e}"
    );
}
