//! Golden outputs of the `isolution` commands that show a reader's or a Solution's view:
//! `info`, `ls -l`, `inspect` (text and JSON), `validate` (text and JSON), `registry-config`,
//! `render` and `upgrade-plan`, over every fixture ISO. Each case stores stdout, stderr and the
//! exit status in `tests/golden/<command>/<iso>.txt`; any change of a byte fails.
//!
//! `ISOLUTION_BLESS=1 cargo test -p oci-export --test golden` rewrites the files (review the
//! diff before committing it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_isolution");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fixture ISOs, sorted: `tests/fixtures/*.iso` and `tests/solutions/*.iso`.
fn isos(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "iso"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no ISO under {dir}");
    v
}

/// Runs `isolution ARGS` from the repository root and formats what it did.
fn run(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(root())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let mut s = String::new();
    writeln!(s, "$ isolution {}", args.join(" ")).unwrap();
    writeln!(s, "exit: {:?}", out.status.code()).unwrap();
    writeln!(s, "--- stdout").unwrap();
    s.push_str(&String::from_utf8_lossy(&out.stdout));
    writeln!(s, "--- stderr").unwrap();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// Compares (or, with `ISOLUTION_BLESS=1`, writes) `tests/golden/<group>/<name>.txt`.
fn check(group: &str, name: &str, got: &str, failures: &mut Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(group)
        .join(format!("{name}.txt"));
    if std::env::var_os("ISOLUTION_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(want) if want == got => {}
        Ok(want) => {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(got.lines().count()));
            failures.push(format!(
                "{}: differs at line {}\n  want: {:?}\n  got:  {:?}",
                path.display(),
                line + 1,
                want.lines().nth(line),
                got.lines().nth(line)
            ))
        }
        Err(e) => failures.push(format!("{}: {e}", path.display())),
    }
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap().display().to_string()
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

fn finish(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} golden output(s) changed (ISOLUTION_BLESS=1 rewrites them):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn reader_commands_are_unchanged() {
    let mut failures = Vec::new();
    for iso in isos("tests/fixtures")
        .into_iter()
        .chain(isos("tests/solutions"))
    {
        let (p, name) = (rel(&iso), stem(&iso));
        check("info", &name, &run(&["info", &p]), &mut failures);
        check("ls-l", &name, &run(&["ls", "-l", &p]), &mut failures);
    }
    finish(failures);
}

#[test]
fn solution_commands_are_unchanged() {
    let mut failures = Vec::new();
    for iso in isos("tests/solutions") {
        let (p, name) = (rel(&iso), stem(&iso));
        check("inspect", &name, &run(&["inspect", &p]), &mut failures);
        check(
            "inspect-json",
            &name,
            &run(&["inspect", "--json", &p]),
            &mut failures,
        );
        check("validate", &name, &run(&["validate", &p]), &mut failures);
        check(
            "validate-json",
            &name,
            &run(&["validate", "--json", &p]),
            &mut failures,
        );
        check(
            "registry-config",
            &name,
            &run(&["registry-config", &p]),
            &mut failures,
        );
        check(
            "render",
            &name,
            &run(&["render", "--namespace", "golden", &p]),
            &mut failures,
        );
    }
    finish(failures);
}

#[test]
fn upgrade_plans_are_unchanged() {
    let mut failures = Vec::new();
    let base = "tests/solutions/example-solution-1.0.2.iso";
    for iso in isos("tests/solutions") {
        let (p, name) = (rel(&iso), stem(&iso));
        check(
            "upgrade-plan",
            &name,
            &run(&["upgrade-plan", base, &p]),
            &mut failures,
        );
    }
    finish(failures);
}
