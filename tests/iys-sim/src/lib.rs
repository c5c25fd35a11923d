//! A local simulator of IYS (İleti Yönetim Sistemi), Turkey's registry of commercial-message
//! consents, for tests, benchmarks and demos. It follows IYS's OpenAPI 3.2.0 document and is
//! written independently of the extension's own validation code, so a bug on either side
//! shows up as a disagreement instead of hiding itself.
//!
//! ```no_run
//! let sim = iys_sim::Simulator::start(iys_sim::Config { batch_delay_ms: 0, ..Default::default() })?;
//! println!("IYS at {}", sim.base_url());
//! sim.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

mod admin;
mod api;
pub mod clock;
mod config;
mod errors;
mod faults;
mod http;
mod ids;
mod ratelimit;
mod router;
mod rules;
mod state;
mod stats;
mod store;
mod token;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

pub use config::Config;

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
        let state = Arc::new(State::new(&cfg));
        let handler_state = state.clone();
        let handler: http::Handler = Arc::new(move |req| router::handle(&handler_state, req));
        let server = HttpServer::start(&cfg.listen, cfg.threads, handler)?;
        Ok(Simulator { server, state })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Moves the simulated clock (token expiry, the H084 hour, consent-date rules, the changes
    /// window, batch readiness) by `secs`; same as `POST /admin/clock`.
    pub fn advance_clock(&self, secs: i64) {
        self.state.clock.advance_secs(secs);
    }

    /// Stops serving and closes open connections.
    pub fn shutdown(self) {
        self.server.shutdown();
    }
}
