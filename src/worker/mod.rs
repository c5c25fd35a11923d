//! The pg_iys background worker: one per cluster, connected to `iys.database`. Each round it
//! sends due changes of every brand (`flush`) and settles answered batches; between rounds it
//! sleeps on its latch, which a committing enqueue sets (`wake`), or times out at
//! iys.flush_interval.

mod apply;
mod backoff;
mod budget;
mod exchange;
mod flush;
mod known_state;
mod password;
mod pull;
mod push;
mod store;
mod tx;
mod via;
pub mod wake;

use crate::settings;
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `bgw_type` of the worker: what `pg_stat_activity.backend_type` shows.
pub const BACKEND_TYPE: &str = "pg_iys worker";

/// Set in `_PG_init` when loaded through shared_preload_libraries; forked backends inherit it.
static PRELOADED: AtomicBool = AtomicBool::new(false);

/// The extension version this library's worker speaks to.
const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Heartbeats are written at most this often when idle.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

pub fn is_preloaded() -> bool {
    PRELOADED.load(Ordering::Relaxed)
}

/// Registers the static worker and its shared memory. Only legal while the postmaster loads
/// shared_preload_libraries.
pub fn register() {
    PRELOADED.store(true, Ordering::Relaxed);
    wake::init_shmem();
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

/// SIGTERM arrived: finish the current call, then stop. Reads PostgreSQL's own
/// `ShutdownRequestPending`, which the SIGTERM handler sets and nothing clears: pgrx's
/// `sigterm_received()` clears its flag when read, so a check in the middle of a round used to
/// swallow the SIGTERM and the worker never left its loop (a fast shutdown waited forever).
pub fn stop_requested() -> bool {
    // SAFETY: a plain global of this process, written only by the signal handler.
    unsafe { std::ptr::addr_of!(pg_sys::ShutdownRequestPending).read_volatile() != 0 }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_iys_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = settings::database();
    // A role of the administrator's choosing, or the bootstrap superuser. Either way, attached
    // tables are written with their owners' rights (apply.rs), never the worker's.
    let role = settings::worker_role();
    BackgroundWorker::connect_worker_to_spi(Some(&database), role.as_deref());
    if let Err(e) = tx::run("pinning search_path", store::pin_search_path) {
        warning!("pg_iys worker: {e}");
    }
    unsafe { pg_sys::pgstat_report_appname(c"pg_iys worker".as_ptr()) };
    let pid = unsafe { pg_sys::MyProcPid };
    wake::publish_latch(true);
    log!("pg_iys worker started in database \"{database}\"");
    warn_about_old_setting_names();

    let mut sender = flush::Sender::new(pid as u64 ^ std::process::id() as u64 ^ 0x9e37_79b9);
    let mut recovered = false;
    let mut version_warned = false;
    let mut restore_warned = false;
    let mut last_heartbeat: Option<Instant> = None;
    let mut timeout = settings::FLUSH_INTERVAL.get();
    loop {
        // Returns early on a SIGTERM or SIGHUP (the handlers set the latch), false on a SIGTERM
        // since the last wait or the postmaster's death. A SIGTERM read (and cleared) by pgrx
        // during the round is still seen: the sticky shutdown flag ends the loop too.
        let go_on = BackgroundWorker::wait_latch(Some(timeout));
        if !go_on || stop_requested() {
            break;
        }
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            warn_about_old_setting_names();
        }
        timeout = settings::FLUSH_INTERVAL.get();
        match tx::run("checking for the extension", store::installed_version) {
            Ok(Some(installed)) if installed.restoring => {
                // pg_restore is filling the database: the worker's own writes (tokens, counts,
                // the status row) would collide with the rows being copied in, and the queue is
                // not whole yet. Wait for it to disconnect, saying so once.
                if !restore_warned {
                    log!("pg_iys worker: pg_restore is connected to this database; waiting until it is done");
                    restore_warned = true;
                }
                continue;
            }
            Ok(Some(installed)) if installed.version == LIBRARY_VERSION => {
                version_warned = false;
                restore_warned = false;
            }
            Ok(Some(installed)) => {
                let version = installed.version;
                // The library was upgraded but the database's objects were not: the worker's
                // queries would not match them. Wait for ALTER EXTENSION, saying so once.
                if !version_warned {
                    warning!(
                        "pg_iys worker: the database has pg_iys {version} but the library is {LIBRARY_VERSION}; waiting for ALTER EXTENSION pg_iys UPDATE"
                    );
                    version_warned = true;
                }
                continue;
            }
            Ok(None) => continue,
            Err(e) => {
                warning!("pg_iys worker: {e}");
                continue;
            }
        }
        if !recovered {
            match tx::run("recovering claimed rows", store::recover_claimed) {
                Ok(n) => {
                    if n > 0 {
                        log!("pg_iys worker: {n} change(s) claimed by a previous run but never sent are pending again");
                    }
                    recovered = true;
                    if let Err(e) = tx::run("configuring the session", store::configure_session) {
                        warning!("pg_iys worker: {e}");
                    }
                    let _ = tx::run("writing the status row", || store::heartbeat(pid, true, false, None));
                }
                Err(e) => warning!("pg_iys worker: {e}"),
            }
        }
        if !settings::ENABLED.get() {
            continue;
        }
        let mut round = flush::Round::default();
        if let Err(e) = sender.flush(&mut round) {
            round.last_error = Some(e.to_string());
        }
        if !stop_requested() {
            if let Err(e) = sender.poll(&mut round) {
                round.last_error = Some(e.to_string());
            }
        }
        if !stop_requested() {
            if let Err(e) = sender.pull(&mut round) {
                round.last_error = Some(e.to_string());
            }
        }
        if !stop_requested() {
            if let Err(e) = sender.push_connections(&mut round) {
                round.last_error = Some(e.to_string());
            }
        }
        if !stop_requested() {
            if let Err(e) = sender.via(&mut round) {
                round.last_error = Some(e.to_string());
            }
        }
        if !stop_requested() {
            if let Err(e) = sender.learn_known_state(&mut round) {
                round.last_error = Some(e.to_string());
            }
        }
        if let Err(e) = sender.save_counts() {
            round.last_error = Some(e.to_string());
        }
        if !stop_requested() {
            // While batches wait to be sent or fetched, the inbox gets a slice of the round only.
            let sending = round.more_pending || round.next_poll.is_some();
            match apply::apply_inbox(sending.then_some(Duration::from_millis(50))) {
                Ok(n) => round.applied_changes += n,
                Err(e) => round.last_error = Some(e.to_string()),
            }
        }
        if let Some(error) = &round.last_error {
            // Never contains credentials: failures carry only IYS's codes and messages.
            log!("pg_iys worker: {error}");
        }
        let busy = round.sent_batches > 0 || round.settled_rows > 0 || round.pulled_changes > 0 || round.applied_changes > 0 || round.status_answers > 0;
        if busy || round.last_error.is_some() || last_heartbeat.is_none_or(|t| t.elapsed() >= HEARTBEAT_EVERY) {
            let _ = tx::run("writing the status row", || store::heartbeat(pid, false, busy, round.last_error.as_deref()));
            last_heartbeat = Some(Instant::now());
        }
        // More work already waiting: go again at once; an open request: wake when it is due.
        if round.more_pending {
            timeout = Duration::from_millis(1);
        } else if let Some(next) = round.next_poll {
            timeout = timeout.min(next.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        }
        timeout = timeout.min(settings::PULL_INTERVAL.get());
    }
    wake::publish_latch(false);
    log!("pg_iys worker stopping");
    // Exit code 1, not 0: the postmaster restarts a worker that exits non-zero after
    // restart_time, so a stray pg_terminate_backend() pauses the sync instead of ending it until
    // the next server restart. At shutdown the postmaster does not restart anything anyway.
    // Pause on purpose with iys.enabled = off.
    unsafe { pg_sys::proc_exit(1) };
}

/// A renamed setting still given by its old name keeps working; the log says what to change.
fn warn_about_old_setting_names() {
    for (old, new) in settings::old_names_in_use() {
        warning!("pg_iys worker: {old} was renamed {new} in pg_iys 0.6.0 (same value in milliseconds, or with a unit); rename it in the server's configuration");
    }
}

/// Raises a clear error in backends of a server that did not preload pg_iys.
pub fn require_preloaded() {
    if !is_preloaded() {
        crate::sql_api::error::raise(&crate::core::Error::NotPreloaded);
    }
}
