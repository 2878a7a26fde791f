//! `isolution verify` on edited signature files: trusted comments, algorithms, truncated and
//! over-long signatures, non-canonical signatures and small-order keys (the malleability and
//! weak keys lax verifiers accept).
//!
//! Every case signs a small Solution-like tree with the real tool, tampers with it, masters the
//! ISO and runs `isolution verify` (text and `--json`), judged against the tools' own verdict
//! (see `isolution_tests::sig_case`). Failure words (`digest-mismatch`, `signature-invalid`,
//! …) and exit codes (0 verified, 1 verification failed, 2 unreadable key) are the stable
//! interface checked here.
//!
//! Run with `--nocapture` to see, per case, what `isolution` reported and what the tools said.

use isolution_tests::sig::*;
use isolution_tests::sig_case::*;

// ---------------------------------------------------------------------------------------
// Signature surgery (minisign / signify)
// ---------------------------------------------------------------------------------------

#[test]
fn an_edited_trusted_comment_is_forged_and_not_shown() {
    let mut report = Report::default();
    const FORGED: &str = "isolution-test test-solution 9.9.9";
    for scheme in [Scheme::Minisign, Scheme::MinisignLegacy] {
        let Some(fx) = Fixture::new(scheme, false) else {
            continue;
        };
        Minisig::edit(&fx.sig(), |m| {
            assert!(m.lines[2].starts_with("trusted comment: "), "{:?}", m.lines);
            m.lines[2] = format!("trusted comment: {FORGED}");
        });
        fx.build_iso();
        let out = fx.verify(&fx.keys.verify_args(), &[]);
        let mut r = judge(
            &format!("{scheme:?} / trusted comment edited"),
            &out,
            &fx.reference(&fx.keys),
            &Expect::fail(&["trusted-comment-forged"]),
        );
        // The forged text may only appear in the line reporting the forgery.
        if let Some(l) = out
            .0
            .all()
            .lines()
            .find(|l| l.contains(FORGED) && !l.contains("forged"))
        {
            r = Err(format!(
                "FAIL {scheme:?} / trusted comment edited: the unverified comment is shown: {l:?}"
            ));
        }
        report.add(r);
    }
    report.finish();
}

#[test]
fn a_swapped_algorithm_is_an_invalid_signature() {
    let mut report = Report::default();
    for (scheme, to) in [
        (Scheme::Minisign, b"Ed"),
        (Scheme::MinisignLegacy, b"ED"),
        (Scheme::Signify, b"ED"),
    ] {
        case(
            &mut report,
            scheme,
            &format!("algorithm bytes set to {}", String::from_utf8_lossy(to)),
            Expect::fail(&["signature-invalid"]),
            |fx| {
                Minisig::edit_sig(&fx.sig(), |s| {
                    assert_ne!(&s[..2], to);
                    s[..2].copy_from_slice(to);
                })
            },
        );
    }
    report.finish();
}

/// Truncated and over-long signature files: the key is fine, so exit 1 and
/// `signature-invalid` (an empty file may also read as `no-signature`).
#[test]
fn truncated_and_overlong_signatures_are_invalid() {
    let mut report = Report::default();
    type Edit = fn(&Fixture);
    let common: [(&str, Edit); 2] = [
        ("signature file cut in half", |fx| {
            edit_file(&fx.sig(), |b| b.truncate(b.len() / 2))
        }),
        ("signature file empty", |fx| {
            edit_file(&fx.sig(), Vec::clear)
        }),
    ];
    let minisig: [(&str, Edit); 5] = [
        ("signature line one byte short", |fx| {
            Minisig::edit_sig(&fx.sig(), |s| *s = s[..s.len() - 1].to_vec())
        }),
        ("signature line one byte long", |fx| {
            Minisig::edit_sig(&fx.sig(), |s| s.push(0))
        }),
        ("global signature one byte short", |fx| {
            Minisig::edit_global(&fx.sig(), |g| *g = g[..63].to_vec())
        }),
        ("trusted comment and global signature lines removed", |fx| {
            Minisig::edit(&fx.sig(), |m| m.lines.truncate(2))
        }),
        ("global signature one byte long", |fx| {
            Minisig::edit_global(&fx.sig(), |g| g.push(0))
        }),
    ];
    let ssh: [(&str, Edit); 3] = [
        ("SSHSIG blob one byte short", |fx| {
            let b = read_sshsig(&fx.sig());
            write_sshsig(&fx.sig(), &b[..b.len() - 1]);
        }),
        ("SSHSIG blob one byte long", |fx| {
            let mut b = read_sshsig(&fx.sig());
            b.push(0);
            write_sshsig(&fx.sig(), &b);
        }),
        ("SSHSIG armor without END line", |fx| {
            let t = std::fs::read_to_string(fx.sig()).unwrap();
            let t: String = t
                .lines()
                .filter(|l| !l.starts_with("-----END"))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(fx.sig(), t).unwrap();
        }),
    ];
    for scheme in ALL_SCHEMES {
        let mut edits: Vec<(&str, Edit)> = common.to_vec();
        match scheme {
            Scheme::Ssh => edits.extend(ssh),
            Scheme::Signify => edits.extend(&minisig[..2]),
            // Without a trusted comment a legacy `Ed` signature is signify's format, which is
            // accepted by design (§5.7) though minisign itself refuses it.
            Scheme::MinisignLegacy => {
                edits.extend(minisig.iter().filter(|(n, _)| !n.starts_with("trusted")))
            }
            Scheme::Minisign => edits.extend(minisig),
        }
        for (name, edit) in edits {
            let kinds: &[&str] = if name.contains("empty") {
                &["signature-invalid", "no-signature"]
            } else if name.starts_with("global") || name.starts_with("trusted") {
                &["signature-invalid", "trusted-comment-forged"]
            } else {
                &["signature-invalid"]
            };
            case(&mut report, scheme, name, Expect::fail(kinds), edit);
        }
    }
    report.finish();
}

