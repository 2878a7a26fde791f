//! Signatures over a Solution: minisign (`ED` prehashed with BLAKE2b-512, legacy `Ed`),
//! OpenBSD signify (the legacy format without trusted-comment lines) and SSH signatures
//! (`SSHSIG`, namespace pinned to [`SSH_NAMESPACE`]). Ed25519 only, always `verify_strict`
//! (weak keys and non-canonical signatures are refused). Public keys always come from the
//! caller, never from the archive.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

/// The SSH signature namespace of Solution archives: `ssh-keygen -Y sign -n metalk8s-solution`.
pub const SSH_NAMESPACE: &str = "metalk8s-solution";

/// What failed, as a stable word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The public key (or allowed-signers file) is malformed or weak.
    BadKey,
    /// The signature is by another key.
    KeyIdMismatch,
    /// The signature does not verify (or is malformed).
    SignatureInvalid,
    /// The trusted comment does not match its global signature.
    TrustedCommentForged,
    /// An SSH signature made for another namespace.
    NamespaceMismatch,
    /// No signature file for this kind of key.
    NoSignature,
    /// No `SHA256SUMS` in the archive.
    NoSums,
    /// `SHA256SUMS` is malformed.
    BadSums,
    /// A listed file's content differs from its checksum.
    DigestMismatch,
    /// A file of the archive that `SHA256SUMS` does not list.
    NotCovered,
    /// A file `SHA256SUMS` lists that the archive lacks.
    Missing,
    /// The isomd5sum implanted in the volume descriptor does not match (integrity only).
    Isomd5Mismatch,
}

impl FailureKind {
    /// The stable word (`digest-mismatch`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::BadKey => "bad-key",
            FailureKind::KeyIdMismatch => "key-id-mismatch",
            FailureKind::SignatureInvalid => "signature-invalid",
            FailureKind::TrustedCommentForged => "trusted-comment-forged",
            FailureKind::NamespaceMismatch => "namespace-mismatch",
            FailureKind::NoSignature => "no-signature",
            FailureKind::NoSums => "no-sums",
            FailureKind::BadSums => "bad-sums",
            FailureKind::DigestMismatch => "digest-mismatch",
            FailureKind::NotCovered => "not-covered",
            FailureKind::Missing => "missing",
            FailureKind::Isomd5Mismatch => "isomd5-mismatch",
        }
    }
}

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Which check.
    pub kind: FailureKind,
    /// The file concerned, when there is one.
    pub path: Option<String>,
    /// Details for a person.
    pub message: String,
}

impl Failure {
    pub(crate) fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            path: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(
        kind: FailureKind,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Failure {
            kind,
            path: Some(path.into()),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {p}: {}", self.kind.as_str(), self.message),
            None => write!(f, "{}: {}", self.kind.as_str(), self.message),
        }
    }
}

/// A minisign or signify public key.
#[derive(Clone, Debug)]
pub struct MinisignKey {
    /// The 8-byte key id.
    pub key_id: [u8; 8],
    key: VerifyingKey,
}

impl MinisignKey {
    /// The key id as minisign prints it (hex of the bytes in reverse order).
    pub fn key_id_hex(&self) -> String {
        let mut b = self.key_id;
        b.reverse();
        hex::encode_upper(b)
    }
}

fn weak_checked(bytes: &[u8; 32]) -> Result<VerifyingKey, Failure> {
    let key = VerifyingKey::from_bytes(bytes)
        .map_err(|_| Failure::new(FailureKind::BadKey, "not a valid Ed25519 public key"))?;
    if key.is_weak() {
        return Err(Failure::new(
            FailureKind::BadKey,
            "weak (small-order) Ed25519 public key",
        ));
    }
    Ok(key)
}

/// Parses a minisign or signify public key file (an optional `untrusted comment:` line, then
/// base64 of `Ed` + key id + key).
pub fn parse_minisign_key(text: &str) -> Result<MinisignKey, Failure> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .ok_or_else(|| Failure::new(FailureKind::BadKey, "no key line"))?;
    let raw = B64
        .decode(line)
        .map_err(|e| Failure::new(FailureKind::BadKey, format!("key is not base64: {e}")))?;
    if raw.len() != 42 || &raw[..2] != b"Ed" {
        return Err(Failure::new(
            FailureKind::BadKey,
            format!(
                "not a minisign/signify Ed25519 public key ({} bytes)",
                raw.len()
            ),
        ));
    }
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&raw[2..10]);
    let mut pk = [0u8; 32];
    pk.copy_from_slice(&raw[10..42]);
    Ok(MinisignKey {
        key_id,
        key: weak_checked(&pk)?,
    })
}

