//! Waking the worker at commit: the enqueue trigger registers a commit callback that signals the
//! worker (SIGUSR1 sets a background worker's latch), so a committed change is sent at once
//! instead of at the next poll. The worker's pid lives in shared memory.

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PgAtomic};
use std::cell::Cell;
use std::sync::atomic::{AtomicI32, Ordering};

static WORKER_PID: PgAtomic<AtomicI32> = unsafe { PgAtomic::new(c"pg_iys_worker_pid") };

thread_local! {
    /// Whether this transaction already has a wake-up registered.
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Reserves the shared memory; only while preloading.
pub fn init_shmem() {
    pg_shmem_init!(WORKER_PID);
}

/// Called by the worker when it starts (its pid) and stops (0).
pub fn set_worker_pid(pid: i32) {
    WORKER_PID.get().store(pid, Ordering::Release);
}

/// Called by the enqueue trigger: signal the worker once this transaction commits.
pub fn wake_worker_at_commit() {
    if !super::is_preloaded() || REGISTERED.get() {
        return;
    }
    REGISTERED.set(true);
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, || {
        REGISTERED.set(false);
        let pid = WORKER_PID.get().load(Ordering::Acquire);
        if pid > 0 {
            // SAFETY: signalling a PostgreSQL process; SIGUSR1 only sets its latch.
            unsafe { libc_kill(pid) };
        }
    });
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, || REGISTERED.set(false));
}

unsafe fn libc_kill(pid: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    const SIGUSR1: i32 = 10;
    let _ = kill(pid, SIGUSR1);
}
