//! The harness of the `sums`/`verify` tests (`tests/signatures_*.rs`).
//!
//! Every case builds a small Solution-like tree, lists it with `isolution sums`, signs the list
//! with the tool, tampers with the tree or the signature, masters the ISO and runs
//! `isolution verify` twice (text and `--json`): a [`Fixture`]. The same tree is also judged by
//! the tool's own verifier plus `sha256sum -c` plus a coverage check (every file listed), the
//! [`Reference`]: `isolution` must agree with it, except where the reference is knowingly lax
//! (signify and OpenSSH accept non-canonical signatures and small-order keys; `isolution` must
//! not). [`judge`] checks one run against what is [`Expect`]ed; a [`Report`] collects the cases
//! of a test and fails it at the end with every failure.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sig::*;
use crate::tools;

pub struct Fixture {
    _tmp: tempfile::TempDir,
    /// The temporary directory of everything below.
    pub dir: PathBuf,
    /// The Solution-like tree ([`make_tree`]), with `SHA256SUMS` and its signature.
    pub tree: PathBuf,
    /// Where [`Fixture::build_iso`] masters the tree.
    pub iso: PathBuf,
    /// The key pair the tree is signed with.
    pub keys: Keys,
}

impl Fixture {
    /// A signed tree (`SHA256SUMS` from `isolution sums`, signed with a fresh key of
    /// `scheme`), or `None` (after a skip message) when a tool is missing.
    pub fn new(scheme: Scheme, big: bool) -> Option<Fixture> {
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

    pub fn scheme(&self) -> Scheme {
        self.keys.scheme
    }

    pub fn sums(&self) -> PathBuf {
        self.tree.join("SHA256SUMS")
    }

    pub fn sig(&self) -> PathBuf {
        self.tree.join(self.scheme().sig_name())
    }

    /// A second key pair of the same scheme.
    pub fn other_keys(&self) -> Keys {
        Keys::generate(self.scheme(), &self.dir.join("keys"), "other")
    }

    pub fn build_iso(&self) {
        let _ = std::fs::remove_file(&self.iso);
        make_iso(&self.tree, &self.iso);
    }

    /// `isolution verify ISO KEYARGS EXTRA` and the same with `--json`.
    pub fn verify(&self, key_args: &[OsString], extra: &[OsString]) -> (Run, Run) {
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
    pub fn reference(&self, keys: &Keys) -> Reference {
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

pub fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// What the tools concluded.
pub struct Reference {
    pub ok: bool,
    pub note: String,
}

/// What `isolution verify` must do.
#[derive(Clone)]
pub struct Expect {
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
    pub fn ok() -> Expect {
        Expect {
            ok: true,
            kinds: vec![],
            path: None,
            exits: vec![0],
            lenient_tools: false,
        }
    }

    pub fn fail(kinds: &[&'static str]) -> Expect {
        Expect {
            ok: false,
            kinds: kinds.to_vec(),
            path: None,
            exits: vec![1],
            lenient_tools: false,
        }
    }

    pub fn path(mut self, p: &str) -> Expect {
        self.path = Some(p.to_string());
        self
    }

    pub fn exits(mut self, e: &[i32]) -> Expect {
        self.exits = e.to_vec();
        self
    }

    pub fn lenient_tools(mut self, yes: bool) -> Expect {
        self.lenient_tools = yes;
        self
    }
}

/// Whether a report text names `kind` (`isomd5-mismatch` may read `isomd5 mismatch`).
pub fn names_kind(line: &str, kind: &str) -> bool {
    line.contains(kind) || (kind == "isomd5-mismatch" && line.contains("isomd5 mismatch"))
}

/// The JSON failures as (kind, path).
pub fn json_failures(v: &json::Value) -> Option<Vec<(String, String)>> {
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
pub fn judge(
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
pub struct Report {
    fails: Vec<String>,
}

impl Report {
    pub fn add(&mut self, r: Result<String, String>) {
        match r {
            Ok(note) => eprintln!("{note}"),
            Err(e) => {
                eprintln!("{e}");
                self.fails.push(e);
            }
        }
    }

    pub fn finish(self) {
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
pub fn case(
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

/// One [`case`] for each of `schemes`, all with the same name, expectation and tampering, in
/// a report of their own that fails at the end with every failure.
pub fn each_case(schemes: &[Scheme], name: &str, expect: Expect, tamper: impl Fn(&Fixture)) {
    let mut report = Report::default();
    for &scheme in schemes {
        case(&mut report, scheme, name, expect.clone(), &tamper);
    }
    report.finish();
}

pub fn edit_file(p: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = std::fs::read(p).unwrap();
    f(&mut b);
    std::fs::write(p, b).unwrap();
}

/// Rewrites the signature's Ed25519 (R || s) in place: minisig line 2 bytes 10..74, or the
/// last 64 bytes of the SSHSIG blob.
pub fn edit_ed25519_sig(fx: &Fixture, f: impl FnOnce(&mut [u8])) {
    if fx.scheme().is_minisig() {
        Minisig::edit_sig(&fx.sig(), |s| f(&mut s[10..74]));
    } else {
        let mut blob = read_sshsig(&fx.sig());
        let n = blob.len();
        f(&mut blob[n - 64..]);
        write_sshsig(&fx.sig(), &blob);
    }
}
