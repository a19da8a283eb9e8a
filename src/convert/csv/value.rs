//! What one CSV field holds: missing, an integer, a float, an ISO 8601 date-time, or text.
//!
//! Both passes classify through these functions, so a value pass 1 found bad is bad in
//! pass 2 too (the skipped rows of the two passes are the same rows).

use chrono::{Datelike, NaiveDate};

/// The UTF-8 byte order mark, stripped from the start of every field (csv-core strips it
/// at the start of a file and after a seek; stripping it everywhere keeps the passes equal).
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Tokens read as a missing number or date-time (NaN, or the date-time fill value).
const MISSING: &[&[u8]] = &[
    b"", b"NA", b"N/A", b"n/a", b"nan", b"NaN", b"NAN", b"-nan", b"null", b"NULL", b"None", b"NaT",
];

/// A field with a leading byte order mark and surrounding ASCII white space removed.
pub(crate) fn field(raw: &[u8]) -> &[u8] {
    raw.strip_prefix(BOM).unwrap_or(raw).trim_ascii()
}

/// Whether a field is a missing-value token.
pub(crate) fn is_missing(v: &[u8]) -> bool {
    MISSING.contains(&v)
}

/// The class of one field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Class {
    Missing,
    Int,
    Float,
    DateTime(DateTime),
    Text,
}

/// Classifies a (trimmed, BOM-stripped) field. Order: missing token, `i64`, `f64`
/// (includes `inf`), ISO 8601 date or date-time, text.
pub(crate) fn classify(v: &[u8]) -> Class {
    if is_missing(v) {
        return Class::Missing;
    }
    if parse_int(v).is_some() {
        return Class::Int;
    }
    if parse_float(v).is_some() {
        return Class::Float;
    }
    match parse_datetime(v) {
        Some(dt) => Class::DateTime(dt),
        None => Class::Text,
    }
}

/// An `i64` (optional sign, decimal digits), as `i64::from_str` reads it.
pub(crate) fn parse_int(v: &[u8]) -> Option<i64> {
    let (negative, digits) = match v {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, v),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so i64::MIN parses.
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(b - b'0'))?;
    }
    if negative {
        Some(n)
    } else {
        n.checked_neg()
    }
}

