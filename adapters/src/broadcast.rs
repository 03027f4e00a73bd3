//! A bounded broadcast ring, runtime-independent: every subscriber sees every event pushed
//! after it subscribed, in order. One that falls more than `capacity` events behind skips
//! ahead to the oldest event still held and is told how many it missed ([`Lagged`]), as with
//! tokio's broadcast channel. Pushing never waits, so no subscriber can stall the producer.
//!
//! Memory: at most `capacity` events, and only those some subscriber has not seen yet (an
//! event every subscriber took is freed at once); nothing while nobody subscribes.

use std::collections::VecDeque;

/// A subscriber fell behind and missed this many events; the next one is the oldest the client
/// still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("missed {0} events: this listener fell behind")]
pub struct Lagged(pub u64);

/// Names one subscriber's position in a [`Ring`].
#[derive(Debug)]
pub(crate) struct Cursor {
    slot: usize,
}

/// The ring; callers hold it under their own lock and do their own waking.
#[derive(Debug)]
pub(crate) struct Ring<T> {
    events: VecDeque<T>,
    /// Sequence number of `events[0]`; the next push gets `first + events.len()`.
    first: u64,
    capacity: usize,
    /// Next sequence number each subscriber will read; `None` for a free slot.
    cursors: Vec<Option<u64>>,
    /// Events subscribers missed in total (reported through [`Lagged`]).
    skipped: u64,
}

