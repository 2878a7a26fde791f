//! End-to-end tests of the `isolution` binary: the real executable, run on the committed
//! fixtures (`tests/fixtures/*.iso`) and checked against their reference listings (`.tsv`),
//! hard-link groups (`.links`) and source tree (`tree/`). See `tests/fixtures/README.md`.
//!
//! Exit codes (see `src/bin/isolution/main.rs`): 0 success, 1 ran but reported problems
//! (refused entries), 2 bad input or usage, with one `isolution: ...` line on stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_isolution");

/// The committed fixture images (`multi-extent` is a 4 GiB sparse file, not an `.iso`).
const FIXTURES: [&str; 6] = [
    "joliet-only",
    "plain-l1",
    "plain-l3",
    "rr-joliet",
    "rr-only",
    "xorriso-rr",
];

/// The mtime `build.sh` gives every staged entry.
const MTIME: i64 = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Helpers

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn iso(name: &str) -> String {
    path_str(&fixtures_dir().join(format!("{name}.iso"))).to_string()
}

/// Test paths are UTF-8, so arguments can be `&str`.
fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// One line of a `.tsv` listing.
#[derive(Clone, Debug)]
struct Entry {
    path: String,
    /// `f`, `d` or `l`.
    kind: char,
    size: Option<u64>,
    /// The sha256 (`f`) or link target (`l`).
    sha256: Option<String>,
    target: Option<String>,
}

impl Entry {
    /// The path as `isolution ls` prints it: directories end in `/`.
    fn ls_path(&self) -> String {
        if self.kind == 'd' {
            format!("{}/", self.path)
        } else {
            self.path.clone()
        }
    }
}

fn listing(name: &str) -> Vec<Entry> {
    let p = fixtures_dir().join(format!("{name}.tsv"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "{name}.tsv: bad line {l:?}");
            // The fixtures need none of the corpus format's escapes; parsing them is not done.
            assert!(!l.contains('\\'), "{name}.tsv: escapes not handled: {l:?}");
            let kind = f[1].chars().next().unwrap();
            Entry {
                path: f[0].to_string(),
                kind,
                size: (kind == 'f').then(|| f[2].parse().unwrap()),
                sha256: (kind == 'f').then(|| f[3].to_string()),
                target: (kind == 'l').then(|| f[3].to_string()),
            }
        })
        .collect()
}

fn listing_map(name: &str) -> BTreeMap<String, Entry> {
    listing(name)
        .into_iter()
        .map(|e| (e.path.clone(), e))
        .collect()
}

/// Hard-link groups of a fixture (`<name>.links`), each sorted; empty when there is no file.
fn links(name: &str) -> Vec<Vec<String>> {
    let p = fixtures_dir().join(format!("{name}.links"));
    match std::fs::read_to_string(&p) {
        Ok(t) => t
            .lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", p.display()),
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run isolution")
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ({} bytes)\n{}\n--- stderr\n{}",
        out.status.code(),
        out.stdout.len(),
        String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(4000)]),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts a clean success (exit 0, nothing on stderr) and returns stdout.
#[track_caller]
fn ok(out: &Output) -> &[u8] {
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
    assert!(out.stderr.is_empty(), "unexpected stderr: {}", show(out));
    &out.stdout
}

/// Asserts exit 2 with exactly one `isolution: ...` line on stderr, and returns that line.
#[track_caller]
fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{}", show(out));
    let err = String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8");
    assert!(!err.contains("panicked"), "{}", show(out));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one stderr line: {}", show(out));
    assert!(lines[0].starts_with("isolution: "), "{}", show(out));
    lines[0].to_string()
}