/// An `f64` as Rust's `f64::from_str` reads it (`1e5`, `.5`, `inf`, `-Infinity`, …).
pub(crate) fn parse_float(v: &[u8]) -> Option<f64> {
    match v.first() {
        Some(b'0'..=b'9' | b'+' | b'-' | b'.' | b'i' | b'I' | b'n' | b'N') => {}
        _ => return None,
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// A float-column value: NaN for a missing token, `None` when the field is not a number.
pub(crate) fn float_value(v: &[u8]) -> Option<f64> {
    if is_missing(v) {
        Some(f64::NAN)
    } else {
        parse_float(v)
    }
}

/// A parsed date-time: whole seconds since 1970-01-01T00:00:00 UTC (floor), the
/// nanoseconds past them, and how many fractional digits the text needs (0, 3, 6 or 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTime {
    pub(crate) seconds: i64,
    pub(crate) nanos: u32,
    pub(crate) digits: u8,
}

impl DateTime {
    /// The value in units of 10^-`digits` seconds (`digits` 0, 3, 6 or 9), truncating finer
    /// fractions; `None` when it does not fit an `i64`.
    pub(crate) fn in_units(self, digits: u8) -> Option<i64> {
        let scale = 10i64.pow(u32::from(digits));
        let sub = i64::from(self.nanos) / 10i64.pow(9 - u32::from(digits));
        self.seconds.checked_mul(scale)?.checked_add(sub)
    }
}

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// An ISO 8601 date (`2024-01-31`) or date-time (`2024-01-31T13:45`, `… 13:45:07`,
/// `…:07.123456`, with an optional `Z` or `±HH:MM` / `±HHMM` / `±HH` offset). Calendar
/// validity (month lengths, leap years) is chrono's. Values with an offset are converted to
/// UTC; values without one are taken as UTC.
pub(crate) fn parse_datetime(v: &[u8]) -> Option<DateTime> {
    if v.len() < 10 || v[4] != b'-' || v[7] != b'-' {
        return None;
    }
    let year = digits(&v[0..4])? as i32;
    let month = digits(&v[5..7])?;
    let day = digits(&v[8..10])?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let days = i64::from(date.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE;
    let mut rest = &v[10..];
    let (mut hour, mut minute, mut second, mut nanos, mut digits_needed) = (0, 0, 0, 0u32, 0u8);
    if let Some((&sep, tail)) = rest.split_first() {
        if !matches!(sep, b'T' | b't' | b' ') || tail.len() < 5 || tail[2] != b':' {
            return None;
        }
        hour = digits(&tail[0..2])?;
        minute = digits(&tail[3..5])?;
        rest = &tail[5..];
        if rest.first() == Some(&b':') {
            if rest.len() < 3 {
                return None;
            }
            second = digits(&rest[1..3])?;
            rest = &rest[3..];
            if matches!(rest.first(), Some(b'.' | b',')) {
                let n = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if n == 0 {
                    return None;
                }
                let frac = &rest[1..1 + n];
                let mut value = 0u32;
                for i in 0..9 {
                    value = value * 10 + frac.get(i).map_or(0, |b| u32::from(b - b'0'));
                }
                nanos = value;
                let significant = frac[..n.min(9)]
                    .iter()
                    .rposition(|&b| b != b'0')
                    .map_or(0, |p| p + 1);
                digits_needed = match significant {
                    0 => 0,
                    1..=3 => 3,
                    4..=6 => 6,
                    _ => 9,
                };
                rest = &rest[1 + n..];
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
    }
    let offset = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (h, m) = match tail {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let seconds = i64::from(h * 3600 + m * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset;
    Some(DateTime {
        seconds,
        nanos,
        digits: digits_needed,
    })
}

/// Decimal digits only, as a number.
fn digits(v: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Option<(i64, u32, u8)> {
        parse_datetime(s.as_bytes()).map(|d| (d.seconds, d.nanos, d.digits))
    }

    #[test]
    fn ints_parse_like_from_str() {
        for s in [
            "0",
            "-0",
            "+7",
            "-",
            "+",
            "",
            "12a",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "007",
            "1.0",
            " 1",
        ] {
            assert_eq!(parse_int(s.as_bytes()), s.parse::<i64>().ok(), "{s:?}");
        }
    }

    #[test]
    fn classes() {
        assert_eq!(classify(b""), Class::Missing);
        assert_eq!(classify(b"NA"), Class::Missing);
        assert_eq!(classify(b"-12"), Class::Int);
        assert_eq!(classify(b"99999999999999999999"), Class::Float);
        assert_eq!(classify(b"1.5e3"), Class::Float);
        assert_eq!(classify(b"inf"), Class::Float);
        assert_eq!(classify(b"CSH"), Class::Text);
        assert_eq!(classify(b"\xff\xfe"), Class::Text);
        assert!(matches!(classify(b"2024-02-29"), Class::DateTime(_)));
        assert_eq!(classify(b"2023-02-29"), Class::Text);
    }

    #[test]
    fn datetimes() {
        assert_eq!(dt("1970-01-01"), Some((0, 0, 0)));
        assert_eq!(dt("1970-01-02 00:00:01"), Some((86_401, 0, 0)));
        assert_eq!(dt("1970-01-01T01:00"), Some((3600, 0, 0)));
        assert_eq!(dt("1970-01-01T01:00:00Z"), Some((3600, 0, 0)));
        assert_eq!(dt("1970-01-01T01:00:00+01:00"), Some((0, 0, 0)));
        assert_eq!(dt("1970-01-01T01:00:00-0130"), Some((3600 + 5400, 0, 0)));
        assert_eq!(dt("1970-01-01T00:00:00.250"), Some((0, 250_000_000, 3)));
        assert_eq!(dt("1970-01-01T00:00:00.000"), Some((0, 0, 0)));
        assert_eq!(dt("1970-01-01T00:00:00.0000001"), Some((0, 100, 9)));
        assert_eq!(dt("1969-12-31T23:59:59.5"), Some((-1, 500_000_000, 3)));
        assert_eq!(dt("2000-02-30"), None);
        assert_eq!(dt("2000-01-01T24:00:00"), None);
        assert_eq!(dt("2000-01-01T"), None);
        assert_eq!(dt("2000-01-01x"), None);
        assert_eq!(dt("2000-01-01T10:00:00."), None);
        assert_eq!(dt("2000-01-01T10:00:00+1"), None);
        let d = parse_datetime(b"1969-12-31T23:59:59.5").unwrap();
        assert_eq!(d.in_units(3), Some(-500));
        assert_eq!(d.in_units(0), Some(-1));
    }
}
