//! End-to-end tests of the Solution commands on the fixtures of `tests/solutions/`: `validate`
//! (exit codes, `--strict`, `--no-digests`, `--json`), `inspect`, `registry-config` and
//! `config check`.
//!
//! The real executable, run on the committed fixtures (`tests/fixtures/*.iso`) and checked
//! against their reference listings (`.tsv`), hard-link groups (`.links`) and source tree
//! (`tree/`); see `tests/fixtures/README.md`. Exit codes (see `src/bin/isolution/main.rs`): 0
//! success, 1 ran but reported problems (refused entries), 2 bad input or usage, with one
//! `isolution: ...` line on stderr.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use common::fixtures::*;
use common::{registry_config, run, show};

// ---- Solution commands (fixtures of tests/solutions/) ----

fn solution(name: &str) -> String {
    let p = fixtures_dir().join("../solutions").join(name);
    path_str(&p.canonicalize().expect("solution fixture")).to_string()
}

#[test]
fn validate_exit_codes_follow_errors_and_strict() {
    // The example has two warnings (the bogus ":1.0.2" entry it ships, and its display name
    // where MetalK8s does not read it): exit 0, and 1 strict.
    let good = solution("example-solution-1.0.2.iso");
    let out = run(&["validate", &good]);
    let text = String::from_utf8_lossy(ok(&out)).to_string();
    assert!(text.contains("[manifest.images-entry]"), "{text}");
    assert!(text.contains("[manifest.display-name-not-shown]"), "{text}");
    assert!(text.contains("0 error(s), 2 warning(s)"), "{text}");
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
    assert_eq!(
        registry_config::lines(&got),
        registry_config::lines(&shipped)
    );
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
