//! Time as the application sees it: unix seconds. Every domain reads the time through
//! the one `Clock` in the application state, so there is a single place to change it.
//! Tests and operators move it forward with the hidden `--clock-offset SECONDS` flag,
//! which runs the binary as if that much time had passed (expiry, grace periods).

#[derive(Clone, Copy, Default)]
pub struct Clock {
    offset_seconds: i64,
}

impl Clock {
    /// A clock running `offset_seconds` ahead of the system clock (behind if negative).
    pub fn with_offset(offset_seconds: i64) -> Self {
        Self { offset_seconds }
    }

    /// Current time in unix seconds.
    pub fn now(&self) -> i64 {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        system.saturating_add(self.offset_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn an_offset_moves_the_time() {
        let base = Clock::default().now();
        let later = Clock::with_offset(86_400).now();
        assert!((86_400..86_410).contains(&(later - base)));
    }
}
