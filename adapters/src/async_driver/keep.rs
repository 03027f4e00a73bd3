//! [`BufferKeeper`]: whether a connection is busy enough for its buffers to outlive a batch.
//!
//! By default every buffer on the way of a message (the frames being written, the list of
//! messages in flight, the queue of outputs, the receive buffer, `recv`'s inbox) is freed as
//! soon as it is drained, so an idle connection holds none. A busy connection then allocates
//! and frees them once per batch, and those allocations are large enough (1 KiB and up) for
//! glibc to consolidate its fast bins each time, which sends the next small allocations of the
//! application (its messages) down the allocator's slow path. So once a write or a read of at
//! least [`BUSY_BYTES`] happens, the driver keeps the drained buffers (within the session's
//! bound per buffer) until the connection has moved less than that for [`KEEP_FOR`], then
//! frees them all at once: a quiet connection holds them for between one and two
//! `KEEP_FOR` after its last busy moment.

use std::time::{Duration, Instant};

use resock_core::saturating_later;

/// How long after its last busy moment a connection keeps its buffers, at least.
pub(crate) const KEEP_FOR: Duration = Duration::from_secs(1);

/// A write or read of at least this many bytes makes the connection busy.
pub(crate) const BUSY_BYTES: usize = 1024;

/// When the driver keeps its buffers. The deadline moves at most once per [`KEEP_FOR`], so a
/// connection busy all the time re-arms its timer once a second, not once per batch.
#[derive(Debug, Default)]
pub(crate) struct BufferKeeper {
    /// While keeping: when to look again.
    until: Option<Instant>,
    /// A busy moment since `until` was set.
    busy_again: bool,
}

impl BufferKeeper {
    /// `bytes` were written or read at `now`; true when keeping starts with them.
    pub(crate) fn traffic(&mut self, now: Instant, bytes: usize) -> bool {
        if bytes < BUSY_BYTES {
            return false;
        }
        if self.until.is_some() {
            self.busy_again = true;
            return false;
        }
        self.until = Some(saturating_later(now, KEEP_FOR));
        self.busy_again = false;
        true
    }

    /// Whether buffers are kept.
    pub(crate) fn keeping(&self) -> bool {
        self.until.is_some()
    }

    /// When the driver must call [`expire`](Self::expire), while keeping.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.until
    }

    /// At `now`: true when the connection has been quiet for [`KEEP_FOR`] and the buffers must
    /// go; a deadline reached after a busy moment moves on by `KEEP_FOR` from `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> bool {
        match self.until {
            Some(at) if at <= now => {
                if std::mem::take(&mut self.busy_again) {
                    self.until = Some(saturating_later(now, KEEP_FOR));
                    false
                } else {
                    self.until = None;
                    true
                }
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn small_traffic_keeps_nothing_and_a_busy_moment_keeps_until_a_quiet_keep_for() {
        #[allow(clippy::disallowed_methods)] // any origin will do
        let start = Instant::now();
        let mut keeper = BufferKeeper::default();
        assert!(!keeper.traffic(start, BUSY_BYTES - 1));
        assert!(!keeper.keeping());
        assert_eq!(keeper.deadline(), None);

        assert!(keeper.traffic(start, BUSY_BYTES), "keeping starts");
        assert!(!keeper.traffic(start, BUSY_BYTES), "already keeping");
        assert_eq!(keeper.deadline(), Some(start + KEEP_FOR));
        assert!(!keeper.expire(start + KEEP_FOR - Duration::from_nanos(1)), "not yet");
        assert!(
            !keeper.expire(start + KEEP_FOR),
            "busy again after it started: moves on"
        );
        assert_eq!(keeper.deadline(), Some(start + 2 * KEEP_FOR));
        assert!(!keeper.traffic(start + KEEP_FOR, 10), "small traffic is quiet");
        assert!(keeper.expire(start + 2 * KEEP_FOR), "quiet for KEEP_FOR: released");
        assert!(!keeper.keeping());
        assert_eq!(keeper.deadline(), None);
        assert!(!keeper.expire(start + 3 * KEEP_FOR), "nothing kept, nothing to release");
    }

    proptest! {
        /// For any traffic at any spacing (from nothing to beyond any real run, and a late
        /// `expire` as a stalled driver would make): buffers are kept from a busy moment on,
        /// released only after a quiet `KEEP_FOR`, and never more than two `KEEP_FOR` after
        /// the last busy moment (when the driver expires on time); the deadline never moves
        /// back.
        #[test]
        fn kept_from_the_first_busy_moment_and_released_between_one_and_two_keep_for_after_the_last(
            steps in proptest::collection::vec(
                (prop_oneof![Just(0u64), 1u64..2_000_000_000, Just(u64::MAX / 4)], 0usize..4096, any::<bool>()),
                1..64,
            )
        ) {
            #[allow(clippy::disallowed_methods)] // any origin will do
            let start = Instant::now();
            let mut keeper = BufferKeeper::default();
            let mut now = start;
            let mut last_busy: Option<Instant> = None;
            // An `expire` after its deadline since the last busy moment: the upper bound then
            // moves with it.
            let mut late_since_busy = false;
            for (gap, bytes, late) in steps {
                now = saturating_later(now, Duration::from_nanos(gap));
                // Time only moves forward: the driver expires at each deadline up to `now` in
                // turn, or (a stalled driver) once, at `now`. A quiet deadline releases, so
                // there are at most two.
                while let Some(at) = keeper.deadline().filter(|at| *at <= now) {
                    let when = if late { now } else { at };
                    late_since_busy |= when > at;
                    if keeper.expire(when) {
                        let busy = last_busy.expect("released only what a busy moment kept");
                        prop_assert!(when >= saturating_later(busy, KEEP_FOR));
                        if !late_since_busy {
                            prop_assert!(when <= saturating_later(busy, 2 * KEEP_FOR));
                        }
                        last_busy = None;
                    } else {
                        let next = keeper.deadline().expect("still keeping");
                        prop_assert!(next >= at, "the deadline never moves back");
                        if next == at {
                            // No later instant can be represented: the next expire releases.
                            prop_assert!(keeper.expire(when));
                            last_busy = None;
                        }
                    }
                }
                let started = keeper.traffic(now, bytes);
                if bytes >= BUSY_BYTES {
                    prop_assert_eq!(started, last_busy.is_none());
                    last_busy = Some(now);
                    late_since_busy = false;
                } else {
                    prop_assert!(!started);
                }
                prop_assert_eq!(keeper.keeping(), last_busy.is_some());
                prop_assert_eq!(keeper.deadline().is_some(), last_busy.is_some());
            }
        }
    }
}
