//! IYS's request rate limits per client IP:
//! * [`RateLimiter`]: at most N requests in any rolling second (429 H124), on the real monotonic
//!   clock, since it guards real traffic rather than simulated time;
//! * [`HourlyLimiter`]: at most N calls of one operation in any rolling simulated hour (429
//!   H086 for single status queries, 1000 an hour at IYS).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct RateLimiter {
    hits: HashMap<IpAddr, VecDeque<Instant>>,
}

impl RateLimiter {
    /// Records a request if it fits; refused requests are not counted, so a client that backs
    /// off is served again one second after its last accepted request.
    pub fn admit(&mut self, ip: IpAddr, limit: u32, now: Instant) -> bool {
        let q = self.hits.entry(ip).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            return false;
        }
        q.push_back(now);
        true
    }

    pub fn clear(&mut self) {
        self.hits.clear();
    }
}

/// Calls per client IP in a rolling window of simulated time (milliseconds).
#[derive(Debug, Default)]
pub struct HourlyLimiter {
    hits: HashMap<IpAddr, VecDeque<i64>>,
}

impl HourlyLimiter {
    /// Records a call if it fits in `limit` per `window_ms`; refused calls are not counted.
    pub fn admit(&mut self, ip: IpAddr, limit: u32, window_ms: i64, now_ms: i64) -> bool {
        let q = self.hits.entry(ip).or_default();
        while q.front().is_some_and(|t| *t <= now_ms - window_ms) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            return false;
        }
        q.push_back(now_ms);
        true
    }

    pub fn clear(&mut self) {
        self.hits.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_second() {
        let mut r = RateLimiter::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = Instant::now();
        assert!(r.admit(ip, 2, t0));
        assert!(r.admit(ip, 2, t0 + Duration::from_millis(500)));
        assert!(!r.admit(ip, 2, t0 + Duration::from_millis(900)));
        assert!(r.admit(ip, 2, t0 + Duration::from_millis(1000)));
    }

    #[test]
    fn rolling_hour() {
        let mut h = HourlyLimiter::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(h.admit(ip, 2, 3_600_000, 0));
        assert!(h.admit(ip, 2, 3_600_000, 10));
        assert!(!h.admit(ip, 2, 3_600_000, 3_599_999));
        assert!(h.admit(ip, 2, 3_600_000, 3_600_000));
    }
}
