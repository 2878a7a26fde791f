//! The checks of the round trips through mastering tools (`tests/roundtrip.rs`): the source
//! tree as the file system has it ([`round_trip`] scans it: lstat, readlink, inodes), mastered
//! with a [`Tool`], must come back from the reader: every path, type, mode, size, byte, link
//! target and hard-link group in Rock Ridge, and every file that fits Joliet's limits there.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use iso_core::{DirEntry, EntryKind, FileId, Image, Namespace};
use proptest::test_runner::{Config as ProptestConfig, TestCaseError};

use crate::listing;
use crate::mastering::{master, Tool};
use crate::tree::{join, write_tree, Node};

// ---------------------------------------------------------------------------------------------
// The source as the file system has it (the ground truth: lstat, readlink, inodes).

struct Src {
    kind: EntryKind,
    mode: u32,
    size: u64,
    nlink: u64,
    ino: (u64, u64),
    target: Option<String>,
    abs: PathBuf,
}

fn scan(root: &Path) -> BTreeMap<String, Src> {
    fn go(dir: &Path, rel: &str, out: &mut BTreeMap<String, Src>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e
                .file_name()
                .into_string()
                .expect("generated names are UTF-8");
            let path = join(rel, &name);
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            let ft = md.file_type();
            let kind = if ft.is_dir() {
                EntryKind::Directory
            } else if ft.is_symlink() {
                EntryKind::Symlink
            } else {
                EntryKind::File
            };
            let target = ft.is_symlink().then(|| {
                std::fs::read_link(e.path())
                    .unwrap()
                    .into_os_string()
                    .into_string()
                    .unwrap()
            });
            out.insert(
                path.clone(),
                Src {
                    kind,
                    mode: md.mode() & 0o7777,
                    size: md.len(),
                    nlink: md.nlink(),
                    ino: (md.dev(), md.ino()),
                    target,
                    abs: e.path(),
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

// ---------------------------------------------------------------------------------------------
// The checks.

fn read_via_reader(image: &Image<'_>, e: &DirEntry<'_>) -> Result<Vec<u8>, String> {
    let mut r = image.reader(e).map_err(|e| format!("reader: {e}"))?;
    let mut v = Vec::new();
    r.read_to_end(&mut v).map_err(|e| format!("read: {e}"))?;
    Ok(v)
}

fn compare_bytes(
    errs: &mut Vec<String>,
    ns: &str,
    path: &str,
    image: &Image<'_>,
    e: &DirEntry<'_>,
    want: &[u8],
) {
    match read_via_reader(image, e) {
        Ok(got) if got == want => {}
        Ok(got) => errs.push(format!(
            "{ns} {path:?}: reader gave {} bytes differing from the source's {} (first \
             difference at byte {})",
            got.len(),
            want.len(),
            got.iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()))
        )),
        Err(m) => errs.push(format!("{ns} {path:?}: {m}")),
    }
    match image.contents(e) {
        Ok(c) if c.to_vec() == want => {}
        Ok(c) => errs.push(format!(
            "{ns} {path:?}: contents() gave {} bytes differing from the source's {}",
            c.len(),
            want.len()
        )),
        Err(m) => errs.push(format!("{ns} {path:?}: contents(): {m}")),
    }
}

fn walk_map<'d>(
    image: &Image<'d>,
    ns: Namespace,
    errs: &mut Vec<String>,
) -> BTreeMap<String, DirEntry<'d>> {
    let mut map = BTreeMap::new();
    let walk = match image.walk(ns) {
        Ok(w) => w,
        Err(e) => {
            errs.push(format!("{ns}: walk: {e}"));
            return map;
        }
    };
    for item in walk {
        match item {
            Ok(w) => {
                let comps = w.path.split('/').count() as u32;
                if w.depth != comps {
                    errs.push(format!(
                        "{ns} {:?}: depth {} but {comps} path components",
                        w.path, w.depth
                    ));
                }
                if map.insert(w.path.clone(), w.entry).is_some() {
                    errs.push(format!("{ns} {:?}: yielded twice", w.path));
                }
            }
            Err(e) => {
                errs.push(format!("{ns}: walk failed: {e}"));
                break;
            }
        }
    }
    map
}

