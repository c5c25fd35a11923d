//! Consent dates: IYS's `YYYY-MM-DD HH:mm:ss` text in Turkey time.
//!
//! Turkey has kept UTC+3 all year, with no daylight saving time, since September 2016, so a
//! consent date is a naive date-time that is always exactly 3 hours ahead of UTC. Everything in
//! `core` works on such naive Turkey-time values; [`utc_to_turkey`] and [`turkey_to_utc`]
//! convert at the edges (PostgreSQL `timestamptz`, the system clock). Before September 2016
//! Turkey was UTC+2 in winter; converting instants from then is an hour off in winter, which
//! matters nowhere: such consents are either HS_2015 (a fixed wall-clock text) or long past
//! IYS's reporting window.
//!
//! IYS has one-second resolution: sub-second parts are dropped ([`truncate_to_second`]) before
//! any comparison, exactly as formatting for IYS would drop them.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use super::problem::Problem;

/// Turkey's offset from UTC, in seconds.
pub const TURKEY_UTC_OFFSET_SECONDS: i64 = 3 * 3600;
/// chrono format of IYS date-times.
pub const IYS_DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// 2015-05-01 00:00:00: IYS refuses earlier consent dates (H156) and requires exactly this one
/// for source HS_2015 (H155).
pub fn iys_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2015, 5, 1)
        .unwrap_or(NaiveDate::MIN)
        .and_time(NaiveTime::MIN)
}

/// The current time in Turkey.
pub fn now_turkey() -> NaiveDateTime {
    utc_to_turkey(Utc::now())
}

/// Turkey wall-clock time of a UTC instant (saturating at chrono's range ends).
pub fn utc_to_turkey(instant: DateTime<Utc>) -> NaiveDateTime {
    let utc = instant.naive_utc();
    utc.checked_add_signed(Duration::seconds(TURKEY_UTC_OFFSET_SECONDS))
        .unwrap_or(NaiveDateTime::MAX)
}

/// The UTC instant of a Turkey wall-clock time (saturating at chrono's range ends).
pub fn turkey_to_utc(turkey: NaiveDateTime) -> DateTime<Utc> {
    let utc = turkey
        .checked_sub_signed(Duration::seconds(TURKEY_UTC_OFFSET_SECONDS))
        .unwrap_or(NaiveDateTime::MIN);
    utc.and_utc()
}

/// Drops the sub-second part.
pub fn truncate_to_second(t: NaiveDateTime) -> NaiveDateTime {
    t.with_nanosecond(0).unwrap_or(t)
}

/// Formats as IYS expects: `2024-03-01 09:30:00`.
pub fn format_iys_datetime(t: NaiveDateTime) -> String {
    t.format(IYS_DATETIME_FORMAT).to_string()
}

