//! Exponential backoff with jitter and a cap, for retryable failures.

use std::time::Duration;

/// First retry delay; doubles per attempt.
const BASE_MS: u64 = 500;

/// Delay before attempt `attempts + 1`, with "full jitter" drawn from `random` (0..1): spreads
/// retries of many rows so that a recovering IYS is not hit by a thundering herd.
pub fn delay(attempts: u32, cap: Duration, random: f64) -> Duration {
    let exp = BASE_MS.saturating_mul(1u64 << attempts.min(30));
    let ceiling = exp.min(cap.as_millis() as u64).max(1);
    // Never less than half the ceiling, so retries do back off.
    let jittered = (ceiling as f64 * (0.5 + 0.5 * random.clamp(0.0, 1.0))) as u64;
    Duration::from_millis(jittered.max(1))
}

/// A small xorshift generator: jitter needs no cryptographic quality, only spread.
pub struct Jitter(u64);

impl Jitter {
    pub fn seeded(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }

    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_then_caps() {
        let cap = Duration::from_secs(60);
        assert_eq!(delay(0, cap, 1.0), Duration::from_millis(500));
        assert_eq!(delay(1, cap, 1.0), Duration::from_millis(1000));
        assert_eq!(delay(4, cap, 1.0), Duration::from_millis(8000));
        assert_eq!(delay(20, cap, 1.0), cap);
        assert_eq!(delay(u32::MAX, cap, 1.0), cap);
    }

    #[test]
    fn jitter_stays_within_half_to_full_ceiling() {
        let cap = Duration::from_secs(10);
        let mut jitter = Jitter::seeded(42);
        for attempt in 0..40 {
            let d = delay(attempt, cap, jitter.next());
            let ceiling = Duration::from_millis((500u64 << attempt.min(30)).min(10_000));
            assert!(d <= ceiling && d >= ceiling / 2, "{attempt}: {d:?} vs {ceiling:?}");
        }
    }
}
