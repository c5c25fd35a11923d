//! Short transactions for the worker. An ERROR inside one (a bad row, a lock timeout, a bug)
//! rolls that transaction back and comes back as an `Err`; the worker's loop goes on.

use crate::core::Error;
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::PgTryBuilder;
use std::panic::AssertUnwindSafe;

/// Runs `body` in its own transaction: committed when it returns Ok, rolled back otherwise.
/// `pg_stat_activity` shows `what` while it runs; the transaction's table statistics are reported
/// after it (a background worker has no main loop that would do it, and without them autovacuum
/// never sees the dead rows the worker leaves in the queue).
pub fn run<R>(what: &str, body: impl FnOnce() -> Result<R, Error>) -> Result<R, Error> {
    let activity = std::ffi::CString::new(what).unwrap_or_default();
    // SAFETY: the worker is between transactions whenever it calls this.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, activity.as_ptr());
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let mut body = Some(body);
    let result = PgTryBuilder::new(AssertUnwindSafe(|| (body.take().expect("run once"))()))
        .catch_others(|caught| Err(Error::Internal(format!("{what}: {}", caught_message(&caught)))))
        .execute();
    // SAFETY: ends the transaction started above, whatever happened inside.
    unsafe {
        if result.is_ok() {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
        } else {
            pg_sys::AbortCurrentTransaction();
        }
        pg_sys::pgstat_report_stat(false);
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null());
    }
    result
}

fn caught_message(caught: &CaughtError) -> String {
    match caught {
        CaughtError::PostgresError(e) | CaughtError::ErrorReport(e) => e.message().to_owned(),
        CaughtError::RustPanic { ereport, .. } => ereport.message().to_owned(),
    }
}