fn lines(stdout: &[u8]) -> Vec<String> {
    std::str::from_utf8(stdout)
        .expect("stdout is UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Compares two sets of strings, reporting what is missing and what is extra.
#[track_caller]
fn assert_same_set(what: &str, got: &[String], want: &[String]) {
    let g: BTreeSet<&String> = got.iter().collect();
    let w: BTreeSet<&String> = want.iter().collect();
    assert_eq!(g.len(), got.len(), "{what}: duplicate lines in {got:#?}");
    let missing: Vec<_> = w.difference(&g).collect();
    let extra: Vec<_> = g.difference(&w).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:#?}\nextra {extra:#?}"
    );
}

/// A temporary directory that is made writable again before removal (extraction applies
/// read-only modes, which would stop a non-root user from removing it).
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Scratch(tempfile::tempdir().expect("tempdir"))
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        fn writable(p: &Path) {
            let Ok(m) = std::fs::symlink_metadata(p) else {
                return;
            };
            if m.is_dir() {
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
                if let Ok(rd) = std::fs::read_dir(p) {
                    for e in rd.flatten() {
                        writable(&e.path());
                    }
                }
            }
        }
        writable(self.0.path());
    }
}

/// What `lstat` says about an extracted entry.
#[derive(Debug)]
struct Node {
    kind: char,
    size: u64,
    sha256: Option<String>,
    target: Option<String>,
    ino: u64,
    mode: u32,
    mtime: i64,
}

