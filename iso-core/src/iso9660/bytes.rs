//! Little nom parsers for the field encodings of ECMA-119 (both-endian numbers).

use nom::number::complete::{be_u16, be_u32, le_u16, le_u32};
use nom::IResult;

/// A both-endian field as read: the little-endian value wins; `mismatch` says whether the
/// big-endian copy disagreed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Both<T> {
    pub value: T,
    pub mismatch: bool,
}

/// ECMA-119 7.3.3: u32 little-endian then big-endian.
pub(crate) fn both_u32(i: &[u8]) -> IResult<&[u8], Both<u32>> {
    let (i, le) = le_u32(i)?;
    let (i, be) = be_u32(i)?;
    Ok((
        i,
        Both {
            value: le,
            mismatch: le != be,
        },
    ))
}

/// ECMA-119 7.2.3: u16 little-endian then big-endian.
pub(crate) fn both_u16(i: &[u8]) -> IResult<&[u8], Both<u16>> {
    let (i, le) = le_u16(i)?;
    let (i, be) = be_u16(i)?;
    Ok((
        i,
        Both {
            value: le,
            mismatch: le != be,
        },
    ))
}

/// Reads a both-endian u32 at `at` in `b`, if it fits.
pub(crate) fn both_u32_at(b: &[u8], at: usize) -> Option<Both<u32>> {
    let s = b.get(at..at.checked_add(8)?)?;
    both_u32(s).ok().map(|(_, v)| v)
}

/// Little-endian u32 at `at`, if it fits.
pub(crate) fn le_u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// Little-endian u16 at `at`, if it fits.
pub(crate) fn le_u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

/// A text field (a-/d-characters, padded with spaces) as a trimmed string.
pub(crate) fn text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.trim_end_matches([' ', '\0']).to_string()
}

/// A Joliet text field (UCS-2 big-endian, padded with spaces) as a trimmed string.
pub(crate) fn text_ucs2(b: &[u8]) -> String {
    let s = super::names::decode_utf16be(b);
    s.trim_end_matches([' ', '\0']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_endian_mismatch_is_reported_le_wins() {
        let b = [1, 0, 0, 0, 0, 0, 0, 2];
        let (_, v) = both_u32(&b).unwrap();
        assert_eq!(v.value, 1);
        assert!(v.mismatch);
        let b = [1, 0, 0, 0, 0, 0, 0, 1];
        assert!(!both_u32(&b).unwrap().1.mismatch);
        assert!(both_u32_at(&b, 1).is_none());
        assert!(both_u32_at(&b, usize::MAX).is_none());
    }
}
