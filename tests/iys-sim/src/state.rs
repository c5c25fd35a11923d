//! Everything the request handlers share, each part behind its own lock so a slow part (a big
//! batch being processed) does not stall unrelated ones (token checks, stats).

use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::clock::SimClock;
use crate::config::{Config, Settings};
use crate::faults::Faults;
use crate::push::Push;
use crate::ratelimit::{HourlyLimiter, RateLimiter};
use crate::stats::Stats;
use crate::store::Store;
use crate::token::TokenStore;
use crate::via::Via;

pub struct State {
    pub clock: SimClock,
    pub settings: Mutex<Settings>,
    pub tokens: Mutex<TokenStore>,
    pub store: Mutex<Store>,
    pub faults: Mutex<Faults>,
    /// What `DELETE /admin/faults` and `/admin/reset` go back to (the start-up
    /// `token_limit_shape`, nothing else injected).
    pub fault_defaults: Faults,
    pub limiter: Mutex<RateLimiter>,
    /// H086: single status queries per client per simulated hour.
    pub status_limiter: Mutex<HourlyLimiter>,
    pub stats: Mutex<Stats>,
    /// Push connections, their queues and delivery settings (locks of its own).
    pub push: Push,
    /// ViA requests and e-mail opt-out links. Locked before `store` when both are needed.
    pub via: Mutex<Via>,
    /// `http://ADDR` once the server is bound: the start of the opt-out links' URLs.
    pub base_url: OnceLock<String>,
}

impl State {
    /// Fails only when `push_ca_file` cannot be used.
    pub fn new(cfg: &Config) -> Result<Self, String> {
        let fault_defaults = Faults { token_limit_shape: cfg.token_limit_shape, ..Faults::default() };
        Ok(State {
            clock: SimClock::new(cfg.clock_speed),
            settings: Mutex::new(Settings::from_config(cfg)),
            tokens: Mutex::new(TokenStore::new(&cfg.users)),
            store: Mutex::new(Store::default()),
            faults: Mutex::new(fault_defaults.clone()),
            fault_defaults,
            limiter: Mutex::new(RateLimiter::default()),
            status_limiter: Mutex::new(HourlyLimiter::default()),
            stats: Mutex::new(Stats::default()),
            push: Push::new(cfg)?,
            via: Mutex::new(Via::default()),
            base_url: OnceLock::new(),
        })
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }
}

/// Locks, ignoring poisoning: a panicking handler must not take the whole simulator down.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
