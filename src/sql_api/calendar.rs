//! The business-day calendar in SQL: the DBA-extendable table `iys.holiday` (sql/calendar.sql),
//! seeded from the core's built-in list, and `iys.reporting_deadline()` / `iys.is_business_day()`.
//!
//! Functions that read the table are STABLE: within one statement they see one calendar. The
//! calendar is read once and kept across statements and transactions until `iys.holiday`
//! changes: a statement trigger on the table sends PostgreSQL's own relcache invalidation for it,
//! which every backend receives when the change commits (and the changing transaction at its
//! next command; a standby when it replays it), so a 1-row INSERT into an attached table does not
//! read the table again.

use crate::core::{Calendar};
use crate::sql_api::error::OrRaise;
use crate::sql_api::time;
use pgrx::datum::{Date, Timestamp};
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

thread_local! {
    static CACHE: RefCell<Option<Rc<Calendar>>> = const { RefCell::new(None) };
    /// Cleared by the relcache callback when iys.holiday (or everything) is invalidated.
    static VALID: Cell<bool> = const { Cell::new(false) };
    /// iys.holiday's OID at the last read (InvalidOid: unknown, every invalidation counts).
    static HOLIDAY_RELID: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    static CALLBACK_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

#[pg_guard]
unsafe extern "C-unwind" fn holiday_invalidated(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    let holiday = HOLIDAY_RELID.get();
    if relid == pg_sys::InvalidOid || holiday == pg_sys::InvalidOid || relid == holiday {
        VALID.set(false);
    }
}

/// The calendar of `iys.holiday` as this statement sees it.
pub fn current() -> Rc<Calendar> {
    if !CALLBACK_REGISTERED.replace(true) {
        // SAFETY: registers a plain function for this backend's lifetime (once).
        unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(holiday_invalidated), pg_sys::Datum::from(0)) };
    }
    if VALID.get() {
        if let Some(cal) = CACHE.with(|c| c.borrow().clone()) {
            return cal;
        }
    }
    // Valid from before the read: an invalidation that arrives while the table is read (taking
    // its lock processes pending ones) makes the next call read it again.
    VALID.set(true);
    let cal = Rc::new(load());
    CACHE.with(|c| *c.borrow_mut() = Some(Rc::clone(&cal)));
    cal
}

/// Called by the statement trigger on iys.holiday (sql/calendar.sql): every backend's kept
/// calendar is dropped when this transaction commits (this one's at its next command). Harmless
/// to call (it only costs a reload), so executable by whoever may change the table.
#[pg_extern(volatile, sql = false)]
fn invalidate_calendar() {
    if let Some(relid) = holiday_relid() {
        // SAFETY: queues a transactional invalidation message for a relation that exists.
        unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relid) };
    }
}

/// iys.holiday's OID now, looked up each time (rarely: on a change or a reload), since a DROP
/// and CREATE EXTENSION in one session gives the table another.
fn holiday_relid() -> Option<pg_sys::Oid> {
    Spi::get_one::<pg_sys::Oid>("SELECT 'iys.holiday'::pg_catalog.regclass::pg_catalog.oid").ok().flatten()
}

fn load() -> Calendar {
    HOLIDAY_RELID.set(holiday_relid().unwrap_or(pg_sys::InvalidOid));
    let rows: Vec<(i32, bool)> = Spi::connect(|client| {
        client
            .select("SELECT day, half_day FROM iys.holiday", None, &[])?
            .map(|row| {
                let day: Option<Date> = row.get(1)?;
                Ok((day.map_or(i32::MAX, |d| d.to_pg_epoch_days()), row.get(2)?.unwrap_or(false)))
            })
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .map_err(|e| crate::core::Error::Internal(format!("reading iys.holiday failed: {e}")))
    .or_raise();
    let mut holidays = Vec::new();
    let mut half_days = Vec::new();
    for (days, half) in rows {
        if let Some(day) = time::date_from_pg_days(days) {
            if half { half_days.push(day) } else { holidays.push(day) }
        }
    }
    Calendar::from_dates(holidays, half_days)
}

/// Turkey's public holidays and half days 2024–2036 compiled into pg_iys (the seed of
/// `iys.holiday`).
#[pg_extern(immutable, parallel_safe)]
fn builtin_holidays() -> TableIterator<
    'static,
    (name!(day, Date), name!(name, String), name!(half_day, bool)),
> {
    let mut rows = Vec::new();
    for (list, half) in [(crate::core::turkey_holidays(), false), (crate::core::turkey_half_days(), true)] {
        for (day, name) in list {
            use chrono::Datelike;
            let date = Date::new(day.year(), day.month() as u8, day.day() as u8)
                .expect("built-in holidays are valid dates");
            rows.push((date, name.to_owned(), half));
        }
    }
    rows.sort_by_key(|r| r.0.to_pg_epoch_days());
    TableIterator::new(rows)
}

/// The last moment (Turkey time) a consent collected at `collected_at` (Turkey time) can still
/// be reported to IYS: the same clock time on the third business day after its day, skipping
/// weekends and the days of `iys.holiday`.
#[pg_extern(stable, strict, parallel_safe)]
fn reporting_deadline(collected_at: Timestamp) -> Timestamp {
    let cal = current();
    time::to_pg(crate::core::reporting_deadline(time::from_pg(collected_at), &cal))
}

/// Monday to Friday and not a full-day holiday of `iys.holiday` (half days count as business
/// days, see src/core/calendar.rs).
#[pg_extern(stable, strict, parallel_safe)]
fn is_business_day(day: Date) -> bool {
    match time::date_from_pg_days(day.to_pg_epoch_days()) {
        Some(d) => current().is_business_day(d),
        None => false,
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn one(sql: &str) -> String {
        Spi::get_one::<String>(sql).unwrap().unwrap()
    }

    #[pg_test]
    fn seeded_from_the_builtin_list() {
        assert_eq!(
            one("SELECT count(*)::text FROM iys.holiday WHERE builtin"),
            one("SELECT count(*)::text FROM iys.builtin_holidays()")
        );
        assert_eq!(one("SELECT name FROM iys.holiday WHERE day = '2025-10-29'"), "Cumhuriyet Bayramı");
    }

    #[pg_test]
    fn deadline_skips_weekends_and_holidays() {
        // Fri 15:00 → Wed 15:00.
        assert_eq!(one("SELECT iys.reporting_deadline('2024-03-01 15:00')::text"), "2024-03-06 15:00:00");
        // Kurban Bayramı 2025 (Fri 6 – Mon 9 June): Thu 5 June → Thu 12 June.
        assert_eq!(one("SELECT iys.reporting_deadline('2025-06-05 10:00')::text"), "2025-06-12 10:00:00");
        assert_eq!(one("SELECT iys.reporting_deadline('infinity')::text"), "infinity");
    }

    #[pg_test]
    fn dba_rows_extend_the_calendar_in_the_same_transaction() {
        assert_eq!(one("SELECT iys.reporting_deadline('2024-03-04 10:00')::text"), "2024-03-07 10:00:00");
        Spi::run("INSERT INTO iys.holiday (day, name) VALUES ('2024-03-05', 'idari izin')").unwrap();
        assert_eq!(one("SELECT iys.reporting_deadline('2024-03-04 10:00')::text"), "2024-03-08 10:00:00");
        assert_eq!(one("SELECT iys.is_business_day('2024-03-05')::text"), "false");
        assert_eq!(one("SELECT iys.is_business_day('2024-03-04')::text"), "true");
    }
}
