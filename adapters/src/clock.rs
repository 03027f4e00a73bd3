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
}