/// What a verified signature says.
#[derive(Clone, Debug, Serialize)]
pub struct SignatureInfo {
    /// `minisign (ED, prehashed)`, `minisign/signify (Ed, legacy)` or `ssh`.
    pub scheme: &'static str,
    /// Key id (minisign) or key fingerprint (SSH, `SHA256:...`).
    pub key_id: String,
    /// The trusted comment, once its global signature verified.
    pub trusted_comment: Option<String>,
    /// The principal that matched (SSH).
    pub signer: Option<String>,
}

/// A message: the parts of a file's content, in order.
pub type Parts<'a> = &'a [&'a [u8]];

fn joined(parts: Parts<'_>) -> std::borrow::Cow<'_, [u8]> {
    match parts {
        [one] => std::borrow::Cow::Borrowed(one),
        _ => std::borrow::Cow::Owned(parts.concat()),
    }
}

fn sig64(b: &[u8]) -> Result<Signature, Failure> {
    let a: [u8; 64] = b
        .try_into()
        .map_err(|_| Failure::new(FailureKind::SignatureInvalid, "signature is not 64 bytes"))?;
    Ok(Signature::from_bytes(&a))
}

/// Verifies a minisign (or signify) signature file over `message`.
pub fn verify_minisign(
    key: &MinisignKey,
    sig_text: &str,
    message: Parts<'_>,
) -> Result<SignatureInfo, Failure> {
    let bad = |m: &str| Failure::new(FailureKind::SignatureInvalid, m.to_string());
    let mut lines = sig_text.lines();
    let first = lines.next().ok_or_else(|| bad("empty signature file"))?;
    if !first.starts_with("untrusted comment:") {
        return Err(bad("malformed signature file: no untrusted comment line"));
    }
    let raw = B64
        .decode(
            lines
                .next()
                .ok_or_else(|| bad("malformed signature file: no signature line"))?
                .trim(),
        )
        .map_err(|_| bad("malformed signature file: signature line is not base64"))?;
    if raw.len() != 74 {
        return Err(bad(&format!(
            "malformed signature: {} bytes, not 74",
            raw.len()
        )));
    }
    let prehashed = match &raw[..2] {
        b"ED" => true,
        b"Ed" => false,
        _ => return Err(bad("unknown signature algorithm")),
    };
    if raw[2..10] != key.key_id {
        let mut got = [0u8; 8];
        got.copy_from_slice(&raw[2..10]);
        got.reverse();
        return Err(Failure::new(
            FailureKind::KeyIdMismatch,
            format!(
                "signed by key {}, the key given is {}",
                hex::encode_upper(got),
                key.key_id_hex()
            ),
        ));
    }
    verify_minisign_message(key, &raw[10..74], prehashed, message)?;
    let trusted_comment = minisign_trusted_comment(key, &raw[10..74], prehashed, &mut lines)?;
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(bad("malformed signature file: trailing data"));
    }
    Ok(SignatureInfo {
        scheme: if prehashed {
            "minisign (ED, prehashed)"
        } else {
            "minisign/signify (Ed, legacy)"
        },
        key_id: key.key_id_hex(),
        trusted_comment,
        signer: None,
    })
}

/// Verifies the minisign signature `sig` (64 bytes) over `message`, or over its BLAKE2b-512
/// when `prehashed`.
fn verify_minisign_message(
    key: &MinisignKey,
    sig: &[u8],
    prehashed: bool,
    message: Parts<'_>,
) -> Result<(), Failure> {
    let sig = sig64(sig)?;
    let ok = if prehashed {
        // BLAKE2b-512, unkeyed (blake2b_simd: AVX2 when the CPU has it).
        let mut h = blake2b_simd::Params::new().hash_length(64).to_state();
        for p in message {
            h.update(p);
        }
        key.key.verify_strict(h.finalize().as_bytes(), &sig)
    } else {
        key.key.verify_strict(&joined(message), &sig)
    };
    ok.map_err(|_| invalid("the signature does not verify with this key"))
}

/// Reads the trusted comment and its global signature (over the signature `sig` and the
/// comment) from the rest of a minisign signature file, and verifies it. A prehashed signature
/// must have one; a legacy one (and signify's) may have none.
fn minisign_trusted_comment(
    key: &MinisignKey,
    sig: &[u8],
    prehashed: bool,
    lines: &mut std::str::Lines<'_>,
) -> Result<Option<String>, Failure> {
    let Some(l) = lines.next().filter(|l| !l.trim().is_empty()) else {
        return if prehashed {
            Err(invalid("malformed signature file: no trusted comment"))
        } else {
            Ok(None)
        };
    };
    let tc = l
        .strip_prefix("trusted comment: ")
        .ok_or_else(|| invalid("malformed signature file: third line is not a trusted comment"))?;
    let global = B64
        .decode(
            lines
                .next()
                .ok_or_else(|| invalid("malformed signature file: no global signature"))?
                .trim(),
        )
        .map_err(|_| invalid("malformed signature file: global signature is not base64"))?;
    let gsig = sig64(&global)?;
    let mut signed = sig.to_vec();
    signed.extend_from_slice(tc.as_bytes());
    key.key.verify_strict(&signed, &gsig).map_err(|_| {
        Failure::new(
            FailureKind::TrustedCommentForged,
            "the trusted comment does not match its global signature",
        )
    })?;
    Ok(Some(tc.to_string()))
}

/// A [`FailureKind::SignatureInvalid`] failure.
fn invalid(message: &str) -> Failure {
    Failure::new(FailureKind::SignatureInvalid, message.to_string())
}

/// One line of an `allowed_signers` file (ssh-keygen's format).
#[derive(Clone, Debug)]
pub struct AllowedSigner {
    /// Principal patterns (`*` and `?` wildcards).
    pub principals: Vec<String>,
    /// `namespaces="..."` restriction, if any.
    pub namespaces: Option<Vec<String>>,
    key: VerifyingKey,
}

/// Parses an `allowed_signers` file. Only `ssh-ed25519` keys are used; lines with other key
/// types are skipped; `cert-authority` lines are refused.
pub fn parse_allowed_signers(text: &str) -> Result<Vec<AllowedSigner>, Failure> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |m: &str| {
            Failure::new(
                FailureKind::BadKey,
                format!("allowed signers line {}: {m}", n + 1),
            )
        };
        let mut fields = split_fields(line);
        if fields.len() < 3 {
            return Err(bad("needs principals, a key type and a key"));
        }
        let principals: Vec<String> = fields.remove(0).split(',').map(str::to_string).collect();
        let mut namespaces = None;
        if !fields[0].starts_with("ssh-")
            && !fields[0].starts_with("ecdsa-")
            && !fields[0].starts_with("sk-")
        {
            let opts = fields.remove(0);
            for o in opts.split(',') {
                if o.eq_ignore_ascii_case("cert-authority") {
                    return Err(bad("cert-authority is not supported"));
                }
                if let Some(v) = o.strip_prefix("namespaces=") {
                    namespaces = Some(v.trim_matches('"').split(',').map(str::to_string).collect());
                }
            }
        }
        if fields.len() < 2 {
            return Err(bad("needs a key type and a key"));
        }
        if fields[0] != "ssh-ed25519" {
            continue;
        }
        let blob = B64
            .decode(&fields[1])
            .map_err(|_| bad("key is not base64"))?;
        let pk = ssh_ed25519_key(&blob).ok_or_else(|| bad("not an ssh-ed25519 key blob"))?;
        out.push(AllowedSigner {
            principals,
            namespaces,
            key: weak_checked(&pk)?,
        });
    }
    if out.is_empty() {
        return Err(Failure::new(
            FailureKind::BadKey,
            "no ssh-ed25519 key in the allowed signers file",
        ));
    }
    Ok(out)
}

