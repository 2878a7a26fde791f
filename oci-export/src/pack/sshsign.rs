//! Signing `SHA256SUMS` with an OpenSSH private key, as `ssh-keygen -Y sign -n
//! metalk8s-solution` does: an `SSHSIG` blob (PROTOCOL.sshsig) over the SHA-512 of the file, in
//! the armored `-----BEGIN SSH SIGNATURE-----` form, base64 wrapped at 70 columns as ssh-keygen
//! writes it. `isolution verify` reads Ed25519 SSH signatures only, so only `ssh-ed25519` keys
//! sign; other key types are refused by name. Unencrypted keys and passphrase-protected keys
//! (bcrypt-pbkdf with AES-CTR, what `ssh-keygen` makes, or the other ciphers OpenSSH offers) are
//! read with RustCrypto's `ssh-key`. Ed25519 signatures are deterministic: the same key and file
//! give the bytes ssh-keygen gives.

use std::fmt;

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use iso_core::solution::signature::SSH_NAMESPACE;
use sha2::{Digest as _, Sha256, Sha512};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The armour line before an OpenSSH private key.
pub const OPENSSH_PRIVATE_KEY_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const OPENSSH_PRIVATE_KEY_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const AUTH_MAGIC: &[u8] = b"openssh-key-v1\0";
/// The most bcrypt-pbkdf rounds read (`ssh-keygen -a`, 16 by default): a key file asking for
/// more would take minutes to open.
pub const MAX_BCRYPT_ROUNDS: u32 = 1024;
/// The ciphers of encrypted keys read: every one OpenSSH offers for keys but 3des-cbc.
const CIPHERS: [&str; 9] = [
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
];
/// The hash algorithm of the signatures, as `ssh-keygen -Y sign` chooses.
const HASH_ALG: &str = "sha512";
/// The width of the base64 lines of an armored signature (ssh-keygen's).
const ARMOR_WIDTH: usize = 70;

/// Why an OpenSSH private key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshKeyError {
    /// Not a well-formed OpenSSH private key file.
    #[error("not an OpenSSH private key: {0}")]
    Malformed(String),
    /// A key type `isolution verify` does not read.
    #[error(
        "{0} SSH keys are not supported: `isolution verify` reads ssh-ed25519 signatures only \
         (make an Ed25519 key with `ssh-keygen -t ed25519`)"
    )]
    Unsupported(String),
    /// The key is encrypted and no passphrase was given.
    #[error("the SSH private key is encrypted: give its passphrase (--password-file FILE)")]
    NeedPassword,
    /// The check integers do not match after decryption: a wrong passphrase (or a damaged key).
    #[error("wrong passphrase for the SSH private key (or the key file is damaged)")]
    WrongPassword,
    /// A key derivation or cipher this reader does not take.
    #[error("unsupported SSH private key encryption: {0}")]
    Kdf(String),
}

/// An OpenSSH Ed25519 private key, decrypted. `Debug` never shows the key.
pub struct SshSecretKey {
    key: SigningKey,
    /// The `ssh-ed25519` public key blob (wire format).
    public_blob: Vec<u8>,
    comment: String,
}

impl fmt::Debug for SshSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SshSecretKey({}, <redacted>)", self.fingerprint())
    }
}

/// A reader of SSH wire strings, every length checked.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(s)
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    // Every string written here is a name, a key, a digest or a signature: far below 4 GiB.
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s);
}

/// What the unencrypted header of an `openssh-key-v1` blob says.
struct Header {
    cipher: String,
    kdf: String,
    rounds: Option<u32>,
    algorithm: String,
}

/// Reads the header of an `openssh-key-v1` blob: cipher, KDF, and the key type of its (only)
/// public key, which is stored in the clear.
fn header(raw: &[u8]) -> Result<Header, SshKeyError> {
    let bad = |m: &str| SshKeyError::Malformed(m.to_string());
    let rest = raw
        .strip_prefix(AUTH_MAGIC)
        .ok_or_else(|| bad("no openssh-key-v1 magic"))?;
    let mut w = Wire(rest);
    let truncated = || bad("truncated header");
    let cipher = String::from_utf8_lossy(w.string().ok_or_else(truncated)?).into_owned();
    let kdf = String::from_utf8_lossy(w.string().ok_or_else(truncated)?).into_owned();
    let kdf_options = w.string().ok_or_else(truncated)?;
    let rounds = if kdf == "bcrypt" {
        let mut o = Wire(kdf_options);
        o.string().ok_or_else(|| bad("truncated bcrypt options"))?;
        Some(o.u32().ok_or_else(|| bad("truncated bcrypt options"))?)
    } else {
        None
    };
    let keys = w.u32().ok_or_else(truncated)?;
    if keys != 1 {
        return Err(bad(&format!("{keys} keys in one file (expected 1)")));
    }
    let public = w.string().ok_or_else(truncated)?;
    let algorithm = Wire(public)
        .string()
        .ok_or_else(|| bad("truncated public key"))?;
    Ok(Header {
        cipher,
        kdf,
        rounds,
        algorithm: String::from_utf8_lossy(algorithm).into_owned(),
    })
}

