//! Simulated wall clock and Turkey-time date handling.
//!
//! Every rule that depends on "now" (token expiry, the H084 hour, H162/H467, the changes window,
//! batch readiness) reads [`SimClock`], so tests can jump forward instead of sleeping. Only the
//! per-second rate limiter uses the real monotonic clock, because it guards real traffic.
//! Turkey is UTC+3 all year, so local time is a fixed offset and needs no tz database.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const TURKEY_OFFSET_SECS: i64 = 3 * 3600;

#[derive(Debug, Default)]
pub struct SimClock {
    offset_ms: AtomicI64,
}

impl SimClock {
    /// Milliseconds since the Unix epoch (UTC), real time plus the injected offset.
    pub fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Turkey local time, whole seconds since 1970-01-01 00:00:00 local.
    pub fn now_local_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000) + TURKEY_OFFSET_SECS
    }

    pub fn advance_secs(&self, secs: i64) {
        self.offset_ms.fetch_add(secs * 1000, Ordering::Relaxed);
    }

    pub fn offset_secs(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed) / 1000
    }

    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// `YYYY-MM-DD HH:mm:ss` for local seconds.
pub fn format_local(local_secs: i64) -> String {
    let days = local_secs.div_euclid(86_400);
    let rem = local_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        y,
        m,
        d,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Turkey-time rendering of a UTC millisecond instant.
pub fn format_turkey_ms(utc_ms: i64) -> String {
    format_local(utc_ms.div_euclid(1000) + TURKEY_OFFSET_SECS)
}

#[derive(Debug, PartialEq, Eq)]
pub enum DateError {
    /// Not `YYYY-MM-DD HH:mm:ss` (H158).
    Format,
    /// Right shape, impossible value such as month 15 or 30 February (H157).
    Invalid,
}

/// Parses IYS's `YYYY-MM-DD HH:mm:ss` into local seconds.
pub fn parse_local(s: &str) -> Result<i64, DateError> {
    let b = s.as_bytes();
    if b.len() != 19 {
        return Err(DateError::Format);
    }
    for (i, &c) in b.iter().enumerate() {
        let ok = match i {
            4 | 7 => c == b'-',
            10 => c == b' ',
            13 | 16 => c == b':',
            _ => c.is_ascii_digit(),
        };
        if !ok {
            return Err(DateError::Format);
        }
    }
    let num = |from: usize, to: usize| -> i64 { s[from..to].parse::<i64>().unwrap_or(-1) };
    let (y, mo, d) = (num(0, 4), num(5, 7), num(8, 10));
    let (h, mi, se) = (num(11, 13), num(14, 16), num(17, 19));
    if !(1..=12).contains(&mo) || y < 1 {
        return Err(DateError::Invalid);
    }
    if d < 1 || d > days_in_month(y, mo as u32) as i64 || h > 23 || mi > 59 || se > 59 {
        return Err(DateError::Invalid);
    }
    Ok(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_dates() {
        for s in ["2015-05-01 00:00:00", "2024-02-29 23:59:59", "1999-12-31 12:00:00"] {
            assert_eq!(format_local(parse_local(s).unwrap()), s);
        }
        assert_eq!(parse_local("1970-01-01 00:00:00"), Ok(0));
    }

    #[test]
    fn rejects_bad_dates() {
        assert_eq!(parse_local("2020-15-01 13:35:00"), Err(DateError::Invalid));
        assert_eq!(parse_local("2023-02-29 10:00:00"), Err(DateError::Invalid));
        assert_eq!(parse_local("2020-01-01 24:00:00"), Err(DateError::Invalid));
        assert_eq!(parse_local("2020-01-01T10:00:00"), Err(DateError::Format));
        assert_eq!(parse_local("2020-1-01 10:00:00"), Err(DateError::Format));
        assert_eq!(parse_local("2020-01-01 10:00"), Err(DateError::Format));
    }

    #[test]
    fn turkey_is_utc_plus_three() {
        assert_eq!(format_turkey_ms(0), "1970-01-01 03:00:00");
    }
}
