//! Everything the request handlers share, each part behind its own lock so a slow part (a big
//! batch being processed) does not stall unrelated ones (token checks, stats).

use std::sync::{Mutex, MutexGuard};

use crate::clock::SimClock;
use crate::config::{Config, Settings};
use crate::faults::Faults;
use crate::ratelimit::RateLimiter;
use crate::stats::Stats;
use crate::store::Store;
use crate::token::TokenStore;

pub struct State {
    pub clock: SimClock,
    pub settings: Mutex<Settings>,
    pub tokens: Mutex<TokenStore>,
    pub store: Mutex<Store>,
    pub faults: Mutex<Faults>,
    pub limiter: Mutex<RateLimiter>,
    pub stats: Mutex<Stats>,
}

impl State {
    pub fn new(cfg: &Config) -> Self {
        State {
            clock: SimClock::default(),
            settings: Mutex::new(Settings::from_config(cfg)),
            tokens: Mutex::new(TokenStore::new(&cfg.users)),
            store: Mutex::new(Store::default()),
            faults: Mutex::new(Faults::default()),
            limiter: Mutex::new(RateLimiter::default()),
            stats: Mutex::new(Stats::default()),
        }
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }
}

/// Locks, ignoring poisoning: a panicking handler must not take the whole simulator down.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
