//! Helpers for the `sums`/`verify` tests (`tests/signatures_*.rs`, with the harness of
//! [`crate::sig_case`]): the `isolution` binary, the real signing tools (minisign,
//! signify-openbsd, ssh-keygen), a tiny Solution-like source tree, base64 ([`b64`]), a minimal
//! JSON reader ([`json`]) and the Ed25519 byte surgery the tamper cases need.
//!
//! Everything here trusts its input (it only handles files the tests themselves made) and
//! panics on anything unexpected: it is test tooling.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;

use sha2::{Digest, Sha256};

use crate::repo_dir;
pub use crate::{b64, json};

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

/// The `isolution` binary, built once per test process with `cargo build` (tests outside the
/// `oci-export` package have no `CARGO_BIN_EXE_isolution`). It lands in the profile directory
/// the test binary itself was built in.
pub fn isolution() -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/signatures-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary outside target/<profile>/deps")
        .to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    BUILD.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "oci-export", "--bin", "isolution"]);
        if release {
            cmd.arg("--release");
        }
        // Build into the same target directory as this test binary.
        if let Some(target) = profile_dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let out = cmd
            .current_dir(repo_dir())
            .stdin(Stdio::null())
            .output()
            .expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build -p oci-export --bin isolution failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    profile_dir.join("isolution")
}

/// What a process did.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout then stderr.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// A readable dump for assertion messages.
    pub fn show(&self) -> String {
        format!(
            "exit {:?}\n    --- stdout\n{}\n    --- stderr\n{}",
            self.code,
            indent(&self.stdout),
            indent(&self.stderr)
        )
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `cmd` to completion (stdin from `stdin`, or `/dev/null`).
pub fn run(cmd: &mut Command, stdin: Option<&Path>) -> Run {
    match stdin {
        Some(p) => {
            cmd.stdin(std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        }
        None => cmd.stdin(Stdio::null()),
    };
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `program args…` and panics unless it exits 0.
#[track_caller]
pub fn must(program: &str, args: &[&std::ffi::OsStr], dir: Option<&Path>) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let r = run(&mut cmd, None);
    assert!(r.ok(), "{program} {args:?} failed: {}", r.show());
    r
}

/// `OsStr` of anything path-like, for `must`'s argument lists.
pub fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

// ---------------------------------------------------------------------------------------
// The Solution-like source tree
// ---------------------------------------------------------------------------------------

/// Hex sha256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Content of `notes.txt`: unique in every image, so its data (and the padding after it) can
/// be found in the ISO bytes.
pub const NOTES: &[u8] = b"NOTES-MARKER: release notes of the test Solution\n";
/// First bytes of `big.bin`.
pub const BIG_MARKER: &[u8] = b"BIGFILE-MARKER";
/// Size of `big.bin`: isomd5sum misreports images of a few hundred KiB.
pub const BIG_LEN: usize = 4 << 20;

/// Relative path of the layer blob in `images/a/1.0/`.
pub fn layer_path() -> String {
    format!("images/a/1.0/{}", sha256_hex(LAYER))
}

const LAYER: &[u8] = b"layer bytes of image a:1.0 (a real tree holds a gzipped tar here)\n";
const CONFIG: &[u8] =
    br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}

/// Writes a small Solution-like tree (`manifest.yaml`, one skopeo `dir:` image `a:1.0`, a
/// registry config, an operator role, `notes.txt`) into `root`; with `big`, also a 4 MiB
/// pseudo-random `big.bin`.
pub fn make_tree(root: &Path, big: bool) {
    let cfg = sha256_hex(CONFIG);
    let layer = sha256_hex(LAYER);
    let manifest = format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n   \"config\": {{\n      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n      \"size\": {},\n      \"digest\": \"sha256:{cfg}\"\n   }},\n   \"layers\": [\n      {{\n         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n         \"size\": {},\n         \"digest\": \"sha256:{layer}\"\n      }}\n   ]\n}}",
        CONFIG.len(),
        LAYER.len()
    );
    write(root, "images/a/1.0/manifest.json", manifest.as_bytes());
    write(
        root,
        "images/a/1.0/version",
        b"Directory Transport Version: 1.1\n",
    );
    write(root, &format!("images/a/1.0/{cfg}"), CONFIG);
    write(root, &format!("images/a/1.0/{layer}"), LAYER);
    write(
        root,
        "manifest.yaml",
        b"apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  annotations:\n    solutions.metalk8s.scality.com/display-name: Test Solution\n  name: test-solution\nspec:\n  version: 1.0.0\n  operator:\n    image:\n      name: a\n      tag: '1.0'\n",
    );
    write(
        root,
        "registry-config.inc.j2",
        b"location ~ \"/v2/test-solution-1.0.0/(?<name>.+)/manifests/(?<tag>.+)\" {\n    return 404;\n}\n",
    );
    write(
        root,
        "operator/deploy/role.yaml",
        b"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: test-solution-operator\nrules: []\n",
    );
    write(root, "notes.txt", NOTES);
    if big {
        let mut data = Vec::with_capacity(BIG_LEN);
        data.extend_from_slice(BIG_MARKER);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while data.len() < BIG_LEN {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            data.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        data.truncate(BIG_LEN);
        write(root, "big.bin", &data);
    }
}

/// Names `isolution sums` leaves out.
pub const SUMS_SELF: [&str; 3] = ["SHA256SUMS", "SHA256SUMS.minisig", "SHA256SUMS.sig"];

/// Every regular file under `root` (relative, `/`-separated), except the three `SUMS_SELF`
/// files at the root, sorted by bytes.
pub fn tree_files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            let p = e.path();
            if ft.is_dir() {
                walk(root, &p, out);
            } else if ft.is_file() {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                if !SUMS_SELF.contains(&rel.as_str()) {
                    out.push(rel);
                }
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    v
}

/// The `SHA256SUMS` the brief describes, computed independently of `isolution`.
pub fn expected_sums(root: &Path) -> String {
    tree_files(root)
        .iter()
        .map(|rel| {
            let data = std::fs::read(root.join(rel)).unwrap();
            format!("SHA256 ({rel}) = {}\n", sha256_hex(&data))
        })
        .collect()
}

/// The paths a `SHA256SUMS` lists.
pub fn sums_paths(sums: &str) -> Vec<String> {
    sums.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("SHA256 (")?;
            let end = rest.rfind(") = ")?;
            Some(rest[..end].to_string())
        })
        .collect()
}

