//! `isolution render`, run as the real binary on the Solution fixtures of `tests/solutions/`
//! (see its README.md for every ISO):
//!
//! - the rendered objects are, object by object, what MetalK8s's states apply for the same
//!   input (`tests/golden/example-solution-1.0.2.metalk8s.yaml`, written from §6.2 and §6.3 of
//!   MetalK8s's documented Solution format);
//! - every document parses back into its k8s-openapi type, losslessly;
//! - `--crds-only`/`--no-crds` split the stream, refusals are MetalK8s's, long role names are
//!   cut as MetalK8s cuts them.
//!
//! `render_validators.rs` has the external validators of the stream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::Command;

use iso_core::{IsoFile, Namespace};
use serde_json::{json, Value};

mod common;
use common::deploy::*;
use common::{run, show, tool};

/// Reads a file of a Solution ISO (Rock Ridge names).
fn iso_file(iso_path: &str, path: &str) -> Vec<u8> {
    let file = IsoFile::open(Path::new(iso_path)).expect("open ISO");
    let image = file.image().expect("parse ISO");
    let e = image.lookup(Namespace::RockRidge, path).expect(path);
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut image.reader(&e).expect("reader"), &mut v).expect("read");
    v
}

fn salt_labels(v: &mut Value, metalk8s: &str) {
    let labels = v["metadata"]
        .as_object_mut()
        .expect("metadata")
        .entry("labels")
        .or_insert_with(|| json!({}));
    labels["metalk8s.scality.com/version"] = json!(metalk8s);
    labels["app.kubernetes.io/managed-by"] = json!("salt");
    labels["heritage"] = json!("salt");
}

/// The ConfigMap's `operator.yaml`, parsed, so that two renderings of the same
/// `OperatorConfig` compare equal whatever their YAML style.
fn parse_operator_config(v: &mut Value) {
    if v["kind"] == "ConfigMap" {
        let text = v["data"]["operator.yaml"]
            .as_str()
            .expect("operator.yaml")
            .to_string();
        let parsed: Value = serde_yaml::from_str(&text).expect("operator.yaml is YAML");
        v["data"]["operator.yaml"] = parsed;
    }
}

/// What MetalK8s applies for example-solution 1.0.2 in `example-ns` (with 1.0.10 imported,
/// the webhook on, MetalK8s 130.0.0): the CRDs and Role from the ISO, the rest from the
/// golden file.
fn metalk8s_objects() -> Vec<Value> {
    let good = iso("example-solution-1.0.2");
    let mut want = Vec::new();
    for plural in ["clockservers", "versionservers"] {
        let path =
            format!("operator/deploy/crds/example-solution.metalk8s.scality.com_{plural}_crd.yaml");
        let mut crd = documents(&String::from_utf8(iso_file(&good, &path)).unwrap());
        assert_eq!(crd.len(), 1);
        salt_labels(&mut crd[0], "130.0.0");
        want.push(crd.remove(0));
    }
    let golden = documents(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden/example-solution-1.0.2.metalk8s.yaml"),
        )
        .unwrap(),
    );
    assert_eq!(golden.len(), 4, "SA, RoleBinding, ConfigMap, Deployment");
    let roles =
        documents(&String::from_utf8(iso_file(&good, "operator/deploy/role.yaml")).unwrap());
    assert_eq!(roles.len(), 1);
    let mut role = roles[0].clone();
    role["metadata"]["namespace"] = json!("example-ns");
    salt_labels(&mut role, "130.0.0");
    want.push(golden[0].clone()); // ServiceAccount
    want.push(role);
    want.extend(golden[1..].iter().cloned()); // RoleBinding, ConfigMap, Deployment
    want
}

const GOLDEN_ARGS: [&str; 8] = [
    "--namespace",
    "example-ns",
    "--webhook",
    "--metalk8s-version",
    "130.0.0",
    "--available",
    "",
    "--json",
];

fn render_golden_case(json: bool) -> String {
    let good = iso("example-solution-1.0.2");
    let newer = iso("example-solution-1.0.10");
    let mut args = vec!["render", good.as_str()];
    for a in GOLDEN_ARGS {
        match a {
            "" => args.push(&newer),
            "--json" if !json => {}
            a => args.push(a),
        }
    }
    ok(&args)
}