impl<T: Clone> Ring<T> {
    /// A ring holding at most `capacity` events (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Ring {
            events: VecDeque::new(),
            first: 0,
            capacity: capacity.max(1),
            cursors: Vec::new(),
            skipped: 0,
        }
    }

    fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }

    /// Whether anyone subscribed.
    pub(crate) fn has_subscribers(&self) -> bool {
        self.cursors.iter().any(Option::is_some)
    }

    /// Events missed by lagging subscribers so far.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Appends `event` for every subscriber; with none, it is dropped at once. A full ring
    /// drops its oldest event (the subscribers that had not read it will be told).
    pub(crate) fn push(&mut self, event: T) {
        if !self.has_subscribers() {
            self.first += 1;
            return;
        }
        if self.events.len() == self.capacity {
            self.events.pop_front();
            self.first += 1;
        }
        self.events.push_back(event);
    }

    /// A new subscriber, which will see events pushed from now on.
    pub(crate) fn subscribe(&mut self) -> Cursor {
        let end = self.end();
        let slot = match self.cursors.iter().position(Option::is_none) {
            Some(slot) => {
                self.cursors[slot] = Some(end);
                slot
            }
            None => {
                self.cursors.push(Some(end));
                self.cursors.len() - 1
            }
        };
        Cursor { slot }
    }

    /// Forgets a subscriber, freeing events only it still needed.
    pub(crate) fn unsubscribe(&mut self, cursor: Cursor) {
        if let Some(slot) = self.cursors.get_mut(cursor.slot) {
            *slot = None;
        }
        self.trim();
    }

    /// The subscriber's next event: `Err(Lagged)` first if it missed some, `None` when it has
    /// seen everything pushed so far.
    pub(crate) fn next(&mut self, cursor: &Cursor) -> Option<Result<T, Lagged>> {
        let at = self.cursors.get(cursor.slot).copied().flatten()?;
        if at < self.first {
            let missed = self.first - at;
            self.skipped = self.skipped.saturating_add(missed);
            self.cursors[cursor.slot] = Some(self.first);
            return Some(Err(Lagged(missed)));
        }
        let index = usize::try_from(at - self.first).ok()?;
        let event = self.events.get(index)?.clone();
        self.cursors[cursor.slot] = Some(at + 1);
        if index == 0 {
            self.trim();
        }
        Some(Ok(event))
    }

    /// Whether the subscriber has an event (or a lag report) waiting.
    #[allow(dead_code)] // the async client takes directly; kept for clients that only look
    pub(crate) fn is_ready(&self, cursor: &Cursor) -> bool {
        self.cursors
            .get(cursor.slot)
            .copied()
            .flatten()
            .is_some_and(|at| at < self.end())
    }

    /// Frees the events every subscriber has read.
    fn trim(&mut self) {
        let oldest_needed = self.cursors.iter().flatten().copied().min().unwrap_or(self.end());
        while self.first < oldest_needed && !self.events.is_empty() {
            self.events.pop_front();
            self.first += 1;
        }
        crate::release_if_drained(&mut self.events);
        while self.cursors.last().is_some_and(Option::is_none) {
            self.cursors.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_sees_every_event_from_when_it_subscribed() {
        let mut ring = Ring::new(8);
        ring.push(0); // nobody listens: dropped
        let a = ring.subscribe();
        ring.push(1);
        let b = ring.subscribe();
        ring.push(2);
        assert_eq!(ring.next(&a), Some(Ok(1)));
        assert_eq!(ring.next(&a), Some(Ok(2)));
        assert_eq!(ring.next(&a), None);
        assert_eq!(ring.next(&b), Some(Ok(2)));
        assert_eq!(ring.next(&b), None);
        assert!(ring.events.is_empty(), "events everyone read are freed");
    }

    #[test]
    fn a_lagging_subscriber_skips_ahead_and_is_told_how_far() {
        let mut ring = Ring::new(3);
        let slow = ring.subscribe();
        let fast = ring.subscribe();
        for i in 0..10 {
            ring.push(i);
            assert_eq!(ring.next(&fast), Some(Ok(i)));
        }
        assert_eq!(ring.events.len(), 3, "bounded by the capacity");
        assert!(ring.is_ready(&slow));
        assert_eq!(ring.next(&slow), Some(Err(Lagged(7))));
        assert_eq!(ring.next(&slow), Some(Ok(7)));
        assert_eq!(ring.next(&slow), Some(Ok(8)));
        assert_eq!(ring.next(&slow), Some(Ok(9)));
        assert_eq!(ring.next(&slow), None);
        assert!(!ring.is_ready(&slow));
        assert_eq!(ring.skipped(), 7);
        assert!(ring.events.is_empty());
    }

    #[test]
    fn leaving_frees_what_only_the_leaver_needed() {
        let mut ring = Ring::new(100);
        let stays = ring.subscribe();
        let leaves = ring.subscribe();
        ring.push(1);
        ring.push(2);
        assert_eq!(ring.next(&stays), Some(Ok(1)));
        assert_eq!(ring.next(&stays), Some(Ok(2)));
        assert_eq!(ring.events.len(), 2);
        ring.unsubscribe(leaves);
        assert!(ring.events.is_empty());
        ring.unsubscribe(stays);
        assert!(!ring.has_subscribers());
        ring.push(3);
        assert!(ring.events.is_empty(), "nothing kept with no subscriber");
        let late = ring.subscribe();
        assert_eq!(ring.next(&late), None, "a new subscriber starts at the end");
        ring.push(4);
        assert_eq!(ring.next(&late), Some(Ok(4)));
    }

    proptest::proptest! {
        /// Over the whole range of capacities (1, small, huge) and any interleaving of pushes
        /// and reads: each subscriber sees an in-order run of what was pushed after it
        /// subscribed, every gap is reported with its exact size, nothing is seen twice, and
        /// the ring never holds more than the capacity or more than someone still needs.
        #[test]
        fn every_subscriber_sees_everything_or_is_told_what_it_missed(
            capacity in proptest::prop_oneof![1usize..=4, 5usize..=300, proptest::strategy::Just(usize::MAX)],
            ops in proptest::collection::vec((0u8..4, 0usize..3), 0..600),
        ) {
            let mut ring = Ring::new(capacity);
            let mut next_value = 0u64;
            let cursors: Vec<Cursor> = (0..3).map(|_| ring.subscribe()).collect();
            // What each subscriber has accounted for: values seen plus values reported missed.
            let mut accounted = [0u64; 3];
            let mut last_seen: [Option<u64>; 3] = [None; 3];
            for (op, who) in ops {
                if op == 0 {
                    // A read.
                    match ring.next(&cursors[who]) {
                        Some(Ok(value)) => {
                            proptest::prop_assert_eq!(value, accounted[who], "in order, nothing skipped silently");
                            proptest::prop_assert!(last_seen[who].is_none_or(|last| value > last));
                            last_seen[who] = Some(value);
                            accounted[who] += 1;
                        }
                        Some(Err(Lagged(missed))) => {
                            proptest::prop_assert!(missed > 0);
                            accounted[who] += missed;
                        }
                        None => proptest::prop_assert_eq!(accounted[who], next_value, "None only when caught up"),
                    }
                } else {
                    ring.push(next_value);
                    next_value += 1;
                }
                proptest::prop_assert!(ring.events.len() <= capacity);
                let behind = accounted.iter().map(|a| next_value - a).max().unwrap_or(0);
                proptest::prop_assert!(ring.events.len() as u64 <= behind, "freed once all have read");
            }
            // Draining: everyone ends caught up.
            for (who, cursor) in cursors.iter().enumerate() {
                while let Some(item) = ring.next(cursor) {
                    accounted[who] += match item { Ok(_) => 1, Err(Lagged(n)) => n };
                }
                proptest::prop_assert_eq!(accounted[who], next_value);
            }
            proptest::prop_assert!(ring.events.is_empty());
        }
    }
}
