//! In-process rate limits: fixed windows counted per key (an IP, an account, ...).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::clock::Clock;

/// How many events a key may have in a window.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u32,
    pub window_seconds: i64,
}

impl Limit {
    pub const fn new(max: u32, window_seconds: i64) -> Self {
        Self {
            max,
            window_seconds,
        }
    }
}

#[derive(Clone)]
pub struct RateLimiter {
    clock: Clock,
    windows: Arc<Mutex<HashMap<String, (i64, u32)>>>,
}

impl RateLimiter {
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            windows: Arc::default(),
        }
    }

    /// Counts one event for `key`; `Err(seconds)` says when the caller may try again.
    pub fn hit(&self, key: &str, limit: Limit) -> Result<(), i64> {
        let now = self.clock.now();
        let mut windows = self.windows.lock().expect("rate limiter poisoned");
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now - *start < 24 * 3600);
        }
        let entry = windows.entry(key.to_string()).or_insert((now, 0));
        if now - entry.0 >= limit.window_seconds {
            *entry = (now, 0);
        }
        if entry.1 >= limit.max {
            return Err((entry.0 + limit.window_seconds - now).max(1));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Forgets the events of `key` (e.g. after a successful sign-in).
    pub fn reset(&self, key: &str) {
        self.windows
            .lock()
            .expect("rate limiter poisoned")
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_and_reopens_after_window() {
        let clock = Clock::default();
        let limiter = RateLimiter::new(clock);
        let limit = Limit::new(2, 60);
        assert!(limiter.hit("k", limit).is_ok());
        assert!(limiter.hit("k", limit).is_ok());
        let retry = limiter.hit("k", limit).unwrap_err();
        assert!(retry > 0 && retry <= 60);
        assert!(limiter.hit("other", limit).is_ok());
    }
}