/// `isolution sums root` (must succeed).
#[track_caller]
pub fn isolution_sums(root: &Path) -> String {
    let r = run(Command::new(isolution()).arg("sums").arg(root), None);
    assert!(r.ok(), "isolution sums {}: {}", root.display(), r.show());
    r.stdout
}

/// Builds the ISO with the documented genisoimage flags.
#[track_caller]
pub fn make_iso(root: &Path, out: &Path) {
    must(
        "genisoimage",
        &[
            os("-quiet"),
            os("-R"),
            os("-J"),
            os("-joliet-long"),
            os("-l"),
            os("-iso-level"),
            os("3"),
            os("-V"),
            os("Test 1.0"),
            os("-o"),
            os(out),
            os(root),
        ],
        None,
    );
}

/// The offset of the only occurrence of `needle` in `hay` (panics unless exactly one).
pub fn find_unique(hay: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{:?} found {} times",
        String::from_utf8_lossy(needle),
        hits.len()
    );
    hits[0]
}

/// XORs one byte of `path` at `at` with `0x01`.
pub fn flip_byte(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

// ---------------------------------------------------------------------------------------
// Signing schemes and keys
// ---------------------------------------------------------------------------------------

/// The SSHSIG namespace the tool pins.
pub const NAMESPACE: &str = "metalk8s-solution";
/// The principal of the test allowed-signers files.
pub const IDENTITY: &str = "release@example";
/// The trusted comment minisign signatures carry (`-t`).
pub const TRUSTED_COMMENT: &str = "isolution-test test-solution 1.0.0";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `minisign -S` (algorithm `ED`, BLAKE2b-512 prehash).
    Minisign,
    /// `minisign -S -l` (algorithm `Ed`, pure Ed25519).
    MinisignLegacy,
    /// `signify-openbsd -S`, the signature stored as `SHA256SUMS.minisig`.
    Signify,
    /// `ssh-keygen -Y sign -n metalk8s-solution` → `SHA256SUMS.sig`.
    Ssh,
}

pub const ALL_SCHEMES: [Scheme; 4] = [
    Scheme::Minisign,
    Scheme::MinisignLegacy,
    Scheme::Signify,
    Scheme::Ssh,
];

