//! One request budget for everything the worker sends to IYS (submits, result fetches, pulls,
//! token calls), shared by the main thread and the submit threads: IYS allows 10 requests per
//! second per IP and answers more with 429 H124.
//!
//! A call takes its turn right before it is sent, and the turn is granted only when the call
//! that went `rate` calls earlier was sent more than a second (plus a margin) ago. The moments
//! recorded are the real ones, so a call that was late (a slow wake-up, a busy main thread)
//! delays the ones after it instead of crowding IYS's rolling second.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Slack over IYS's second, for the time between taking a turn and the request reaching IYS.
const MARGIN: Duration = Duration::from_millis(10);

#[derive(Clone, Default)]
pub struct Budget {
    sent: Arc<Mutex<VecDeque<Instant>>>,
}

impl Budget {
    /// Waits for a turn under `per_second` requests in any rolling second, then takes it.
    pub fn take_turn(&self, per_second: u32) {
        let per_second = per_second.max(1) as usize;
        loop {
            let wait = {
                let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                while sent.len() > per_second {
                    sent.pop_front();
                }
                let free_at = if sent.len() < per_second { now } else { sent[sent.len() - per_second] + Duration::from_secs(1) + MARGIN };
                if free_at <= now {
                    sent.push_back(now);
                    return;
                }
                free_at - now
            };
            std::thread::sleep(wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_the_rate_in_any_second_even_from_several_threads() {
        let budget = Budget::default();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..3 {
                let (budget, sent) = (budget.clone(), Arc::clone(&sent));
                scope.spawn(move || {
                    for _ in 0..10 {
                        budget.take_turn(10);
                        sent.lock().unwrap().push(Instant::now());
                    }
                });
            }
        });
        let mut sent = sent.lock().unwrap().clone();
        sent.sort();
        assert_eq!(sent.len(), 30);
        for window in sent.windows(11) {
            assert!(window[10] - window[0] >= Duration::from_secs(1), "11 calls within {:?}", window[10] - window[0]);
        }
        // And no slower than needed: 30 calls at 10/s take about 2 s, not 3.
        assert!(start.elapsed() < Duration::from_millis(2600), "{:?}", start.elapsed());
    }
}
