//! `isolution registry-config` prints, byte for byte, what MetalK8s's generator writes
//! (`buildchain/static-container-registry/static-container-registry.py`, `create_config`, run
//! with `--name-prefix '{{ repository }}' --server-root '{{ registry_root }}'
//! --omit-constants`), so a packager can diff it with the file an archive ships.
//!
//! The expected bytes in `tests/static-container-registry/` were written by that generator
//! (its README says how). With `METALK8S_STATIC_CONTAINER_REGISTRY` naming the script and
//! `python3` installed, the generator is also run here on each fixture's `images/` tree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, show, tool_path};

const FIXTURES: [&str; 4] = [
    "example-solution-1.0.2",
    "example-solution-1.0.10",
    "example-solution-1.0.2-multiarch",
    "broken-image-not-v2s2",
];

fn solution(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/solutions/{name}.iso"))
}

fn registry_config(name: &str) -> Vec<u8> {
    let out = run(&["registry-config", solution(name).to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    out.stdout
}

/// Where bytes differ, for a readable failure.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    format!(
        "first difference at byte {at} of {} / {}: {:?} vs {:?}",
        a.len(),
        b.len(),
        String::from_utf8_lossy(&a[at.saturating_sub(20)..(at + 20).min(a.len())]),
        String::from_utf8_lossy(&b[at.saturating_sub(20)..(at + 20).min(b.len())]),
    )
}

// Issue 14, case 7: the generator's output starts with a newline (every item it yields
// starts with one) and ends with `}` and one newline.
#[test]
fn registry_config_is_the_generators_bytes() {
    for name in FIXTURES {
        let want = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("tests/static-container-registry/{name}.inc.j2")),
        )
        .unwrap();
        let got = registry_config(name);
        assert!(got == want, "{name}: {}", first_difference(&got, &want));
        assert!(got.starts_with(b"\nlocation = /v2/{{ repository }}/"));
        assert!(got.ends_with(b"}\n") && !got.ends_with(b"\n\n"));
    }
    // No served image: nothing at all, as the generator writes nothing.
    let got = registry_config("broken-layout-images-missing");
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
}

#[test]
fn registry_config_is_what_the_generator_writes_when_it_can_be_run() {
    let Some(script) = tool_path(
        "METALK8S_STATIC_CONTAINER_REGISTRY",
        "static-container-registry.py",
    ) else {
        return;
    };
    let Some(python) = tool_path("PYTHON3", "python3") else {
        return;
    };
    for name in FIXTURES {
        let dir = tempfile::tempdir().unwrap();
        let out = run(&[
            "extract",
            "-q",
            solution(name).to_str().unwrap(),
            dir.path().to_str().unwrap(),
            "images",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        let gen = Command::new(&python)
            .arg(&script)
            .args(["--name-prefix", "{{ repository }}"])
            .args(["--server-root", "{{ registry_root }}"])
            .arg("--omit-constants")
            .arg(dir.path().join("images"))
            .output()
            .unwrap();
        assert!(
            gen.status.success(),
            "{}",
            String::from_utf8_lossy(&gen.stderr)
        );
        let got = registry_config(name);
        assert!(
            got == gen.stdout,
            "{name}: {}",
            first_difference(&got, &gen.stdout)
        );
    }
}
