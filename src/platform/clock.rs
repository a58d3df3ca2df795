//! Time as the application sees it: unix seconds. Every domain reads the time through
//! the one `Clock` in the application state, so there is a single place to change it.

#[derive(Clone, Copy, Default)]
pub struct Clock;

impl Clock {
    /// Current time in unix seconds.
    pub fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}
