//! `iys.worker_status()`: what the background worker is doing, for operators in psql.

use crate::worker;
use pgrx::prelude::*;

/// The worker's process as pg_stat_activity sees it. Errors when pg_iys was not preloaded,
/// because then no worker exists and nothing would ever be sent.
#[pg_extern(stable, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
fn worker_status() -> TableIterator<
    'static,
    (
        name!(pid, Option<i32>),
        name!(database, Option<String>),
        name!(application_name, Option<String>),
        name!(backend_start, Option<pgrx::datum::TimestampWithTimeZone>),
    ),
> {
    worker::require_preloaded();
    let rows = Spi::connect(|client| {
        client
            .select(
                "SELECT pid, datname::text, application_name, backend_start
                   FROM pg_catalog.pg_stat_activity WHERE backend_type = $1",
                None,
                &[worker::BACKEND_TYPE.into()],
            )?
            .map(|row| Ok((row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .unwrap_or_else(|e| error!("pg_iys: reading pg_stat_activity failed: {e}"));
    TableIterator::new(rows)
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test(error = "pg_iys is not loaded through shared_preload_libraries")]
    fn worker_status_without_preload_is_a_clear_error() {
        Spi::run("SELECT * FROM iys.worker_status()").unwrap();
    }
}