fn check_image(tool: &Tool, src: &BTreeMap<String, Src>, data: &[u8]) -> Result<(), String> {
    let image = Image::parse(data).map_err(|e| format!("parse: {e}"))?;
    let mut errs = Vec::new();
    let src_bytes = |path: &str| std::fs::read(&src[path].abs).unwrap();

    // Rock Ridge.
    let ns = Namespace::RockRidge;
    let mut rr = walk_map(&image, ns, &mut errs);
    if tool.relocates && !src.contains_key("rr_moved") {
        // genisoimage quirk: directories 8 levels below the root move to a top-level `rr_moved`
        // directory (mode 0555) that stays visible in the Rock Ridge tree (the Linux kernel
        // shows it too; `-hide-rr-moved` would only rename it `.rr_moved`). The moved
        // directories themselves carry `RE` and the reader hides them, so it is empty.
        rr.remove("rr_moved");
        // Directories 8 levels down (and whatever is under them) are the moved ones; they
        // are reached through their `CL` placeholders.
        let deep = src
            .iter()
            .any(|(p, s)| s.kind == EntryKind::Directory && p.split('/').count() >= 8);
        let relocated = rr.values().filter(|e| e.is_relocated()).count();
        if deep != (relocated > 0) {
            errs.push(format!(
                "{ns}: {relocated} relocated (CL) directories, but the source {} directories \
                 8 levels deep",
                if deep { "has" } else { "has no" }
            ));
        }
    }
    let rr_paths: BTreeSet<&str> = rr.keys().map(String::as_str).collect();
    let src_paths: BTreeSet<&str> = src.keys().map(String::as_str).collect();
    for p in src_paths.difference(&rr_paths) {
        errs.push(format!("{ns} {p:?}: in the source, missing from the image"));
    }
    for p in rr_paths.difference(&src_paths) {
        errs.push(format!("{ns} {p:?}: in the image, not in the source"));
    }
    let mut img_groups: BTreeMap<FileId, BTreeSet<&str>> = BTreeMap::new();
    let mut src_groups: BTreeMap<(u64, u64), BTreeSet<&str>> = BTreeMap::new();
    for (path, want) in src {
        if want.kind == EntryKind::File && want.size > 0 {
            src_groups.entry(want.ino).or_default().insert(path);
        }
        let Some(e) = rr.get(path) else { continue };
        if let Some(id) = e.file_id() {
            img_groups.entry(id).or_default().insert(path);
        }
        if e.kind() != want.kind {
            errs.push(format!(
                "{ns} {path:?}: kind {:?}, source has {:?}",
                e.kind(),
                want.kind
            ));
            continue;
        }
        if e.mode() & 0o7777 != want.mode {
            errs.push(format!(
                "{ns} {path:?}: mode {:#o}, source has {:#o}",
                e.mode() & 0o7777,
                want.mode
            ));
        }
        match want.kind {
            EntryKind::File => {
                if e.size() != want.size {
                    errs.push(format!(
                        "{ns} {path:?}: size {}, source has {}",
                        e.size(),
                        want.size
                    ));
                }
                if e.nlink() != Some(want.nlink as u32) {
                    errs.push(format!(
                        "{ns} {path:?}: nlink {:?}, source has {}",
                        e.nlink(),
                        want.nlink
                    ));
                }
                compare_bytes(&mut errs, "Rock Ridge", path, &image, e, &src_bytes(path));
            }
            EntryKind::Symlink => {
                // Rock Ridge `SL` has no component for a trailing slash, and both tools drop
                // it: `../` is recorded as `..`, `x/` as `x`, `/tmp/` as `/tmp`.
                let want_target = want.target.as_deref().map(|t| {
                    let t2 = t.trim_end_matches('/');
                    if t2.is_empty() && !t.is_empty() {
                        "/"
                    } else {
                        t2
                    }
                });
                if e.symlink_target() != want_target {
                    errs.push(format!(
                        "{ns} {path:?}: symlink target {:?}, readlink gives {:?}",
                        e.symlink_target(),
                        want.target
                    ));
                }
            }
            _ => {}
        }
    }
    let img_sets: BTreeSet<&BTreeSet<&str>> = img_groups.values().collect();
    let src_sets: BTreeSet<&BTreeSet<&str>> = src_groups.values().collect();
    for g in src_sets.difference(&img_sets) {
        errs.push(format!(
            "{ns}: source inode group {g:?} is not one file_id group in the image"
        ));
    }
    for g in img_sets.difference(&src_sets) {
        errs.push(format!(
            "{ns}: image file_id group {g:?} is not one inode group in the source"
        ));
    }

    // Joliet.
    let mut joliet_compared = 0;
    if let Some(max) = tool.joliet_max {
        let ns = Namespace::Joliet;
        let jol = walk_map(&image, ns, &mut errs);
        // Both tools write `_` for the characters Joliet does not allow (`* : ; ? \` and
        // controls). xorriso (libisofs) also writes `_` for each character beyond U+FFFF
        // (Joliet is UCS-2 there too: `emoji😀1🎉` is `emoji_1_`); genisoimage trees have
        // none (see `Tool::bmp_only`).
        let joliet_path = |p: &str| -> String {
            p.chars()
                .map(|c| match c {
                    '*' | ':' | ';' | '?' | '\\' => '_',
                    c if u32::from(c) < 0x20 || u32::from(c) > 0xFFFF => '_',
                    c => c,
                })
                .collect()
        };
        // Longer names are truncated (and possibly mangled), longer paths left out (see
        // `Tool::joliet_path_max`): not compared.
        let fits = |p: &str| {
            let units = |c: &str| c.encode_utf16().count();
            let path_len = 1 + p.split('/').map(|c| 1 + 2 * units(c)).sum::<usize>();
            p.split('/').all(|c| units(c) <= max)
                && match tool.joliet_path_max {
                    Some(m) => path_len <= m,
                    None => true,
                }
        };
        for (path, want) in src {
            let jpath = joliet_path(path);
            if want.kind != EntryKind::File || !fits(&jpath) {
                continue;
            }
            joliet_compared += 1;
            match jol.get(&jpath) {
                None => errs.push(format!("{ns} {path:?}: source file missing from the image")),
                Some(e) if e.kind() != EntryKind::File => {
                    errs.push(format!("{ns} {path:?}: kind {:?}, not a file", e.kind()))
                }
                Some(e) => compare_bytes(&mut errs, "Joliet", path, &image, e, &src_bytes(path)),
            }
        }
    }

    if std::env::var_os("ROUNDTRIP_STATS").is_some() {
        eprintln!(
            "[{}] {} entries, {} relocated, {} symlinks, {} hard-link groups, {} of {} files \
             compared in Joliet",
            tool.label,
            rr.len(),
            rr.values().filter(|e| e.is_relocated()).count(),
            rr.values().filter(|e| e.is_symlink()).count(),
            img_groups.values().filter(|g| g.len() > 1).count(),
            joliet_compared,
            src.values().filter(|s| s.kind == EntryKind::File).count(),
        );
    }
    if errs.is_empty() {
        return Ok(());
    }
    let mut msg = format!("{} difference(s):\n  {}", errs.len(), errs.join("\n  "));
    if let Ok(lines) = listing(&image, Namespace::RockRidge) {
        msg.push_str("\nRock Ridge listing of the image:\n  ");
        let n = lines.len();
        msg.push_str(&lines.into_iter().take(80).collect::<Vec<_>>().join("\n  "));
        if n > 80 {
            msg.push_str(&format!("\n  ... ({} more)", n - 80));
        }
    }
    Err(msg)
}

