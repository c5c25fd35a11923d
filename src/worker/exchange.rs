//! One batch's submit to IYS on a helper thread, so the worker's main thread settles and claims
//! meanwhile. (The result is fetched later, by the poll: IYS answers it only after
//! iys.result_delay.)
//!
//! The helper thread only runs the pure-Rust HTTP client: it never calls into PostgreSQL (no
//! palloc, no elog, no SPI). It starts with every signal blocked, so PostgreSQL's signal
//! handlers (latch, SIGTERM, SIGHUP) always run on the main thread.

use crate::iys::{BatchAccepted, CallFailure, Client, ConsentRecord, Endpoint, FailureKind};
use std::thread::{Scope, ScopedJoinHandle};

/// What IYS answered for one batch.
pub enum Answer {
    /// IYS did not take the batch (or no answer came).
    Refused(CallFailure),
    /// IYS took it, under this request id.
    Taken(BatchAccepted),
}

/// The request of one batch, owned by the helper thread.
pub struct Request {
    pub client: Client,
    pub token: String,
    pub endpoint: Endpoint,
    pub records: Vec<ConsentRecord>,
    /// The worker's request budget: the submit takes its turn there.
    pub budget: super::budget::Budget,
    pub rate: u32,
}

pub type InAir<'scope> = ScopedJoinHandle<'scope, Answer>;

/// Starts the exchange on a helper thread of `scope`.
pub fn start<'scope>(scope: &'scope Scope<'scope, '_>, request: Request) -> InAir<'scope> {
    with_signals_blocked(|| scope.spawn(move || run(request)))
}

/// Waits for the exchange. A helper that panicked counts as a transport failure: the batch is
/// retried like any call that got no answer.
pub fn finish(in_air: InAir<'_>) -> Answer {
    in_air.join().unwrap_or_else(|_| {
        Answer::Refused(CallFailure {
            kind: FailureKind::Transport,
            status: None,
            errors: Vec::new(),
            message: "the HTTP exchange with IYS failed unexpectedly".into(),
        })
    })
}

fn run(request: Request) -> Answer {
    request.budget.take_turn(request.rate);
    match request.client.submit_batch(&request.token, &request.endpoint, &request.records) {
        Err(failure) => Answer::Refused(failure),
        Ok(accepted) => Answer::Taken(accepted),
    }
}

/// Runs `f` (which spawns a thread) with every signal blocked in the calling thread, so the new
/// thread inherits the full mask; the caller's mask is restored afterwards, and any signal that
/// arrived meanwhile is delivered to it then.
fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain libc calls on stack-allocated sigset_t values.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut previous);
        let out = f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
        out
    }
}