/// Walks `root` without following symlinks; paths relative to it, joined with `/`.
fn walk_dest(root: &Path) -> BTreeMap<String, Node> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .expect("UTF-8 name")
                .to_string();
            let ft = m.file_type();
            let node = Node {
                kind: if ft.is_dir() {
                    'd'
                } else if ft.is_symlink() {
                    'l'
                } else if ft.is_file() {
                    'f'
                } else {
                    '?'
                },
                size: m.len(),
                sha256: ft
                    .is_file()
                    .then(|| sha256(&std::fs::read(&p).unwrap_or_else(|e| panic!("{rel}: {e}")))),
                target: ft.is_symlink().then(|| {
                    std::fs::read_link(&p)
                        .unwrap()
                        .to_str()
                        .expect("UTF-8 target")
                        .to_string()
                }),
                ino: m.ino(),
                mode: m.mode() & 0o7777,
                mtime: m.mtime(),
            };
            let is_dir = ft.is_dir();
            out.insert(rel, node);
            if is_dir {
                go(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    go(root, root, &mut out);
    out
}

/// Checks an extracted tree against listing entries: same paths, types, sizes, digests and
/// link targets.
fn assert_tree_matches(what: &str, dest: &Path, want: &[&Entry]) {
    let got = walk_dest(dest);
    let got_paths: Vec<String> = got.keys().cloned().collect();
    let want_paths: Vec<String> = want.iter().map(|e| e.path.clone()).collect();
    assert_same_set(what, &got_paths, &want_paths);
    for e in want {
        let n = &got[&e.path];
        assert_eq!(n.kind, e.kind, "{what}: type of {}", e.path);
        match e.kind {
            'f' => {
                assert_eq!(Some(n.size), e.size, "{what}: size of {}", e.path);
                assert_eq!(n.sha256, e.sha256, "{what}: sha256 of {}", e.path);
            }
            'l' => assert_eq!(n.target, e.target, "{what}: target of {}", e.path),
            _ => {}
        }
    }
}

fn has_rock_ridge(name: &str) -> bool {
    matches!(name, "rr-joliet" | "rr-only" | "xorriso-rr")
}

// ---------------------------------------------------------------------------------------------
// ls

#[test]
fn ls_prints_every_path_of_the_listing() {
    for name in FIXTURES {
        let out = run(&["ls", &iso(name)]);
        let got = lines(ok(&out));
        let want: Vec<String> = listing(name).iter().map(Entry::ls_path).collect();
        assert_same_set(&format!("ls {name}"), &got, &want);
    }
}

#[test]
fn ls_subdirectory_lists_only_below_it() {
    let all = listing("rr-only");
    for (arg, dir) in [
        ("dir", "dir"),
        ("/dir/", "dir"),
        ("dir/sub", "dir/sub"),
        // d7 is relocated to rr_moved; listing d6 must follow the CL entry back.
        ("deep/d1/d2/d3/d4/d5/d6", "deep/d1/d2/d3/d4/d5/d6"),
        ("empty-dir", "empty-dir"),
    ] {
        let out = run(&["ls", &iso("rr-only"), arg]);
        let got = lines(ok(&out));
        let prefix = format!("{dir}/");
        let want: Vec<String> = all
            .iter()
            .filter(|e| e.path.starts_with(&prefix))
            .map(Entry::ls_path)
            .collect();
        assert_same_set(&format!("ls rr-only {arg}"), &got, &want);
    }
    // A file lists itself.
    let out = run(&["ls", &iso("rr-only"), "dir/file.txt"]);
    assert_eq!(lines(ok(&out)), ["dir/file.txt"]);
}

#[test]
fn ls_long_shows_modes_sizes_and_link_targets() {
    for name in ["rr-only", "rr-joliet", "xorriso-rr", "plain-l1"] {
        let want = listing_map(name);
        let short = lines(ok(&run(&["ls", &iso(name)])));
        let long = lines(ok(&run(&["ls", "-l", &iso(name)])));
        assert_eq!(short.len(), long.len(), "ls vs ls -l on {name}");
        let mut modes = HashMap::new();
        for (s, l) in short.iter().zip(&long) {
            let e = &want[s.trim_end_matches('/')];
            let mode = &l[..10];
            let type_char = match e.kind {
                'f' => '-',
                k => k,
            };
            assert!(mode.starts_with(type_char), "{name}: {l:?}");
            assert!(
                mode[1..]
                    .chars()
                    .zip("rwxrwxrwx".chars())
                    .all(|(c, p)| c == p || c == '-'),
                "{name}: mode string {l:?}"
            );
            let suffix = match &e.target {
                Some(t) => format!(" {s} -> {t}"),
                None => format!(" {s}"),
            };
            assert!(
                l.ends_with(&suffix),
                "{name}: {l:?} should end with {suffix:?}"
            );
            let fields: Vec<&str> = l.split_whitespace().collect();
            if let Some(size) = e.size {
                assert_eq!(fields[4], size.to_string(), "{name}: size in {l:?}");
            }
            modes.insert(e.path.clone(), mode.to_string());
        }
        if has_rock_ridge(name) {
            for (path, mode) in [
                ("modes/private.txt", "-rw-------"),
                ("modes/run.sh", "-rwxr-xr-x"),
                ("modes/readonly.txt", "-r--r--r--"),
                ("modes/secret", "drwx------"),
                ("modes/secret/inner.txt", "-rw-r--r--"),
                ("hello.txt", "-rw-r--r--"),
                ("dir", "drwxr-xr-x"),
                ("abs", "lrwxrwxrwx"),
            ] {
                assert_eq!(modes[path], mode, "{name}: mode of {path}");
            }
        }
    }
}

#[test]
fn ls_json_matches_the_listing() {
    for name in FIXTURES {
        let want = listing_map(name);
        let out = run(&["ls", "--json", &iso(name)]);
        let mut seen = Vec::new();
        for l in lines(ok(&out)) {
            let v: serde_json::Value =
                serde_json::from_str(&l).unwrap_or_else(|e| panic!("{name}: {e}: {l}"));
            let path = v["path"].as_str().expect("path").to_string();
            let e = want
                .get(&path)
                .unwrap_or_else(|| panic!("{name}: unexpected {path}"));
            let kind = match v["type"].as_str().expect("type") {
                "file" => 'f',
                "directory" => 'd',
                "symlink" => 'l',
                t => panic!("{name}: {path}: type {t}"),
            };
            assert_eq!(kind, e.kind, "{name}: type of {path}");
            if let Some(size) = e.size {
                assert_eq!(v["size"].as_u64(), Some(size), "{name}: size of {path}");
            }
            if e.kind == 'l' {
                assert_eq!(v["target"].as_str(), e.target.as_deref(), "{name}: {path}");
            } else {
                assert!(v["target"].is_null(), "{name}: {path}: {l}");
            }
            seen.push(path);
        }
        let want_paths: Vec<String> = want.keys().cloned().collect();
        assert_same_set(&format!("ls --json {name}"), &seen, &want_paths);
    }
}

#[test]
fn ls_joliet_namespace_gives_joliet_names() {
    let out = run(&["ls", "--namespace", "joliet", &iso("rr-joliet")]);
    let got: HashSet<String> = lines(ok(&out))
        .into_iter()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    // Every Joliet name genisoimage writes from this tree (see joliet-only.tsv) is there.
    for e in listing("joliet-only") {
        assert!(got.contains(&e.path), "missing Joliet name {:?}", e.path);
    }
    let long = listing("rr-joliet")
        .into_iter()
        .map(|e| e.path)
        .find(|p| p.len() > 200)
        .expect("the 200-character name");
    let short: String = long.chars().take("names/".len() + 103).collect();
    assert!(!got.contains(&long), "Rock Ridge name in the Joliet tree");
    assert!(got.contains(&short), "Joliet truncates to 103 characters");
    // Joliet has no symlinks: genisoimage records them as empty files.
    let out = run(&[
        "ls",
        "-n",
        "joliet",
        "--json",
        &iso("rr-joliet"),
        "link-to-file",
    ]);
    let v: serde_json::Value = serde_json::from_slice(ok(&out)).unwrap();
    assert_eq!(v["type"], "file");
}

#[test]
fn ls_absent_namespace_is_an_error() {
    let out = run(&["ls", "--namespace", "joliet", &iso("rr-only")]);
    let err = fails(&out);
    assert!(err.contains("Joliet") || err.contains("joliet"), "{err}");
    assert!(out.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------
// cat

#[test]
fn cat_matches_the_digests() {
    for name in FIXTURES {
        let files: Vec<Entry> = listing(name)
            .into_iter()
            .filter(|e| e.kind == 'f')
            .collect();
        // All files in one run, in order: the output is their concatenation.
        let iso = iso(name);
        let mut args = vec!["cat", &iso];
        args.extend(files.iter().map(|e| e.path.as_str()));
        let out = run(&args);
        let bytes = ok(&out);
        let total: u64 = files.iter().map(|e| e.size.unwrap()).sum();
        assert_eq!(bytes.len() as u64, total, "cat {name} (all paths)");
        let mut at = 0usize;
        for e in &files {
            let n = e.size.unwrap() as usize;
            assert_eq!(
                Some(sha256(&bytes[at..at + n])),
                e.sha256,
                "cat {name} {}",
                e.path
            );
            at += n;
        }
    }
    // And one at a time, for a few (a multi-block file, unicode and long names).
    let want = listing_map("rr-only");
    for path in [
        "data/seventy-k.bin",
        "names/🎉 party.txt",
        "names/héllo wörld.txt",
        "/deep/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/leaf.txt",
        "empty.txt",
    ] {
        let out = run(&["cat", &iso("rr-only"), path]);
        let e = &want[path.trim_start_matches('/')];
        assert_eq!(Some(sha256(ok(&out))), e.sha256, "cat rr-only {path}");
    }
}

#[test]
fn cat_all_writes_each_distinct_file_once() {
    for name in FIXTURES {
        let want = listing_map(name);
        // A hard link after the first of its group is not written again.
        let walk_order = lines(ok(&run(&["ls", &iso(name)])));
        let mut later = HashSet::new();
        for group in links(name) {
            let mut members: Vec<&String> =
                walk_order.iter().filter(|p| group.contains(p)).collect();
            assert_eq!(members.len(), group.len(), "{name}: {group:?}");
            members.remove(0);
            later.extend(members.into_iter().cloned());
        }
        let files: Vec<&Entry> = walk_order
            .iter()
            .filter_map(|p| want.get(p.as_str()))
            .filter(|e| e.kind == 'f' && !later.contains(&e.path))
            .collect();
        let out = run(&["cat", "--all", &iso(name)]);
        let bytes = ok(&out);
        let distinct: u64 = files.iter().map(|e| e.size.unwrap()).sum();
        assert_eq!(bytes.len() as u64, distinct, "cat --all {name}");
        let mut at = 0usize;
        for e in files {
            let n = e.size.unwrap() as usize;
            assert_eq!(
                Some(sha256(&bytes[at..at + n])),
                e.sha256,
                "cat --all {name}: {} at byte {at}",
                e.path
            );
            at += n;
        }
    }
}

#[test]
fn cat_boot_writes_the_boot_image() {
    let img = std::fs::read(fixtures_dir().join("tree/boot/boot.img")).unwrap();
    assert_eq!(img.len(), 2048);
    for name in ["rr-joliet", "xorriso-rr"] {
        let out = run(&["cat", "--boot", "0", &iso(name)]);
        assert_eq!(ok(&out), &img[..2048], "cat --boot 0 {name}");
    }
    let err = fails(&run(&["cat", "--boot", "1", &iso("rr-joliet")]));
    assert!(err.contains("boot entry 1"), "{err}");
    fails(&run(&["cat", "--boot", "0", &iso("rr-only")]));
}

#[test]
fn cat_of_a_directory_is_an_error() {
    let err = fails(&run(&["cat", &iso("rr-only"), "dir"]));
    assert!(err.contains("dir"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// extract

/// Extracts `name` whole into a new directory and checks it against the listing, except the
/// absolute symlink `abs`, which must be refused. Returns the directory.
fn extract_and_check(name: &str) -> Scratch {
    let tmp = Scratch::new();
    let dest = tmp.path().join("out");
    let out = run(&["extract", &iso(name), path_str(&dest)]);
    check_extraction(name, &dest, &out);
    tmp
}

fn check_extraction(name: &str, dest: &Path, out: &Output) {
    let all = listing(name);
    let has_abs = all.iter().any(|e| e.path == "abs");
    if has_abs {
        // Refused: exit 1, one message naming it, nothing created.
        assert_eq!(out.status.code(), Some(1), "extract {name}: {}", show(out));
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "extract {name}: {}", show(out));
        assert!(
            lines[0].starts_with("isolution: ") && lines[0].contains("abs"),
            "extract {name}: {}",
            show(out)
        );
        assert!(!err.contains("panicked"));
        assert!(
            std::fs::symlink_metadata(dest.join("abs")).is_err(),
            "extract {name}: abs was created"
        );
    } else {
        ok(out);
    }
    let want: Vec<&Entry> = all.iter().filter(|e| e.path != "abs").collect();
    assert_tree_matches(&format!("extract {name}"), dest, &want);

    // Hard links: the files sharing an inode are exactly the `.links` groups.
    let got = walk_dest(dest);
    let mut by_ino: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (p, n) in &got {
        if n.kind == 'f' {
            by_ino.entry(n.ino).or_default().push(p.clone());
        }
    }
    let mut groups: Vec<Vec<String>> = by_ino.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    assert_eq!(groups, links(name), "extract {name}: hard-link groups");

    if has_rock_ridge(name) {
        for (path, mode) in [
            ("modes/private.txt", 0o600),
            ("modes/run.sh", 0o755),
            ("modes/readonly.txt", 0o444),
            ("modes/secret", 0o700),
            ("modes/secret/inner.txt", 0o644),
            ("modes", 0o755),
            ("hello.txt", 0o644),
            ("dir/sub", 0o755),
        ] {
            assert_eq!(got[path].mode, mode, "extract {name}: mode of {path}");
        }
        for path in ["hello.txt", "modes/secret", "dir", "data/seventy-k.bin"] {
            assert_eq!(got[path].mtime, MTIME, "extract {name}: mtime of {path}");
        }
    }
}

#[test]
fn extract_rr_only_matches_the_listing() {
    extract_and_check("rr-only");
}

#[test]
fn extract_every_other_fixture() {
    for name in FIXTURES.into_iter().filter(|n| *n != "rr-only") {
        extract_and_check(name);
    }
}

/// The second run must replace what the first wrote. As a non-root user this also covers
/// files the first run made read-only (`modes/readonly.txt`, 0444).
#[test]
fn extract_twice_into_the_same_destination() {
    let tmp = extract_and_check("rr-only");
    let dest = tmp.path().join("out");
    let out = run(&["extract", &iso("rr-only"), path_str(&dest)]);
    check_extraction("rr-only", &dest, &out);
}

#[test]
fn extract_a_subset_creates_only_that_subtree() {
    let all = listing("rr-only");
    for (args, roots) in [
        (&["dir"][..], &["dir"][..]),
        (&["/modes/"], &["modes"]),
        (&["data/lines.txt", "hard"], &["data/lines.txt", "hard"]),
    ] {
        let tmp = Scratch::new();
        let dest = tmp.path().join("out");
        let iso = iso("rr-only");
        let mut cmd = vec!["extract", &iso, path_str(&dest)];
        cmd.extend_from_slice(args);
        let out = run(&cmd);
        ok(&out);
        // The roots, what is below them, and their parent directories.
        let want: Vec<&Entry> = all
            .iter()
            .filter(|e| {
                roots.iter().any(|r| {
                    e.path == *r
                        || e.path.starts_with(&format!("{r}/"))
                        || r.starts_with(&format!("{}/", e.path))
                })
            })
            .collect();
        assert_tree_matches(&format!("extract rr-only {args:?}"), &dest, &want);
    }
}

#[test]
fn extract_missing_path_is_an_error() {
    let tmp = Scratch::new();
    let dest = tmp.path().join("out");
    let err = fails(&run(&[
        "extract",
        &iso("rr-only"),
        path_str(&dest),
        "no-such-thing",
    ]));
    assert!(err.contains("no-such-thing"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Errors, exit codes, help

#[test]
fn missing_image_file() {
    let tmp = Scratch::new();
    let missing = tmp.path().join("missing.iso");
    for cmd in ["ls", "info", "cat"] {
        let mut args = vec![cmd, path_str(&missing)];
        if cmd == "cat" {
            args.push("x");
        }
        let err = fails(&run(&args));
        assert!(err.contains("missing.iso"), "{cmd}: {err}");
    }
}

#[test]
fn not_an_iso() {
    let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    for cmd in ["ls", "info"] {
        let err = fails(&run(&[cmd, path_str(&toml)]));
        assert!(err.contains("Cargo.toml"), "{cmd}: {err}");
    }
    // A directory, and an empty file.
    fails(&run(&["ls", path_str(&fixtures_dir())]));
    let tmp = Scratch::new();
    let empty = tmp.path().join("empty.iso");
    std::fs::write(&empty, b"").unwrap();
    fails(&run(&["ls", path_str(&empty)]));
}

#[test]
fn missing_path_inside_the_image() {
    for (cmd, path) in [
        ("ls", "nope"),
        ("ls", "/nope/"),
        ("cat", "nope.txt"),
        ("cat", "dir/nope.txt"),
    ] {
        let err = fails(&run(&[cmd, &iso("rr-only"), path]));
        let path = path.trim_matches('/');
        assert!(err.contains(path), "{cmd} {path}: {err}");
    }
    // A missing component in the middle: the message names where the lookup stopped.
    let err = fails(&run(&["ls", &iso("rr-only"), "nope/deeper"]));
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [
        &[][..],
        &["ls"],
        &["frobnicate"],
        &["ls", "--no-such-flag", "x.iso"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        assert!(!out.stderr.is_empty());
    }
    for args in [
        &["--help"][..],
        &["ls", "--help"],
        &["help"],
        &["--version"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

/// `isolution ls ISO | head -1`: the reader goes away; that is not an error.
#[test]
fn broken_pipe_is_not_an_error() {
    // Read one line, then close the pipe.
    let mut child = Command::new(BIN)
        .args(["ls", &iso("rr-joliet")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(out.stderr.is_empty(), "{}", show(&out));

    // Close the pipe before the child writes anything, so its first write surely fails.
    for args in [
        &["ls", "-l"][..],
        &["ls", "--json"],
        &["cat", "--all"],
        &["info"],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .arg(iso("rr-joliet"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", show(&out));
        assert!(out.stderr.is_empty(), "{args:?}: {}", show(&out));
    }
}

// ---------------------------------------------------------------------------------------------
// info

#[test]
fn info_on_every_fixture() {
    for name in FIXTURES {
        let text = run(&["info", &iso(name)]);
        let text = String::from_utf8(ok(&text).to_vec()).unwrap();
        assert!(text.contains("Namespaces:"), "{name}: {text}");

        let out = run(&["info", "--json", &iso(name)]);
        let v: serde_json::Value =
            serde_json::from_slice(ok(&out)).unwrap_or_else(|e| panic!("info --json {name}: {e}"));
        let namespaces: Vec<&str> = v["namespaces"]
            .as_array()
            .expect("namespaces")
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        let (want_ns, default, el_torito): (&[&str], &str, bool) = match name {
            "joliet-only" => (&["joliet", "primary"], "joliet", false),
            "plain-l1" | "plain-l3" => (&["primary"], "primary", false),
            "rr-only" => (&["rr", "primary"], "rr", false),
            "rr-joliet" | "xorriso-rr" => (&["rr", "joliet", "primary"], "rr", true),
            _ => unreachable!(),
        };
        assert_eq!(namespaces, want_ns, "{name}");
        assert_eq!(v["default_namespace"], default, "{name}");
        assert_eq!(!v["el_torito"].is_null(), el_torito, "{name}: {v}");
        assert!(v["el_torito_error"].is_null(), "{name}: {v}");
        assert_eq!(
            v["image_bytes"].as_u64(),
            Some(std::fs::metadata(iso(name)).unwrap().len()),
            "{name}"
        );
        assert_eq!(v["block_size"], 2048, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// The shared corpus

/// Every image the corpus expects to be rejected fails cleanly: exit 2, one line, no panic.
#[test]
fn corpus_error_images_fail_cleanly() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let Ok(index) = std::fs::read_to_string(corpus.join("expected/index.tsv")) else {
        eprintln!("SKIP: {} is absent", corpus.display());
        return;
    };
    let mut rows = index.lines();
    let header: Vec<&str> = rows.next().expect("header").split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect(n);
    let (ci, ce) = (col("image"), col("expected"));
    let mut n = 0;
    for row in rows {
        let f: Vec<&str> = row.split('\t').collect();
        if f[ce] != "error" {
            continue;
        }
        let out = run(&["ls", path_str(&corpus.join(f[ci]))]);
        let err = fails(&out);
        assert!(!err.contains("panicked"), "{}: {err}", f[ci]);
        n += 1;
    }
    assert!(n > 0, "no `error` images in the index");
}

// ---- Solution commands (fixtures of tests/solutions/) ----

fn solution(name: &str) -> String {
    let p = fixtures_dir().join("../solutions").join(name);
    path_str(&p.canonicalize().expect("solution fixture")).to_string()
}

#[test]
fn validate_exit_codes_follow_errors_and_strict() {
    // The example has one warning (the bogus ":1.0.2" entry it ships): exit 0, and 1 strict.
    let good = solution("example-solution-1.0.2.iso");
    let out = run(&["validate", &good]);
    let text = String::from_utf8_lossy(ok(&out)).to_string();
    assert!(text.contains("[manifest.images-entry]"), "{text}");
    assert!(text.contains("0 error(s), 1 warning(s)"), "{text}");
    assert_eq!(run(&["validate", "--strict", &good]).status.code(), Some(1));
    assert_eq!(
        run(&["validate", "--no-digests", &good]).status.code(),
        Some(0)
    );
    // A tampered blob: exit 1, the finding names the blob file.
    let bad = solution("broken-image-blob-digest.iso");
    let out = run(&["validate", &bad]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("error")
            && l.contains("[image.blob-digest]")
            && l.contains("images/")),
        "{text}"
    );
    // Without digests the tampering is not seen, and the summary says so.
    let out = run(&["validate", "--no-digests", &bad]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("digests not checked"));
    // JSON: the report, with findings carrying rule, severity, path and message.
    let out = run(&["validate", "--json", &bad]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let f = &v["findings"][0];
    assert_eq!(f["severity"], "error");
    assert_eq!(f["rule"], "image.blob-digest");
    assert!(f["path"].as_str().unwrap().starts_with("images/"));
    assert!(v["hashed_bytes"].as_u64().unwrap() > 0);
    // Not ISO 9660: exit 2.
    fails(&run(&[
        "validate",
        path_str(&fixtures_dir().join("../../Cargo.toml")),
    ]));
}

#[test]
fn inspect_shows_name_version_images_and_crds() {
    let out = run(&["inspect", &solution("example-solution-1.0.2.iso")]);
    let text = String::from_utf8_lossy(ok(&out)).to_string();
    for want in [
        "Name:          example-solution",
        "Display name:  Example Solution",
        "Version:       1.0.2",
        "Id:            example-solution-1.0.2",
        "Volume id:     Example Solution 1.0.2",
        "Operator:      example-solution-operator:1.0.2",
        "base-server:latest",
        "CRDs:          2",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let out = run(&["inspect", "--json", &solution("example-solution-1.0.2.iso")]);
    let v: serde_json::Value = serde_json::from_slice(ok(&out)).unwrap();
    assert_eq!(v["id"], "example-solution-1.0.2");
    assert_eq!(v["images"].as_array().unwrap().len(), 3);
    for i in v["images"].as_array().unwrap() {
        assert!(i["manifest_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(
            i["media_type"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
    }
}

#[test]
fn registry_config_regenerates_the_shipped_file() {
    let out = run(&["registry-config", &solution("example-solution-1.0.2.iso")]);
    let got = String::from_utf8(ok(&out).to_vec()).unwrap();
    let shipped = std::fs::read_to_string(
        fixtures_dir().join("../solutions/expected/example-solution-1.0.2.registry-config.inc.j2"),
    )
    .unwrap();
    let norm = |t: &str| -> Vec<String> {
        t.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(norm(&got), norm(&shipped));
}

#[test]
fn config_check_reports_duplicates_and_latest() {
    let dir = tempfile::tempdir().unwrap();
    let abs = fixtures_dir().join("../solutions").canonicalize().unwrap();
    let write = |name: &str| -> String {
        let src = fixtures_dir().join("../solutions/config").join(name);
        let text = std::fs::read_to_string(src)
            .unwrap()
            .replace("@FIXTURES@", path_str(&abs));
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        path_str(&p).to_string()
    };
    let out = run(&["config", "check", &write("latest.yaml")]);
    let text = String::from_utf8_lossy(ok(&out)).to_string();
    assert!(text.contains("active: example-solution 1.0.10"), "{text}");
    let out = run(&["config", "check", &write("duplicate.yaml")]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[config.duplicate-archive]"));
    fails(&run(&["config", "check", "/nonexistent/solutions.yaml"]));
}