impl Scheme {
    pub fn tool(self) -> &'static str {
        match self {
            Scheme::Minisign | Scheme::MinisignLegacy => "minisign",
            Scheme::Signify => "signify-openbsd",
            Scheme::Ssh => "ssh-keygen",
        }
    }

    /// The signature's file name at the tree root.
    pub fn sig_name(self) -> &'static str {
        match self {
            Scheme::Ssh => "SHA256SUMS.sig",
            _ => "SHA256SUMS.minisig",
        }
    }

    /// Minisign-format signature files (minisign and signify).
    pub fn is_minisig(self) -> bool {
        self != Scheme::Ssh
    }

    /// Whether the signature has a trusted comment and global signature.
    pub fn has_trusted_comment(self) -> bool {
        matches!(self, Scheme::Minisign | Scheme::MinisignLegacy)
    }
}

/// A key pair made with the scheme's own tool.
#[derive(Debug, Clone)]
pub struct Keys {
    pub scheme: Scheme,
    /// minisign/signify public key file, or (SSH) the `ssh-keygen` public key `key.pub`.
    pub public: PathBuf,
    /// Secret key file.
    pub secret: PathBuf,
    /// SSH only: the allowed-signers file (`release@example ssh-ed25519 AAAA…`).
    pub allowed: Option<PathBuf>,
}

impl Keys {
    /// Generates a key pair in `dir` (file names start with `name`).
    pub fn generate(scheme: Scheme, dir: &Path, name: &str) -> Keys {
        std::fs::create_dir_all(dir).unwrap();
        match scheme {
            Scheme::Minisign | Scheme::MinisignLegacy | Scheme::Signify => {
                // No password: minisign's `-W`, signify's `-n`.
                let (no_password, secret_ext) = if scheme == Scheme::Signify {
                    ("-n", "sec")
                } else {
                    ("-W", "key")
                };
                let public = dir.join(format!("{name}.pub"));
                let secret = dir.join(format!("{name}.{secret_ext}"));
                must(
                    scheme.tool(),
                    &[
                        os("-G"),
                        os(no_password),
                        os("-p"),
                        os(&public),
                        os("-s"),
                        os(&secret),
                    ],
                    None,
                );
                Keys {
                    scheme,
                    public,
                    secret,
                    allowed: None,
                }
            }
            Scheme::Ssh => {
                let secret = dir.join(name);
                must(
                    "ssh-keygen",
                    &[
                        os("-q"),
                        os("-t"),
                        os("ed25519"),
                        os("-N"),
                        os(""),
                        os("-C"),
                        os(name),
                        os("-f"),
                        os(&secret),
                    ],
                    None,
                );
                let public = dir.join(format!("{name}.pub"));
                let pubtext = std::fs::read_to_string(&public).unwrap();
                let mut it = pubtext.split_whitespace();
                let (ty, b64) = (it.next().unwrap(), it.next().unwrap());
                let allowed = dir.join(format!("{name}.allowed_signers"));
                std::fs::write(&allowed, format!("{IDENTITY} {ty} {b64}\n")).unwrap();
                Keys {
                    scheme,
                    public,
                    secret,
                    allowed: Some(allowed),
                }
            }
        }
    }

    /// Signs `file` into `sig` with the scheme's tool.
    pub fn sign(&self, file: &Path, sig: &Path) {
        self.sign_with(file, sig, &[]);
    }

    /// Signs `file` into `sig`; `extra` goes to `ssh-keygen -Y sign` (e.g. `-n file`, which
    /// then replaces the default namespace, or `-O hashalg=sha256`).
    pub fn sign_with(&self, file: &Path, sig: &Path, extra: &[&str]) {
        let _ = std::fs::remove_file(sig);
        match self.scheme {
            Scheme::Minisign | Scheme::MinisignLegacy | Scheme::Signify => {
                let mut args = vec![
                    os("-S"),
                    os("-s"),
                    os(&self.secret),
                    os("-m"),
                    os(file),
                    os("-x"),
                    os(sig),
                ];
                if self.scheme != Scheme::Signify {
                    args.extend([os("-t"), os(TRUSTED_COMMENT)]);
                }
                if self.scheme == Scheme::MinisignLegacy {
                    args.push(os("-l"));
                }
                must(self.scheme.tool(), &args, None);
            }
            Scheme::Ssh => {
                let ns_given = extra.contains(&"-n");
                let mut args = vec![os("-Y"), os("sign"), os("-f"), os(&self.secret)];
                if !ns_given {
                    args.push(os("-n"));
                    args.push(os(NAMESPACE));
                }
                for e in extra {
                    args.push(os(*e));
                }
                args.push(os(file));
                // ssh-keygen always writes `<file>.sig`.
                let made = PathBuf::from(format!("{}.sig", file.display()));
                let _ = std::fs::remove_file(&made);
                must("ssh-keygen", &args, None);
                if made != sig {
                    std::fs::rename(&made, sig).unwrap();
                }
            }
        }
    }

