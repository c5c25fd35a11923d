//! The business-day calendar in SQL: the DBA-extendable table `iys.holiday` (sql/calendar.sql),
//! seeded from the core's built-in list, and `iys.reporting_deadline()` / `iys.is_business_day()`.
//!
//! Functions that read the table are STABLE: within one statement they see one calendar. The
//! calendar is read once and kept while nobody changes `iys.holiday`: a statement trigger on the
//! table bumps a counter in shared memory when the change commits, and every backend reloads
//! when the counter moved (so a 1-row INSERT into an attached table does not re-read the table).
//! A transaction that changed the table itself, a server that did not preload pg_iys and a
//! standby (no trigger runs there) read it once per statement instead, as do all of them after
//! a minute, in case a change came in with triggers off.

use crate::core::{Calendar};
use crate::sql_api::error::OrRaise;
use crate::sql_api::time;
use pgrx::datum::{Date, Timestamp};
use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PgAtomic};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bumped at the commit of every change to iys.holiday.
static HOLIDAY_VERSION: PgAtomic<AtomicU64> = unsafe { PgAtomic::new(c"pg_iys_holiday_version") };
/// A calendar kept across statements is read again after this long anyway.
const MAX_AGE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq)]
enum CacheKey {
    /// Good while the shared counter has this value.
    Version(u64),
    /// Good for this statement only: (transaction start, command id).
    Statement(pg_sys::TimestampTz, pg_sys::CommandId),
}

thread_local! {
    static CACHE: RefCell<Option<(CacheKey, Instant, Rc<Calendar>)>> = const { RefCell::new(None) };
    /// This backend's open transaction changed iys.holiday.
    static CHANGED_HERE: Cell<bool> = const { Cell::new(false) };
}

/// Reserves the shared counter; only while preloading.
pub fn init_shmem() {
    pg_shmem_init!(HOLIDAY_VERSION);
}

/// The calendar of `iys.holiday` as this statement sees it.
pub fn current() -> Rc<Calendar> {
    // SAFETY: plain reads of process and transaction state.
    let shared = crate::worker::is_preloaded() && !CHANGED_HERE.get() && !unsafe { pg_sys::RecoveryInProgress() };
    // The counter is read before the table: a change committed in between is seen by the load
    // or moves the counter past the value kept.
    let key = if shared {
        CacheKey::Version(HOLIDAY_VERSION.get().load(Ordering::Acquire))
    } else {
        // SAFETY: as above.
        unsafe { CacheKey::Statement(pg_sys::GetCurrentTransactionStartTimestamp(), pg_sys::GetCurrentCommandId(false)) }
    };
    if let Some(cal) = CACHE.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(k, loaded, _)| *k == key && loaded.elapsed() < MAX_AGE)
            .map(|(_, _, cal)| Rc::clone(cal))
    }) {
        return cal;
    }
    let cal = Rc::new(load());
    CACHE.with(|c| *c.borrow_mut() = Some((key, Instant::now(), Rc::clone(&cal))));
    cal
}

/// Called by the statement trigger on iys.holiday (sql/calendar.sql): this transaction reads the
/// table per statement from now on, and every backend reloads once it commits. Harmless to call
/// (it only costs a reload), so executable by whoever may change the table.
#[pg_extern(volatile, sql = false)]
fn holiday_version_bump() {
    if CHANGED_HERE.replace(true) {
        return;
    }
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, || {
        CHANGED_HERE.set(false);
        if crate::worker::is_preloaded() {
            HOLIDAY_VERSION.get().fetch_add(1, Ordering::AcqRel);
        }
    });
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, || CHANGED_HERE.set(false));
}

fn load() -> Calendar {
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
