//! Field decoders of ECMA-167 / OSTA UDF: little-endian numbers, descriptor tags (checksum,
//! CRC-ITU, location), OSTA CS0 strings and timestamps.

use crate::iso9660::Timestamp;
use crate::{Error, ErrorKind, Result};

/// Little-endian u16 at `at`, or 0 when out of range (callers check lengths first).
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    at.checked_add(2)
        .and_then(|end| b.get(at..end))
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

/// Little-endian u32 at `at`, or 0 when out of range.
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    at.checked_add(4)
        .and_then(|end| b.get(at..end))
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// Little-endian u64 at `at`, or 0 when out of range.
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    at.checked_add(8)
        .and_then(|end| b.get(at..end))
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Byte at `at`, or 0 when out of range.
pub(crate) fn u8_at(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

const fn crc_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u16; 256] = crc_table();

/// CRC-ITU-T (CCITT, x^16 + x^12 + x^5 + 1, initial value 0), as ECMA-167 7.2.6 defines it.
pub(crate) fn crc_itu(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        let idx = usize::from(((crc >> 8) as u8) ^ b);
        (crc << 8) ^ CRC_TABLE.get(idx).copied().unwrap_or(0)
    })
}

/// The checksum of a tag (ECMA-167 7.2.3): bytes 0..16 but byte 4, added modulo 256.
pub(crate) fn tag_checksum(tag: &[u8]) -> u8 {
    tag.iter()
        .take(16)
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .fold(0u8, |s, (_, &b)| s.wrapping_add(b))
}

/// True when `b` starts with 16 zero bytes (an unrecorded descriptor).
pub(crate) fn blank_tag(b: &[u8]) -> bool {
    b.get(..16).is_some_and(|t| t.iter().all(|&x| x == 0))
}

/// Checks the descriptor tag at the start of `b` (the descriptor as far as it may extend):
/// checksum, CRC over `CRC length` bytes after the tag when that length is not 0, and the tag
/// location equal to `loc` (where the descriptor was read). Returns the tag identifier. `off`
/// is the image offset of `b`, for the error.
pub(crate) fn check_tag(b: &[u8], loc: u32, off: u64) -> Result<u16> {
    let bad = |id: u16, reason: &'static str| Error::at(ErrorKind::BadUdfTag { id, reason }, off);
    if b.len() < 16 {
        return Err(bad(0, "descriptor tag is truncated"));
    }
    let id = u16_at(b, 0);
    if tag_checksum(b) != u8_at(b, 4) {
        return Err(bad(id, "tag checksum does not match"));
    }
    let crc_len = usize::from(u16_at(b, 10));
    if crc_len > 0 {
        let body = b
            .get(16..16 + crc_len)
            .ok_or_else(|| bad(id, "descriptor CRC length runs past the descriptor"))?;
        if crc_itu(body) != u16_at(b, 8) {
            return Err(bad(id, "descriptor CRC does not match"));
        }
    }
    if u32_at(b, 12) != loc {
        return Err(bad(
            id,
            "tag location differs from where the descriptor is recorded",
        ));
    }
    Ok(id)
}

/// Decodes OSTA CS0 characters that start with their compression identifier: 8 or 254 (one
/// byte per character, Latin-1), 16 or 255 (UTF-16 big-endian). An empty input is "".
pub(crate) fn cs0(b: &[u8]) -> std::result::Result<String, &'static str> {
    let Some((&comp, rest)) = b.split_first() else {
        return Ok(String::new());
    };
    match comp {
        8 | 254 => Ok(rest.iter().map(|&c| char::from(c)).collect()),
        16 | 255 => {
            if rest.len() % 2 != 0 {
                return Err("16-bit OSTA CS0 string has an odd number of bytes");
            }
            let units = rest.chunks_exact(2).map(|c| {
                u16::from_be_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            });
            Ok(char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect())
        }
        _ => Err("OSTA CS0 compression identifier is not 8, 16, 254 or 255"),
    }
}

/// A fixed-size d-string field (ECMA-167 1/7.2.12): its last byte is the length used. Decoded
/// leniently (descriptive text only): a bad field gives "".
pub(crate) fn dstring(field: &[u8]) -> String {
    let Some((&used, body)) = field.split_last() else {
        return String::new();
    };
    let used = usize::from(used).min(body.len());
    cs0(body.get(..used).unwrap_or_default())
        .map(|s| s.trim_end_matches('\0').to_string())
        .unwrap_or_default()
}

/// A 12-byte timestamp (ECMA-167 1/7.3): `None` when all zero or out of range. The time zone
/// (in minutes, -1440..=1440) is used when specified, else 0.
pub(crate) fn timestamp(b: &[u8]) -> Option<Timestamp> {
    let b = b.get(..12)?;
    if b.iter().all(|&x| x == 0) {
        return None;
    }
    let tz_type = u16_at(b, 0);
    let raw = i16::try_from(tz_type & 0x0fff).ok()?;
    let tz = if raw & 0x0800 != 0 { raw - 0x1000 } else { raw };
    let tz = if (tz_type >> 12) == 1 && (-1440..=1440).contains(&tz) {
        tz
    } else {
        0
    };
    let year = u16::try_from(u16_at(b, 2) as i16).ok()?;
    let t = Timestamp {
        year,
        month: u8_at(b, 4),
        day: u8_at(b, 5),
        hour: u8_at(b, 6),
        minute: u8_at(b, 7),
        second: u8_at(b, 8),
        hundredths: u8_at(b, 9),
        utc_offset_minutes: tz,
    };
    let ok = (1..=9999).contains(&t.year)
        && (1..=12).contains(&t.month)
        && (1..=31).contains(&t.day)
        && t.hour < 24
        && t.minute < 60
        && t.second <= 60
        && t.hundredths < 100;
    ok.then_some(t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn crc_itu_matches_the_ecma_167_example() {
        // ECMA-167 1/7.2.6: the CRC of bytes 0x70 0x6A 0x77 is 0x3299.
        assert_eq!(crc_itu(&[0x70, 0x6a, 0x77]), 0x3299);
    }

    #[test]
    fn cs0_decodes_8_and_16_bit_and_rejects_others() {
        assert_eq!(cs0(b"\x08abc").unwrap(), "abc");
        assert_eq!(cs0(b"\xfe\xe9").unwrap(), "\u{e9}");
        assert_eq!(cs0(b"\x10\x00a\x00\xe9").unwrap(), "a\u{e9}");
        assert_eq!(cs0(b"\xff\x00a").unwrap(), "a");
        assert!(cs0(b"\x10\x00").is_err());
        assert!(cs0(b"\x07a").is_err());
        assert_eq!(dstring(b"\x08ab\0\0\x03"), "ab");
        assert_eq!(dstring(b"\x08ab\0\0\xff"), "ab");
    }

    #[test]
    fn timestamps_decode_with_time_zone() {
        let mut b = [0u8; 12];
        assert!(timestamp(&b).is_none());
        b[0..2].copy_from_slice(&(0x1000u16 | (60u16 & 0xfff)).to_le_bytes());
        b[2..4].copy_from_slice(&2024u16.to_le_bytes());
        b[4] = 2;
        b[5] = 29;
        b[6] = 23;
        let t = timestamp(&b).unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour), (2024, 2, 29, 23));
        assert_eq!(t.utc_offset_minutes, 60);
        b[0..2].copy_from_slice(&(0x1000u16 | ((-120i16 as u16) & 0xfff)).to_le_bytes());
        assert_eq!(timestamp(&b).unwrap().utc_offset_minutes, -120);
        b[4] = 13;
        assert!(timestamp(&b).is_none());
    }
}
