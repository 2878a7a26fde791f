//! Helpers of the `isolution pack` tests (`pack`, `pack_multiarch`, `pack_remote`,
//! `pack_ssh`): running programs, `isolution pack` itself, the bundled example Solution taken
//! apart as a packager would have it ([`example`]), and the checks of a refusal (exit 2, one
//! line, nothing left behind).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

use super::token::{isolate, run_with_stdin};
use super::{show, solution, BIN};

/// SOURCE_DATE_EPOCH of every pack here: the fixture's own (2023-11-14T22:13:20Z).
pub const SDE: &str = "1700000000";
/// The fixture's images: (name, tag).
pub const REFS: [(&str, &str); 3] = [
    ("base-server", "1.0.2"),
    ("base-server", "latest"),
    ("example-solution-operator", "1.0.2"),
];
/// The annotation MetalK8s reads a Solution's display name from.
pub const DISPLAY_NAME_KEY: &str = "solutions.metalk8s.scality.com/display-name";

/// A path as a `&str` (every path here is a temporary directory's, UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `PROG ARGS` with TZ=UTC, whatever it does (stdin from `stdin`, a file, or /dev/null).
pub fn cmd_in(prog: &str, args: &[&str], stdin: Option<&Path>) -> Output {
    Command::new(prog)
        .args(args)
        .env("TZ", "UTC")
        .stdin(match stdin {
            Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
            None => Stdio::null(),
        })
        .output()
        .unwrap_or_else(|e| panic!("{prog}: {e}"))
}

/// `PROG ARGS` (stdin from /dev/null), whatever it does.
pub fn cmd(prog: &str, args: &[&str]) -> Output {
    cmd_in(prog, args, None)
}

/// `PROG ARGS`, asserting success.
#[track_caller]
pub fn ok(prog: &str, args: &[&str]) -> Output {
    let out = cmd(prog, args);
    assert!(out.status.success(), "{prog} {args:?}: {}", show(&out));
    out
}

/// `skopeo --insecure-policy copy --quiet ARGS`, asserting success.
#[track_caller]
pub fn skopeo_copy(args: &[&str]) {
    let mut a = vec!["--insecure-policy", "copy", "--quiet"];
    a.extend_from_slice(args);
    ok("skopeo", &a);
}

