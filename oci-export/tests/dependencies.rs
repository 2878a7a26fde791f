//! What a tool that links us pays: `cargo tree -e normal` of each library crate with its
//! default features off must not name the heavy dependencies of the parts it left out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;

/// The crate names in `cargo tree -e normal -p PACKAGE ARGS`.
fn tree(package: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
            "-p",
            package,
        ])
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn assert_none_of(names: &[String], banned: &[&str], what: &str) {
    let found: Vec<&&str> = banned
        .iter()
        .filter(|b| names.iter().any(|n| n == **b))
        .collect();
    assert!(found.is_empty(), "{what} links {found:?}: {names:?}");
}

#[test]
fn the_reader_alone_links_only_what_reading_needs() {
    let names = tree("iso-core", &["--no-default-features"]);
    assert_none_of(
        &names,
        &[
            "serde",
            "serde_json",
            "serde_yaml",
            "sha2",
            "oci-spec",
            "ed25519-dalek",
            "blake2b_simd",
            "md-5",
            "base64",
            "hex",
        ],
        "iso-core --no-default-features",
    );
    for needed in ["nom", "memmap2", "flate2", "thiserror"] {
        assert!(
            names.iter().any(|n| n == needed),
            "{needed} missing: {names:?}"
        );
    }
}

#[test]
fn layout_and_archive_export_link_no_network_server_or_cli_crate() {
    let names = tree("oci-export", &["--no-default-features"]);
    assert_none_of(
        &names,
        &[
            "tokio",
            "axum",
            "hyper",
            "reqwest",
            "k8s-openapi",
            "clap",
            "indicatif",
            "anyhow",
        ],
        "oci-export --no-default-features",
    );
    assert!(names.iter().any(|n| n == "tar"));
}

#[test]
fn each_feature_brings_only_its_own_part() {
    let push = tree(
        "oci-export",
        &["--no-default-features", "--features", "push"],
    );
    assert!(push.iter().any(|n| n == "reqwest"));
    assert_none_of(&push, &["axum", "k8s-openapi", "clap"], "feature push");
    let serve = tree(
        "oci-export",
        &["--no-default-features", "--features", "serve"],
    );
    assert!(serve.iter().any(|n| n == "hyper"));
    assert_none_of(&serve, &["reqwest", "k8s-openapi", "clap"], "feature serve");
    let deploy = tree(
        "oci-export",
        &["--no-default-features", "--features", "deploy"],
    );
    assert!(deploy.iter().any(|n| n == "k8s-openapi"));
    assert_none_of(
        &deploy,
        &["tokio", "reqwest", "axum", "clap"],
        "feature deploy",
    );
}
