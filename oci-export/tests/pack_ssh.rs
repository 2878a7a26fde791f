//! `isolution pack --sign KEY` with an OpenSSH private key (issue 17): `SHA256SUMS.sig` is byte
//! for byte what `ssh-keygen -Y sign -n metalk8s-solution` writes for the same key and file
//! (Ed25519 signatures are deterministic), `ssh-keygen -Y verify` and `isolution verify
//! --allowed-signers` accept it, passphrase-protected keys (bcrypt-pbkdf with aes256-ctr, what
//! ssh-keygen makes, and chacha20-poly1305) are read with `--password-file`, and keys that
//! cannot sign (other key types, public keys, PEM keys, a wrong passphrase) are refused by
//! name: exit 2, one line, nothing left in the output's directory.
//!
//! The Solution packed is the bundled example's tree, its images given as the skopeo `dir:`
//! copies the fixture holds (no skopeo needed), its manifest.yaml fixed for `validate
//! --strict` as `tests/pack.rs` fixes it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::{show, solution, tool, tools, BIN};

/// SOURCE_DATE_EPOCH of every pack here: the fixture's own (2023-11-14T22:13:20Z).
const SDE: &str = "1700000000";
/// The fixture's images: (name, tag).
const REFS: [(&str, &str); 3] = [
    ("base-server", "1.0.2"),
    ("base-server", "latest"),
    ("example-solution-operator", "1.0.2"),
];
const DISPLAY_NAME_KEY: &str = "solutions.metalk8s.scality.com/display-name";
/// The namespace `isolution verify` pins.
const NAMESPACE: &str = "metalk8s-solution";
const IDENTITY: &str = "release@example.com";

/// A path as a `&str` (every path here is a temporary directory's, UTF-8).
fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `PROG ARGS`, whatever it does (stdin from `stdin`, a file, or /dev/null).
fn cmd_in(prog: &str, args: &[&str], stdin: Option<&Path>) -> Output {
    Command::new(prog)
        .args(args)
        .stdin(match stdin {
            Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
            None => Stdio::null(),
        })
        .output()
        .unwrap_or_else(|e| panic!("{prog}: {e}"))
}

/// `PROG ARGS`, asserting success.
#[track_caller]
fn ok(prog: &str, args: &[&str]) -> Output {
    let out = cmd_in(prog, args, None);
    assert!(out.status.success(), "{prog} {args:?}: {}", show(&out));
    out
}

/// The bundled example Solution's tree, ready to pack.
struct Example {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    tree: PathBuf,
    /// The fixture's `images/` (skopeo `dir:` copies), kept out of the tree.
    images: PathBuf,
}

