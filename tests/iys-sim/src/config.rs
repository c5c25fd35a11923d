//! Start-up configuration ([`Config`]) and the subset that can be changed while running
//! ([`Settings`], through `POST /admin/config`).

use crate::token::TokenSettings;

/// How to run a [`crate::Simulator`]. Build it with struct-update syntax so new fields do not
/// break callers: `Config { batch_delay_ms: 0, ..Config::default() }`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind; must be a loopback address. `127.0.0.1:0` picks a free port.
    pub listen: String,
    /// Accounts accepted by `grant_type=password`, as (username, password).
    pub users: Vec<(String, String)>,
    /// Access token lifetime (IYS: 2 hours).
    pub token_ttl_secs: u64,
    /// Refresh token lifetime (IYS: 4 hours).
    pub refresh_ttl_secs: u64,
    /// Token endpoint calls allowed per window before 429 H084 (IYS: 100 per hour).
    pub token_limit_per_hour: u32,
    /// Length of that window; IYS's is one hour, tests shorten it instead of waiting.
    pub token_limit_window_secs: u64,
    /// Requests per rolling second per client before 429 H124; `Some(10)` is IYS, `None` off.
    pub rate_limit_per_sec: Option<u32>,
    /// How long an async batch stays unprocessed (IYS suggests polling after 300 s).
    pub batch_delay_ms: u64,
    /// How many requests are handled at the same time.
    pub threads: usize,
    /// `/consents/changes` hides movements younger than this (IYS: one hour). Tests use 0.
    pub changes_holdback_secs: u64,
    /// `/consents/changes` shows movements at most this old (IYS: 7 days).
    pub changes_window_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:0".to_string(),
            users: vec![("iys-demo".to_string(), "demo-password".to_string())],
            token_ttl_secs: 7200,
            refresh_ttl_secs: 14400,
            token_limit_per_hour: 100,
            token_limit_window_secs: 3600,
            rate_limit_per_sec: Some(10),
            batch_delay_ms: 200,
            threads: 8,
            changes_holdback_secs: 3600,
            changes_window_secs: 7 * 24 * 3600,
        }
    }
}

/// Tunables read on every request and changeable at run time.
#[derive(Clone, Debug)]
pub struct Settings {
    pub token: TokenSettings,
    pub rate_limit_per_sec: Option<u32>,
    pub batch_delay_ms: u64,
    pub changes_holdback_secs: u64,
    pub changes_window_secs: u64,
}

impl Settings {
    pub fn from_config(c: &Config) -> Self {
        Settings {
            token: TokenSettings {
                ttl_secs: c.token_ttl_secs,
                refresh_ttl_secs: c.refresh_ttl_secs,
                limit_per_window: c.token_limit_per_hour,
                window_secs: c.token_limit_window_secs,
            },
            rate_limit_per_sec: c.rate_limit_per_sec,
            batch_delay_ms: c.batch_delay_ms,
            changes_holdback_secs: c.changes_holdback_secs,
            changes_window_secs: c.changes_window_secs,
        }
    }
}