    /// The scheme's own verifier on `file` + `sig`.
    pub fn tool_verify(&self, file: &Path, sig: &Path) -> Run {
        match self.scheme {
            // The same options for minisign and signify.
            Scheme::Minisign | Scheme::MinisignLegacy | Scheme::Signify => run(
                Command::new(self.scheme.tool()).args([
                    os("-V"),
                    os("-p"),
                    os(&self.public),
                    os("-m"),
                    os(file),
                    os("-x"),
                    os(sig),
                ]),
                None,
            ),
            Scheme::Ssh => run(
                Command::new("ssh-keygen").args([
                    os("-Y"),
                    os("verify"),
                    os("-f"),
                    os(self.allowed.as_ref().unwrap()),
                    os("-I"),
                    os(IDENTITY),
                    os("-n"),
                    os(NAMESPACE),
                    os("-s"),
                    os(sig),
                ]),
                Some(file),
            ),
        }
    }

    /// The key arguments of `isolution verify`.
    pub fn verify_args(&self) -> Vec<OsString> {
        match self.scheme {
            Scheme::Ssh => vec![
                "--allowed-signers".into(),
                self.allowed.clone().unwrap().into(),
                "--identity".into(),
                IDENTITY.into(),
            ],
            _ => vec!["--key".into(), self.public.clone().into()],
        }
    }

