//! `isolution config check` and `isolution import` against what MetalK8s decides about a
//! `solutions.yaml` (scality/metalk8s `salt/_modules/metalk8s_solutions.py`,
//! `salt/metalk8s/solutions/available.sls`,
//! `salt/metalk8s/orchestrate/solutions/deploy-components.sls`, `scripts/solutions.sh`).
//! Archives with other versions are copies of the good example with `spec.version` changed,
//! made with bsdtar and genisoimage (skipped without them). Exit codes: 0 clean, 1 findings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::registry::{free_port, start_registry};
use common::{run, show, solution, tools, BIN};

const HEAD: &str =
    "apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: SolutionsConfiguration\n";

/// The good example, as a canonical path.
fn example() -> PathBuf {
    solution("example-solution-1.0.2.iso")
        .canonicalize()
        .unwrap()
}

/// Copies of the good example with `spec.version` set to each of `versions`, under `dir`
/// (`<version>.iso`), built with the flags of `tests/solutions/build.sh`; `None` without
/// bsdtar or genisoimage.
fn versions(dir: &Path, versions: &[&str]) -> Option<Vec<PathBuf>> {
    if !tools(&["bsdtar", "genisoimage"]) {
        return None;
    }
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let st = Command::new("bsdtar")
        .arg("-xf")
        .arg(example())
        .arg("-C")
        .arg(&tree)
        .status()
        .unwrap();
    assert!(st.success());
    let manifest = tree.join("manifest.yaml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    assert!(original.contains("  version: \"1.0.2\"\n"), "{original}");
    let mut out = Vec::new();
    for v in versions {
        std::fs::write(
            &manifest,
            original.replace("  version: \"1.0.2\"\n", &format!("  version: \"{v}\"\n")),
        )
        .unwrap();
        let iso = dir.join(format!("{v}.iso"));
        let st = Command::new("genisoimage")
            .args([
                "-quiet",
                "-R",
                "-J",
                "-joliet-long",
                "-l",
                "-iso-level",
                "3",
            ])
            .args(["-input-charset", "utf-8", "-output-charset", "utf-8"])
            .args([
                "-uid",
                "0",
                "-gid",
                "0",
                "-volid",
                &format!("Example Solution {v}"),
            ])
            .arg("-output")
            .arg(&iso)
            .arg(&tree)
            .status()
            .unwrap();
        assert!(st.success());
        out.push(iso.canonicalize().unwrap());
    }
    Some(out)
}

/// `archives:` listing `isos`, then `rest`.
fn config(dir: &Path, name: &str, isos: &[&Path], rest: &str) -> PathBuf {
    let list: String = isos
        .iter()
        .map(|p| format!("  - {:?}\n", p.to_str().unwrap()))
        .collect();
    let p = dir.join(name);
    std::fs::write(&p, format!("{HEAD}archives:\n{list}{rest}")).unwrap();
    p
}

fn check(cfg: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["config", "check", "--no-digests", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// deploy-components.sls (`desired_version not in versions | map(attribute='version')`) and
/// metalk8s_solutions.py `activate_solution` (`version not in (info["version"] for ...)`)
/// compare the value PyYAML read with the archives' version strings: `2` is an int and never
/// equals "2", so MetalK8s says "Solution example-solution-2 is not available". isolution
/// refuses it and says to quote it; quoted, the same version is active.
#[test]
fn a_version_written_as_a_yaml_number_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some(isos) = versions(dir.path(), &["2"]) else {
        return;
    };
    let cfg = config(
        dir.path(),
        "number.yaml",
        &[&isos[0]],
        "active: {example-solution: 2}\n",
    );
    let out = check(&cfg, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = stdout(&out);
    assert!(
        text.contains("[config.active-version-not-string]") && text.contains("quote"),
        "{text}"
    );
    assert!(!text.contains("active: example-solution"), "{text}");
    let cfg = config(
        dir.path(),
        "quoted.yaml",
        &[&isos[0]],
        "active: {example-solution: \"2\"}\n",
    );
    let out = check(&cfg, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).contains("active: example-solution 2\n"));
}

/// deploy-components.sls `get_latest` keeps the first version unless a later one compares
/// greater with `salt.pkg.version_cmp`, which is salt/modules/rpm_lowpkg.py `version_cmp`
/// (Salt 3002.9 on Rocky Linux 8, rpm.labelCompare): it drops the release when only one side
/// has one, so 1.0.0 and 1.0.0-dev are equal and the archive listed first wins. isolution
/// gives that answer and warns that it depends on the order.
#[test]
fn latest_between_a_release_and_a_pre_release_follows_the_archive_order() {
    let dir = tempfile::tempdir().unwrap();
    let Some(isos) = versions(dir.path(), &["1.0.0", "1.0.0-dev"]) else {
        return;
    };
    let latest = "active: {example-solution: latest}\n";
    for (order, want) in [([0, 1], "1.0.0"), ([1, 0], "1.0.0-dev")] {
        let list = [isos[order[0]].as_path(), isos[order[1]].as_path()];
        let cfg = config(dir.path(), &format!("{want}.yaml"), &list, latest);
        let out = check(&cfg, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        let text = stdout(&out);
        assert!(
            text.contains(&format!("active: example-solution {want}\n")),
            "{text}"
        );
        assert!(text.contains("[config.latest-order]"), "{text}");
        assert_eq!(check(&cfg, &["--strict"]).status.code(), Some(1));
    }
}

/// metalk8s_solutions.py `read_config` fills in `active: {}` only for a missing key
/// (`setdefault`): a null `active` stays null, deploy-components.sls fails to render on it
/// (`desired.get(name)`) and `activate_solution` raises. An error, as for MetalK8s.
#[test]
fn a_null_active_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "null.yaml", &[&example()], "active:\n");
    let out = check(&cfg, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stdout(&out).contains("error   active  [config.active-invalid]"),
        "{}",
        show(&out)
    );
}

