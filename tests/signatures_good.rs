//! `isolution sums` (the list, checked against an independent listing and `sha256sum -c`), and
//! good signatures of every scheme verifying: minisign (`ED` prehashed and legacy `Ed`),
//! signify-openbsd, `ssh-keygen -Y` (sha512 and sha256).
//!
//! Every case signs a small Solution-like tree with the real tool, tampers with it, masters the
//! ISO and runs `isolution verify` (text and `--json`), judged against the tools' own verdict
//! (see `isolution_tests::sig_case`). Failure words (`digest-mismatch`, `signature-invalid`,
//! …) and exit codes (0 verified, 1 verification failed, 2 unreadable key) are the stable
//! interface checked here.
//!
//! Run with `--nocapture` to see, per case, what `isolution` reported and what the tools said.

use std::process::Command;

use isolution_tests::sig::*;
use isolution_tests::sig_case::*;
use isolution_tests::tools;

// ---------------------------------------------------------------------------------------
// `isolution sums`
// ---------------------------------------------------------------------------------------

#[test]
fn sums_lists_every_regular_file_in_bsd_tag_form() {
    if !tools(&["sha256sum"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    make_tree(&tree, false);
    std::fs::create_dir_all(tree.join("docs/empty-dir")).unwrap();
    std::fs::write(tree.join("docs/read me.txt"), b"spaces in names\n").unwrap();
    std::fs::write(tree.join("SHA256SUMS.txt"), b"not the list itself\n").unwrap();
    let want = expected_sums(&tree);
    let got = isolution_sums(&tree);
    assert_eq!(
        got, want,
        "isolution sums differs from the independent listing"
    );
    assert!(got.contains("SHA256 (SHA256SUMS.txt) = "));
    assert!(got.contains(&format!("SHA256 ({}) = ", layer_path())));

    // sha256sum accepts it as is.
    std::fs::write(tree.join("SHA256SUMS"), &got).unwrap();
    let r = run(
        Command::new("sha256sum")
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(&tree),
        None,
    );
    assert!(r.ok(), "sha256sum -c rejects the list: {}", r.show());

    // The list and its signatures are not listed, wherever they come from.
    std::fs::write(tree.join("SHA256SUMS.minisig"), b"x\n").unwrap();
    std::fs::write(tree.join("SHA256SUMS.sig"), b"x\n").unwrap();
    assert_eq!(isolution_sums(&tree), want, "SHA256SUMS* files got listed");
}

// ---------------------------------------------------------------------------------------
// Good signatures
// ---------------------------------------------------------------------------------------

#[test]
fn good_signatures_verify_with_every_scheme() {
    let mut report = Report::default();
    for scheme in ALL_SCHEMES {
        let Some(fx) = Fixture::new(scheme, false) else {
            continue;
        };
        fx.build_iso();
        let out = fx.verify(&fx.keys.verify_args(), &[]);
        let reference = fx.reference(&fx.keys);
        let mut r = judge(
            &format!("{scheme:?} / good"),
            &out,
            &reference,
            &Expect::ok(),
        );
        if r.is_ok() {
            let text = &out.0.stdout;
            if scheme.has_trusted_comment() && !text.contains(TRUSTED_COMMENT) {
                r = Err(format!(
                    "FAIL {scheme:?} / good: the verified trusted comment {TRUSTED_COMMENT:?} is not shown\n{}",
                    out.0.show()
                ));
            } else if text
                .lines()
                .any(|l| l.contains("isomd5") && l.contains("integrity ok"))
            {
                r = Err(format!(
                    "FAIL {scheme:?} / good: claims isomd5 integrity on an image without implanted sums\n{}",
                    out.0.show()
                ));
            }
        }
        report.add(r);
    }
    report.finish();
}

#[test]
fn good_ssh_signature_with_sha256_hash_verifies() {
    let mut report = Report::default();
    let Some(fx) = Fixture::new(Scheme::Ssh, false) else {
        return;
    };
    fx.keys
        .sign_with(&fx.sums(), &fx.sig(), &["-O", "hashalg=sha256"]);
    fx.build_iso();
    let out = fx.verify(&fx.keys.verify_args(), &[]);
    report.add(judge(
        "Ssh / good, hashalg=sha256",
        &out,
        &fx.reference(&fx.keys),
        &Expect::ok(),
    ));
    report.finish();
}
