//! Dates of volume descriptors (17 bytes, digits) and directory records (7 bytes, binary).

/// A date and time as recorded, with its offset from UTC.
///
/// Decoding never panics: a field out of range (month 13, hour 25, a non-digit) makes the
/// whole date "not specified" (`None` from the decoders), and all-zero dates are "not
/// specified" as the standard says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Timestamp {
    /// Full year (1900..=2155 for directory records, 1..=9999 for volume descriptors).
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=60.
    pub second: u8,
    /// Hundredths of a second (volume descriptor dates only; else 0).
    pub hundredths: u8,
    /// Offset from UTC in minutes (recorded in 15-minute units, -48..=52; values outside that
    /// range are taken as 0).
    pub utc_offset_minutes: i16,
}

impl Timestamp {
    fn checked(self) -> Option<Self> {
        let ok = (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && self.hundredths < 100;
        ok.then_some(self)
    }

    /// Seconds since the Unix epoch (UTC).
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month.into(), self.day.into());
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.utc_offset_minutes) * 60
    }

    /// Decodes the 7-byte binary form of directory records and Rock Ridge `TF` (short form).
    pub fn from_dir_record(b: &[u8]) -> Option<Self> {
        let b: &[u8; 7] = b.get(..7)?.try_into().ok()?;
        if b[..6].iter().all(|&x| x == 0) {
            return None;
        }
        Timestamp {
            year: 1900 + u16::from(b[0]),
            month: b[1],
            day: b[2],
            hour: b[3],
            minute: b[4],
            second: b[5],
            hundredths: 0,
            utc_offset_minutes: offset_minutes(b[6] as i8),
        }
        .checked()
    }

    /// Decodes the 17-byte digit form of volume descriptors and Rock Ridge `TF` (long form).
    pub fn from_digits(b: &[u8]) -> Option<Self> {
        let b: &[u8; 17] = b.get(..17)?.try_into().ok()?;
        let digits = &b[..16];
        if digits.iter().all(|&x| x == b'0') || digits.iter().all(|&x| x == 0) {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u16> {
            digits[r].iter().try_fold(0u16, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
            })
        };
        let small = |r| num(r).and_then(|v| u8::try_from(v).ok());
        let t = Timestamp {
            year: num(0..4)?,
            month: small(4..6)?,
            day: small(6..8)?,
            hour: small(8..10)?,
            minute: small(10..12)?,
            second: small(12..14)?,
            hundredths: small(14..16)?,
            utc_offset_minutes: offset_minutes(b[16] as i8),
        };
        if t.year == 0 {
            return None;
        }
        t.checked()
    }
}

fn offset_minutes(q: i8) -> i16 {
    if (-48..=52).contains(&q) {
        i16::from(q) * 15
    } else {
        0
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let off = self.utc_offset_minutes;
        let sign = if off < 0 { '-' } else { '+' };
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            sign,
            off.unsigned_abs() / 60,
            off.unsigned_abs() % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_record_date() {
        let t = Timestamp::from_dir_record(&[126, 11, 21, 4, 33, 8, 4]).unwrap();
        assert_eq!(t.year, 2026);
        assert_eq!(t.utc_offset_minutes, 60);
        assert_eq!(t.unix_seconds(), 1_795_235_588 - 3600);
        assert_eq!(t.to_string(), "2026-11-21T04:33:08+01:00");
        assert!(Timestamp::from_dir_record(&[0; 7]).is_none());
        assert!(Timestamp::from_dir_record(&[126, 13, 1, 0, 0, 0, 0]).is_none());
        assert!(Timestamp::from_dir_record(&[126, 1, 1, 0, 0]).is_none());
        assert!(Timestamp::from_dir_record(&[255; 7]).is_none());
    }

    #[test]
    fn digit_date() {
        let t = Timestamp::from_digits(b"2026112104330800\x00").unwrap();
        assert_eq!((t.year, t.month, t.day, t.second), (2026, 11, 21, 8));
        assert!(Timestamp::from_digits(b"0000000000000000\x00").is_none());
        assert!(Timestamp::from_digits(&[0; 17]).is_none());
        assert!(Timestamp::from_digits(b"20261321043308009").is_none());
        assert!(Timestamp::from_digits(b"2026x12104330800\x00").is_none());
        assert!(Timestamp::from_digits(b"99999999999999999").is_none());
        // offset out of range is ignored, not a panic
        let t = Timestamp::from_digits(b"2026112104330800\x7f").unwrap();
        assert_eq!(t.utc_offset_minutes, 0);
    }
}
