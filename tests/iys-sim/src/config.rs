//! Start-up configuration ([`Config`]) and the subset that can be changed while running
//! ([`Settings`], through `POST /admin/config`).

use crate::faults::TokenLimitShape;
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
    /// Token endpoint calls allowed per window before 429 H084. IYS's document says 100 per
    /// hour per IP in its introduction and authentication sections, but 10 in the description
    /// of the token operation itself; the default is the stricter 10.
    pub token_limit_per_hour: u32,
    /// Length of that window; IYS's is one hour, tests shorten it instead of waiting.
    pub token_limit_window_secs: u64,
    /// Requests per rolling second per client before 429 H124; `Some(10)` is IYS, `None` off.
    pub rate_limit_per_sec: Option<u32>,
    /// How long (simulated) after the submit a batch result stays `[]` (IYS: ask no earlier
    /// than 300 s after the submit; earlier answers may be empty).
    pub batch_delay_ms: u64,
    /// After `batch_delay_ms`, how much longer every item is shown `enqueue` before the batch is
    /// applied and its results appear. 0 (the default): results right after the delay.
    pub batch_enqueue_ms: u64,
    /// How many requests are handled at the same time.
    pub threads: usize,
    /// `/consents/changes` hides movements younger than this (IYS: one hour). Tests use 0.
    pub changes_holdback_secs: u64,
    /// `/consents/changes` shows movements at most this old (IYS: 7 days).
    pub changes_window_secs: u64,
    /// Simulated time runs this many times faster than real time (from start-up, plus any
    /// `advance_clock`). 1.0 is real time; 0.0 freezes the clock. The per-second rate limit
    /// stays on the real clock.
    pub clock_speed: f64,
    /// Body of the token endpoint's 429 H084 answer (IYS documents no body for it).
    pub token_limit_shape: TokenLimitShape,
    /// Single status queries (`POST .../consents/status`) per client per rolling simulated
    /// hour before 429 H086 (IYS: 1000); `None` off.
    pub status_limit_per_hour: Option<u32>,
    /// A PEM file of extra CA certificates trusted for push addresses besides the public roots
    /// (tests use a throw-away CA for a loopback receiver); `None`: the public roots only.
    pub push_ca_file: Option<String>,
    /// First wait before a failed push delivery is retried; it doubles per failed attempt, up
    /// to [`crate::push::MAX_BACKOFF_MS`].
    pub push_retry_ms: u64,
    /// Delivery attempts per movement and connection before the movement is dropped (and
    /// counted in `/admin/push`).
    pub push_max_attempts: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:0".to_string(),
            users: vec![("iys-demo".to_string(), "demo-password".to_string())],
            token_ttl_secs: 7200,
            refresh_ttl_secs: 14400,
            token_limit_per_hour: 10,
            token_limit_window_secs: 3600,
            rate_limit_per_sec: Some(10),
            batch_delay_ms: 300_000,
            batch_enqueue_ms: 0,
            threads: 8,
            changes_holdback_secs: 3600,
            changes_window_secs: 7 * 24 * 3600,
            clock_speed: 1.0,
            token_limit_shape: TokenLimitShape::Errors,
            status_limit_per_hour: Some(1000),
            push_ca_file: None,
            push_retry_ms: 500,
            push_max_attempts: 40,
        }
    }
}

/// Tunables read on every request and changeable at run time. The push settings live with the
/// push service ([`crate::push::Push`]): its delivery threads read them without a request.
#[derive(Clone, Debug)]
pub struct Settings {
    pub token: TokenSettings,
    pub rate_limit_per_sec: Option<u32>,
    pub batch_delay_ms: u64,
    pub batch_enqueue_ms: u64,
    pub changes_holdback_secs: u64,
    pub changes_window_secs: u64,
    pub status_limit_per_hour: Option<u32>,
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
            batch_enqueue_ms: c.batch_enqueue_ms,
            changes_holdback_secs: c.changes_holdback_secs,
            changes_window_secs: c.changes_window_secs,
            status_limit_per_hour: c.status_limit_per_hour,
        }
    }
}