#[test]
fn render_matches_what_metalk8s_applies_object_by_object() {
    let got = documents(&render_golden_case(false));
    let want = metalk8s_objects();
    let names = |v: &[Value]| v.iter().map(kind_name).collect::<Vec<_>>();
    assert_eq!(
        names(&got),
        names(&want),
        "the objects and their order (CRDs, ServiceAccount, Role, RoleBinding, ConfigMap, \
         Deployment)"
    );
    for (mut g, mut w) in got.into_iter().zip(want) {
        parse_operator_config(&mut g);
        parse_operator_config(&mut w);
        assert_eq!(
            g,
            w,
            "{} differs from what MetalK8s applies:\n got: {}\nwant: {}",
            kind_name(&w),
            serde_json::to_string_pretty(&g).unwrap(),
            serde_json::to_string_pretty(&w).unwrap()
        );
    }
}

#[test]
fn render_json_is_the_same_objects_as_the_yaml() {
    let yaml = documents(&render_golden_case(false));
    let json: Value = serde_json::from_str(&render_golden_case(true)).expect("one JSON list");
    assert_eq!(json, Value::Array(yaml));
}

#[test]
fn render_is_deterministic_and_sourced() {
    let a = render_golden_case(false);
    let b = render_golden_case(false);
    assert_eq!(a, b, "two renders of the same input differ");
    assert_eq!(
        a.matches("# Source: operator/deploy/crds/").count(),
        2,
        "{a}"
    );
    assert!(a.starts_with("---\n# Source: operator/deploy/crds/"), "{a}");
    assert!(a.contains("# Source: operator/deploy/role.yaml\n"), "{a}");
}

/// Every rendered document parses into its k8s-openapi type, and serialising that type gives
/// the document back: nothing is lost or added by the typed round trip.
#[test]
fn every_document_parses_back_into_its_kubernetes_type() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{ClusterRole, Role, RoleBinding};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    fn back<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Value {
        let t: T = serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", kind_name(v)));
        serde_json::to_value(&t).unwrap()
    }
    let cluster_role = iso("broken-operator-cluster-role");
    let stream = ok(&["render", &cluster_role, "--namespace", "demo", "--webhook"]);
    let docs = documents(&stream);
    let mut kinds = std::collections::BTreeSet::new();
    for d in &docs {
        let kind = d["kind"].as_str().unwrap();
        kinds.insert(kind.to_string());
        let again = match kind {
            "CustomResourceDefinition" => back::<CustomResourceDefinition>(d),
            "ServiceAccount" => back::<ServiceAccount>(d),
            "Role" => back::<Role>(d),
            "ClusterRole" => back::<ClusterRole>(d),
            "RoleBinding" => back::<RoleBinding>(d),
            "ConfigMap" => back::<ConfigMap>(d),
            "Deployment" => back::<Deployment>(d),
            other => panic!("unexpected kind {other}"),
        };
        assert_eq!(&again, d, "{} changes in a typed round trip", kind_name(d));
    }
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    // The ClusterRole is bound in the namespace (a RoleBinding), as MetalK8s binds it, with a
    // warning on stderr.
    let full = "example-solution-operator-clusterrole-example-solution-operator-nodes";
    let cut: String = full.chars().take(63).collect();
    assert_eq!(
        cut,
        "example-solution-operator-clusterrole-example-solution-operator"
    );
    assert!(docs.iter().any(|d| d["kind"] == "RoleBinding"
        && d["roleRef"]["kind"] == "ClusterRole"
        && d["roleRef"]["name"] == "example-solution-operator-nodes"
        && d["metadata"]["name"] == cut.as_str()));
    let out = run(&["render", &cluster_role, "--namespace", "demo"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "ClusterRole \"example-solution-operator-nodes\" grants the operator cluster-wide"
        ),
        "{err}"
    );
    assert!(err.contains(&format!("is cut to {cut:?}")), "{err}");
}