impl Example {
    /// `isolution pack -q TREE -o OUT --image NAME:TAG=dir:... EXTRA`.
    fn pack(&self, out: &Path, extra: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        c.args(["pack", "-q", s(&self.tree), "-o", s(out)]);
        for (n, t) in REFS {
            c.arg("--image").arg(format!(
                "{n}:{t}=dir:{}",
                self.images.join(n).join(t).display()
            ));
        }
        c.args(extra)
            .env("SOURCE_DATE_EPOCH", SDE)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// [`Example::pack`], asserting exit 0; the summary printed.
    #[track_caller]
    fn pack_ok(&self, out: &Path, extra: &[&str]) -> String {
        let o = self.pack(out, extra);
        assert_eq!(o.status.code(), Some(0), "pack: {}", show(&o));
        String::from_utf8(o.stdout).unwrap()
    }
}

/// The example's tree (see `tests/pack.rs`'s `example`: its manifest.yaml fixed for
/// `validate --strict`), its images moved aside.
fn example() -> Example {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let tree = dir.join("tree");
    ok(
        BIN,
        &[
            "extract",
            "-q",
            s(&solution("example-solution-1.0.2.iso")),
            s(&tree),
        ],
    );
    let images = dir.join("images");
    std::fs::rename(tree.join("images"), &images).unwrap();
    let m = tree.join("manifest.yaml");
    let text = std::fs::read_to_string(&m).unwrap();
    let fixed = text.replace("  - :1.0.2\n", "").replace(
        "spec:\n",
        &format!("annotations:\n  {DISPLAY_NAME_KEY}: Example Solution\nspec:\n"),
    );
    assert!(
        fixed.len() > text.len() && !fixed.contains("- :1.0.2"),
        "the fixture's manifest.yaml changed: {text}"
    );
    std::fs::write(&m, fixed).unwrap();
    Example {
        _tmp: tmp,
        dir,
        tree,
        images,
    }
}

/// `ssh-keygen -q -t TYPE -N '' -C COMMENT -f DIR/NAME EXTRA`; the private key's path.
#[track_caller]
fn keygen(dir: &Path, name: &str, kind: &str, extra: &[&str]) -> PathBuf {
    let key = dir.join(name);
    let mut args = vec![
        "-q",
        "-t",
        kind,
        "-N",
        "",
        "-C",
        "packager@example.com",
        "-f",
        s(&key),
    ];
    args.extend_from_slice(extra);
    ok("ssh-keygen", &args);
    key
}

/// The fingerprint `ssh-keygen -l -f KEY` prints (`SHA256:...`).
fn fingerprint(key: &Path) -> String {
    let o = ok("ssh-keygen", &["-l", "-f", s(key)]);
    let text = String::from_utf8(o.stdout).unwrap();
    let fp = text.split_whitespace().nth(1).unwrap().to_string();
    assert!(fp.starts_with("SHA256:"), "{text}");
    fp
}

/// An allowed_signers file allowing `KEY.pub` as [`IDENTITY`].
fn allowed_signers(key: &Path, to: &Path) -> PathBuf {
    let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
    let mut fields = public.split_whitespace();
    let line = format!(
        "{IDENTITY} {} {}\n",
        fields.next().unwrap(),
        fields.next().unwrap()
    );
    std::fs::write(to, line).unwrap();
    to.to_path_buf()
}

/// `isoinfo -R -x /PATH` of the ISO (an independent reader).
fn isoinfo_x(iso: &Path, path: &str) -> Vec<u8> {
    ok("isoinfo", &["-i", s(iso), "-R", "-x", &format!("/{path}")]).stdout
}

/// The names at the root of the ISO, as `isoinfo -R -f` lists them.
fn isoinfo_root(iso: &Path) -> Vec<String> {
    let o = ok("isoinfo", &["-i", s(iso), "-R", "-f"]);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.matches('/').count() == 1)
        .map(|l| l.trim_start_matches('/').to_string())
        .collect()
}

/// `ssh-keygen -Y sign -f KEY -n metalk8s-solution` of a copy of `message`: the signature.
fn ssh_keygen_sign(key: &Path, message: &[u8], dir: &Path) -> Vec<u8> {
    let m = dir.join("SHA256SUMS");
    std::fs::write(&m, message).unwrap();
    let _ = std::fs::remove_file(dir.join("SHA256SUMS.sig"));
    ok(
        "ssh-keygen",
        &["-Y", "sign", "-f", s(key), "-n", NAMESPACE, s(&m)],
    );
    std::fs::read(dir.join("SHA256SUMS.sig")).unwrap()
}

/// `ssh-keygen -Y verify -f ALLOWED -I ID -n NS -s SIG < MESSAGE`.
fn ssh_keygen_verify(allowed: &Path, id: &str, ns: &str, sig: &[u8], message: &[u8]) -> Output {
    let d = tempfile::tempdir().unwrap();
    let (sp, mp) = (d.path().join("sig"), d.path().join("msg"));
    std::fs::write(&sp, sig).unwrap();
    std::fs::write(&mp, message).unwrap();
    cmd_in(
        "ssh-keygen",
        &[
            "-Y",
            "verify",
            "-f",
            s(allowed),
            "-I",
            id,
            "-n",
            ns,
            "-s",
            s(&sp),
        ],
        Some(&mp),
    )
}

/// Only the files the test put there: no output, no temporary left behind.
#[track_caller]
fn assert_empty_dir(d: &Path, what: &str) {
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "{what}: left in the output's directory: {left:?}"
    );
}

/// Exit 2, stderr one line (a trailing newline) that contains every one of `needles`.
#[track_caller]
fn assert_one_line(o: &Output, needles: &[&str], what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{what}: {}", show(o));
    assert!(
        err.ends_with('\n') && err.trim_end().lines().count() == 1,
        "{what}: not one line: {err:?}"
    );
    for n in needles {
        assert!(err.contains(n), "{what}: {n:?} not in {err:?}");
    }
}

