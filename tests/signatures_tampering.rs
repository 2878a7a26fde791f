//! `isolution verify` on trees changed after signing (a blob, `manifest.yaml`, `SHA256SUMS`, a
//! file added or removed), on unsigned trees, and detached signatures over the whole ISO.
//!
//! Every case signs a small Solution-like tree with the real tool, tampers with it, masters the
//! ISO and runs `isolution verify` (text and `--json`), judged against the tools' own verdict
//! (see `isolution_tests::sig_case`). Failure words (`digest-mismatch`, `signature-invalid`,
//! …) and exit codes (0 verified, 1 verification failed, 2 unreadable key) are the stable
//! interface checked here.
//!
//! Run with `--nocapture` to see, per case, what `isolution` reported and what the tools said.

use std::ffi::OsString;
use std::path::PathBuf;

use isolution_tests::sig::*;
use isolution_tests::sig_case::*;

// ---------------------------------------------------------------------------------------
// Content tampering (all schemes)
// ---------------------------------------------------------------------------------------

#[test]
fn one_byte_changed_in_a_blob_is_a_digest_mismatch() {
    let blob = layer_path();
    each_case(
        &ALL_SCHEMES,
        "blob byte changed",
        Expect::fail(&["digest-mismatch"]).path(&blob),
        |fx| flip_byte(&fx.tree.join(&blob), 3),
    );
}

#[test]
fn one_byte_changed_in_manifest_yaml_is_a_digest_mismatch() {
    each_case(
        &ALL_SCHEMES,
        "manifest.yaml byte changed",
        Expect::fail(&["digest-mismatch"]).path("manifest.yaml"),
        |fx| {
            // "version: 1.0.0" -> "version: 1.0.1"
            edit_file(&fx.tree.join("manifest.yaml"), |b| {
                let at = find_unique(b, b"1.0.0") + 4;
                b[at] = b'1';
            })
        },
    );
}

#[test]
fn one_byte_changed_in_sha256sums_invalidates_the_signature() {
    each_case(
        &ALL_SCHEMES,
        "SHA256SUMS byte changed",
        Expect::fail(&["signature-invalid"]),
        |fx| {
            // First hex digit of the first digest, to another hex digit: still well formed.
            edit_file(&fx.sums(), |b| {
                let at = find_first(b, b") = ") + 4;
                b[at] = if b[at] == b'0' { b'1' } else { b'0' };
            })
        },
    );
}

fn find_first(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("needle")
}

#[test]
fn a_file_added_after_signing_is_not_covered() {
    each_case(
        &ALL_SCHEMES,
        "file added",
        Expect::fail(&["not-covered"]).path("operator/deploy/extra.yaml"),
        |fx| {
            std::fs::write(
                fx.tree.join("operator/deploy/extra.yaml"),
                b"kind: ClusterRoleBinding\n",
            )
            .unwrap()
        },
    );
}

#[test]
fn a_file_removed_after_signing_is_missing() {
    each_case(
        &ALL_SCHEMES,
        "file removed",
        Expect::fail(&["missing"]).path("images/a/1.0/version"),
        |fx| std::fs::remove_file(fx.tree.join("images/a/1.0/version")).unwrap(),
    );
}

// ---------------------------------------------------------------------------------------
// Unsigned trees
// ---------------------------------------------------------------------------------------

#[test]
fn unsigned_trees_are_refused() {
    let mut report = Report::default();
    for scheme in [Scheme::Minisign, Scheme::Ssh] {
        case(
            &mut report,
            scheme,
            "no signature file",
            Expect::fail(&["no-signature"]),
            |fx| std::fs::remove_file(fx.sig()).unwrap(),
        );
        case(
            &mut report,
            scheme,
            "no SHA256SUMS (nor signature)",
            Expect::fail(&["no-sums"]),
            |fx| {
                std::fs::remove_file(fx.sig()).unwrap();
                std::fs::remove_file(fx.sums()).unwrap();
            },
        );
        case(
            &mut report,
            scheme,
            "only the other format's signature",
            Expect::fail(&["no-signature"]),
            |fx| {
                let other = if scheme == Scheme::Ssh {
                    "SHA256SUMS.minisig"
                } else {
                    "SHA256SUMS.sig"
                };
                std::fs::rename(fx.sig(), fx.tree.join(other)).unwrap();
            },
        );
    }
    report.finish();
}

// ---------------------------------------------------------------------------------------
// Detached signatures over the whole ISO
// ---------------------------------------------------------------------------------------

#[test]
fn detached_signatures_over_the_whole_iso() {
    let mut report = Report::default();
    for scheme in [Scheme::Minisign, Scheme::Ssh] {
        let Some(fx) = Fixture::new(scheme, false) else {
            continue;
        };
        fx.build_iso();
        let sig = PathBuf::from(format!(
            "{}.{}",
            fx.iso.display(),
            if scheme == Scheme::Ssh {
                "sig"
            } else {
                "minisig"
            }
        ));
        fx.keys.sign(&fx.iso, &sig);
        let extra: Vec<OsString> = vec!["--detached".into(), sig.clone().into()];
        let tool_ref = |label: &str| {
            let r = fx.keys.tool_verify(&fx.iso, &sig);
            Reference {
                ok: r.ok(),
                note: format!("{} on {label}: {}", scheme.tool(), first_line(&r.all())),
            }
        };

        let out = fx.verify(&fx.keys.verify_args(), &extra);
        report.add(judge(
            &format!("{scheme:?} / detached, good"),
            &out,
            &tool_ref("the ISO"),
            &Expect::ok(),
        ));

        // One byte of the system area: content (and embedded signature) unchanged.
        flip_byte(&fx.iso, 1000);
        let out = fx.verify(&fx.keys.verify_args(), &extra);
        report.add(judge(
            &format!("{scheme:?} / detached, ISO byte 1000 flipped"),
            &out,
            &tool_ref("the flipped ISO"),
            &Expect::fail(&["signature-invalid"]),
        ));
    }
    report.finish();
}