// ---------------------------------------------------------------------------------------
// Malleability and weak keys (verify_strict)
// ---------------------------------------------------------------------------------------

/// s + L (same R): a second valid-looking encoding of the same signature. libsodium
/// (minisign) rejects it; ref10 (signify, OpenSSH) accepts it; isolution must reject it.
#[test]
fn non_canonical_signatures_are_rejected() {
    let mut report = Report::default();
    for scheme in ALL_SCHEMES {
        case(
            &mut report,
            scheme,
            "signature s += L",
            Expect::fail(&["signature-invalid"])
                .lenient_tools(matches!(scheme, Scheme::Signify | Scheme::Ssh)),
            |fx| edit_ed25519_sig(fx, add_group_order),
        );
    }
    for scheme in [Scheme::Minisign, Scheme::MinisignLegacy] {
        case(
            &mut report,
            scheme,
            "global signature s += L",
            Expect::fail(&["signature-invalid", "trusted-comment-forged"]),
            |fx| Minisig::edit_global(&fx.sig(), |g| add_group_order(g)),
        );
    }
    report.finish();
}

/// A small-order public key (the identity point) with the signature (R = identity, s = 0)
/// that "verifies" any message under it without strict checks. Trusting such a key must
/// fail: as an unusable key (`bad-key`, exit 2) or as an invalid signature (exit 1).
#[test]
fn a_small_order_public_key_is_rejected() {
    let mut report = Report::default();
    for scheme in ALL_SCHEMES {
        let Some(fx) = Fixture::new(scheme, false) else {
            continue;
        };
        let weak = if scheme.is_minisig() {
            let pk = fx.keys.public_bytes();
            let key_id = &pk[2..10];
            let weak_pub = fx.dir.join("weak.pub");
            std::fs::write(
                &weak_pub,
                format!(
                    "untrusted comment: small-order key\n{}\n",
                    b64::encode(&[b"Ed", key_id, &IDENTITY_POINT].concat())
                ),
            )
            .unwrap();
            let alg: &[u8] = if scheme == Scheme::Minisign {
                b"ED"
            } else {
                b"Ed"
            };
            let mut lines = vec![
                "untrusted comment: forged".to_string(),
                b64::encode(&[alg, key_id, &WEAK_FORGERY].concat()),
            ];
            if scheme.has_trusted_comment() {
                lines.push(format!("trusted comment: {TRUSTED_COMMENT}"));
                lines.push(b64::encode(&WEAK_FORGERY));
            }
            Minisig { lines }.write(&fx.sig());
            Keys {
                public: weak_pub,
                ..fx.keys.clone()
            }
        } else {
            let allowed = fx.dir.join("weak.allowed_signers");
            std::fs::write(
                &allowed,
                format!(
                    "{IDENTITY} ssh-ed25519 {}\n",
                    ssh_ed25519_public(&IDENTITY_POINT)
                ),
            )
            .unwrap();
            write_sshsig(
                &fx.sig(),
                &sshsig_blob(&IDENTITY_POINT, NAMESPACE, &WEAK_FORGERY),
            );
            Keys {
                allowed: Some(allowed),
                ..fx.keys.clone()
            }
        };
        fx.build_iso();
        let out = fx.verify(&weak.verify_args(), &[]);
        report.add(judge(
            &format!("{scheme:?} / small-order public key + universal forgery"),
            &out,
            &fx.reference(&weak),
            &Expect::fail(&["bad-key", "signature-invalid"])
                .exits(&[1, 2])
                .lenient_tools(matches!(scheme, Scheme::Signify | Scheme::Ssh)),
        ));
    }
    report.finish();
}