/// `isolution pack -q ARGS` with SOURCE_DATE_EPOCH set, stdin from /dev/null.
pub fn pack(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("pack")
        .arg("-q")
        .args(args)
        .env("SOURCE_DATE_EPOCH", SDE)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `isolution pack -q TREE -o OUT IMAGES... EXTRA` (see [`pack`]).
pub fn pack_tree(tree: &Path, out: &Path, images: &[String], extra: &[&str]) -> Output {
    let mut args = vec![s(tree), "-o", s(out)];
    args.extend(images.iter().map(String::as_str));
    args.extend_from_slice(extra);
    pack(&args)
}

/// [`pack_tree`], asserting exit 0; returns the summary printed.
#[track_caller]
pub fn pack_tree_ok(tree: &Path, out: &Path, images: &[String], extra: &[&str]) -> String {
    let o = pack_tree(tree, out, images, extra);
    assert_eq!(o.status.code(), Some(0), "pack: {}", show(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// `isolution pack -q ARGS` with SOURCE_DATE_EPOCH, TMPDIR set to `tmp`, HOME in
/// `tmp/../home` and no auth file from the environment; `stdin` on its input.
pub fn pack_isolated(args: &[&str], tmp: &Path, stdin: &str) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("pack")
        .arg("-q")
        .args(args)
        .env("SOURCE_DATE_EPOCH", SDE)
        .env("TMPDIR", tmp);
    isolate(&mut cmd, &tmp.join("../home"), &[]);
    run_with_stdin(cmd, stdin)
}

/// The lowercase hex SHA-256 of bytes.
pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// `isoinfo -R -l`: path (relative, no leading `/`) -> (mode string, uid, gid, size,
/// extent).
#[allow(clippy::type_complexity)]
pub fn isoinfo_long(iso: &Path) -> BTreeMap<String, (String, String, String, u64, u64)> {
    let out = ok("isoinfo", &["-i", s(iso), "-R", "-l"]).stdout;
    let mut dir = String::new();
    let mut m = BTreeMap::new();
    for line in String::from_utf8(out).unwrap().lines() {
        if let Some(d) = line.strip_prefix("Directory listing of /") {
            dir = d.trim_end_matches('/').to_string();
            continue;
        }
        let Some((head, name)) = line.split_once("]  ") else {
            continue;
        };
        let name = name.trim_end();
        if name == "." || name == ".." {
            continue;
        }
        let f: Vec<&str> = head.split_whitespace().collect();
        // mode nlink uid gid size Mon DD YYYY [ extent flags
        let extent = head
            .rsplit_once('[')
            .unwrap()
            .1
            .split_whitespace()
            .next()
            .unwrap();
        let path = if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        };
        m.insert(
            path,
            (
                f[0].to_string(),
                f[2].to_string(),
                f[3].to_string(),
                f[4].parse().unwrap(),
                extent.parse().unwrap(),
            ),
        );
    }
    m
}

/// Only the files the test put there: no output, no temporary left behind.
#[track_caller]
pub fn assert_empty_dir(d: &Path, what: &str) {
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "{what}: left behind in {}: {left:?}",
        d.display()
    );
}

/// Exit 2, stderr one line (a trailing newline) that contains every one of `needles`.
#[track_caller]
pub fn assert_one_line(o: &Output, needles: &[&str], what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{what}: {}", show(o));
    assert!(
        err.ends_with('\n') && err.trim_end().lines().count() == 1,
        "{what}: not one line: {err:?}"
    );
    for n in needles {
        assert!(err.contains(n), "{what}: {n:?} not in {err:?}");
    }
}

/// [`assert_one_line`], and nothing is left in `out_dir`.
#[track_caller]
pub fn refused(o: &Output, out_dir: &Path, needles: &[&str], what: &str) {
    assert_one_line(o, needles, what);
    assert_empty_dir(out_dir, what);
}

/// Extracts the bundled example Solution to `tree` (with `isolution extract`) and fixes its
/// manifest.yaml for `validate --strict`; returns the fixture's manifest.yaml as it was.
///
/// The fixture's manifest.yaml gives two warnings under `validate --strict` (its display name
/// is only in `metadata.annotations`, where MetalK8s does not read it, and its image list has
/// a `:1.0.2` entry with no name): it is fixed here (a top-level `annotations` with the
/// display name, the nameless entry removed) rather than written by `--name`/`--version`, so
/// that every other byte of it stays the fixture's.
pub fn extract_example(tree: &Path) -> Vec<u8> {
    ok(
        BIN,
        &[
            "extract",
            "-q",
            s(&solution("example-solution-1.0.2.iso")),
            s(tree),
        ],
    );
    let m = tree.join("manifest.yaml");
    let fixture_manifest = std::fs::read(&m).unwrap();
    let text = String::from_utf8(fixture_manifest.clone()).unwrap();
    let fixed = text.replace("  - :1.0.2\n", "").replace(
        "spec:\n",
        &format!("annotations:\n  {DISPLAY_NAME_KEY}: Example Solution\nspec:\n"),
    );
    assert!(
        fixed.len() > text.len() && !fixed.contains("- :1.0.2"),
        "the fixture's manifest.yaml changed: {text}"
    );
    std::fs::write(&m, fixed).unwrap();
    fixture_manifest
}

/// The bundled example Solution taken apart as a packager would have it: its source tree
/// (see [`extract_example`], `images/` moved aside) and, if asked for, one OCI layout per
/// image repository (`skopeo copy dir:... oci:LAYOUT:TAG`).
pub struct Example {
    _tmp: tempfile::TempDir,
    /// The example's temporary directory.
    pub dir: PathBuf,
    /// The source tree, its manifest.yaml fixed for `validate --strict`.
    pub tree: PathBuf,
    /// The fixture's own images/ (skopeo `dir:` copies, Docker v2s2), kept aside.
    pub fixture_images: PathBuf,
    /// `layouts/<name>`, an OCI layout per repository, tags as refs (made only by
    /// `example(true)`).
    pub layouts: PathBuf,
    /// The fixture's manifest.yaml, unchanged.
    pub fixture_manifest: Vec<u8>,
}

impl Example {
    /// `oci:LAYOUTS/<name>:<tag>`.
    pub fn oci(&self, name: &str, tag: &str) -> String {
        format!("oci:{}:{tag}", self.layouts.join(name).display())
    }

    /// The `--image NAME:TAG=oci:...` arguments of the three images, in `order`.
    pub fn image_args(&self, order: &[usize]) -> Vec<String> {
        order
            .iter()
            .flat_map(|&i| {
                let (n, t) = REFS[i];
                ["--image".to_string(), format!("{n}:{t}={}", self.oci(n, t))]
            })
            .collect()
    }

    /// The `--image NAME:TAG=dir:...` arguments of the three images, from the fixture's own
    /// `dir:` copies.
    pub fn dir_image_args(&self) -> Vec<String> {
        REFS.iter()
            .flat_map(|(n, t)| {
                [
                    "--image".to_string(),
                    format!(
                        "{n}:{t}=dir:{}",
                        self.fixture_images.join(n).join(t).display()
                    ),
                ]
            })
            .collect()
    }

    /// A fresh, empty directory under the example's.
    pub fn fresh(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}

/// The example, ready to pack: see [`Example`]; `layouts`: make the OCI layouts (skopeo).
pub fn example(layouts: bool) -> Example {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let tree = dir.join("tree");
    let fixture_manifest = extract_example(&tree);
    let layout_dir = dir.join("layouts");
    if layouts {
        std::fs::create_dir(&layout_dir).unwrap();
        for (n, t) in REFS {
            skopeo_copy(&[
                &format!("dir:{}", tree.join("images").join(n).join(t).display()),
                &format!("oci:{}:{t}", layout_dir.join(n).display()),
            ]);
        }
    }
    let fixture_images = dir.join("fixture-images");
    std::fs::rename(tree.join("images"), &fixture_images).unwrap();
    Example {
        _tmp: tmp,
        dir,
        tree,
        fixture_images,
        layouts: layout_dir,
        fixture_manifest,
    }
}