    /// minisign/signify: the decoded public key line (`Ed` || key id || pk).
    pub fn public_bytes(&self) -> Vec<u8> {
        let t = std::fs::read_to_string(&self.public).unwrap();
        b64::decode(t.lines().nth(1).unwrap()).unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// Signature file surgery
// ---------------------------------------------------------------------------------------

/// A minisign/signify signature file as its lines (without `\n`).
pub struct Minisig {
    pub lines: Vec<String>,
}

impl Minisig {
    pub fn read(p: &Path) -> Minisig {
        let t = std::fs::read_to_string(p).unwrap();
        Minisig {
            lines: t.lines().map(str::to_string).collect(),
        }
    }

    pub fn write(&self, p: &Path) {
        let mut s = self.lines.join("\n");
        s.push('\n');
        std::fs::write(p, s).unwrap();
    }

    /// Decoded line 2: algorithm (2) || key id (8) || signature (64).
    pub fn sig(&self) -> Vec<u8> {
        b64::decode(&self.lines[1]).unwrap()
    }

    pub fn set_sig(&mut self, b: &[u8]) {
        self.lines[1] = b64::encode(b);
    }

    /// Decoded line 4: the global signature (minisign only).
    pub fn global(&self) -> Vec<u8> {
        b64::decode(&self.lines[3]).unwrap()
    }

    pub fn set_global(&mut self, b: &[u8]) {
        self.lines[3] = b64::encode(b);
    }

    /// Reads the signature file `p`, lets `f` change it, writes it back.
    pub fn edit(p: &Path, f: impl FnOnce(&mut Minisig)) {
        let mut m = Minisig::read(p);
        f(&mut m);
        m.write(p);
    }

    /// Rewrites the decoded line 2 of the signature file `p` ([`Minisig::sig`]) with `f`.
    pub fn edit_sig(p: &Path, f: impl FnOnce(&mut Vec<u8>)) {
        Minisig::edit(p, |m| {
            let mut s = m.sig();
            f(&mut s);
            m.set_sig(&s);
        });
    }

    /// Rewrites the decoded line 4 of the signature file `p` ([`Minisig::global`]) with `f`.
    pub fn edit_global(p: &Path, f: impl FnOnce(&mut Vec<u8>)) {
        Minisig::edit(p, |m| {
            let mut g = m.global();
            f(&mut g);
            m.set_global(&g);
        });
    }
}

/// An SSH signature file (armored SSHSIG blob).
pub fn read_sshsig(p: &Path) -> Vec<u8> {
    let t = std::fs::read_to_string(p).unwrap();
    let body: String = t
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    b64::decode(&body).unwrap()
}

/// Armors an SSHSIG blob as `ssh-keygen` does (70 columns).
pub fn write_sshsig(p: &Path, blob: &[u8]) {
    let enc = b64::encode(blob);
    let mut s = String::from("-----BEGIN SSH SIGNATURE-----\n");
    for chunk in enc.as_bytes().chunks(70) {
        s.push_str(std::str::from_utf8(chunk).unwrap());
        s.push('\n');
    }
    s.push_str("-----END SSH SIGNATURE-----\n");
    std::fs::write(p, s).unwrap();
}

/// SSH wire `string`.
pub fn ssh_string(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// An SSHSIG blob (PROTOCOL.sshsig) with an ssh-ed25519 key and signature, hash `sha512`.
pub fn sshsig_blob(pk: &[u8; 32], namespace: &str, sig: &[u8; 64]) -> Vec<u8> {
    let mut key = ssh_string(b"ssh-ed25519");
    key.extend(ssh_string(pk));
    let mut s = ssh_string(b"ssh-ed25519");
    s.extend(ssh_string(sig));
    let mut blob = b"SSHSIG".to_vec();
    blob.extend_from_slice(&1u32.to_be_bytes());
    blob.extend(ssh_string(&key));
    blob.extend(ssh_string(namespace.as_bytes()));
    blob.extend(ssh_string(b""));
    blob.extend(ssh_string(b"sha512"));
    blob.extend(ssh_string(&s));
    blob
}

/// The base64 of an `ssh-ed25519` public key blob (as in `authorized_keys`).
pub fn ssh_ed25519_public(pk: &[u8; 32]) -> String {
    let mut key = ssh_string(b"ssh-ed25519");
    key.extend(ssh_string(pk));
    b64::encode(&key)
}

/// The Ed25519 group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
pub const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Makes an Ed25519 signature (R || s, 64 bytes) non-canonical: s += L, keeping R. s < L <
/// 2^253, so the sum fits in 32 bytes; lax verifiers (ref10: only `s[31] & 0xe0` is checked)
/// still accept it, since \[s+L\]B = \[s\]B.
pub fn add_group_order(sig: &mut [u8]) {
    assert_eq!(sig.len(), 64);
    let mut carry = 0u16;
    for i in 0..32 {
        let v = sig[32 + i] as u16 + ED25519_L[i] as u16 + carry;
        sig[32 + i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
}

/// The identity point's encoding (y = 1): a small-order ("weak") public key.
pub const IDENTITY_POINT: [u8; 32] = {
    let mut p = [0u8; 32];
    p[0] = 1;
    p
};

/// The signature that "verifies" any message under the identity key with a cofactorless,
/// non-strict verifier: R = identity, s = 0 (\[0\]B = R + \[k\]·identity).
pub const WEAK_FORGERY: [u8; 64] = {
    let mut s = [0u8; 64];
    s[0] = 1;
    s
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for n in 0..80 {
            let b: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(b64::decode(&b64::encode(&b)).unwrap(), b);
        }
        assert_eq!(b64::encode(b"Ed"), "RWQ=");
        assert!(b64::decode("RWQ").is_none());
        assert!(b64::decode("R=Q=").is_none());
    }

    #[test]
    fn json_reads_objects() {
        let v = json::parse(r#" {"verified": false, "failures": [{"kind": "missing", "path": "a\/b\u00e9"}], "n": -1.5e2, "z": null} "#).unwrap();
        assert_eq!(v.get("verified").unwrap().as_bool(), Some(false));
        let f = &v.get("failures").unwrap().as_array().unwrap()[0];
        assert_eq!(f.get("path").unwrap().as_str(), Some("a/bé"));
        assert!(json::parse("{} x").is_err());
    }

    #[test]
    fn adding_the_group_order() {
        let mut s = [0u8; 64];
        add_group_order(&mut s);
        assert_eq!(&s[32..], &ED25519_L);
    }
}