/// Splits on spaces, keeping double-quoted runs together.
fn split_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    pattern.len() <= 256 && go(pattern.as_bytes(), s.as_bytes())
}

/// A reader of SSH wire strings.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let s = self.0.get(4..4usize.checked_add(len)?)?;
        self.0 = &self.0[4 + len..];
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        let v = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?);
        self.0 = &self.0[4..];
        Some(v)
    }
}

fn ssh_ed25519_key(blob: &[u8]) -> Option<[u8; 32]> {
    let mut w = Wire(blob);
    if w.string()? != b"ssh-ed25519" {
        return None;
    }
    let pk: [u8; 32] = w.string()?.try_into().ok()?;
    w.0.is_empty().then_some(pk)
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// Verifies an SSH signature (`-----BEGIN SSH SIGNATURE-----`) over `message`: namespace
/// pinned to `namespace`, key allowed for `identity` by `signers`.
pub fn verify_sshsig(
    signers: &[AllowedSigner],
    identity: &str,
    namespace: &str,
    sig_text: &str,
    message: Parts<'_>,
) -> Result<SignatureInfo, Failure> {
    let bad = |m: &str| Failure::new(FailureKind::SignatureInvalid, m.to_string());
    let body = sig_text
        .split_once("-----BEGIN SSH SIGNATURE-----")
        .and_then(|(_, r)| r.split_once("-----END SSH SIGNATURE-----"))
        .map(|(body, _)| body)
        .ok_or_else(|| bad("malformed SSH signature: no BEGIN/END armour"))?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let blob = B64
        .decode(b64)
        .map_err(|_| bad("malformed SSH signature: not base64"))?;
    let mut w = Wire(
        blob.strip_prefix(b"SSHSIG")
            .ok_or_else(|| bad("malformed SSH signature: no SSHSIG magic"))?,
    );
    let malformed = || bad("malformed SSH signature");
    if w.u32().ok_or_else(malformed)? != 1 {
        return Err(bad("unsupported SSH signature version"));
    }
    let pk_blob = w.string().ok_or_else(malformed)?;
    let ns = w.string().ok_or_else(malformed)?;
    let reserved = w.string().ok_or_else(malformed)?;
    let hash_alg = w.string().ok_or_else(malformed)?;
    let sig_blob = w.string().ok_or_else(malformed)?;
    if !w.0.is_empty() {
        return Err(bad("malformed SSH signature: trailing data"));
    }
    if ns != namespace.as_bytes() {
        return Err(Failure::new(
            FailureKind::NamespaceMismatch,
            format!(
                "signature namespace {:?}, expected {namespace:?}",
                String::from_utf8_lossy(ns)
            ),
        ));
    }
    let pk = ssh_ed25519_key(pk_blob).ok_or_else(|| bad("not an ssh-ed25519 signature"))?;
    let fingerprint = format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(pk_blob))
    );
    let signer = allowed_signer(signers, &pk, identity, namespace).ok_or_else(|| {
        Failure::new(
            FailureKind::KeyIdMismatch,
            format!("signed by key {fingerprint}, which the allowed signers do not allow for {identity:?}"),
        )
    })?;
    let mut sw = Wire(sig_blob);
    if sw.string().ok_or_else(malformed)? != b"ssh-ed25519" {
        return Err(bad("not an ssh-ed25519 signature"));
    }
    let sig = sig64(sw.string().ok_or_else(malformed)?)?;
    let digest = sshsig_digest(hash_alg, message)?;
    let mut signed = b"SSHSIG".to_vec();
    put_string(&mut signed, ns);
    put_string(&mut signed, reserved);
    put_string(&mut signed, hash_alg);
    put_string(&mut signed, &digest);
    signer
        .key
        .verify_strict(&signed, &sig)
        .map_err(|_| bad("the signature does not verify with this key"))?;
    Ok(SignatureInfo {
        scheme: "ssh",
        key_id: fingerprint,
        trusted_comment: None,
        signer: Some(identity.to_string()),
    })
}

