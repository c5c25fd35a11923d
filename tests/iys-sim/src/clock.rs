//! Simulated wall clock and Turkey-time date handling.
//!
//! Every rule that depends on "now" (token expiry, the H084 hour, H162/H467, the changes window,
//! batch readiness, the H086 hour) reads [`SimClock`], so tests can jump forward instead of
//! sleeping, or let simulated time run faster than real time (`clock_speed`). Only the
//! per-second rate limiter (H124) and injected latency use the real monotonic clock, because
//! they guard real traffic. Turkey is UTC+3 all year, so local time is a fixed offset and needs
//! no tz database.

use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub const TURKEY_OFFSET_SECS: i64 = 3 * 3600;

/// Real wall-clock milliseconds since the Unix epoch.
pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Simulated time = `anchor_sim_ms` + real time elapsed since `anchor_real` × `speed`.
/// Changing the speed, advancing or setting the clock re-anchors it, so simulated time is
/// continuous (it never jumps when only the speed changes).
#[derive(Debug)]
struct Anchor {
    real: Instant,
    sim_ms: i64,
    speed: f64,
}

impl Anchor {
    fn now_ms(&self) -> i64 {
        let elapsed_ms = self.real.elapsed().as_secs_f64() * 1000.0;
        self.sim_ms + (elapsed_ms * self.speed).floor() as i64
    }
}

#[derive(Debug)]
pub struct SimClock {
    anchor: Mutex<Anchor>,
}

impl Default for SimClock {
    fn default() -> Self {
        SimClock::new(1.0)
    }
}

impl SimClock {
    /// Starts at the real wall-clock time, running `speed` times faster than real time.
    pub fn new(speed: f64) -> Self {
        SimClock { anchor: Mutex::new(Anchor { real: Instant::now(), sim_ms: wall_ms(), speed: sanitize(speed) }) }
    }

    fn anchor(&self) -> std::sync::MutexGuard<'_, Anchor> {
        self.anchor.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Simulated milliseconds since the Unix epoch (UTC).
    pub fn now_ms(&self) -> i64 {
        self.anchor().now_ms()
    }

    /// Turkey local time, whole seconds since 1970-01-01 00:00:00 local.
    pub fn now_local_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000) + TURKEY_OFFSET_SECS
    }

    /// Moves simulated time by `secs` (negative: back).
    pub fn advance_secs(&self, secs: i64) {
        let mut a = self.anchor();
        a.sim_ms = a.now_ms() + secs * 1000;
        a.real = Instant::now();
    }

    /// Sets simulated time to `ms` (UTC milliseconds); it runs on from there at the same speed.
    pub fn set_ms(&self, ms: i64) {
        let mut a = self.anchor();
        a.sim_ms = ms;
        a.real = Instant::now();
    }

    /// Changes how many times faster than real time simulated time runs, from now on.
    pub fn set_speed(&self, speed: f64) {
        let mut a = self.anchor();
        a.sim_ms = a.now_ms();
        a.real = Instant::now();
        a.speed = sanitize(speed);
    }

    pub fn speed(&self) -> f64 {
        self.anchor().speed
    }

    /// Simulated minus real time, rounded to whole seconds.
    pub fn offset_secs(&self) -> i64 {
        ((self.now_ms() - wall_ms()) as f64 / 1000.0).round() as i64
    }

    /// Back to the real wall-clock time (the speed is kept).
    pub fn reset(&self) {
        self.set_ms(wall_ms());
    }
}

/// Speeds are finite and not negative (0 freezes simulated time).
fn sanitize(speed: f64) -> f64 {
    if speed.is_finite() && speed >= 0.0 {
        speed
    } else {
        1.0
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

/// Parses IYS's `YYYY-MM-DD` (a report date) into days since 1970-01-01; `None` unless it has
/// exactly that shape and names a real day.
pub fn parse_date(s: &str) -> Option<i64> {
    let secs = parse_local(&format!("{s} 00:00:00")).ok()?;
    Some(secs.div_euclid(86_400))
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
    fn report_dates() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29)));
        for bad in ["06.07.2020", "2024-02-30", "2024-3-01", "2024-03-01 00:00:00", "", "20240301", "2024-03-01x"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn turkey_is_utc_plus_three() {
        assert_eq!(format_turkey_ms(0), "1970-01-01 03:00:00");
    }

    #[test]
    fn speed_changes_keep_time_continuous() {
        let c = SimClock::new(0.0);
        let t0 = c.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(c.now_ms(), t0, "speed 0 freezes the clock");
        c.advance_secs(60);
        assert_eq!(c.now_ms(), t0 + 60_000);
        c.set_speed(1000.0);
        let t1 = c.now_ms();
        assert!(t1 - (t0 + 60_000) < 1000, "no jump when the speed changes");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let t2 = c.now_ms();
        assert!(t2 - t1 >= 50_000, "1000 times faster: {}", t2 - t1);
        c.set_speed(0.0);
        let t3 = c.now_ms();
        assert!(t3 >= t2);
        c.set_ms(1234);
        assert_eq!(c.now_ms(), 1234);
        c.set_speed(f64::NAN);
        assert_eq!(c.speed(), 1.0);
    }
}
