//! The committed reader fixtures (`tests/fixtures/*.iso`, see `tests/fixtures/README.md`): their
//! reference listings (`.tsv`), hard-link groups (`.links`) and source tree (`tree/`), the
//! checks of what `isolution` prints (`ok`, `fails`) and of what it extracts
//! (`assert_tree_matches`), for the `cli_*.rs` tests.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

use super::show;

/// The committed fixture images (`multi-extent` is a 4 GiB sparse file, not an `.iso`).
pub const FIXTURES: [&str; 6] = [
    "joliet-only",
    "plain-l1",
    "plain-l3",
    "rr-joliet",
    "rr-only",
    "xorriso-rr",
];

/// The mtime `build.sh` gives every staged entry.
pub const MTIME: i64 = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Helpers

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

pub fn iso(name: &str) -> String {
    path_str(&fixtures_dir().join(format!("{name}.iso"))).to_string()
}

/// Test paths are UTF-8, so arguments can be `&str`.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// One line of a `.tsv` listing.
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: String,
    /// `f`, `d` or `l`.
    pub kind: char,
    pub size: Option<u64>,
    /// The sha256 (`f`) or link target (`l`).
    pub sha256: Option<String>,
    pub target: Option<String>,
}

impl Entry {
    /// The path as `isolution ls` prints it: directories end in `/`.
    pub fn ls_path(&self) -> String {
        if self.kind == 'd' {
            format!("{}/", self.path)
        } else {
            self.path.clone()
        }
    }
}

pub fn listing(name: &str) -> Vec<Entry> {
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

pub fn listing_map(name: &str) -> BTreeMap<String, Entry> {
    listing(name)
        .into_iter()
        .map(|e| (e.path.clone(), e))
        .collect()
}

/// Hard-link groups of a fixture (`<name>.links`), each sorted; empty when there is no file.
pub fn links(name: &str) -> Vec<Vec<String>> {
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

/// Asserts a clean success (exit 0, nothing on stderr) and returns stdout.
#[track_caller]
pub fn ok(out: &Output) -> &[u8] {
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
    assert!(out.stderr.is_empty(), "unexpected stderr: {}", show(out));
    &out.stdout
}

/// Asserts exit 2 with exactly one `isolution: ...` line on stderr, and returns that line.
#[track_caller]
pub fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{}", show(out));
    let err = String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8");
    assert!(!err.contains("panicked"), "{}", show(out));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one stderr line: {}", show(out));
    assert!(lines[0].starts_with("isolution: "), "{}", show(out));
    lines[0].to_string()
}

pub fn lines(stdout: &[u8]) -> Vec<String> {
    std::str::from_utf8(stdout)
        .expect("stdout is UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Compares two sets of strings, reporting what is missing and what is extra.
#[track_caller]
pub fn assert_same_set(what: &str, got: &[String], want: &[String]) {
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
pub struct Scratch(pub tempfile::TempDir);

impl Scratch {
    pub fn new() -> Self {
        Scratch(tempfile::tempdir().expect("tempdir"))
    }
    pub fn path(&self) -> &Path {
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
pub struct Node {
    pub kind: char,
    pub size: u64,
    pub sha256: Option<String>,
    pub target: Option<String>,
    pub ino: u64,
    pub mode: u32,
    pub mtime: i64,
}

/// Walks `root` without following symlinks; paths relative to it, joined with `/`.
pub fn walk_dest(root: &Path) -> BTreeMap<String, Node> {
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
pub fn assert_tree_matches(what: &str, dest: &Path, want: &[&Entry]) {
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

pub fn has_rock_ridge(name: &str) -> bool {
    matches!(name, "rr-joliet" | "rr-only" | "xorriso-rr")
}
