//! Fault injection for tests: failures IYS (or the network to it) can produce, switched on and
//! off at run time through `/admin/faults`.

use serde_json::{json, Map, Value};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Fraction of consent-endpoint requests answered with a retryable 5xx (503 H192 or
    /// 500 H101) without being processed.
    pub error_rate: f64,
    /// The next N non-admin requests are answered 429 H124.
    pub burst_429: u64,
    /// Delay added to every non-admin request.
    pub latency_ms: u64,
    /// Fraction of non-admin requests whose connection is closed with no answer, unprocessed.
    pub drop_rate: f64,
    /// Fraction of consent write requests that ARE processed but whose connection is then closed
    /// with no answer: the ambiguous failure that tests at-least-once delivery without duplicates.
    pub lost_reply_rate: f64,
}

/// One-shot actions a fault request may carry besides the standing faults.
#[derive(Debug, Default, PartialEq)]
pub struct FaultActions {
    pub revoke_tokens: bool,
    pub token_limit_hit: bool,
}

fn rate(v: &Value, name: &str) -> Result<f64, String> {
    match v.as_f64() {
        Some(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{name} must be a number in 0..1")),
    }
}

fn count(v: &Value, name: &str) -> Result<u64, String> {
    v.as_u64().ok_or_else(|| format!("{name} must be a non-negative integer"))
}

impl Faults {
    /// Merges the given subset of fields into the standing faults.
    pub fn apply_json(&mut self, body: &Map<String, Value>) -> Result<FaultActions, String> {
        let mut next = self.clone();
        let mut actions = FaultActions::default();
        for (k, v) in body {
            match k.as_str() {
                "error_rate" => next.error_rate = rate(v, k)?,
                "drop_rate" => next.drop_rate = rate(v, k)?,
                "lost_reply_rate" => next.lost_reply_rate = rate(v, k)?,
                "burst_429" => next.burst_429 = count(v, k)?,
                "latency_ms" => next.latency_ms = count(v, k)?,
                "revoke_tokens" => actions.revoke_tokens = v.as_bool().ok_or("revoke_tokens must be a boolean")?,
                "token_limit_hit" => actions.token_limit_hit = v.as_bool().ok_or("token_limit_hit must be a boolean")?,
                other => return Err(format!("unknown fault {other:?}")),
            }
        }
        *self = next;
        Ok(actions)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "error_rate": self.error_rate,
            "burst_429": self.burst_429,
            "latency_ms": self.latency_ms,
            "drop_rate": self.drop_rate,
            "lost_reply_rate": self.lost_reply_rate,
        })
    }

    /// Consumes one request of a 429 burst.
    pub fn take_burst(&mut self) -> bool {
        if self.burst_429 > 0 {
            self.burst_429 -= 1;
            true
        } else {
            false
        }
    }
}

/// True with probability `p`.
pub fn roll(p: f64) -> bool {
    p > 0.0 && fastrand::f64() < p
}

/// The retryable server error to inject: IYS's timeout or its "could not save".
pub fn pick_server_error() -> &'static str {
    if fastrand::bool() {
        "H192"
    } else {
        "H101"
    }
}
