//! Time for logic: a [`Clock`] passed in, real or simulated, never
//! `Instant::now()` inside a stage. Simulated time is what lets scenario
//! suites run many times faster than real time, and replay bit for bit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A source of monotonic time since the clock's own start.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Time elapsed since the clock started.
    fn now(&self) -> Duration;
}

/// Wall-clock time, for live sessions.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// A clock starting now.
    pub fn new() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Simulated time: moves only when told to. Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    nanos: Arc<AtomicU64>,
}

impl SimClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Move time forward.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
    }

    /// Move time forward by a number of samples at 16 kHz (exact: 62,500 ns each).
    pub fn advance_samples(&self, samples: u64) {
        self.nanos.fetch_add(samples * 62_500, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_clock_moves_only_when_told_and_clones_share_it() {
        let c = SimClock::new();
        let d = c.clone();
        assert_eq!(c.now(), Duration::ZERO);
        c.advance_samples(16_000);
        assert_eq!(d.now(), Duration::from_secs(1));
    }
}
