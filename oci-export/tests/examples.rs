//! The `examples/` of iso-core and oci-export, run as a user would (`cargo run --example`),
//! on the fixtures: each must do what its doc says, and the layout one must work with
//! oci-export's default features off (no tokio, axum, reqwest, k8s-openapi, clap).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO"))
        .args(["run", "-q"])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some(),
        "{args:?} was killed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Paths listed in the fixture's `.tsv` (first column), directories without their `/`.
fn tsv_paths(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("tests/fixtures").join(name)).unwrap();
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            l.split('\t')
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn ls_lists_every_entry() {
    let out = example(&[
        "-p",
        "iso-core",
        "--example",
        "ls",
        "--",
        "tests/fixtures/rr-joliet.iso",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut listed: Vec<String> = text
        .lines()
        .skip(1)
        // `{kind} {size:>12} {path}`
        .map(|l| l.get(15..).unwrap().trim_end_matches('/').to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, tsv_paths("rr-joliet.tsv"));
}

#[test]
fn extract_writes_the_tree_and_refuses_what_escapes() {
    let dest = tempfile::tempdir().unwrap();
    let out = example(&[
        "-p",
        "iso-core",
        "--example",
        "extract",
        "--",
        "tests/fixtures/rr-joliet.iso",
        dest.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The fixture holds a symlink to an absolute path (`abs -> /etc/hostname`): refused,
    // reported, and the exit status says so.
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let skipped: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("skipped "))
        .filter_map(|l| l.split_once(": ").map(|(p, _)| p))
        .collect();
    assert!(skipped.contains(&"abs"), "{stdout}");
    for p in tsv_paths("rr-joliet.tsv") {
        let path = dest.path().join(&p);
        assert_eq!(
            path.symlink_metadata().is_ok(),
            !skipped.contains(&p.as_str()),
            "{p}: extracted unless skipped\n{stdout}"
        );
    }
}

#[test]
fn validate_passes_a_good_solution_and_fails_a_broken_one() {
    let good = example(&[
        "-p",
        "iso-core",
        "--example",
        "validate",
        "--",
        "tests/solutions/example-solution-1.0.2.iso",
    ]);
    assert_eq!(good.status.code(), Some(0));
    let bad = example(&[
        "-p",
        "iso-core",
        "--example",
        "validate",
        "--",
        "tests/solutions/broken-image-blob-digest.iso",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("[image.blob-digest]"));
}

#[test]
fn export_layout_without_default_features() {
    let dest = tempfile::tempdir().unwrap();
    let layout = dest.path().join("layout");
    let out = example(&[
        "-p",
        "oci-export",
        "--no-default-features",
        "--example",
        "export_layout",
        "--",
        "tests/solutions/example-solution-1.0.2.iso",
        layout.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let refs = index["manifests"].as_array().unwrap();
    assert!(!refs.is_empty());
    // Every blob is named by its digest.
    for e in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let bytes = std::fs::read(e.path()).unwrap();
        let got = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert_eq!(Path::new(&e.file_name()), Path::new(&got));
    }
}
