//! Signing `SHA256SUMS` with a minisign secret key, as `minisign -S` does: a prehashed (`ED`)
//! Ed25519 signature of the BLAKE2b-512 of the file, and a global signature over it and the
//! trusted comment. Keys made with `minisign -G -W` (no password) and encrypted keys
//! (scrypt, what `minisign -G` makes) are both read. Ed25519 signatures are deterministic, so
//! the same key, file and trusted comment give the same signature file.
//!
//! [`Signer`] is either that or an OpenSSH private key ([`super::sshsign`]), told apart by the
//! key file's contents.

use std::fmt;

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};

use super::sshsign::{SshKeyError, SshSecretKey, OPENSSH_PRIVATE_KEY_BEGIN};

/// The largest key file read: a minisign secret key is under 400 bytes, an OpenSSH Ed25519 key
/// under 500, an RSA one of 16384 bits about 12 KiB.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a secret key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a minisign secret key file.
    #[error("not a minisign secret key: {0}")]
    Malformed(String),
    /// The key is encrypted and no password was given.
    #[error("the minisign secret key is encrypted: give its password (--password-file FILE)")]
    NeedPassword,
    /// The checksum does not match after decryption: a wrong password (or a damaged key).
    #[error("wrong password for the minisign secret key (or the key file is damaged)")]
    WrongPassword,
    /// The scrypt parameters are out of the range minisign uses.
    #[error("unsupported key derivation parameters: {0}")]
    Kdf(String),
    /// A public key where the secret (private) key is needed.
    #[error("this is {0}, not a secret key: sign with the private key file")]
    PublicKey(&'static str),
    /// An OpenSSH private key that cannot be used.
    #[error(transparent)]
    Ssh(#[from] SshKeyError),
}

/// A key that signs `SHA256SUMS`: minisign (`SHA256SUMS.minisig`) or SSH (`SHA256SUMS.sig`,
/// sshsig as `ssh-keygen -Y sign`). `Debug` never shows the key.
#[derive(Debug)]
pub enum Signer {
    /// A minisign secret key.
    Minisign(MinisignSecretKey),
    /// An OpenSSH Ed25519 private key.
    Ssh(SshSecretKey),
}

/// The first non-blank line of `text` that is not a minisign/signify comment.
fn key_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
}

/// SSH key types, as public key lines and `allowed_signers` files name them.
fn is_ssh_key_type(field: &str) -> bool {
    field.starts_with("ssh-")
        || field.starts_with("ecdsa-sha2-")
        || field.starts_with("sk-ssh-")
        || field.starts_with("sk-ecdsa-")
}

impl Signer {
    /// Reads a key file's text, told apart by its contents: an OpenSSH private key
    /// (`-----BEGIN OPENSSH PRIVATE KEY-----`) or a minisign secret key; `password` is needed
    /// for an encrypted one. Public keys (SSH, minisign, signify) and PEM private keys of other
    /// formats are refused by name.
    pub fn parse(text: &str, password: Option<&[u8]>) -> Result<Self, KeyError> {
        if text.contains(OPENSSH_PRIVATE_KEY_BEGIN) {
            return Ok(Signer::Ssh(SshSecretKey::parse(text, password)?));
        }
        if text.contains("---- BEGIN SSH2 PUBLIC KEY ----") {
            return Err(KeyError::PublicKey("an SSH public key (RFC 4716)"));
        }
        if text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----") {
            return Err(SshKeyError::Malformed(
                "a PEM private key (PKCS#1, PKCS#8 or SEC 1): convert it to the OpenSSH \
                 format (ssh-keygen -p -f KEY)"
                    .to_string(),
            )
            .into());
        }
        if let Some(line) = key_line(text) {
            if line.split_whitespace().take(3).any(is_ssh_key_type) {
                return Err(KeyError::PublicKey(
                    "an SSH public key (or an allowed_signers line)",
                ));
            }
            if let Ok(raw) = B64.decode(line) {
                if raw.len() == 42 && raw.starts_with(b"Ed") {
                    return Err(KeyError::PublicKey("a minisign or signify public key"));
                }
            }
        }
        Ok(Signer::Minisign(MinisignSecretKey::parse(text, password)?))
    }

    /// `"minisign"` or `"ssh"`, as `verify` names the schemes.
    pub fn scheme(&self) -> &'static str {
        match self {
            Signer::Minisign(_) => "minisign",
            Signer::Ssh(_) => "ssh",
        }
    }

    /// The key id (minisign, hex as minisign prints it) or fingerprint (SSH, `SHA256:...` as
    /// `ssh-keygen -l` prints it).
    pub fn key_id(&self) -> String {
        match self {
            Signer::Minisign(k) => k.key_id_hex(),
            Signer::Ssh(k) => k.fingerprint(),
        }
    }

    /// The name of the signature file beside `SHA256SUMS`, the one `verify` reads.
    pub fn signature_file(&self) -> &'static str {
        match self {
            Signer::Minisign(_) => iso_core::solution::sums::SUMS_MINISIG,
            Signer::Ssh(_) => iso_core::solution::sums::SUMS_SSHSIG,
        }
    }

    /// The signature file's text over `message`; `trusted_comment` is minisign's (SSH
    /// signatures have none).
    pub fn sign(&self, message: &[u8], trusted_comment: &str) -> String {
        match self {
            Signer::Minisign(k) => k.sign(message, trusted_comment),
            Signer::Ssh(k) => k.sign(message),
        }
    }
}

