//! `isolution validate` judges a Solution's manifest and registry configuration as MetalK8s's
//! code decides them, on archives mastered here with xorriso from the example's tree with one
//! change each. Each test names the MetalK8s file and function that decides its case.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, show, tool};

const MANIFEST: &str = "apiVersion: solutions.metalk8s.scality.com/v1alpha1
kind: Solution
metadata:
  annotations:
    solutions.metalk8s.scality.com/display-name: Example Solution
  name: example-solution
spec:
  images:
  - base-server:1.0.2
  - example-solution-operator:1.0.2
  version: \"1.0.2\"
";

/// The example's tree with `manifest.yaml` replaced by `manifest` (and `edit` applied),
/// mastered with xorriso as the documented mkisofs flags do; `None` without xorriso.
fn master(dir: &Path, name: &str, manifest: &str, edit: impl FnOnce(&Path)) -> Option<PathBuf> {
    if !tool("xorriso") {
        return None;
    }
    let tree = dir.join(name);
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/solutions/example-solution-1.0.2.iso");
    let out = run(&[
        "extract",
        "-q",
        example.to_str().unwrap(),
        tree.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    std::fs::write(tree.join("manifest.yaml"), manifest).unwrap();
    edit(&tree);
    let iso = dir.join(format!("{name}.iso"));
    let out = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-joliet-long", "-l"])
        .args(["-iso-level", "3", "-V", "Example Solution 1.0.2", "-o"])
        .arg(&iso)
        .arg(&tree)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(iso)
}

/// `(severity rule path)` of every finding of `validate --json`, and the exit status.
fn findings(iso: &Path) -> (Vec<String>, Option<i32>) {
    let out = run(&["validate", "--json", "--no-digests", iso.to_str().unwrap()]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)));
    let mut got: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["severity"].as_str().unwrap(),
                f["rule"].as_str().unwrap(),
                f["path"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    (got, out.status.code())
}

fn no_edit(_: &Path) {}

// Case 4: salt/_modules/metalk8s_solutions.py, _archive_info_from_manifest reads the display
// name from a top-level `annotations` key only (the docs say metadata.annotations).
#[test]
fn a_display_name_metalk8s_does_not_show_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let Some(iso) = master(dir.path(), "display", MANIFEST, no_edit) else {
        return;
    };
    let (got, code) = findings(&iso);
    assert_eq!(
        got,
        ["warning manifest.display-name-not-shown manifest.yaml"]
    );
    assert_eq!(code, Some(0));
    let both = format!(
        "{MANIFEST}annotations:\n  solutions.metalk8s.scality.com/display-name: Example Solution\n"
    );
    let iso = master(dir.path(), "both", &both, no_edit).unwrap();
    assert_eq!(findings(&iso), (vec![], Some(0)));
}

// Cases 5 and 8: _archive_info_from_manifest tests `is None`, then re.match on the name and
// "-".join on name and version (a TypeError on a number); _default_solution_manifest
// derives <name>-operator:<version>. Nothing is derived from a field already reported.
#[test]
fn the_cause_is_named_and_nothing_is_derived_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let shown = format!(
        "{MANIFEST}annotations:\n  solutions.metalk8s.scality.com/display-name: Example Solution\n"
    );
    for (case, manifest, want) in [
        (
            "name-number",
            shown.replace("name: example-solution", "name: 123"),
            "error manifest.name-not-string manifest.yaml",
        ),
        (
            "name-missing",
            shown.replace("  name: example-solution\n", ""),
            "error manifest.name-missing manifest.yaml",
        ),
        (
            "name-invalid",
            shown.replace("name: example-solution", "name: Example_Solution"),
            "error manifest.name-invalid manifest.yaml",
        ),
        (
            "version-empty",
            shown.replace("\"1.0.2\"", "\"\""),
            "error manifest.version-empty manifest.yaml",
        ),
        (
            "version-number",
            shown.replace("\"1.0.2\"", "102"),
            "error manifest.version-not-string manifest.yaml",
        ),
        (
            "version-missing",
            shown.replace("  version: \"1.0.2\"\n", ""),
            "error manifest.version-missing manifest.yaml",
        ),
    ] {
        let Some(iso) = master(dir.path(), case, &manifest, no_edit) else {
            return;
        };
        let (got, code) = findings(&iso);
        let got: Vec<String> = got
            .into_iter()
            .filter(|f| !f.starts_with("warning iso.volume-id"))
            .collect();
        assert_eq!(got, [want], "{case}");
        assert_eq!(code, Some(1), "{case}");
    }
}

// Case 10: _default_solution_manifest defaults spec.ui.image to <name>-ui:<version>;
// MetalK8s 2.5.x deployed it (salt/metalk8s/orchestrate/solutions/prepare-environment.sls,
// deploy_admin_ui), 2.6.0 and later deploy no UI.
#[test]
fn a_declared_ui_image_is_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let ui = MANIFEST.replace("  version:", "  ui: {}\n  version:")
        + "annotations:\n  solutions.metalk8s.scality.com/display-name: Example Solution\n";
    let Some(iso) = master(dir.path(), "ui", &ui, no_edit) else {
        return;
    };
    let (got, code) = findings(&iso);
    assert_eq!(
        got,
        [
            "info manifest.ui-not-deployed manifest.yaml",
            "warning manifest.ui-image-missing images/example-solution-ui/1.0.2",
        ]
    );
    assert_eq!(code, Some(0));
    // With the image there (a copy of base-server's), only the information remains.
    let iso = master(dir.path(), "ui-present", &ui, |tree| {
        let to = tree.join("images/example-solution-ui/1.0.2");
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(tree.join("images/base-server/1.0.2")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
        // (The registry config is left as it was: registry-config.missing, not asserted.)
    })
    .unwrap();
    let (got, _) = findings(&iso);
    assert!(
        got.contains(&"info manifest.ui-not-deployed manifest.yaml".to_string()),
        "{got:?}"
    );
    assert!(
        !got.iter().any(|f| f.contains("ui-image-missing")),
        "{got:?}"
    );
}

// salt/metalk8s/solutions/available.sls ("Expose container images for Solution ..."):
// registry-config.inc.j2 is rendered with Salt's Jinja before nginx includes it, comments
// included.
#[test]
fn jinja_in_the_registry_config_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let shown = format!(
        "{MANIFEST}annotations:\n  solutions.metalk8s.scality.com/display-name: Example Solution\n"
    );
    let Some(iso) = master(dir.path(), "jinja", &shown, |tree| {
        let p = tree.join("registry-config.inc.j2");
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("# {{ salt['cmd.run']('id') }}\n");
        std::fs::write(p, text).unwrap();
    }) else {
        return;
    };
    let (got, code) = findings(&iso);
    assert_eq!(got, ["error registry-config.jinja registry-config.inc.j2"]);
    assert_eq!(code, Some(1));
}
