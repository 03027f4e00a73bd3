//! Small helpers shared by the connection and the session.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Frees a queue's allocation once it is empty, so a burst of events does not stay allocated
/// for the life of an idle connection (events are large; a long-lived client holds thousands
/// of connections' worth of them otherwise). The hot paths do not use these queues.
#[inline]
pub(crate) fn release_if_drained<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}

/// `now + delay`, or the latest instant near it that can be represented when that overflows,
/// so a delay of `Duration::MAX` means "never" in practice without a panic.
pub fn saturating_later(now: Instant, delay: Duration) -> Instant {
    let mut delay = delay;
    loop {
        if let Some(at) = now.checked_add(delay) {
            return at;
        }
        delay /= 2;
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real Instant to add to
mod tests {
    use super::*;

    #[test]
    fn saturating_later_never_panics_and_is_far_for_huge_delays() {
        let now = Instant::now();
        assert_eq!(
            saturating_later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let never = saturating_later(now, Duration::MAX);
        assert!(never - now > Duration::from_secs(1000 * 365 * 24 * 3600));
    }
}
