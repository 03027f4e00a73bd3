//! The simulator's virtual clock: an instant the caller supplies, moved only by the simulator.

use std::time::{Duration, Instant};

/// Virtual time: starts at an instant the caller gives and moves only when the simulator is
/// asked to run or advance. It never reads the system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    start: Instant,
    now: Instant,
}

impl Clock {
    /// A clock that starts (and stands) at `start`.
    pub fn new(start: Instant) -> Self {
        Clock { start, now: start }
    }

    /// The virtual now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The instant the clock started at.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves the clock to `at`; an instant in the past leaves it where it is (time never runs
    /// backwards).
    pub fn advance_to(&mut self, at: Instant) {
        self.now = self.now.max(at);
    }

    /// Moves the clock forward by `by`, saturating at the latest representable instant.
    pub fn advance(&mut self, by: Duration) {
        self.now = crate::saturating_later(self.now, by);
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real Instant to start from
mod tests {
    use super::*;

    #[test]
    fn moves_only_forward() {
        let start = Instant::now() + Duration::from_secs(10);
        let mut clock = Clock::new(start);
        clock.advance(Duration::from_secs(3));
        clock.advance_to(start);
        assert_eq!(clock.elapsed(), Duration::from_secs(3));
        assert_eq!(clock.start(), start);
    }
}