#[test]
fn crds_only_and_no_crds_split_the_stream() {
    let good = iso("example-solution-1.0.2");
    let all = documents(&ok(&["render", &good, "--namespace", "example-ns"]));
    let crds = documents(&ok(&["render", &good, "--crds-only"]));
    let rest = documents(&ok(&[
        "render",
        &good,
        "--namespace",
        "example-ns",
        "--no-crds",
    ]));
    assert_eq!(crds.len(), 2);
    assert!(crds.iter().all(|d| d["kind"] == "CustomResourceDefinition"));
    assert!(rest.iter().all(|d| d["kind"] != "CustomResourceDefinition"));
    let joined: Vec<Value> = crds.into_iter().chain(rest).collect();
    assert_eq!(joined, all);
    // Without --webhook, no Secret mount; with another registry, the image and endpoint move.
    let plain = ok(&[
        "render",
        &good,
        "--namespace",
        "example-ns",
        "--registry",
        "reg.example:5000",
    ]);
    assert!(!plain.contains("/cert"), "{plain}");
    assert!(!plain.contains("example-solution-cert"), "{plain}");
    assert!(
        plain.contains(
            "image: reg.example:5000/example-solution-1.0.2/example-solution-operator:1.0.2"
        ),
        "{plain}"
    );
    assert!(
        plain.contains("- endpoint: reg.example:5000/example-solution-1.0.2"),
        "{plain}"
    );
}

#[test]
fn render_refuses_what_metalk8s_refuses() {
    for (name, message) in [
        (
            "broken-operator-role-kind",
            "operator/deploy/role.yaml: Forbidden object kind 'RoleBinding'",
        ),
        (
            "broken-operator-crd-multi-doc",
            "_clockservers_crd.yaml: 2 YAML documents",
        ),
        (
            "broken-operator-crd-kind",
            "_settings_crd.yaml: holds a \"ConfigMap\"",
        ),
        (
            "broken-manifest-name-missing",
            "manifest.yaml: metadata.name is missing",
        ),
    ] {
        let path = iso(name);
        let out = run(&["render", &path, "--namespace", "example-ns"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", show(&out));
        assert!(
            out.stdout.is_empty(),
            "{name}: nothing is printed when refused"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
    }
    // Usage errors: no namespace, a namespace that is not a DNS label.
    let good = iso("example-solution-1.0.2");
    assert_eq!(run(&["render", &good]).status.code(), Some(2));
    let out = run(&["render", &good, "--namespace", "Not_A_Label"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a DNS label"));
    // A missing file names itself.
    let out = run(&["render", "/nonexistent.iso", "--crds-only"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent.iso"),
        "{}",
        show(&out)
    );
}

/// A role.yaml with long role names, mastered with genisoimage: binding names are cut at 63
/// characters as MetalK8s cuts them, and a collision is reported.
#[test]
fn long_role_names_are_cut_at_63_like_metalk8s() {
    if !tool("genisoimage") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let good = iso("example-solution-1.0.2");
    let out = run(&["extract", &good, tree.to_str().unwrap()]);
    assert!(out.status.success(), "{}", show(&out));
    let long = "a-role-with-a-very-long-name-that-goes-on-and-on";
    let role = |name: &str| {
        format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {name}\n\
             rules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get]\n"
        )
    };
    let roles = tree.join("operator/deploy/role.yaml");
    let mut perms = std::fs::metadata(&roles).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&roles, perms).unwrap();
    std::fs::write(
        &roles,
        role(&format!("{long}-1")) + &role(&format!("{long}-2")),
    )
    .unwrap();
    let patched = dir.path().join("patched.iso");
    let out = Command::new("genisoimage")
        .args([
            "-quiet",
            "-R",
            "-J",
            "-joliet-long",
            "-l",
            "-iso-level",
            "3",
        ])
        .args(["-V", "Example Solution 1.0.2", "-o"])
        .arg(&patched)
        .arg(&tree)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let out = run(&[
        "render",
        patched.to_str().unwrap(),
        "--namespace",
        "ns",
        "--no-crds",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let docs = documents(&String::from_utf8_lossy(&out.stdout));
    let bindings: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "RoleBinding")
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    let full = format!("example-solution-operator-role-{long}-1");
    let cut: String = full.chars().take(63).collect();
    assert_eq!(bindings, [cut.as_str(), cut.as_str()]);
    assert_eq!(cut.len(), 63);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("are both named"), "{err}");
    // The roles themselves keep their names and get the namespace.
    assert!(docs.iter().any(|d| d["kind"] == "Role"
        && d["metadata"]["name"] == format!("{long}-2")
        && d["metadata"]["namespace"] == "ns"));
}
