//! `isolution upgrade-plan`, run as the real binary on pairs of Solution fixtures of
//! `tests/solutions/` that add a CRD version, remove one, move the storage version, drop a
//! field, add or remove a CRD, change only images, add a ClusterRole.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use serde_json::Value;

mod common;
use common::deploy::*;
use common::{run, show};

fn plan(old: &str, new: &str) -> (i32, Value) {
    let (o, n) = (iso(old), iso(new));
    let out = run(&["upgrade-plan", &o, &n, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{old} -> {new}: not JSON ({e}): {}", show(&out)));
    // The text form agrees.
    let text = run(&["upgrade-plan", &o, &n]);
    assert_eq!(text.status.code(), out.status.code());
    let first = String::from_utf8_lossy(&text.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(
        first.contains(if v["safe"] == true {
            ": safe ("
        } else {
            ": BREAKING ("
        }),
        "{first}"
    );
    (out.status.code().unwrap(), v)
}

/// `(impact, area, subject, message)` of every change.
fn changes(v: &Value) -> Vec<(String, String, String, String)> {
    v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["impact"].as_str().unwrap().to_string(),
                c["area"].as_str().unwrap().to_string(),
                c["subject"].as_str().unwrap().to_string(),
                c["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The changes other than the "same version" warning every 1.0.2 -> 1.0.2 pair has.
fn crd_changes(v: &Value) -> Vec<(String, String, String)> {
    changes(v)
        .into_iter()
        .filter(|c| c.1 != "solution")
        .map(|(i, _, s, m)| (i, s, m))
        .collect()
}

const CLOCK: &str = "clockservers.example-solution.metalk8s.scality.com";

fn has(got: &[(String, String, String)], impact: &str, subject: &str, text: &str) -> bool {
    got.iter()
        .any(|(i, s, m)| i == impact && s == subject && m.contains(text))
}

/// Asserts [`has`], showing every change otherwise.
#[track_caller]
fn assert_has(got: &[(String, String, String)], impact: &str, subject: &str, text: &str) {
    assert!(has(got, impact, subject, text), "{got:#?}");
}

/// [`plan`] of `old` -> `new` and its [`crd_changes`], asserting the exit code (showing
/// every change otherwise).
#[track_caller]
fn crd_plan(old: &str, new: &str, code: i32) -> (Value, Vec<(String, String, String)>) {
    let (got_code, v) = plan(old, new);
    let got = crd_changes(&v);
    assert_eq!(got_code, code, "{got:#?}");
    (v, got)
}

#[test]
fn upgrade_with_only_images_changed_is_safe() {
    let (code, v) = plan("example-solution-1.0.2", "example-solution-1.0.10");
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(
        (v["from"].as_str(), v["to"].as_str()),
        (Some("1.0.2"), Some("1.0.10"))
    );
    let c = changes(&v);
    assert!(c.iter().all(|c| c.0 == "info"), "{c:#?}");
    assert!(
        c.iter()
            .any(|c| c.1 == "image" && c.2 == "base-server" && c.3.contains("tag 1.0.2 -> 1.0.10")),
        "{c:#?}"
    );
    assert!(c.iter().any(|c| c.1 == "operator"
        && c.3.contains("example-solution-1.0.2/example-solution-operator:1.0.2 to example-solution-1.0.10/example-solution-operator:1.0.10")), "{c:#?}");
    assert!(!c.iter().any(|c| c.1 == "crd" || c.1 == "rbac"), "{c:#?}");
    // And the way back is a downgrade: a warning, still not breaking.
    let (code, v) = plan("example-solution-1.0.10", "example-solution-1.0.2");
    assert_eq!(code, 0);
    assert!(changes(&v)
        .iter()
        .any(|c| c.0 == "warning" && c.3.contains("downgrade")));
}

#[test]
fn upgrade_adding_a_crd_version_is_safe_and_removing_it_is_breaking() {
    let (_, got) = crd_plan("example-solution-1.0.2", "upgrade-crd-version-added", 0);
    assert_has(&got, "info", CLOCK, "version v1beta1 added (served)");
    // v1beta1 has one more field than v1alpha1, and no conversion webhook converts between
    // them: worth a warning, not breaking.
    assert_has(
        &got,
        "warning",
        CLOCK,
        "no conversion webhook (strategy None)",
    );
    assert_eq!(got.len(), 2, "{got:#?}");

    let (v, got) = crd_plan("upgrade-crd-version-added", "example-solution-1.0.2", 1);
    assert_has(&got, "breaking", CLOCK, "version v1beta1 removed");
    assert_eq!(v["breaking"], 1);
}

#[test]
fn upgrade_moving_the_storage_version_is_breaking() {
    let (v, got) = crd_plan(
        "upgrade-crd-version-added",
        "upgrade-crd-storage-changed",
        1,
    );
    assert_has(
        &got,
        "breaking",
        CLOCK,
        "storage version v1alpha1 -> v1beta1",
    );
    assert_eq!(v["breaking"], 1, "{got:#?}");
    let (_, got) = crd_plan("example-solution-1.0.2", "upgrade-crd-storage-changed", 1);
    assert_has(
        &got,
        "breaking",
        CLOCK,
        "storage version v1alpha1 -> v1beta1",
    );
    assert_has(&got, "info", CLOCK, "version v1beta1 added");
}

#[test]
fn upgrade_dropping_a_field_is_breaking() {
    let (_, got) = crd_plan("example-solution-1.0.2", "upgrade-crd-field-removed", 1);
    assert_has(
        &got,
        "breaking",
        CLOCK,
        "v1alpha1: field spec.timezone removed",
    );
    assert_eq!(got.len(), 1, "{got:#?}");
    // Adding it back is not.
    let (_, got) = crd_plan("upgrade-crd-field-removed", "example-solution-1.0.2", 0);
    assert_has(&got, "info", CLOCK, "v1alpha1: field spec.timezone added");
}

#[test]
fn upgrade_adding_a_crd_is_safe_and_removing_one_is_breaking() {
    let alarms = "alarmservers.example-solution.metalk8s.scality.com";
    let (_, got) = crd_plan("example-solution-1.0.2", "upgrade-crd-added", 0);
    assert_has(&got, "info", alarms, "added (AlarmServer v1alpha1)");
    let (_, got) = crd_plan("upgrade-crd-added", "example-solution-1.0.2", 1);
    assert_has(&got, "breaking", alarms, "every AlarmServer object");
}

#[test]
fn upgrade_adding_a_cluster_role_warns() {
    let (_, got) = crd_plan("example-solution-1.0.2", "broken-operator-cluster-role", 0);
    assert_has(
        &got,
        "warning",
        "ClusterRole example-solution-operator-nodes",
        "#2619",
    );
    assert_has(
        &got,
        "warning",
        "ClusterRole example-solution-operator-nodes",
        "core/nodes: watch",
    );
    // Removing it is not breaking, but MetalK8s leaves the grant behind.
    let (_, got) = crd_plan("broken-operator-cluster-role", "example-solution-1.0.2", 0);
    assert_has(
        &got,
        "warning",
        "ClusterRole example-solution-operator-nodes",
        "never deletes it",
    );
}

#[test]
fn upgrade_plan_of_an_archive_with_itself_is_empty_but_for_the_version() {
    let (code, v) = plan("example-solution-1.0.2", "example-solution-1.0.2");
    assert_eq!(code, 0);
    assert!(crd_changes(&v).is_empty(), "{v:#}");
    assert!(changes(&v)
        .iter()
        .any(|c| c.1 == "solution" && c.3.contains("#3108")));
}

#[test]
fn upgrade_plan_refuses_archives_it_cannot_read() {
    let good = iso("example-solution-1.0.2");
    let bad = iso("broken-operator-role-kind");
    let out = run(&["upgrade-plan", &good, &bad]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken-operator-role-kind.iso: operator/deploy/role.yaml: Forbidden"),
        "{err}"
    );
    let out = run(&["upgrade-plan", &good, "/nonexistent.iso"]);
    assert_eq!(out.status.code(), Some(2));
}
