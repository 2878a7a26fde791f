//! `isolution render` output checked by external validators, when installed (`.ci/run`
//! installs both): `kubernetes-validate --strict` (the Kubernetes OpenAPI schemas, from PyPI;
//! `$KUBERNETES_VALIDATE` may name it) and `kubectl label --local` (`$KUBECTL`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

mod common;
use common::deploy::*;
use common::{show, tool_path};

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
    let Some(kv) = tool_path("KUBERNETES_VALIDATE", "kubernetes-validate") else {
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
    let Some(kubectl) = tool_path("KUBECTL", "kubectl") else {
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