/// metalk8s_solutions.py `configure_archive` (what `solutions.sh import` calls) tests
/// `archive not in config["archives"]` and appends: with `archives:` null it raises, while
/// available.sls renders as long as nothing is mounted. A warning.
#[test]
fn null_archives_warn() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("null.yaml");
    std::fs::write(&cfg, format!("{HEAD}archives:\nactive: {{}}\n")).unwrap();
    let out = check(&cfg, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        stdout(&out).contains("[config.archives-null]"),
        "{}",
        show(&out)
    );
    assert_eq!(check(&cfg, &["--strict"]).status.code(), Some(1));
}

/// The same few archives listed many times, under other paths (`./`, a symlink, a hard link):
/// each file is opened, parsed and validated once (`archives_read`), however many entries
/// name it. The repeats are what MetalK8s fails on (available.sls: "conflicting ID", #3108),
/// and the paths that are not canonical are what `solutions.sh` (readlink -f) never writes.
#[test]
fn an_archive_listed_many_times_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let a = base.join("a.iso");
    std::fs::copy(example(), &a).unwrap();
    std::os::unix::fs::symlink(&a, base.join("link.iso")).unwrap();
    std::fs::hard_link(&a, base.join("hard.iso")).unwrap();
    let b = solution("example-solution-1.0.10.iso")
        .canonicalize()
        .unwrap();
    let spellings = [
        a.clone(),
        base.join("./a.iso"),
        base.join("link.iso"),
        base.join("hard.iso"),
        b.clone(),
        b.parent().unwrap().join("./example-solution-1.0.10.iso"),
    ];
    let list: Vec<&Path> = (0..60)
        .map(|i| spellings[i % spellings.len()].as_path())
        .collect();
    let cfg = config(
        dir.path(),
        "many.yaml",
        &list,
        "active: {example-solution: latest}\n",
    );
    let out = check(&cfg, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["archives_read"], 2, "{}", show(&out));
    assert_eq!(r["archives"].as_array().unwrap().len(), 60);
    assert_eq!(r["resolved"]["example-solution"], "1.0.10");
    let count = |rule: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == rule)
            .count()
    };
    assert_eq!(count("config.duplicate-archive"), 58);
    assert_eq!(count("config.archive-path-not-canonical"), 30);
    let out = check(&cfg, &[]);
    assert!(
        stdout(&out).contains("60 archive(s) listed, 2 read"),
        "{}",
        show(&out)
    );
}

/// `solutions.sh import` (configure_archive, then import-components.sls: available.sls)
/// never reads `active`, so a null `active`, which breaks activation, does not stop an
/// import: the archive is still planned.
#[test]
fn a_null_active_does_not_stop_an_import() {
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = start_registry(dir.path(), free_port(), None) else {
        return;
    };
    let cfg = config(dir.path(), "null.yaml", &[&example()], "active:\n");
    let out = Command::new(BIN)
        .arg("import")
        .arg(&cfg)
        .args([
            "--registry",
            &reg.addr,
            "--insecure",
            "--json",
            "--no-digests",
        ])
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["config_errors"], serde_json::json!([]), "{r}");
    assert_eq!(r["archives"][0]["status"], "planned", "{r}");
}
