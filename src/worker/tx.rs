//! Short transactions for the worker. An ERROR inside one (a bad row, a lock timeout, a bug)
//! rolls that transaction back and comes back as an `Err`; the worker's loop goes on.

use crate::core::Error;
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::PgTryBuilder;
use std::panic::AssertUnwindSafe;

/// Runs `body` in its own transaction: committed when it returns Ok, rolled back otherwise.
pub fn run<R>(what: &str, body: impl FnOnce() -> Result<R, Error>) -> Result<R, Error> {
    // SAFETY: the worker is between transactions whenever it calls this.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
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
    }
    result
}

fn caught_message(caught: &CaughtError) -> String {
    match caught {
        CaughtError::PostgresError(e) | CaughtError::ErrorReport(e) => e.message().to_owned(),
        CaughtError::RustPanic { ereport, .. } => ereport.message().to_owned(),
    }
}
