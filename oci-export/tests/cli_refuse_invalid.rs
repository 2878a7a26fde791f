//! `export`, `push` and `serve` refuse an archive `isolution validate` refuses (exit 1, its
//! errors on stderr, nothing written or sent) unless `--force`.
//!
//! MetalK8s refuses such archives when it imports them (`salt/_modules/metalk8s_solutions.py`:
//! `manifest_from_iso`, `_archive_info_from_manifest`, `list_solution_images`;
//! `salt/metalk8s/solutions/available.sls`): exporting or serving their images anyway used to
//! end with exit 0 ("0 image(s)" for an ISO that is no Solution at all).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{run, show};

fn solutions(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/solutions")
        .join(name)
}

/// An ISO 9660 image that is no Solution, the example cut after its first 24 sectors (its
/// volume descriptors are there, its directories are not: no manifest, no images), and an
/// archive with one validation error.
fn refused_isos(dir: &Path) -> Vec<PathBuf> {
    let truncated = dir.join("truncated.iso");
    let bytes = std::fs::read(solutions("example-solution-1.0.2.iso")).unwrap();
    std::fs::write(&truncated, &bytes[..24 * 2048]).unwrap();
    vec![
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/rr-joliet.iso"),
        truncated,
        solutions("broken-operator-image-missing.iso"),
    ]
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn export_refuses_what_validate_refuses() {
    let dir = tempfile::tempdir().unwrap();
    for iso in refused_isos(dir.path()) {
        let dest = dir.path().join("layout");
        let out = run(&["export", s(&iso), "--oci", s(&dest)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {}",
            iso.display(),
            show(&out)
        );
        assert!(out.stdout.is_empty(), "{}", show(&out));
        assert!(err.contains("validation error(s): refused"), "{err}");
        assert!(err.contains("--force"), "{err}");
        assert!(
            !dest.exists(),
            "{}: written although refused",
            iso.display()
        );
        for flag in ["--oci-archive", "--docker-archive"] {
            let tar = dir.path().join("x.tar");
            let out = run(&["export", s(&iso), flag, s(&tar)]);
            assert_eq!(out.status.code(), Some(1), "{flag}: {}", show(&out));
            assert!(!tar.exists());
        }
    }
    // The operator image is missing, the rest is fine: --force exports what is there.
    let iso = solutions("broken-operator-image-missing.iso");
    let dest = dir.path().join("forced");
    let out = run(&["export", s(&iso), "--oci", s(&dest), "--force"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        err.contains("warning: ") && err.contains("going on (--force)"),
        "{err}"
    );
    assert!(err.contains("[operator.image-missing]"), "{err}");
    assert!(dest.join("index.json").exists());
    // A valid archive prints nothing about validation.
    let out = run(&[
        "export",
        s(&solutions("example-solution-1.0.2.iso")),
        "--oci",
        s(&dir.path().join("good")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("validation"));
}

#[test]
fn push_refuses_before_contacting_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    for iso in refused_isos(dir.path()) {
        // Nothing listens on port 1: a push that got that far would fail with exit 2.
        let out = run(&["push", s(&iso), "--registry", "http://127.0.0.1:1", "-q"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {}",
            iso.display(),
            show(&out)
        );
        assert!(err.contains("validation error(s): refused"), "{err}");
    }
    let iso = solutions("broken-operator-image-missing.iso");
    let out = run(&[
        "push",
        s(&iso),
        "--registry",
        "http://127.0.0.1:1",
        "-q",
        "--force",
        "--timeout",
        "2",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(err.contains("going on (--force)"), "{err}");
}

#[test]
fn serve_refuses_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let isos = refused_isos(dir.path());
    let start = Instant::now();
    let good = solutions("example-solution-1.0.2.iso");
    let mut args = vec!["serve", "--addr", "127.0.0.1:0"];
    args.extend(isos.iter().map(|p| s(p)));
    args.push(s(&good));
    let out = run(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(start.elapsed() < Duration::from_secs(30));
    // Every refused archive is named, the good one is not.
    assert_eq!(err.matches(": refused").count(), isos.len(), "{err}");
    assert!(!err.contains("example-solution-1.0.2.iso"), "{err}");
    assert!(!err.contains("listening"), "{err}");
}
