//! `isolution sums` and `isolution verify` against the real signing tools: minisign (`ED`
//! prehashed and legacy `Ed`), signify-openbsd, `ssh-keygen -Y`, genisoimage and isomd5sum.
//!
//! Every case builds a small Solution-like tree, lists it with `isolution sums`, signs the list
//! with the tool, tampers with the tree or the signature, masters the ISO and runs
//! `isolution verify` twice (text and `--json`). The same tree is also judged by the tool's own
//! verifier plus `sha256sum -c` plus a coverage check (every file listed): `isolution` must
//! agree with that reference, except where the reference is knowingly lax (signify and
//! OpenSSH accept non-canonical signatures and small-order keys; `isolution` must not).
//!
//! Failure words (`digest-mismatch`, `signature-invalid`, …) and exit codes (0 verified, 1
//! verification failed, 2 unreadable key) are the stable interface checked here.
//!
//! Run with `--nocapture` to see, per case, what `isolution` reported and what the tools said.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use isolution_tests::sig::*;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    tree: PathBuf,
    iso: PathBuf,
    keys: Keys,
}

/// Whether every tool of `tools` is installed; prints a SKIP line for the first missing one.
fn tools(tools: &[&str]) -> bool {
    for t in tools {
        if !have(t) {
            eprintln!("SKIP: {t} not installed");
            return false;
        }
    }
    true
}

