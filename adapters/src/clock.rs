//! Where a client reads the time: the system clock, or a simulated world's virtual clock.

use std::time::Instant;

/// The time source of a client's driver and handles.
#[derive(Clone, Debug, Default)]
pub(crate) enum Clock {
    /// `Instant::now()`: every real runtime.
    #[default]
    System,
    /// The virtual time of a simulated world (feature `sim`).
    #[cfg(feature = "sim")]
    Virtual(std::sync::Arc<crate::sim::VirtualTime>),
}

impl Clock {
    /// The current instant on this clock.
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            #[cfg(feature = "sim")]
            Clock::Virtual(time) => time.now(),
        }
    }

    /// The wall-clock time on this clock (typed messages' timestamps): the system's, or a
    /// world's virtual wall clock.
    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    pub(crate) fn wall(&self) -> std::time::SystemTime {
        match self {
            Clock::System => std::time::SystemTime::now(),
            #[cfg(feature = "sim")]
            Clock::Virtual(time) => time.wall(),
        }
    }

    /// The clock a thread other than the owner measures its own timeouts on (a sender's, a
    /// subscription's): this one, except for a virtual clock read from a thread that does not
    /// hold its world. Such a thread cannot run the world, and the owner may run it hours ahead
    /// in a millisecond, so it waits in real time for the owner instead.
    #[cfg(feature = "blocking")]
    pub(crate) fn for_waiting(&self) -> Clock {
        match self {
            #[cfg(feature = "sim")]
            Clock::Virtual(time) if !crate::sim::holds_world(time.world()) => Clock::System,
            other => other.clone(),
        }
    }

    /// Blocks on `changed` until it is notified or `deadline` passes on this clock; returns at
    /// once when it has passed. On a virtual clock, from the thread that shared its world
    /// (where nothing else moves time), it runs the world to `deadline` instead: time passes
    /// as it would for a thread that waits while the owner makes no call.
    #[cfg(feature = "blocking")]
    pub(crate) fn wait_until<'a, T>(
        &self,
        changed: &std::sync::Condvar,
        guard: std::sync::MutexGuard<'a, T>,
        deadline: Instant,
    ) -> std::sync::MutexGuard<'a, T> {
        let left = deadline.saturating_duration_since(self.now());
        if left.is_zero() {
            return guard;
        }
        #[cfg(feature = "sim")]
        if let Clock::Virtual(time) = self {
            if crate::sim::run_world_to(time.world(), deadline) {
                return guard;
            }
        }
        match changed.wait_timeout(guard, left) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
}
