//! The pg_iys background worker: one per cluster, connected to `iys.database`.
//! For now it only keeps itself alive and honours signals; flushing and pulling come later.

use crate::settings;
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `bgw_type` of the worker: what `pg_stat_activity.backend_type` shows.
pub const BACKEND_TYPE: &str = "pg_iys worker";

/// Set in `_PG_init` when loaded through shared_preload_libraries; forked backends inherit it.
static PRELOADED: AtomicBool = AtomicBool::new(false);

pub fn is_preloaded() -> bool {
    PRELOADED.load(Ordering::Relaxed)
}

/// Registers the static worker. Only legal while the postmaster loads shared_preload_libraries.
pub fn register() {
    PRELOADED.store(true, Ordering::Relaxed);
    BackgroundWorkerBuilder::new(BACKEND_TYPE)
        .set_type(BACKEND_TYPE)
        .set_library("pg_iys")
        .set_function("pg_iys_worker_main")
        .enable_spi_access()
        // Standbys must not send: only a primary out of recovery runs the worker.
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        // A crashed worker comes back after a short pause instead of never.
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_iys_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = settings::database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    unsafe { pg_sys::pgstat_report_appname(c"pg_iys worker".as_ptr()) };
    log!("pg_iys worker started in database \"{database}\"");

    while BackgroundWorker::wait_latch(Some(poll_interval())) {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
    }
    log!("pg_iys worker stopping");
    // Exit code 1, not 0: the postmaster restarts a worker that exits non-zero after
    // restart_time, so a stray pg_terminate_backend() pauses the sync instead of ending it until
    // the next server restart. At shutdown the postmaster does not restart anything anyway.
    // Pause on purpose with iys.enabled = off.
    unsafe { pg_sys::proc_exit(1) };
}

fn poll_interval() -> Duration {
    Duration::from_millis(settings::FLUSH_INTERVAL_MS.get().max(10) as u64)
}

/// Raises a clear error (55000) in backends of a server that did not preload pg_iys.
pub fn require_preloaded() {
    if !is_preloaded() {
        crate::sql_api::error::raise(&crate::core::Error::NotPreloaded);
    }
}