impl Fixture {
    /// A signed tree (`SHA256SUMS` from `isolution sums`, signed with a fresh key of
    /// `scheme`), or `None` (after a SKIP line) when a tool is missing.
    fn new(scheme: Scheme, big: bool) -> Option<Fixture> {
        if !tools(&["genisoimage", "sha256sum", scheme.tool()]) {
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let tree = dir.join("tree");
        make_tree(&tree, big);
        let sums = isolution_sums(&tree);
        std::fs::write(tree.join("SHA256SUMS"), sums).unwrap();
        let keys = Keys::generate(scheme, &dir.join("keys"), "release");
        let fx = Fixture {
            iso: dir.join("x.iso"),
            _tmp: tmp,
            dir,
            tree,
            keys,
        };
        fx.keys.sign(&fx.sums(), &fx.sig());
        Some(fx)
    }

    fn scheme(&self) -> Scheme {
        self.keys.scheme
    }

    fn sums(&self) -> PathBuf {
        self.tree.join("SHA256SUMS")
    }

    fn sig(&self) -> PathBuf {
        self.tree.join(self.scheme().sig_name())
    }

    /// A second key pair of the same scheme.
    fn other_keys(&self) -> Keys {
        Keys::generate(self.scheme(), &self.dir.join("keys"), "other")
    }

    fn build_iso(&self) {
        let _ = std::fs::remove_file(&self.iso);
        make_iso(&self.tree, &self.iso);
    }

    /// `isolution verify ISO KEYARGS EXTRA` and the same with `--json`.
    fn verify(&self, key_args: &[OsString], extra: &[OsString]) -> (Run, Run) {
        let go = |json: bool| {
            let mut c = Command::new(isolution());
            c.arg("verify").arg(&self.iso).args(key_args).args(extra);
            if json {
                c.arg("--json");
            }
            run(&mut c, None)
        };
        (go(false), go(true))
    }

    /// The tools' verdict on the tree as it is now, trusting `keys`: the scheme's verifier on
    /// `SHA256SUMS` + signature, `sha256sum -c --strict`, and every file listed.
    fn reference(&self, keys: &Keys) -> Reference {
        let mut notes = Vec::new();
        let sums = self.sums();
        let sig = self.sig();
        let sig_ok = if sums.is_file() && sig.is_file() {
            let r = keys.tool_verify(&sums, &sig);
            notes.push(format!(
                "{} {}: {}",
                keys.scheme.tool(),
                if r.ok() { "accepts" } else { "rejects" },
                first_line(&r.all())
            ));
            r.ok()
        } else {
            notes.push("no SHA256SUMS or no signature".into());
            false
        };
        let content_ok = if sums.is_file() {
            let r = run(
                Command::new("sha256sum")
                    .args(["-c", "--strict", "--quiet", "SHA256SUMS"])
                    .current_dir(&self.tree),
                None,
            );
            if !r.ok() {
                notes.push(format!("sha256sum -c: {}", first_line(&r.all())));
            }
            r.ok()
        } else {
            false
        };
        let listed = std::fs::read_to_string(&sums)
            .map(|s| sums_paths(&s))
            .unwrap_or_default();
        let extra: Vec<String> = tree_files(&self.tree)
            .into_iter()
            .filter(|f| !listed.contains(f))
            .collect();
        if !extra.is_empty() {
            notes.push(format!("not listed: {extra:?}"));
        }
        Reference {
            ok: sig_ok && content_ok && extra.is_empty(),
            note: notes.join("; "),
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// What the tools concluded.
struct Reference {
    ok: bool,
    note: String,
}

/// What `isolution verify` must do.
#[derive(Clone)]
struct Expect {
    ok: bool,
    /// Failure: one of these words must be reported.
    kinds: Vec<&'static str>,
    /// Failure: the reported failure must name this path.
    path: Option<String>,
    /// Failure: accepted exit codes.
    exits: Vec<i32>,
    /// The reference tool is knowingly laxer (may accept what isolution must reject).
    lenient_tools: bool,
}

impl Expect {
    fn ok() -> Expect {
        Expect {
            ok: true,
            kinds: vec![],
            path: None,
            exits: vec![0],
            lenient_tools: false,
        }
    }

    fn fail(kinds: &[&'static str]) -> Expect {
        Expect {
            ok: false,
            kinds: kinds.to_vec(),
            path: None,
            exits: vec![1],
            lenient_tools: false,
        }
    }

    fn path(mut self, p: &str) -> Expect {
        self.path = Some(p.to_string());
        self
    }

    fn exits(mut self, e: &[i32]) -> Expect {
        self.exits = e.to_vec();
        self
    }

    fn lenient_tools(mut self, yes: bool) -> Expect {
        self.lenient_tools = yes;
        self
    }
}

/// Whether a report text names `kind` (`isomd5-mismatch` may read `isomd5 mismatch`).
fn names_kind(line: &str, kind: &str) -> bool {
    line.contains(kind) || (kind == "isomd5-mismatch" && line.contains("isomd5 mismatch"))
}

/// The JSON failures as (kind, path).
fn json_failures(v: &json::Value) -> Option<Vec<(String, String)>> {
    v.get("failures")?
        .as_array()?
        .iter()
        .map(|f| {
            Some((
                f.get("kind")?.as_str()?.to_string(),
                f.get("path")
                    .and_then(json::Value::as_str)
                    .unwrap_or("")
                    .trim_start_matches('/')
                    .to_string(),
            ))
        })
        .collect()
}

/// Checks one run of `isolution verify` (text and JSON) against `expect` and the tools'
/// `reference`. Returns a one-line note on success, the reasons on failure.
fn judge(
    label: &str,
    (text, js): &(Run, Run),
    reference: &Reference,
    expect: &Expect,
) -> Result<String, String> {
    let mut errs: Vec<String> = Vec::new();
    let iso_ok = text.ok();

    // The reference must see the case as the test means it (else the tampering did nothing),
    // and isolution must agree with it.
    if expect.lenient_tools {
        if expect.ok {
            errs.push("test bug: lenient_tools on a good case".into());
        }
    } else {
        if reference.ok != expect.ok {
            errs.push(format!(
                "test setup: the tools {} the tree ({})",
                if reference.ok { "accept" } else { "reject" },
                reference.note
            ));
        }
        if iso_ok != reference.ok {
            errs.push(format!(
                "isolution {} but the tools {} ({})",
                if iso_ok { "accepts" } else { "rejects" },
                if reference.ok { "accept" } else { "reject" },
                reference.note
            ));
        }
    }

    if js.code != text.code {
        errs.push(format!(
            "--json exits {:?}, text exits {:?}",
            js.code, text.code
        ));
    }
    let code = text.code.unwrap_or(-1);
    if !expect.exits.contains(&code) {
        errs.push(format!("exit {code}, expected one of {:?}", expect.exits));
    }

    let parsed = json::parse(&js.stdout);
    let mut seen_kinds: Vec<String> = Vec::new();
    if expect.ok {
        if !text.stdout.lines().any(|l| l.contains("verified")) {
            errs.push("no line says `verified`".into());
        }
        match &parsed {
            Err(e) => errs.push(format!("--json output is not one JSON object: {e}")),
            Ok(v) => {
                if v.get("verified").and_then(json::Value::as_bool) != Some(true) {
                    errs.push("--json: `verified` is not true".into());
                }
                match json_failures(v) {
                    Some(f) if f.is_empty() => {}
                    other => errs.push(format!("--json: failures should be [], got {other:?}")),
                }
            }
        }
    } else {
        let all = text.all();
        let found: Vec<&str> = expect
            .kinds
            .iter()
            .copied()
            .filter(|k| all.lines().any(|l| names_kind(l, k)))
            .collect();
        if found.is_empty() {
            errs.push(format!("output names none of {:?}", expect.kinds));
        }
        if let Some(p) = &expect.path {
            if !all
                .lines()
                .any(|l| l.contains(p.as_str()) && expect.kinds.iter().any(|k| names_kind(l, k)))
            {
                errs.push(format!("no output line names both the failure and {p}"));
            }
        }
        if code == 1 {
            match &parsed {
                Err(e) => errs.push(format!("--json output is not one JSON object: {e}")),
                Ok(v) => {
                    if v.get("verified").and_then(json::Value::as_bool) != Some(false) {
                        errs.push("--json: `verified` is not false".into());
                    }
                    match json_failures(v) {
                        None => errs.push("--json: no failures[] of {kind, path}".into()),
                        Some(f) => {
                            seen_kinds = f.iter().map(|(k, p)| format!("{k}:{p}")).collect();
                            let hit = f.iter().any(|(k, p)| {
                                expect.kinds.contains(&k.as_str())
                                    && expect.path.as_ref().is_none_or(|want| p == want)
                            });
                            if !hit {
                                errs.push(format!(
                                    "--json failures {f:?} have no kind in {:?}{}",
                                    expect.kinds,
                                    expect
                                        .path
                                        .as_ref()
                                        .map(|p| format!(" with path {p}"))
                                        .unwrap_or_default()
                                ));
                            }
                        }
                    }
                }
            }
        } else {
            seen_kinds = found.iter().map(|s| s.to_string()).collect();
        }
    }

    if errs.is_empty() {
        Ok(format!(
            "ok   {label}: exit {code} {seen_kinds:?}; tools: {}{}",
            if reference.ok { "accept" } else { "reject" },
            if expect.lenient_tools && reference.ok {
                " (lax tool accepts; isolution must not)"
            } else {
                ""
            }
        ))
    } else {
        Err(format!(
            "FAIL {label}:\n  - {}\n  text: {}\n  json: {}",
            errs.join("\n  - "),
            text.show(),
            js.show()
        ))
    }
}

/// Collects case results; panics at the end with every failure.
#[derive(Default)]
struct Report {
    fails: Vec<String>,
}

impl Report {
    fn add(&mut self, r: Result<String, String>) {
        match r {
            Ok(note) => eprintln!("{note}"),
            Err(e) => {
                eprintln!("{e}");
                self.fails.push(e);
            }
        }
    }

    fn finish(self) {
        assert!(
            self.fails.is_empty(),
            "{} case(s) failed:\n\n{}",
            self.fails.len(),
            self.fails.join("\n\n")
        );
    }
}

/// Runs one embedded-signature case: make a fixture for `scheme`, apply `tamper`, build
/// the ISO, verify with the fixture's own key, judge against the tools.
fn case(
    report: &mut Report,
    scheme: Scheme,
    name: &str,
    expect: Expect,
    tamper: impl FnOnce(&Fixture),
) {
    let Some(fx) = Fixture::new(scheme, false) else {
        return;
    };
    tamper(&fx);
    fx.build_iso();
    let out = fx.verify(&fx.keys.verify_args(), &[]);
    let reference = fx.reference(&fx.keys);
    report.add(judge(
        &format!("{scheme:?} / {name}"),
        &out,
        &reference,
        &expect,
    ));
}

fn edit_file(p: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = std::fs::read(p).unwrap();
    f(&mut b);
    std::fs::write(p, b).unwrap();
}

/// Rewrites the signature's Ed25519 (R || s) in place: minisig line 2 bytes 10..74, or the
/// last 64 bytes of the SSHSIG blob.
fn edit_ed25519_sig(fx: &Fixture, f: impl FnOnce(&mut [u8])) {
    if fx.scheme().is_minisig() {
        let mut m = Minisig::read(&fx.sig());
        let mut s = m.sig();
        f(&mut s[10..74]);
        m.set_sig(&s);
        m.write(&fx.sig());
    } else {
        let mut blob = read_sshsig(&fx.sig());
        let n = blob.len();
        f(&mut blob[n - 64..]);
        write_sshsig(&fx.sig(), &blob);
    }
}

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

// ---------------------------------------------------------------------------------------
// Content tampering (all schemes)
// ---------------------------------------------------------------------------------------

#[test]
fn one_byte_changed_in_a_blob_is_a_digest_mismatch() {
    let mut report = Report::default();
    for scheme in ALL_SCHEMES {
        let blob = layer_path();
        case(
            &mut report,
            scheme,
            "blob byte changed",
            Expect::fail(&["digest-mismatch"]).path(&blob),
            |fx| flip_byte(&fx.tree.join(&blob), 3),
        );
    }
    report.finish();
}

#[test]
fn one_byte_changed_in_manifest_yaml_is_a_digest_mismatch() {
    let mut report = Report::default();
    for scheme in ALL_SCHEMES {
        case(
            &mut report,
            scheme,
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
    report.finish();
}

#[test]
fn one_byte_changed_in_sha256sums_invalidates_the_signature() {
    let mut report = Report::default();
    for scheme in ALL_SCHEMES {
        case(
            &mut report,
            scheme,
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
    report.finish();
}

fn find_first(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("needle")
}

#[test]
fn a_file_added_after_signing_is_not_covered() {
    let mut report = Report::default();
    for scheme in ALL_SCHEMES {
        case(
            &mut report,
            scheme,
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
    report.finish();
}

#[test]
fn a_file_removed_after_signing_is_missing() {
    let mut report = Report::default();
    for scheme in ALL_SCHEMES {
        case(
            &mut report,
            scheme,
            "file removed",
            Expect::fail(&["missing"]).path("images/a/1.0/version"),
            |fx| std::fs::remove_file(fx.tree.join("images/a/1.0/version")).unwrap(),
        );
    }
    report.finish();
}

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
    let mut report = Report::default();
    for scheme in [Scheme::Minisign, Scheme::MinisignLegacy, Scheme::Signify] {
        case(
            &mut report,
            scheme,
            "another key's signature, key id rewritten to ours",
            Expect::fail(&["signature-invalid", "trusted-comment-forged"]),
            |fx| {
                fx.other_keys().sign(&fx.sums(), &fx.sig());
                let ours = fx.keys.public_bytes();
                let mut m = Minisig::read(&fx.sig());
                let mut s = m.sig();
                s[2..10].copy_from_slice(&ours[2..10]);
                m.set_sig(&s);
                m.write(&fx.sig());
            },
        );
    }
    report.finish();
}

#[test]
fn an_edited_key_id_is_a_key_id_mismatch() {
    let mut report = Report::default();
    for scheme in [Scheme::Minisign, Scheme::MinisignLegacy, Scheme::Signify] {
        case(
            &mut report,
            scheme,
            "key id bytes edited",
            Expect::fail(&["key-id-mismatch"]),
            |fx| {
                let mut m = Minisig::read(&fx.sig());
                let mut s = m.sig();
                s[2] ^= 0x01;
                m.set_sig(&s);
                m.write(&fx.sig());
            },
        );
    }
    report.finish();
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
        let mut m = Minisig::read(&fx.sig());
        assert!(m.lines[2].starts_with("trusted comment: "), "{:?}", m.lines);
        m.lines[2] = format!("trusted comment: {FORGED}");
        m.write(&fx.sig());
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
                let mut m = Minisig::read(&fx.sig());
                let mut s = m.sig();
                assert_ne!(&s[..2], to);
                s[..2].copy_from_slice(to);
                m.set_sig(&s);
                m.write(&fx.sig());
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
            let mut m = Minisig::read(&fx.sig());
            let s = m.sig();
            m.set_sig(&s[..s.len() - 1]);
            m.write(&fx.sig());
        }),
        ("signature line one byte long", |fx| {
            let mut m = Minisig::read(&fx.sig());
            let mut s = m.sig();
            s.push(0);
            m.set_sig(&s);
            m.write(&fx.sig());
        }),
        ("global signature one byte short", |fx| {
            let mut m = Minisig::read(&fx.sig());
            let g = m.global();
            m.set_global(&g[..63]);
            m.write(&fx.sig());
        }),
        ("trusted comment and global signature lines removed", |fx| {
            let mut m = Minisig::read(&fx.sig());
            m.lines.truncate(2);
            m.write(&fx.sig());
        }),
        ("global signature one byte long", |fx| {
            let mut m = Minisig::read(&fx.sig());
            let mut g = m.global();
            g.push(0);
            m.set_global(&g);
            m.write(&fx.sig());
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
            |fx| {
                let mut m = Minisig::read(&fx.sig());
                let mut g = m.global();
                add_group_order(&mut g);
                m.set_global(&g);
                m.write(&fx.sig());
            },
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

// ---------------------------------------------------------------------------------------
// SSH specifics
// ---------------------------------------------------------------------------------------

#[test]
fn an_ssh_signature_for_another_namespace_is_rejected() {
    let mut report = Report::default();
    case(
        &mut report,
        Scheme::Ssh,
        "signed with -n file",
        Expect::fail(&["namespace-mismatch"]),
        |fx| fx.keys.sign_with(&fx.sums(), &fx.sig(), &["-n", "file"]),
    );
    report.finish();
}

/// The signed data does not include the blob's version, so a version-2 blob still carries a
/// cryptographically valid signature: verifiers must reject versions other than 1.
#[test]
fn an_sshsig_blob_with_version_2_is_rejected() {
    let mut report = Report::default();
    case(
        &mut report,
        Scheme::Ssh,
        "SSHSIG version 2",
        Expect::fail(&["signature-invalid"]),
        |fx| {
            let mut b = read_sshsig(&fx.sig());
            assert_eq!(&b[6..10], &1u32.to_be_bytes());
            b[6..10].copy_from_slice(&2u32.to_be_bytes());
            write_sshsig(&fx.sig(), &b);
        },
    );
    report.finish();
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

// ---------------------------------------------------------------------------------------
// isomd5sum (integrity only)
// ---------------------------------------------------------------------------------------

/// A minisign-signed 4 MiB tree mastered and implanted; `checkisomd5` must pass first.
fn implanted() -> Option<Fixture> {
    if !tools(&["implantisomd5", "checkisomd5"]) {
        return None;
    }
    let fx = Fixture::new(Scheme::Minisign, true)?;
    fx.build_iso();
    must("implantisomd5", &[os(&fx.iso)], None);
    let r = run(Command::new("checkisomd5").arg(&fx.iso), None);
    assert!(r.ok(), "checkisomd5 fails on the fresh image: {}", r.show());
    Some(fx)
}

fn checkisomd5(iso: &Path) -> Reference {
    let r = run(Command::new("checkisomd5").arg(iso), None);
    Reference {
        ok: r.ok(),
        note: format!(
            "checkisomd5: {}",
            r.all()
                .lines()
                .find(|l| l.contains("result is"))
                .unwrap_or("?")
                .trim()
        ),
    }
}

#[test]
fn implanted_isomd5_is_reported_as_integrity_not_authenticity() {
    let mut report = Report::default();
    let Some(fx) = implanted() else {
        return;
    };
    let out = fx.verify(&fx.keys.verify_args(), &[]);
    let mut r = judge(
        "isomd5 / implanted",
        &out,
        &checkisomd5(&fx.iso),
        &Expect::ok(),
    );
    if r.is_ok() {
        let text = out.0.all();
        match text
            .lines()
            .find(|l| l.contains("isomd5") && l.contains("integrity ok"))
        {
            None => {
                r = Err(format!(
                    "FAIL isomd5 / implanted: no `isomd5 … integrity ok` line\n{}",
                    out.0.show()
                ))
            }
            Some(l) => {
                let lower = l.to_lowercase();
                if lower.contains("authentic")
                    && !(lower.contains("not authentic") || lower.contains("no authentic"))
                {
                    r = Err(format!(
                        "FAIL isomd5 / implanted: the isomd5 line speaks of authenticity: {l:?}"
                    ));
                }
            }
        }
    }
    report.add(r);
    report.finish();
}

#[test]
fn bytes_changed_after_implanting_are_an_isomd5_mismatch() {
    let mut report = Report::default();

    // A byte of big.bin's data: a content digest mismatch too.
    if let Some(fx) = implanted() {
        let img = std::fs::read(&fx.iso).unwrap();
        let at = find_unique(&img, BIG_MARKER) + (1 << 20);
        assert!(
            at < img.len() - 15 * 2048,
            "inside the sectors isomd5 skips"
        );
        flip_byte(&fx.iso, at);
        let out = fx.verify(&fx.keys.verify_args(), &[]);
        let mut r = judge(
            "isomd5 / big.bin data byte flipped",
            &out,
            &checkisomd5(&fx.iso),
            &Expect::fail(&["isomd5-mismatch"]),
        );
        if r.is_ok() {
            // The content check must name the file as well.
            r = judge(
                "isomd5 / big.bin data byte flipped (content)",
                &out,
                &checkisomd5(&fx.iso),
                &Expect::fail(&["digest-mismatch"]).path("big.bin"),
            );
        }
        report.add(r);
    } else {
        report.finish();
        return;
    }

    // A padding byte after notes.txt's data: covered by isomd5 only.
    if let Some(fx) = implanted() {
        let img = std::fs::read(&fx.iso).unwrap();
        let start = find_unique(&img, NOTES);
        assert_eq!(start % 2048, 0, "notes.txt data not sector aligned");
        let at = start + NOTES.len() + 100;
        assert_eq!(img[at], 0, "not padding");
        assert!(
            at < img.len() - 15 * 2048,
            "inside the sectors isomd5 skips"
        );
        flip_byte(&fx.iso, at);
        let out = fx.verify(&fx.keys.verify_args(), &[]);
        let mut r = judge(
            "isomd5 / padding byte after notes.txt flipped",
            &out,
            &checkisomd5(&fx.iso),
            &Expect::fail(&["isomd5-mismatch"]),
        );
        if r.is_ok() {
            if let Ok(v) = json::parse(&out.1.stdout) {
                let kinds: Vec<String> = json_failures(&v)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                if kinds.iter().any(|k| k != "isomd5-mismatch") {
                    r = Err(format!(
                        "FAIL isomd5 / padding flipped: only isomd5-mismatch expected, got {kinds:?}"
                    ));
                }
            }
        }
        report.add(r);
    }
    report.finish();
}
