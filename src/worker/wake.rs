//! Waking the worker at commit: the enqueue trigger registers a commit callback that sets the
//! worker's latch, so a committed change is sent at once instead of at the next poll. The
//! address of that latch (in shared memory, the same address in every backend) lives in shared
//! memory. A latch set after the worker exited wakes at worst whichever
//! process reuses its slot, for nothing.

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PgAtomic};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

static WORKER_LATCH: PgAtomic<AtomicU64> = unsafe { PgAtomic::new(c"pg_iys_worker_latch") };

thread_local! {
    /// Whether this transaction already has a wake-up registered.
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Reserves the shared memory; only while preloading.
pub fn init_shmem() {
    pg_shmem_init!(WORKER_LATCH);
}

/// Called by the worker when it starts (true) and stops (false): commits wake it only while it
/// runs.
pub fn publish_latch(running: bool) {
    // SAFETY: MyLatch is the worker's shared process latch once it is connected.
    let latch = if running { unsafe { pg_sys::MyLatch as u64 } } else { 0 };
    WORKER_LATCH.get().store(latch, Ordering::Release);
}

/// Called by the enqueue trigger: signal the worker once this transaction commits.
pub fn wake_worker_at_commit() {
    if !super::is_preloaded() || REGISTERED.get() {
        return;
    }
    REGISTERED.set(true);
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, || {
        REGISTERED.set(false);
        let latch = WORKER_LATCH.get().load(Ordering::Acquire);
        if latch != 0 {
            // SAFETY: the address of a latch in shared memory, mapped at the same address here.
            unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
        }
    });
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, || REGISTERED.set(false));
}