impl SshSecretKey {
    /// Reads an OpenSSH private key file's text (`-----BEGIN OPENSSH PRIVATE KEY-----`);
    /// `password` is needed for an encrypted key (and ignored for another).
    pub fn parse(text: &str, password: Option<&[u8]>) -> Result<Self, SshKeyError> {
        let bad = |m: &str| SshKeyError::Malformed(m.to_string());
        let body = text
            .split_once(OPENSSH_PRIVATE_KEY_BEGIN)
            .and_then(|(_, r)| r.split_once(OPENSSH_PRIVATE_KEY_END))
            .map(|(body, _)| body)
            .ok_or_else(|| bad("no BEGIN/END OPENSSH PRIVATE KEY armour"))?;
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let raw = B64.decode(b64).map_err(|_| bad("the key is not base64"))?;
        let h = header(&raw)?;
        if h.algorithm != "ssh-ed25519" {
            return Err(SshKeyError::Unsupported(h.algorithm));
        }
        if let Some(r) = h.rounds {
            if r > MAX_BCRYPT_ROUNDS {
                return Err(SshKeyError::Kdf(format!(
                    "bcrypt-pbkdf with {r} rounds (at most {MAX_BCRYPT_ROUNDS} are read)"
                )));
            }
        }
        let encrypted = h.cipher != "none";
        if encrypted && h.kdf != "bcrypt" {
            return Err(SshKeyError::Kdf(format!("key derivation {:?}", h.kdf)));
        }
        // (`ssh-key` reports a cipher it parses but was built without as a failed decryption:
        // named here instead of being taken for a wrong passphrase.)
        if encrypted && !CIPHERS.contains(&h.cipher.as_str()) {
            return Err(SshKeyError::Kdf(format!("cipher {:?}", h.cipher)));
        }
        let key = ssh_key::PrivateKey::from_bytes(&raw).map_err(|e| match e {
            ssh_key::Error::AlgorithmUnknown | ssh_key::Error::AlgorithmUnsupported { .. } => {
                SshKeyError::Kdf(format!("cipher {:?}", h.cipher))
            }
            e => SshKeyError::Malformed(e.to_string()),
        })?;
        let key = if key.is_encrypted() {
            let password = password.ok_or(SshKeyError::NeedPassword)?;
            key.decrypt(password).map_err(|e| match e {
                ssh_key::Error::Crypto => SshKeyError::WrongPassword,
                e => SshKeyError::Malformed(format!("after decryption: {e}")),
            })?
        } else {
            key
        };
        let pair = key
            .key_data()
            .ed25519()
            .ok_or_else(|| SshKeyError::Unsupported(key.algorithm().as_str().to_string()))?;
        let signing = SigningKey::from_bytes(&pair.private.to_bytes());
        if signing.verifying_key().as_bytes() != &pair.public.0 {
            return Err(bad("the public half does not match the private key"));
        }
        let mut public_blob = Vec::with_capacity(51);
        put_string(&mut public_blob, b"ssh-ed25519");
        put_string(&mut public_blob, &pair.public.0);
        Ok(SshSecretKey {
            key: signing,
            public_blob,
            comment: key.comment().to_string(),
        })
    }