pub fn round_trip(tool: &Tool, nodes: &[Node]) -> Result<(), TestCaseError> {
    if !crate::tool(tool.program) {
        return Ok(());
    }
    let tmp = tempfile::tempdir().map_err(|e| TestCaseError::fail(format!("tempdir: {e}")))?;
    let src_dir = tmp.path().join("src");
    let iso = tmp.path().join("x.iso");
    write_tree(&src_dir, nodes)
        .map_err(|e| TestCaseError::fail(format!("writing the tree: {e}")))?;
    let src = scan(&src_dir);
    master(tool, &src_dir, &iso, &tmp.path().join("tool.log")).map_err(TestCaseError::fail)?;
    if src.is_empty() && !iso.exists() {
        // xorriso quirk: `-as mkisofs` with an empty source directory has no change to
        // commit, so it writes no image at all, and exits 0.
        return Ok(());
    }
    let data = std::fs::read(&iso)
        .map_err(|e| TestCaseError::fail(format!("[{}] reading the image: {e}", tool.label)))?;
    check_image(tool, &src, &data).map_err(|m| TestCaseError::fail(format!("[{}] {m}", tool.label)))
}

pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("ROUNDTRIP_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(12),
        // No regression files written beside the sources.
        failure_persistence: None,
        max_shrink_iters: std::env::var("ROUNDTRIP_SHRINK_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(400),
        ..ProptestConfig::default()
    }
}