/// Parses IYS's `YYYY-MM-DD HH:mm:ss` (surrounding white space ignored).
///
/// Anything not of that exact shape is H158; the right shape with numbers that make no date
/// or time (`2023-02-30`, month 15, hour 24, second 60) is H157.
pub fn parse_iys_datetime(input: &str) -> Result<NaiveDateTime, Problem> {
    let text = input.trim();
    let b = text.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b' ',
            13 | 16 => c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(Problem::new(
            "H158",
            "consentDate",
            text,
            "consentDate must be written YYYY-MM-DD HH:mm:ss, e.g. 2024-03-01 09:30:00",
        ));
    }
    let number = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    let (hour, minute, second) = (number(11, 13), number(14, 16), number(17, 19));

    let date = i32::try_from(year)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, month, day));
    let time = NaiveTime::from_hms_opt(hour, minute, second);
    match (date, time) {
        (Some(date), Some(time)) => Ok(date.and_time(time)),
        (None, _) => Err(Problem::new(
            "H157",
            "consentDate",
            text,
            format!("{year:04}-{month:02}-{day:02} is not a calendar date"),
        )),
        (Some(_), None) => Err(Problem::new(
            "H157",
            "consentDate",
            text,
            format!("{hour:02}:{minute:02}:{second:02} is not a time of day"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    #[test]
    fn parses_and_formats_round_trip() {
        let t = parse_iys_datetime("2024-03-01 09:30:05").unwrap();
        assert_eq!(t, at(2024, 3, 1, 9, 30, 5));
        assert_eq!(format_iys_datetime(t), "2024-03-01 09:30:05");
        assert_eq!(
            parse_iys_datetime("  2015-05-01 00:00:00\n").unwrap(),
            iys_epoch()
        );
        assert_eq!(
            parse_iys_datetime("2024-02-29 23:59:59").unwrap(),
            at(2024, 2, 29, 23, 59, 59)
        );
        let with_nanos = at(2024, 1, 1, 0, 0, 0) + Duration::milliseconds(999);
        assert_eq!(format_iys_datetime(with_nanos), "2024-01-01 00:00:00");
    }

    #[test]
    fn wrong_shapes_are_h158() {
        for text in [
            "",
            "2024-03-01",
            "2024-03-01T09:30:00",
            "2024-03-01 09:30",
            "2024-03-01 09:30:00.000",
            "2024-3-1 9:30:00",
            "01.03.2024 09:30:00",
            "2024/03/01 09:30:00",
            "2024-03-01  09:30:0",
            "２０２４-03-01 09:30:00",
            "2024-03-01 09:30:0ş",
            "+024-03-01 09:30:00",
        ] {
            let p = parse_iys_datetime(text).unwrap_err();
            assert_eq!(p.code, "H158", "{text:?}");
            assert_eq!(p.field, "consentDate");
            assert_eq!(
                p.message_tr,
                "İzin tarihi yyyy-mm-dd hh:mm:ss formatında olmalıdır."
            );
        }
    }

    #[test]
    fn impossible_dates_are_h157() {
        for text in [
            "2023-02-30 10:00:00",
            "2023-02-29 10:00:00",
            "2020-15-01 13:35:00",
            "2020-00-10 13:35:00",
            "2020-01-00 13:35:00",
            "2020-04-31 13:35:00",
            "2020-01-01 24:00:00",
            "2020-01-01 23:60:00",
            "2020-01-01 23:59:60",
        ] {
            let p = parse_iys_datetime(text).unwrap_err();
            assert_eq!(p.code, "H157", "{text:?}");
            assert_eq!(p.message_tr, "Geçerli bir tarih girilmelidir.");
        }
        assert!(parse_iys_datetime("2023-02-30 10:00:00")
            .unwrap_err()
            .message_en
            .contains("2023-02-30"));
        assert!(parse_iys_datetime("2020-01-01 24:00:00")
            .unwrap_err()
            .message_en
            .contains("24:00:00"));
    }

    #[test]
    fn turkey_is_utc_plus_three() {
        let utc = at(2024, 12, 31, 22, 30, 0).and_utc();
        assert_eq!(utc_to_turkey(utc), at(2025, 1, 1, 1, 30, 0));
        assert_eq!(turkey_to_utc(at(2025, 1, 1, 1, 30, 0)), utc);
        // Saturation instead of overflow at the ends of chrono's range.
        assert_eq!(
            utc_to_turkey(NaiveDateTime::MAX.and_utc()),
            NaiveDateTime::MAX
        );
        assert_eq!(
            turkey_to_utc(NaiveDateTime::MIN).naive_utc(),
            NaiveDateTime::MIN
        );
        let drift = now_turkey() - utc_to_turkey(Utc::now());
        assert!(drift.num_seconds().abs() < 5);
    }

    #[test]
    fn truncation() {
        let t = at(2024, 1, 1, 12, 0, 0);
        assert_eq!(
            truncate_to_second(t + Duration::nanoseconds(999_999_999)),
            t
        );
        assert_eq!(truncate_to_second(t), t);
    }
}
