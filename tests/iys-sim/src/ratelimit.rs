//! IYS's request rate limit: at most N requests per client IP in any rolling second (429 H124).
//! Uses the real monotonic clock, since it guards real traffic rather than simulated time.

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
}
