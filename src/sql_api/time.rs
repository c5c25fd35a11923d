//! PostgreSQL `timestamp` / `timestamptz` ↔ the core's naive Turkey-time `NaiveDateTime`.
//!
//! Consent dates are `timestamp` (without time zone) holding **Turkey wall-clock time**, exactly
//! what IYS's `consentDate` text means; no session `TimeZone` is involved. The reference "now"
//! comes from the transaction's `now()` (a `timestamptz`, an instant) shifted to UTC+3.
//! Infinities and values beyond chrono's range saturate at chrono's ends, so `'infinity'` is "in
//! the future" (H162) and `'-infinity'` "before 2015" (H156).

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use pgrx::datum::Timestamp;
use pgrx::pg_sys;
#[allow(unused_imports)]
use pgrx::prelude::*;

/// Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// A `timestamp` value as a naive date-time (saturating).
pub fn from_pg_micros(micros: i64) -> NaiveDateTime {
    match micros {
        i64::MAX => NaiveDateTime::MAX,
        i64::MIN => NaiveDateTime::MIN,
        m => m
            .checked_add(PG_EPOCH_UNIX_MICROS)
            .and_then(DateTime::from_timestamp_micros)
            .map(|dt| dt.naive_utc())
            .unwrap_or(if m > 0 { NaiveDateTime::MAX } else { NaiveDateTime::MIN }),
    }
}

pub fn from_pg(ts: Timestamp) -> NaiveDateTime {
    from_pg_micros(pg_sys::Timestamp::from(ts))
}

/// A naive date-time as a `timestamp` (chrono's ends map to ±infinity).
pub fn to_pg(t: NaiveDateTime) -> Timestamp {
    let micros = if t == NaiveDateTime::MAX {
        i64::MAX
    } else if t == NaiveDateTime::MIN {
        i64::MIN
    } else {
        t.and_utc().timestamp_micros().saturating_sub(PG_EPOCH_UNIX_MICROS)
    };
    Timestamp::try_from(micros).unwrap_or_else(|_| {
        Timestamp::try_from(if micros > 0 { i64::MAX } else { i64::MIN }).expect("infinity")
    })
}

/// Turkey time of the current transaction's start (`now()` at UTC+3).
pub fn now_turkey() -> NaiveDateTime {
    // SAFETY: plain read of the transaction start time.
    let utc_micros = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    crate::core::utc_to_turkey(from_pg_micros(utc_micros).and_utc())
}

/// A `date` (days since 2000-01-01) as a chrono date; None for ±infinity or out of range.
pub fn date_from_pg_days(days: i32) -> Option<NaiveDate> {
    if days == i32::MAX || days == i32::MIN {
        return None;
    }
    NaiveDate::from_ymd_opt(2000, 1, 1)?.checked_add_signed(chrono::Duration::days(days.into()))
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn timestamps_round_trip() {
        for text in ["2024-03-01 09:30:05", "1999-12-31 23:59:59.5", "infinity", "-infinity"] {
            let ts = Spi::get_one::<pgrx::datum::Timestamp>(&format!("SELECT '{text}'::timestamp"))
                .unwrap()
                .unwrap();
            let back = super::to_pg(super::from_pg(ts));
            assert_eq!(pgrx::pg_sys::Timestamp::from(back), pgrx::pg_sys::Timestamp::from(ts), "{text}");
        }
        let t = super::from_pg(
            Spi::get_one::<pgrx::datum::Timestamp>("SELECT '2024-03-01 09:30:05'::timestamp")
                .unwrap()
                .unwrap(),
        );
        assert_eq!(crate::core::format_iys_datetime(t), "2024-03-01 09:30:05");
    }
}
