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
use std::process::Output;

mod common;
use common::pack::{
    assert_empty_dir, assert_one_line, cmd, cmd_in, example, ok, pack_tree, pack_tree_ok, s,
    Example,
};
use common::{show, tool, tools, BIN};

/// The namespace `isolution verify` pins.
const NAMESPACE: &str = "metalk8s-solution";
const IDENTITY: &str = "release@example.com";

/// The example (no OCI layouts: no skopeo needed) if every one of `needed` is installed.
fn ssh_example(needed: &[&str]) -> Option<Example> {
    tools(needed).then(|| example(false))
}

/// The example and an Ed25519 key `NAME` in its directory (see [`keygen`]), if ssh-keygen and
/// isoinfo are installed.
fn signing_example(name: &str) -> Option<(Example, PathBuf)> {
    let ex = ssh_example(&["ssh-keygen", "isoinfo"])?;
    let key = keygen(&ex.dir, name, "ed25519", &[]);
    Some((ex, key))
}

/// `isolution pack -q TREE -o OUT --image NAME:TAG=dir:... EXTRA`, from the fixture's own
/// images.
fn pack_dirs(ex: &Example, out: &Path, extra: &[&str]) -> Output {
    pack_tree(&ex.tree, out, &ex.dir_image_args(), extra)
}

/// [`pack_dirs`], asserting exit 0; the summary printed.
#[track_caller]
fn pack_dirs_ok(ex: &Example, out: &Path, extra: &[&str]) -> String {
    pack_tree_ok(&ex.tree, out, &ex.dir_image_args(), extra)
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

#[test]
fn ssh_signature_is_ssh_keygens_and_verifies() {
    let Some((ex, key)) = signing_example("id_ed25519") else {
        return;
    };
    let d = &ex.dir;
    let fp = fingerprint(&key);
    let iso = d.join("signed.iso");
    let summary = pack_dirs_ok(&ex, &iso, &["--sign", s(&key)]);
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
    let verify = |allowed: &Path, identity: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--allowed-signers",
            s(allowed),
            "--identity",
            identity,
        ];
        args.extend_from_slice(extra);
        args.push(s(&iso));
        cmd(BIN, &args)
    };
    let v = verify(&allowed, IDENTITY, &["--json"]);
    assert_eq!(v.status.code(), Some(0), "isolution verify: {}", show(&v));
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(j["verified"], true, "{j}");
    assert_eq!(j["signature"]["key_id"], fp.as_str(), "{j}");
    assert_eq!(j["signature"]["scheme"], "ssh", "{j}");
    // Not for another identity, nor another key.
    let v = verify(&allowed, "someone@example.com", &[]);
    assert_ne!(v.status.code(), Some(0), "another identity: {}", show(&v));
    let other = keygen(d, "other", "ed25519", &[]);
    let other_allowed = allowed_signers(&other, &d.join("other_signers"));
    let v = verify(&other_allowed, IDENTITY, &[]);
    assert_ne!(v.status.code(), Some(0), "another key: {}", show(&v));

    let v = cmd(BIN, &["validate", "--strict", s(&iso)]);
    assert_eq!(v.status.code(), Some(0), "validate --strict: {}", show(&v));

    // Reproducible (the signature is deterministic); --json names the key and the scheme;
    // --full-check verifies every file against the signed sums.
    let again = d.join("again.iso");
    let o = pack_dirs(&ex, &again, &["--sign", s(&key), "--json", "--full-check"]);
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
    let Some((ex, plain)) = signing_example("plain") else {
        return;
    };
    let d = &ex.dir;
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
        pack_dirs_ok(&ex, &iso, &["--sign", s(enc), "--password-file", s(&pw)]);
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
    let o = pack_dirs(&ex, &out, &["--sign", s(&enc), "--password-file", s(&pw)]);
    assert_one_line(&o, &["wrong passphrase", s(&enc)], "wrong passphrase");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("horse"));
    assert_empty_dir(&out_dir, "wrong passphrase");
    let o = pack_dirs(&ex, &out, &["--sign", s(&enc)]);
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
    let o = pack_dirs(&ex, &out, &["--sign", s(&slow), "--password-file", s(&pw)]);
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
        let o = pack_dirs(&ex, &out, &["--sign", s(&tdes), "--password-file", s(&pw)]);
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
    let Some(ex) = ssh_example(&["ssh-keygen"]) else {
        return;
    };
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
        let o = pack_dirs(&ex, &out, &["--sign", s(key)]);
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
