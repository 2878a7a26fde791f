//! Content digests: the one place that decides what a `sha256:<hex>` digest is.
//!
//! Typed digests are [oci-spec]'s: [`Digest`] (any algorithm, as descriptors carry it) and
//! [`Sha256Digest`] (64 lowercase hexadecimal characters, what a blob file of a Solution is
//! named by). The helpers here turn strings into them, or answer "is this a sha256 digest".
//!
//! ```
//! use iso_core::digest::{sha256_hex, sha256_of, Sha256Digest};
//! let d = sha256_of(b"abc");
//! assert_eq!(d.digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
//! assert_eq!(sha256_hex(&format!("sha256:{}", d.digest())), Some(d.digest()));
//! assert_eq!(sha256_hex("sha256:ABC"), None);
//! let typed: Sha256Digest = d.digest().parse().unwrap();
//! assert_eq!(typed, d);
//! ```
//!
//! [oci-spec]: https://docs.rs/oci-spec

use std::str::FromStr;

pub use oci_spec::image::{Digest, DigestAlgorithm, Sha256Digest};
use sha2::Digest as _;

/// The `sha256:` prefix of a digest string.
pub const SHA256_PREFIX: &str = "sha256:";

/// Whether `s` is 64 lowercase hexadecimal characters (the encoded part of a SHA-256 digest,
/// and the name of a blob file in a skopeo `dir:` copy).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// The hex part of `sha256:<64 lowercase hex>`, or `None` for anything else (another
/// algorithm, upper case, a short or long hex, no prefix).
pub fn sha256_hex(digest: &str) -> Option<&str> {
    digest
        .strip_prefix(SHA256_PREFIX)
        .filter(|h| is_sha256_hex(h))
}

/// The hex part of `digest` if it is `sha256:<hex>` or a bare `<hex>`; otherwise `digest`
/// itself (which then matches no blob name).
pub fn hex_or_self(digest: &str) -> &str {
    digest.strip_prefix(SHA256_PREFIX).unwrap_or(digest)
}

/// The encoded part of a typed digest when its algorithm is SHA-256.
pub fn sha256_part(digest: &Digest) -> Option<&str> {
    (*digest.algorithm() == DigestAlgorithm::Sha256).then(|| digest.digest())
}

/// The SHA-256 digest of `bytes`.
pub fn sha256_of(bytes: &[u8]) -> Sha256Digest {
    from_raw(&sha2::Sha256::digest(bytes).into())
}

/// A SHA-256 digest from its 32 raw bytes.
pub fn from_raw(raw: &[u8; 32]) -> Sha256Digest {
    // `hex::encode` of 32 bytes is 64 lowercase hexadecimal characters, exactly what
    // `Sha256Digest` accepts: this cannot fail.
    #[allow(clippy::expect_used)]
    Sha256Digest::from_str(&hex::encode(raw)).expect("64 lowercase hex characters")
}

/// `sha256:<hex>` as a typed [`Digest`].
pub fn to_digest(d: &Sha256Digest) -> Digest {
    Digest::from(d.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_accepts_only_lowercase_64() {
        let h = "a".repeat(64);
        assert_eq!(sha256_hex(&format!("sha256:{h}")), Some(h.as_str()));
        assert_eq!(sha256_hex(&h), None);
        assert_eq!(sha256_hex(&format!("sha256:{}", "A".repeat(64))), None);
        assert_eq!(sha256_hex(&format!("sha256:{}", "a".repeat(63))), None);
        assert_eq!(sha256_hex(&format!("sha512:{h}")), None);
        assert!(!is_sha256_hex(&"g".repeat(64)));
    }

    #[test]
    fn typed_parts() {
        let d: Digest = format!("sha256:{}", "b".repeat(64)).parse().unwrap();
        assert_eq!(sha256_part(&d), Some("b".repeat(64).as_str()));
        assert_eq!(
            to_digest(&from_raw(&[0xbb; 32])).to_string(),
            format!("sha256:{}", "bb".repeat(32))
        );
    }
}