    /// The key's fingerprint as `ssh-keygen -l` prints it: `SHA256:` and the unpadded base64
    /// of the SHA-256 of the public key blob.
    pub fn fingerprint(&self) -> String {
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(Sha256::digest(&self.public_blob))
        )
    }

    /// The public key as OpenSSH writes it (`ssh-ed25519 BASE64`, without the comment).
    pub fn public_key_openssh(&self) -> String {
        format!("ssh-ed25519 {}", B64.encode(&self.public_blob))
    }

    /// The key file's comment (often `user@host`).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The armored SSH signature of `message` in [`SSH_NAMESPACE`], byte for byte what
    /// `ssh-keygen -Y sign -n metalk8s-solution` writes for this key (it ends in a newline).
    pub fn sign(&self, message: &[u8]) -> String {
        self.sign_in(SSH_NAMESPACE, message)
    }

    /// The armored SSH signature of `message` in `namespace` (PROTOCOL.sshsig, hash sha512).
    pub fn sign_in(&self, namespace: &str, message: &[u8]) -> String {
        let digest = Sha512::digest(message);
        let mut signed = b"SSHSIG".to_vec();
        put_string(&mut signed, namespace.as_bytes());
        put_string(&mut signed, b"");
        put_string(&mut signed, HASH_ALG.as_bytes());
        put_string(&mut signed, &digest);
        let sig = self.key.sign(&signed).to_bytes();
        let mut sig_blob = Vec::with_capacity(83);
        put_string(&mut sig_blob, b"ssh-ed25519");
        put_string(&mut sig_blob, &sig);
        let mut blob = b"SSHSIG".to_vec();
        blob.extend_from_slice(&1u32.to_be_bytes());
        put_string(&mut blob, &self.public_blob);
        put_string(&mut blob, namespace.as_bytes());
        put_string(&mut blob, b"");
        put_string(&mut blob, HASH_ALG.as_bytes());
        put_string(&mut blob, &sig_blob);
        let b64 = B64.encode(&blob);
        let mut out = String::from("-----BEGIN SSH SIGNATURE-----\n");
        // base64 is ASCII: every chunk is valid UTF-8.
        for line in b64.as_bytes().chunks(ARMOR_WIDTH) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END SSH SIGNATURE-----\n");
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// ssh-key's documentation key (unencrypted Ed25519, comment `user@example.com`).
    const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACCzPq7zfqLffKoBDe/eo04kH2XxtSmk9D7RQyf1xUqrYgAAAJgAIAxdACAM
XQAAAAtzc2gtZWQyNTUxOQAAACCzPq7zfqLffKoBDe/eo04kH2XxtSmk9D7RQyf1xUqrYg
AAAEC2BsIi0QwW2uFscKTUUXNHLsYX4FxlaSDSblbAj7WR7bM+rvN+ot98qgEN796jTiQf
ZfG1KaT0PtFDJ/XFSqtiAAAAEHVzZXJAZXhhbXBsZS5jb20BAgMEBQ==
-----END OPENSSH PRIVATE KEY-----
";

    #[test]
    fn signs_what_ssh_key_verifies_and_iso_core_reads() {
        let k = SshSecretKey::parse(KEY, None).unwrap();
        assert_eq!(k.comment(), "user@example.com");
        let sig = k.sign(b"hello\n");
        assert!(sig.ends_with("-----END SSH SIGNATURE-----\n"));
        assert!(sig.lines().all(|l| l.len() <= ARMOR_WIDTH));
        let parsed = ssh_key::SshSig::from_pem(&sig).unwrap();
        let public = ssh_key::PublicKey::from_openssh(&k.public_key_openssh()).unwrap();
        public.verify(SSH_NAMESPACE, b"hello\n", &parsed).unwrap();
        assert!(public.verify(SSH_NAMESPACE, b"hello", &parsed).is_err());
        assert_eq!(
            k.fingerprint(),
            public.fingerprint(ssh_key::HashAlg::Sha256).to_string()
        );
        let signers = iso_core::solution::signature::parse_allowed_signers(&format!(
            "release@example.com {}",
            k.public_key_openssh()
        ))
        .unwrap();
        let info = iso_core::solution::signature::verify_sshsig(
            &signers,
            "release@example.com",
            SSH_NAMESPACE,
            &sig,
            &[b"hello\n"],
        )
        .unwrap();
        assert_eq!(info.key_id, k.fingerprint());
        // Deterministic.
        assert_eq!(sig, k.sign(b"hello\n"));
    }

    #[test]
    fn the_same_key_wrapped_otherwise_with_crlf() {
        let b64: String = KEY.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut text = format!("{OPENSSH_PRIVATE_KEY_BEGIN}\r\n");
        for c in b64.as_bytes().chunks(64) {
            text.push_str(std::str::from_utf8(c).unwrap());
            text.push_str("\r\n");
        }
        text.push_str(OPENSSH_PRIVATE_KEY_END);
        let a = SshSecretKey::parse(&text, None).unwrap();
        let b = SshSecretKey::parse(KEY, Some(b"ignored")).unwrap();
        assert_eq!(a.sign(b"x"), b.sign(b"x"));
        assert!(!format!("{a:?}").contains("BsIi"));
    }

    #[test]
    fn malformed() {
        for text in [
            "",
            "-----BEGIN OPENSSH PRIVATE KEY-----\n!!\n-----END OPENSSH PRIVATE KEY-----\n",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            // The magic, then a length running past the end.
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA/////w==\n-----END OPENSSH PRIVATE KEY-----\n",
        ] {
            assert!(
                matches!(
                    SshSecretKey::parse(text, None),
                    Err(SshKeyError::Malformed(_))
                ),
                "{text:?}"
            );
        }
        // Every truncation of a good key is refused, none panics.
        let raw = B64
            .decode(
                KEY.lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        for n in 0..raw.len() {
            let text = format!(
                "{OPENSSH_PRIVATE_KEY_BEGIN}\n{}\n{OPENSSH_PRIVATE_KEY_END}\n",
                B64.encode(&raw[..n])
            );
            assert!(SshSecretKey::parse(&text, None).is_err(), "{n}");
        }
    }
}
