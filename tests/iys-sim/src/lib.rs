//! A local simulator of IYS (İleti Yönetim Sistemi), Turkey's registry of commercial-message
//! consents, for tests, benchmarks and demos. It follows IYS's OpenAPI 3.2.0 document and is
//! written independently of the extension's own validation code, so a bug on either side
//! shows up as a disagreement instead of hiding itself.
//!
//! ```no_run
//! // IYS's own pace: 300 s batch delay, 10 requests/s; here a 300 s delay lasts 3 real seconds.
//! let sim = iys_sim::Simulator::start(iys_sim::Config { clock_speed: 100.0, ..Default::default() })?;
//! println!("IYS at {}", sim.base_url());
//! sim.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

mod admin;
mod api;
pub mod calendar;
pub mod clock;
mod config;
mod errors;
mod faults;
mod http;
mod ids;
pub mod numbering;
mod push;
mod ratelimit;
mod router;
mod rules;
pub use rules::accepts_recipient;
mod state;
mod stats;
mod store;
mod token;
mod via;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

pub use config::Config;
pub use faults::TokenLimitShape;

use http::HttpServer;
use state::State;

/// A running simulator. Dropping it stops it too; [`Simulator::shutdown`] says so explicitly.
pub struct Simulator {
    server: HttpServer,
    state: Arc<State>,
}

impl Simulator {
    /// Binds `cfg.listen` (loopback only) and starts serving.
    pub fn start(cfg: Config) -> io::Result<Simulator> {
        let loopback_only = cfg.listen.to_socket_addrs()?.all(|a| a.ip().is_loopback());
        if !loopback_only {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("iys-sim binds loopback addresses only, not {}", cfg.listen)));
        }
        let state = Arc::new(State::new(&cfg).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?);
        let handler_state = state.clone();
        let handler: http::Handler = Arc::new(move |req| router::handle(&handler_state, req));
        let server = HttpServer::start(&cfg.listen, cfg.threads, handler)?;
        let _ = state.base_url.set(format!("http://{}", server.addr()));
        Ok(Simulator { server, state })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Moves the simulated clock (token expiry, the H084 and H086 hours, consent-date rules, the
    /// changes window, batch readiness) by `secs`; same as `POST /admin/clock`.
    pub fn advance_clock(&self, secs: i64) {
        self.state.clock.advance_secs(secs);
    }

    /// Makes simulated time run `speed` times faster than real time from now on (1.0 real time,
    /// 0.0 frozen); simulated time does not jump. Same as `clock_speed` in `POST /admin/config`.
    pub fn set_clock_speed(&self, speed: f64) {
        self.state.clock.set_speed(speed);
    }

    /// Simulated time, milliseconds since the Unix epoch (UTC).
    pub fn now_ms(&self) -> i64 {
        self.state.clock.now_ms()
    }

    /// Stops serving, closes open connections and ends push delivery (same as dropping it).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Simulator {
    /// Push delivery threads end after their current attempt (at most the 5 s timeout); the
    /// server stops when its field is dropped right after.
    fn drop(&mut self) {
        self.state.push.reset();
    }
}
