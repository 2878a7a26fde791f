//! Turning recorded identifiers into names.

use std::borrow::Cow;

/// Strips an ECMA-119 version suffix (`;1`) and then one trailing dot (`COPYING.;1` ->
/// `COPYING`). A `;` not followed by digits only is kept.
pub(crate) fn strip_version(id: &[u8]) -> &[u8] {
    let mut s = id;
    if let Some(pos) = s.iter().rposition(|&c| c == b';') {
        let ver = &s[pos + 1..];
        if ver.iter().all(u8::is_ascii_digit) {
            s = &s[..pos];
        }
    }
    if s.len() > 1 && s.last() == Some(&b'.') {
        s = &s[..s.len() - 1];
    }
    s
}

/// Bytes as a string: borrowed when they are UTF-8, else decoded lossily.
#[inline(always)]
pub(crate) fn bytes_to_str(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(String::from_utf8_lossy(b).into_owned()),
    }
}

/// Decodes UTF-16 big-endian (Joliet), with surrogate pairs; unpaired surrogates and an odd
/// trailing byte become U+FFFD.
pub(crate) fn decode_utf16be(b: &[u8]) -> String {
    let units = b.chunks(2).map(|c| {
        if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            0xFFFD
        }
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// A Joliet name: UTF-16BE decoded, a Nero-style `;1` version suffix removed.
pub(crate) fn joliet_name(id: &[u8]) -> String {
    let mut s = decode_utf16be(id);
    if let Some(pos) = s.rfind(';') {
        if s[pos + 1..].bytes().all(|c| c.is_ascii_digit()) {
            s.truncate(pos);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_dots() {
        assert_eq!(strip_version(b"COPYING.;1"), b"COPYING");
        assert_eq!(strip_version(b"A.TXT;1"), b"A.TXT");
        assert_eq!(strip_version(b"DIR"), b"DIR");
        assert_eq!(strip_version(b"A;B"), b"A;B");
        assert_eq!(strip_version(b"."), b".");
        assert_eq!(strip_version(b";1"), b"");
    }

    #[test]
    fn joliet() {
        let b: Vec<u8> = "tést😀;1"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(joliet_name(&b), "tést😀");
        assert_eq!(decode_utf16be(&[0xD8, 0x00]), "\u{FFFD}");
        assert_eq!(decode_utf16be(&[0x00, 0x41, 0x00]), "A\u{FFFD}");
    }
}
