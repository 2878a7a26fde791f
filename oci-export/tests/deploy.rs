//! `isolution render` and `isolution upgrade-plan`, run as the real binary on the Solution
//! fixtures of `tests/solutions/` (see its README.md for every ISO):
//!
//! - the rendered objects are, object by object, what MetalK8s's states apply for the same
//!   input (`tests/golden/example-solution-1.0.2.metalk8s.yaml`, written from §6.2 and §6.3 of
//!   `../shared/spec/metalk8s-solutions.md`);
//! - every document parses back into its k8s-openapi type, losslessly;
//! - `kubernetes-validate --strict` (the Kubernetes OpenAPI schemas, from PyPI) and
//!   `kubectl label --local` accept the stream, when installed (`.ci/run` installs both);
//! - upgrade plans for fixture pairs that add a CRD version, remove one, move the storage
//!   version, drop a field, add or remove a CRD, change only images, add a ClusterRole.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use iso_core::{IsoFile, Namespace};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_isolution");

fn solutions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/solutions")
}

fn iso(name: &str) -> String {
    solutions_dir()
        .join(format!("{name}.iso"))
        .to_str()
        .expect("UTF-8 path")
        .to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run isolution")
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The documents of a YAML stream, as JSON values.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("valid YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn kind_name(v: &Value) -> String {
    format!(
        "{}/{}",
        v["kind"].as_str().unwrap_or("?"),
        v["metadata"]["name"].as_str().unwrap_or("?")
    )
}

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

fn tool(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn feed(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The Kubernetes OpenAPI schemas (of the oldest and newest releases kubernetes-validate
/// knows here) accept every rendered object, strictly (no unknown field).
#[test]
fn kubernetes_validate_accepts_the_stream() {
    let Some(kv) = tool("KUBERNETES_VALIDATE", "kubernetes-validate") else {
        eprintln!("SKIP: kubernetes-validate not installed (pip install kubernetes-validate)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("example-solution-1.0.2", vec!["--webhook"]),
        ("broken-operator-cluster-role", vec![]),
        ("upgrade-crd-storage-changed", vec![]),
    ] {
        let path = iso(name);
        let mut args = vec!["render", path.as_str(), "--namespace", "example-ns"];
        args.extend(extra);
        let stream = ok(&args);
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, &stream).unwrap();
        for version in ["1.33.0", "1.37.0"] {
            let out = Command::new(&kv)
                .args(["--strict", "-k", version])
                .arg(&file)
                .output()
                .expect("run kubernetes-validate");
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name} against {version}:\n{text}");
            assert_eq!(
                text.matches(" passed for resource ").count(),
                documents(&stream).len(),
                "{text}"
            );
        }
    }
}

/// kubectl decodes the stream as Kubernetes objects (offline: `label --local`; a client
/// dry-run needs an API server's discovery, which this machine does not have).
#[test]
fn kubectl_decodes_the_stream() {
    let Some(kubectl) = tool("KUBECTL", "kubectl") else {
        eprintln!("SKIP: kubectl not installed (Debian: kubernetes-client)");
        return;
    };
    let path = iso("example-solution-1.0.2");
    let stream = ok(&["render", &path, "--namespace", "example-ns", "--webhook"]);
    let out = feed(
        Command::new(kubectl).args(["label", "--local", "-f", "-", "checked=yes", "-o", "name"]),
        &stream,
    );
    assert!(out.status.success(), "{}", show(&out));
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        names,
        [
            "customresourcedefinition.apiextensions.k8s.io/clockservers.example-solution.metalk8s.scality.com",
            "customresourcedefinition.apiextensions.k8s.io/versionservers.example-solution.metalk8s.scality.com",
            "serviceaccount/example-solution-operator",
            "role.rbac.authorization.k8s.io/example-solution-operator",
            "rolebinding.rbac.authorization.k8s.io/example-solution-operator-role-example-solution-operator",
            "configmap/example-solution-operator-config",
            "deployment.apps/example-solution-operator",
        ]
    );
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
    if Command::new("genisoimage")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!("SKIP: genisoimage not installed");
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

// ---------------------------------------------------------------------------------------------
// upgrade-plan

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
    let (code, v) = plan("example-solution-1.0.2", "upgrade-crd-version-added");
    let got = crd_changes(&v);
    assert_eq!(code, 0, "{got:#?}");
    assert!(
        has(&got, "info", CLOCK, "version v1beta1 added (served)"),
        "{got:#?}"
    );
    // v1beta1 has one more field than v1alpha1, and no conversion webhook converts between
    // them: worth a warning, not breaking.
    assert!(
        has(
            &got,
            "warning",
            CLOCK,
            "no conversion webhook (strategy None)"
        ),
        "{got:#?}"
    );
    assert_eq!(got.len(), 2, "{got:#?}");

    let (code, v) = plan("upgrade-crd-version-added", "example-solution-1.0.2");
    let got = crd_changes(&v);
    assert_eq!(code, 1, "{got:#?}");
    assert!(
        has(&got, "breaking", CLOCK, "version v1beta1 removed"),
        "{got:#?}"
    );
    assert_eq!(v["breaking"], 1);
}

#[test]
fn upgrade_moving_the_storage_version_is_breaking() {
    let (code, v) = plan("upgrade-crd-version-added", "upgrade-crd-storage-changed");
    let got = crd_changes(&v);
    assert_eq!(code, 1, "{got:#?}");
    assert!(
        has(
            &got,
            "breaking",
            CLOCK,
            "storage version v1alpha1 -> v1beta1"
        ),
        "{got:#?}"
    );
    assert_eq!(v["breaking"], 1, "{got:#?}");
    let (code, v) = plan("example-solution-1.0.2", "upgrade-crd-storage-changed");
    let got = crd_changes(&v);
    assert_eq!(code, 1);
    assert!(
        has(
            &got,
            "breaking",
            CLOCK,
            "storage version v1alpha1 -> v1beta1"
        ),
        "{got:#?}"
    );
    assert!(
        has(&got, "info", CLOCK, "version v1beta1 added"),
        "{got:#?}"
    );
}

#[test]
fn upgrade_dropping_a_field_is_breaking() {
    let (code, v) = plan("example-solution-1.0.2", "upgrade-crd-field-removed");
    let got = crd_changes(&v);
    assert_eq!(code, 1, "{got:#?}");
    assert!(
        has(
            &got,
            "breaking",
            CLOCK,
            "v1alpha1: field spec.timezone removed"
        ),
        "{got:#?}"
    );
    assert_eq!(got.len(), 1, "{got:#?}");
    // Adding it back is not.
    let (code, v) = plan("upgrade-crd-field-removed", "example-solution-1.0.2");
    assert_eq!(code, 0);
    assert!(has(
        &crd_changes(&v),
        "info",
        CLOCK,
        "v1alpha1: field spec.timezone added"
    ));
}

#[test]
fn upgrade_adding_a_crd_is_safe_and_removing_one_is_breaking() {
    let alarms = "alarmservers.example-solution.metalk8s.scality.com";
    let (code, v) = plan("example-solution-1.0.2", "upgrade-crd-added");
    let got = crd_changes(&v);
    assert_eq!(code, 0, "{got:#?}");
    assert!(
        has(&got, "info", alarms, "added (AlarmServer v1alpha1)"),
        "{got:#?}"
    );
    let (code, v) = plan("upgrade-crd-added", "example-solution-1.0.2");
    let got = crd_changes(&v);
    assert_eq!(code, 1, "{got:#?}");
    assert!(
        has(&got, "breaking", alarms, "every AlarmServer object"),
        "{got:#?}"
    );
}

#[test]
fn upgrade_adding_a_cluster_role_warns() {
    let (code, v) = plan("example-solution-1.0.2", "broken-operator-cluster-role");
    let got = crd_changes(&v);
    assert_eq!(code, 0, "{got:#?}");
    assert!(
        has(
            &got,
            "warning",
            "ClusterRole example-solution-operator-nodes",
            "#2619"
        ),
        "{got:#?}"
    );
    assert!(has(
        &got,
        "warning",
        "ClusterRole example-solution-operator-nodes",
        "core/nodes: watch"
    ));
    // Removing it is not breaking, but MetalK8s leaves the grant behind.
    let (code, v) = plan("broken-operator-cluster-role", "example-solution-1.0.2");
    assert_eq!(code, 0);
    assert!(has(
        &crd_changes(&v),
        "warning",
        "ClusterRole example-solution-operator-nodes",
        "never deletes it"
    ));
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