impl From<MinisignSecretKey> for Signer {
    fn from(k: MinisignSecretKey) -> Self {
        Signer::Minisign(k)
    }
}

impl From<SshSecretKey> for Signer {
    fn from(k: SshSecretKey) -> Self {
        Signer::Ssh(k)
    }
}

/// A minisign secret key, decrypted. `Debug` never shows the key.
pub struct MinisignSecretKey {
    key_id: [u8; 8],
    key: SigningKey,
}

impl fmt::Debug for MinisignSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MinisignSecretKey({}, <redacted>)", self.key_id_hex())
    }
}

/// libsodium's `pickparams` for `crypto_pwhash_scryptsalsa208sha256`: `(log2 N, r, p)`.
fn pick_params(opslimit: u64, memlimit: u64) -> (u8, u32, u32) {
    let opslimit = opslimit.max(32768);
    let r: u64 = 8;
    let mut n_log2 = 1u8;
    if opslimit < memlimit / 32 {
        let max_n = opslimit / (r * 4);
        while n_log2 < 63 {
            if (1u64 << n_log2) > max_n / 2 {
                break;
            }
            n_log2 += 1;
        }
        (n_log2, r as u32, 1)
    } else {
        let max_n = memlimit / (r * 128);
        while n_log2 < 63 {
            if (1u64 << n_log2) > max_n / 2 {
                break;
            }
            n_log2 += 1;
        }
        let max_rp = ((opslimit / 4) / (1u64 << n_log2)).min(0x3fff_ffff);
        (n_log2, r as u32, (max_rp / r).max(1) as u32)
    }
}

