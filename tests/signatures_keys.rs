//! `isolution verify` with the wrong keys: another key, key ids relabelled or edited, malformed
//! key files, and the SSH specifics (namespace, `SSHSIG` version, identity not allowed).
//!
//! Every case signs a small Solution-like tree with the real tool, tampers with it, masters the
//! ISO and runs `isolution verify` (text and `--json`), judged against the tools' own verdict
//! (see `isolution_tests::sig_case`). Failure words (`digest-mismatch`, `signature-invalid`,
//! …) and exit codes (0 verified, 1 verification failed, 2 unreadable key) are the stable
//! interface checked here.
//!
//! Run with `--nocapture` to see, per case, what `isolution` reported and what the tools said.

use std::ffi::OsString;
use std::process::Command;

use isolution_tests::sig::*;
use isolution_tests::sig_case::*;

// ---------------------------------------------------------------------------------------
// Keys and key ids
// ---------------------------------------------------------------------------------------

#[test]
fn a_signature_by_another_key_is_rejected() {
    let mut report = Report::default();
    for scheme in ALL_SCHEMES {
        let expect = if scheme == Scheme::Ssh {
            // The SSHSIG carries its own public key: not the allowed one.
            Expect::fail(&["signature-invalid", "key-id-mismatch"])
        } else {
            Expect::fail(&["key-id-mismatch"])
        };
        case(&mut report, scheme, "signed by another key", expect, |fx| {
            fx.other_keys().sign(&fx.sums(), &fx.sig())
        });
    }
    report.finish();
}

#[test]
fn another_keys_signature_relabelled_with_our_key_id_is_invalid() {
    each_case(
        &[Scheme::Minisign, Scheme::MinisignLegacy, Scheme::Signify],
        "another key's signature, key id rewritten to ours",
        Expect::fail(&["signature-invalid", "trusted-comment-forged"]),
        |fx| {
            fx.other_keys().sign(&fx.sums(), &fx.sig());
            let ours = fx.keys.public_bytes();
            Minisig::edit_sig(&fx.sig(), |s| s[2..10].copy_from_slice(&ours[2..10]));
        },
    );
}

#[test]
fn an_edited_key_id_is_a_key_id_mismatch() {
    each_case(
        &[Scheme::Minisign, Scheme::MinisignLegacy, Scheme::Signify],
        "key id bytes edited",
        Expect::fail(&["key-id-mismatch"]),
        |fx| Minisig::edit_sig(&fx.sig(), |s| s[2] ^= 0x01),
    );
}

#[test]
fn malformed_key_files_are_bad_keys() {
    let mut report = Report::default();
    for scheme in [Scheme::Minisign, Scheme::Signify, Scheme::Ssh] {
        let Some(fx) = Fixture::new(scheme, false) else {
            continue;
        };
        fx.build_iso();
        let reference = Reference {
            ok: false,
            note: "key file malformed".into(),
        };
        let bad = fx.dir.join("bad.key");
        let variants: Vec<(&str, Vec<u8>)> = if scheme == Scheme::Ssh {
            let good = std::fs::read_to_string(fx.keys.allowed.as_ref().unwrap()).unwrap();
            let b64 = good.split_whitespace().nth(2).unwrap().to_string();
            vec![
                ("empty file", vec![]),
                (
                    "base64 garbage",
                    format!("{IDENTITY} ssh-ed25519 !!!not-base64!!!\n").into_bytes(),
                ),
                (
                    "key blob cut short",
                    format!("{IDENTITY} ssh-ed25519 {}\n", &b64[..b64.len() - 8]).into_bytes(),
                ),
            ]
        } else {
            let pk = fx.keys.public_bytes();
            let mut wrong_alg = pk.clone();
            wrong_alg[..2].copy_from_slice(b"XX");
            vec![
                ("empty file", vec![]),
                (
                    "base64 garbage",
                    b"untrusted comment: x\n!!!not-base64!!!\n".to_vec(),
                ),
                (
                    "41-byte key",
                    format!("untrusted comment: x\n{}\n", b64::encode(&pk[..41])).into_bytes(),
                ),
                (
                    "43-byte key",
                    format!(
                        "untrusted comment: x\n{}\n",
                        b64::encode(&[&pk[..], &[0]].concat())
                    )
                    .into_bytes(),
                ),
                (
                    "algorithm XX",
                    format!("untrusted comment: x\n{}\n", b64::encode(&wrong_alg)).into_bytes(),
                ),
            ]
        };
        for (name, content) in variants {
            std::fs::write(&bad, &content).unwrap();
            let args: Vec<OsString> = if scheme == Scheme::Ssh {
                vec![
                    "--allowed-signers".into(),
                    bad.clone().into(),
                    "--identity".into(),
                    IDENTITY.into(),
                ]
            } else {
                vec!["--key".into(), bad.clone().into()]
            };
            let out = fx.verify(&args, &[]);
            report.add(judge(
                &format!("{scheme:?} / malformed key: {name}"),
                &out,
                &reference,
                &Expect::fail(&["bad-key"]).exits(&[2]),
            ));
        }
    }
    report.finish();
}

// ---------------------------------------------------------------------------------------
// SSH specifics
// ---------------------------------------------------------------------------------------

#[test]
fn an_ssh_signature_for_another_namespace_is_rejected() {
    each_case(
        &[Scheme::Ssh],
        "signed with -n file",
        Expect::fail(&["namespace-mismatch"]),
        |fx| fx.keys.sign_with(&fx.sums(), &fx.sig(), &["-n", "file"]),
    );
}

/// The signed data does not include the blob's version, so a version-2 blob still carries a
/// cryptographically valid signature: verifiers must reject versions other than 1.
#[test]
fn an_sshsig_blob_with_version_2_is_rejected() {
    each_case(
        &[Scheme::Ssh],
        "SSHSIG version 2",
        Expect::fail(&["signature-invalid"]),
        |fx| {
            let mut b = read_sshsig(&fx.sig());
            assert_eq!(&b[6..10], &1u32.to_be_bytes());
            b[6..10].copy_from_slice(&2u32.to_be_bytes());
            write_sshsig(&fx.sig(), &b);
        },
    );
}

#[test]
fn an_ssh_identity_not_in_allowed_signers_is_rejected() {
    let mut report = Report::default();
    let Some(fx) = Fixture::new(Scheme::Ssh, false) else {
        return;
    };
    fx.build_iso();
    let args: Vec<OsString> = vec![
        "--allowed-signers".into(),
        fx.keys.allowed.clone().unwrap().into(),
        "--identity".into(),
        "someone-else@example".into(),
    ];
    let out = fx.verify(&args, &[]);
    let r = run(
        Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(fx.keys.allowed.as_ref().unwrap())
            .args(["-I", "someone-else@example", "-n", NAMESPACE, "-s"])
            .arg(fx.sig()),
        Some(&fx.sums()),
    );
    report.add(judge(
        "Ssh / identity not allowed",
        &out,
        &Reference {
            ok: r.ok(),
            note: format!("ssh-keygen: {}", first_line(&r.all())),
        },
        &Expect::fail(&["key-id-mismatch", "signature-invalid", "bad-key"]).exits(&[1, 2]),
    ));
    report.finish();
}