#[test]
fn ssh_signature_is_ssh_keygens_and_verifies() {
    if !tools(&["ssh-keygen", "isoinfo"]) {
        return;
    }
    let ex = example();
    let d = &ex.dir;
    let key = keygen(d, "id_ed25519", "ed25519", &[]);
    let fp = fingerprint(&key);
    let iso = d.join("signed.iso");
    let summary = ex.pack_ok(&iso, &["--sign", s(&key)]);
    assert!(
        summary.contains(&format!("SHA256SUMS signed by SSH key {fp}")),
        "{summary}"
    );

    // The files: SHA256SUMS.sig (not .minisig), byte for byte ssh-keygen's signature.
    let root = isoinfo_root(&iso);
    assert!(
        root.contains(&"SHA256SUMS.sig".to_string())
            && !root.contains(&"SHA256SUMS.minisig".to_string()),
        "{root:?}"
    );
    let sums = isoinfo_x(&iso, "SHA256SUMS");
    let sig = isoinfo_x(&iso, "SHA256SUMS.sig");
    let work = d.join("keygen");
    std::fs::create_dir(&work).unwrap();
    let want = ssh_keygen_sign(&key, &sums, &work);
    assert_eq!(
        String::from_utf8_lossy(&sig),
        String::from_utf8_lossy(&want),
        "SHA256SUMS.sig is not ssh-keygen -Y sign's"
    );

    // ssh-keygen -Y verify accepts it, for the namespace and identity only.
    let allowed = allowed_signers(&key, &d.join("allowed_signers"));
    let v = ssh_keygen_verify(&allowed, IDENTITY, NAMESPACE, &sig, &sums);
    assert!(v.status.success(), "ssh-keygen -Y verify: {}", show(&v));
    assert!(
        String::from_utf8_lossy(&v.stdout).contains(&format!("Good \"{NAMESPACE}\" signature")),
        "{}",
        show(&v)
    );
    let v = ssh_keygen_verify(&allowed, IDENTITY, "file", &sig, &sums);
    assert!(!v.status.success(), "another namespace: {}", show(&v));
    let mut altered = sums.clone();
    altered[0] ^= 1;
    let v = ssh_keygen_verify(&allowed, IDENTITY, NAMESPACE, &sig, &altered);
    assert!(!v.status.success(), "altered SHA256SUMS: {}", show(&v));

    // isolution verify --allowed-signers, on the ISO.
    let v = cmd_in(
        BIN,
        &[
            "verify",
            "--allowed-signers",
            s(&allowed),
            "--identity",
            IDENTITY,
            "--json",
            s(&iso),
        ],
        None,
    );
    assert_eq!(v.status.code(), Some(0), "isolution verify: {}", show(&v));
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(j["verified"], true, "{j}");
    assert_eq!(j["signature"]["key_id"], fp.as_str(), "{j}");
    assert_eq!(j["signature"]["scheme"], "ssh", "{j}");
    // Not for another identity, nor another key.
    let v = cmd_in(
        BIN,
        &[
            "verify",
            "--allowed-signers",
            s(&allowed),
            "--identity",
            "someone@example.com",
            s(&iso),
        ],
        None,
    );
    assert_ne!(v.status.code(), Some(0), "another identity: {}", show(&v));
    let other = keygen(d, "other", "ed25519", &[]);
    let other_allowed = allowed_signers(&other, &d.join("other_signers"));
    let v = cmd_in(
        BIN,
        &[
            "verify",
            "--allowed-signers",
            s(&other_allowed),
            "--identity",
            IDENTITY,
            s(&iso),
        ],
        None,
    );
    assert_ne!(v.status.code(), Some(0), "another key: {}", show(&v));

    let v = cmd_in(BIN, &["validate", "--strict", s(&iso)], None);
    assert_eq!(v.status.code(), Some(0), "validate --strict: {}", show(&v));

    // Reproducible (the signature is deterministic); --json names the key and the scheme;
    // --full-check verifies every file against the signed sums.
    let again = d.join("again.iso");
    let o = ex.pack(&again, &["--sign", s(&key), "--json", "--full-check"]);
    assert_eq!(o.status.code(), Some(0), "pack --full-check: {}", show(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["signed_by"], fp.as_str(), "{j}");
    assert_eq!(j["signature_scheme"], "ssh", "{j}");
    assert_eq!(j["problems"], serde_json::json!([]), "{j}");
    assert!(
        std::fs::read(&iso).unwrap() == std::fs::read(&again).unwrap(),
        "two packs with the same key differ"
    );
}

/// The `openssh-key-v1` header of a key file: (cipher, kdf).
fn key_header(key: &Path) -> (String, String) {
    use base64::Engine as _;
    let text = std::fs::read_to_string(key).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut rest = raw.strip_prefix(b"openssh-key-v1\0").unwrap();
    let mut string = || {
        let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let v = String::from_utf8_lossy(&rest[4..4 + n]).into_owned();
        rest = &rest[4 + n..];
        v
    };
    (string(), string())
}

#[test]
fn passphrase_protected_keys() {
    if !tools(&["ssh-keygen", "isoinfo"]) {
        return;
    }
    let ex = example();
    let d = &ex.dir;
    let plain = keygen(d, "plain", "ed25519", &[]);
    let pw = d.join("pw");
    std::fs::write(&pw, "correct horse\n").unwrap();

    // ssh-keygen's default encryption (bcrypt-pbkdf, aes256-ctr), and every other cipher
    // OpenSSH offers for keys (`ssh-keygen -Z`) but 3des-cbc, refused by name below.
    let encrypt = |name: &str, cipher: Option<&str>| -> PathBuf {
        let enc = d.join(name);
        std::fs::copy(&plain, &enc).unwrap();
        let mut args = vec!["-q", "-p", "-f", s(&enc), "-P", "", "-N", "correct horse"];
        if let Some(c) = cipher {
            args.extend_from_slice(&["-Z", c]);
        }
        ok("ssh-keygen", &args);
        let (got, kdf) = key_header(&enc);
        assert_eq!(kdf, "bcrypt", "{name}");
        assert_eq!(
            got,
            cipher.unwrap_or("aes256-ctr"),
            "{name}: ssh-keygen's cipher"
        );
        enc
    };
    let mut keys = vec![encrypt("aes", None)];
    for (i, c) in [
        "aes128-ctr",
        "aes192-ctr",
        "aes128-cbc",
        "aes192-cbc",
        "aes256-cbc",
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
    ]
    .into_iter()
    .enumerate()
    {
        keys.push(encrypt(&format!("cipher{i}"), Some(c)));
    }
    let work = d.join("keygen");
    std::fs::create_dir(&work).unwrap();
    let mut want = None;
    for enc in &keys {
        let iso = d.join("enc.iso");
        ex.pack_ok(&iso, &["--sign", s(enc), "--password-file", s(&pw)]);
        // The same signature as ssh-keygen's with the unencrypted key.
        let sig = isoinfo_x(&iso, "SHA256SUMS.sig");
        let want = want
            .get_or_insert_with(|| ssh_keygen_sign(&plain, &isoinfo_x(&iso, "SHA256SUMS"), &work));
        assert_eq!(&sig, want, "{}", s(enc));
    }

    // A wrong passphrase, and none: exit 2, one line naming the key, no secret in it,
    // nothing written.
    let enc = d.join("aes");
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("X.iso");
    std::fs::write(&pw, "correct horse battery staple\n").unwrap();
    let o = ex.pack(&out, &["--sign", s(&enc), "--password-file", s(&pw)]);
    assert_one_line(&o, &["wrong passphrase", s(&enc)], "wrong passphrase");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("horse"));
    assert_empty_dir(&out_dir, "wrong passphrase");
    let o = ex.pack(&out, &["--sign", s(&enc)]);
    assert_one_line(
        &o,
        &["encrypted", "--password-file", s(&enc)],
        "no passphrase",
    );
    assert_empty_dir(&out_dir, "no passphrase");

    // A key asking for more bcrypt-pbkdf rounds than are read (it would take hours): refused
    // at once. The rounds are the u32 after the 16-byte salt in the KDF options.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = std::fs::read_to_string(&enc).unwrap();
    let mut raw = b64
        .decode(
            text.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let at = b"openssh-key-v1\0".len() + (4 + 10) + (4 + 6) + 4 + (4 + 16);
    assert_eq!(
        &raw[at..at + 4],
        &16u32.to_be_bytes(),
        "ssh-keygen's rounds"
    );
    raw[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    let slow = d.join("slow");
    std::fs::write(
        &slow,
        format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            b64.encode(&raw)
        ),
    )
    .unwrap();
    std::fs::write(&pw, "correct horse\n").unwrap();
    let t = std::time::Instant::now();
    let o = ex.pack(&out, &["--sign", s(&slow), "--password-file", s(&pw)]);
    assert_one_line(&o, &["bcrypt-pbkdf", "4294967295 rounds"], "rounds");
    assert!(t.elapsed().as_secs() < 60, "{:?}", t.elapsed());
    assert_empty_dir(&out_dir, "rounds");

    // 3des-cbc: named, not taken for a wrong passphrase.
    let tdes = d.join("tdes");
    std::fs::copy(&plain, &tdes).unwrap();
    let o = cmd_in(
        "ssh-keygen",
        &[
            "-q",
            "-p",
            "-f",
            s(&tdes),
            "-P",
            "",
            "-N",
            "correct horse",
            "-Z",
            "3des-cbc",
        ],
        None,
    );
    if o.status.success() {
        let o = ex.pack(&out, &["--sign", s(&tdes), "--password-file", s(&pw)]);
        assert_one_line(
            &o,
            &["unsupported SSH private key encryption", "3des-cbc"],
            "3des-cbc",
        );
        assert_empty_dir(&out_dir, "3des-cbc");
    } else {
        eprintln!(
            "skipping 3des-cbc: ssh-keygen -Z 3des-cbc failed: {}",
            show(&o)
        );
    }
}

#[test]
fn keys_that_cannot_sign_are_refused_by_name() {
    if !tool("ssh-keygen") {
        return;
    }
    let ex = example();
    let d = &ex.dir;
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("X.iso");
    let keys = d.join("keys");
    std::fs::create_dir(&keys).unwrap();
    let mut cases: Vec<(PathBuf, Vec<&str>)> = vec![
        (
            keygen(&keys, "rsa", "rsa", &["-b", "2048"]),
            vec!["ssh-rsa SSH keys are not supported", "ssh-ed25519"],
        ),
        (
            keygen(&keys, "ecdsa", "ecdsa", &[]),
            vec!["ecdsa-sha2-nistp256 SSH keys are not supported"],
        ),
        (
            keygen(&keys, "rsa-pem", "rsa", &["-b", "2048", "-m", "PEM"]),
            vec!["PEM private key", "OpenSSH format"],
        ),
    ];
    let ed = keygen(&keys, "ed", "ed25519", &[]);
    cases.push((
        PathBuf::from(format!("{}.pub", ed.display())),
        vec!["an SSH public key", "not a secret key"],
    ));
    let line = keys.join("allowed_signers");
    allowed_signers(&ed, &line);
    cases.push((line, vec!["an SSH public key", "not a secret key"]));
    let rfc4716 = keys.join("rfc4716.pub");
    let o = ok(
        "ssh-keygen",
        &[
            "-e",
            "-m",
            "RFC4716",
            "-f",
            &format!("{}.pub", ed.display()),
        ],
    );
    std::fs::write(&rfc4716, o.stdout).unwrap();
    cases.push((rfc4716, vec!["an SSH public key (RFC 4716)"]));
    if tool("minisign") {
        let (sk, pk) = (keys.join("m.key"), keys.join("m.pub"));
        ok("minisign", &["-G", "-W", "-f", "-s", s(&sk), "-p", s(&pk)]);
        cases.push((
            pk,
            vec!["a minisign or signify public key", "not a secret key"],
        ));
    }
    let junk = keys.join("junk");
    std::fs::write(&junk, "hello\n").unwrap();
    cases.push((junk, vec!["not a minisign secret key"]));
    let big = keys.join("big");
    std::fs::write(&big, vec![b'a'; 65 * 1024]).unwrap();
    cases.push((big, vec!["not a key file"]));
    for (key, needles) in &cases {
        let o = ex.pack(&out, &["--sign", s(key)]);
        let mut n = needles.clone();
        n.push(s(key));
        assert_one_line(&o, &n, s(key));
        assert_empty_dir(&out_dir, s(key));
        // Nothing of the key in the message.
        let text = std::fs::read_to_string(key).unwrap();
        if let Some(secret) = text.lines().nth(2) {
            assert!(
                !String::from_utf8_lossy(&o.stderr).contains(secret),
                "{}: key material in the error",
                s(key)
            );
        }
    }
}