impl MinisignSecretKey {
    /// Reads a secret key file's text; `password` is needed for an encrypted key.
    pub fn parse(text: &str, password: Option<&[u8]>) -> Result<Self, KeyError> {
        let bad = |m: &str| KeyError::Malformed(m.to_string());
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .ok_or_else(|| bad("no key line"))?;
        let raw = B64
            .decode(line)
            .map_err(|_| bad("the key line is not base64"))?;
        if raw.len() != 158 || &raw[..2] != b"Ed" || &raw[4..6] != b"B2" {
            return Err(bad("not an Ed25519 minisign secret key"));
        }
        let mut keynum = [0u8; 104];
        keynum.copy_from_slice(&raw[54..158]);
        match &raw[2..4] {
            [0, 0] => {}
            b"Sc" => {
                let password = password.ok_or(KeyError::NeedPassword)?;
                let salt = &raw[6..38];
                let u64_at = |o: usize| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&raw[o..o + 8]);
                    u64::from_le_bytes(b)
                };
                let (ops, mem) = (u64_at(38), u64_at(46));
                let (log_n, r, p) = pick_params(ops, mem);
                // minisign's own ceiling is 1 GiB of memory for the default key.
                if u64::from(r) * 128 * (1u64 << log_n) > (2u64 << 30) {
                    return Err(KeyError::Kdf(format!(
                        "scrypt N=2^{log_n}, r={r} needs more than 2 GiB"
                    )));
                }
                // (The length in `Params` is that of a password hash string; the output here is `stream`.)
                let params = scrypt::Params::new(log_n, r, p, scrypt::Params::RECOMMENDED_LEN)
                    .map_err(|e| KeyError::Kdf(e.to_string()))?;
                let mut stream = [0u8; 104];
                scrypt::scrypt(password, salt, &params, &mut stream)
                    .map_err(|e| KeyError::Kdf(e.to_string()))?;
                for (k, s) in keynum.iter_mut().zip(stream) {
                    *k ^= s;
                }
            }
            _ => return Err(bad("unknown key derivation algorithm")),
        }
        let mut check = blake2b_simd::Params::new().hash_length(32).to_state();
        check
            .update(b"Ed")
            .update(&keynum[..8])
            .update(&keynum[8..72]);
        // minisign 0.11 leaves the checksum of an unencrypted key (`-W`) as zeros; the public
        // half is checked below either way.
        let unchecked = raw[2..4] == [0, 0] && keynum[72..104].iter().all(|b| *b == 0);
        if !unchecked && check.finalize().as_bytes() != &keynum[72..104] {
            return Err(if raw[2..4] == [0, 0] {
                bad("checksum mismatch")
            } else {
                KeyError::WrongPassword
            });
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&keynum[..8]);
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&keynum[8..40]);
        let key = SigningKey::from_bytes(&seed);
        if key.verifying_key().as_bytes() != &keynum[40..72] {
            return Err(bad("the public half does not match the secret key"));
        }
        Ok(MinisignSecretKey { key_id, key })
    }

    /// The key id as minisign prints it.
    pub fn key_id_hex(&self) -> String {
        let mut b = self.key_id;
        b.reverse();
        hex::encode_upper(b)
    }

    /// The public key file's text (what `minisign -G` writes as `minisign.pub`).
    pub fn public_key_text(&self) -> String {
        let mut raw = Vec::with_capacity(42);
        raw.extend_from_slice(b"Ed");
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(self.key.verifying_key().as_bytes());
        format!(
            "untrusted comment: minisign public key {}\n{}\n",
            self.key_id_hex(),
            B64.encode(raw)
        )
    }

    /// The signature file of `message` (`minisign -S` output) with `trusted_comment`.
    pub fn sign(&self, message: &[u8], trusted_comment: &str) -> String {
        let hash = blake2b_simd::Params::new().hash_length(64).hash(message);
        let sig = self.key.sign(hash.as_bytes()).to_bytes();
        let mut raw = Vec::with_capacity(74);
        raw.extend_from_slice(b"ED");
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&sig);
        let mut global_msg = Vec::with_capacity(64 + trusted_comment.len());
        global_msg.extend_from_slice(&sig);
        global_msg.extend_from_slice(trusted_comment.as_bytes());
        let global = self.key.sign(&global_msg).to_bytes();
        format!(
            "untrusted comment: signature from isolution pack, key {}\n{}\ntrusted comment: {}\n{}\n",
            self.key_id_hex(),
            B64.encode(raw),
            trusted_comment,
            B64.encode(global)
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn libsodium_params() {
        // minisign's defaults: opslimit 2^25, memlimit 2^30.
        assert_eq!(pick_params(1 << 25, 1 << 30), (20, 8, 1));
    }

    #[test]
    fn malformed() {
        assert!(matches!(
            MinisignSecretKey::parse("untrusted comment: x\n", None),
            Err(KeyError::Malformed(_))
        ));
        assert!(matches!(
            MinisignSecretKey::parse("RWQ=\n", None),
            Err(KeyError::Malformed(_))
        ));
    }
}