/// The allowed signer with public key `pk`, allowed for `identity` and `namespace`.
fn allowed_signer<'s>(
    signers: &'s [AllowedSigner],
    pk: &[u8; 32],
    identity: &str,
    namespace: &str,
) -> Option<&'s AllowedSigner> {
    signers.iter().find(|s| {
        s.key.as_bytes() == pk
            && s.principals.iter().any(|p| glob(p, identity))
            && s.namespaces
                .as_ref()
                .is_none_or(|n| n.iter().any(|x| glob(x, namespace)))
    })
}

/// The digest of `message` an SSH signature signs, with its hash algorithm (`sha512` or
/// `sha256`).
fn sshsig_digest(hash_alg: &[u8], message: Parts<'_>) -> Result<Vec<u8>, Failure> {
    fn digest<D: Digest>(message: Parts<'_>) -> Vec<u8> {
        let mut h = D::new();
        for p in message {
            h.update(p);
        }
        h.finalize().to_vec()
    }
    match hash_alg {
        b"sha512" => Ok(digest::<Sha512>(message)),
        b"sha256" => Ok(digest::<Sha256>(message)),
        _ => Err(invalid("unsupported SSH signature hash algorithm")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*@example.com", "release@example.com"));
        assert!(glob("rel?ase@x", "release@x"));
        assert!(!glob("a*", "b"));
        assert!(glob("*", ""));
    }

    #[test]
    fn malformed_keys_are_bad_keys() {
        assert_eq!(
            parse_minisign_key("").unwrap_err().kind,
            FailureKind::BadKey
        );
        assert_eq!(
            parse_minisign_key("untrusted comment: x\n!!!")
                .unwrap_err()
                .kind,
            FailureKind::BadKey
        );
        // The identity point: a weak key.
        let mut raw = b"Ed".to_vec();
        raw.extend([1u8; 8]);
        let mut pk = [0u8; 32];
        pk[0] = 1;
        raw.extend(pk);
        let text = format!("untrusted comment: weak\n{}\n", B64.encode(&raw));
        assert!(parse_minisign_key(&text)
            .unwrap_err()
            .message
            .contains("weak"));
        assert_eq!(
            parse_allowed_signers("x ssh-ed25519 !!!").unwrap_err().kind,
            FailureKind::BadKey
        );
    }
}
