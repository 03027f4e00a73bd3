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

/// Most bytes of allocation a drained buffer keeps while buffers are kept (see
/// [`Session::keep_buffers`](crate::session::Session::keep_buffers)); a larger one, left by
/// an unusually large burst or message, is freed as usual.
pub const KEPT_BYTES_MAX: usize = 256 * 1024;

/// Whether a drained buffer of `capacity` elements of `T` stays allocated: only while buffers
/// are kept, and within [`KEPT_BYTES_MAX`].
#[inline]
pub(crate) fn keeps<T>(keep: bool, capacity: usize) -> bool {
    keep && capacity.saturating_mul(std::mem::size_of::<T>()) <= KEPT_BYTES_MAX
}

/// [`release_if_drained`], unless the buffer is [kept](keeps).
#[inline]
pub(crate) fn release_if_drained_unless_kept<T>(queue: &mut VecDeque<T>, keep: bool) {
    if !keeps::<T>(keep, queue.capacity()) {
        release_if_drained(queue);
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
