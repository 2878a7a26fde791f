//! What the distribution grammar accepts: repository names, tags and digests.

/// A repository name by the distribution grammar:
/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*`,
/// at most 255 characters.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.split('/').all(valid_component)
}

/// One path component of a repository name: lowercase alphanumeric runs joined by `.`, `_`,
/// `__` or any number of `-`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        match &b[start..i] {
            b"." | b"_" | b"__" => {}
            sep if sep.iter().all(|&x| x == b'-') => {}
            _ => return false,
        }
    }
    true
}

/// A tag: `[\w][\w.-]{0,127}`.
pub(super) fn valid_tag(tag: &str) -> bool {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = tag.as_bytes();
    match b.first() {
        Some(&f) if word(f) && b.len() <= 128 => {
            b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
        }
        _ => false,
    }
}

/// A digest by the OCI grammar: `algorithm ":" encoded`, the algorithm `[a-z0-9]+` components
/// joined by one of `+._-`, the encoded part `[a-zA-Z0-9=_-]+`; and for the registered
/// algorithms, `sha256` (64) and `sha512` (128), lowercase hex of the right length.
pub(super) fn valid_digest(digest: &str) -> bool {
    let Some((alg, enc)) = digest.split_once(':') else {
        return false;
    };
    let alg_ok = !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit())
        });
    let enc_ok = !enc.is_empty()
        && enc
            .bytes()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'=' | b'_' | b'-'));
    let hex =
        |n: usize| enc.len() == n && enc.bytes().all(|x| matches!(x, b'0'..=b'9' | b'a'..=b'f'));
    alg_ok
        && enc_ok
        && match alg {
            "sha256" => hex(64),
            "sha512" => hex(128),
            _ => true,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "a",
            "example-solution-1.0.2/base-server",
            "a__b/c.d/e---f",
            "x0/y_1",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "A",
            "a/",
            "/a",
            "a//b",
            "a___b",
            "a..b",
            "a._b",
            "-a",
            "a-",
            "solution-1.0.0+build/img",
            "Solution-1.0/img",
            &"a".repeat(256),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_name(&"a".repeat(255)));
    }

    #[test]
    fn tags() {
        assert!(valid_tag("1.0.2"));
        assert!(valid_tag("_x-Y.z"));
        assert!(valid_tag(&"a".repeat(128)));
        assert!(!valid_tag(&"a".repeat(129)));
        assert!(!valid_tag(""));
        assert!(!valid_tag(".x"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag("1.0+b"));
    }

    #[test]
    fn digests() {
        let h = "a".repeat(64);
        assert!(valid_digest(&format!("sha256:{h}")));
        assert!(valid_digest(&format!("sha512:{}", "0".repeat(128))));
        assert!(valid_digest(
            "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"
        ));
        for bad in [
            "sha256:00".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{h}0"),
            format!("sha512:{h}"),
            h.clone(),
            "sha256:".into(),
            ":abc".into(),
            "SHA256:abc".into(),
            "sha256+:abc".into(),
            "x:ab/c".into(),
            "uploads/".into(),
        ] {
            assert!(!valid_digest(&bad), "{bad}");
        }
    }
}
