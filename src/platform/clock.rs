//! Time as the application sees it: unix seconds, with an offset tests can move.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A wall clock that can be shifted forward (tests and `--clock-offset` only).
#[derive(Clone, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn with_offset(offset_seconds: i64) -> Self {
        Self {
            offset_seconds: Arc::new(AtomicI64::new(offset_seconds)),
        }
    }

    /// Current time in unix seconds.
    pub fn now(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        real + self.offset_seconds.load(Ordering::Relaxed)
    }
}
