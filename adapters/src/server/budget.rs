//! The inbound budget: one bound on the bytes every connection together holds for incomplete
//! inbound frames and messages.
//!
//! Each connection's message limit bounds it alone; a thousand clients each holding most of a
//! 1 MiB message still pin a gigabyte. Each connection reports what it holds
//! ([`Slot::report`], after every read); when the total passes the budget, the largest holders
//! are told to close (1009, `close_for_memory` in core) until the rest fit, largest first so
//! the fewest connections pay. A connection told once is not counted again while it closes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What a connection is told when it must give its memory back.
pub(crate) type Evict = Arc<dyn Fn() + Send + Sync>;

struct Entry {
    held: usize,
    evicted: bool,
    evict: Evict,
}

#[derive(Default)]
struct Holders {
    total: usize,
    entries: HashMap<u64, Entry>,
}

/// The budget shared by every connection of a server.
pub(crate) struct InboundBudget {
    limit: usize,
    next_id: AtomicU64,
    holders: Mutex<Holders>,
}

/// One connection's place in the budget; dropping it forgets what it held.
pub(crate) struct Slot {
    budget: Arc<InboundBudget>,
    id: u64,
}

impl InboundBudget {
    /// A budget of `limit` bytes in all.
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(InboundBudget {
            limit,
            next_id: AtomicU64::new(0),
            holders: Mutex::new(Holders::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Holders> {
        self.holders.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a new connection, holding nothing; `evict` is called (with no lock held)
    /// if it is chosen to close.
    pub(crate) fn join(self: &Arc<Self>, evict: Evict) -> Slot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().entries.insert(
            id,
            Entry {
                held: 0,
                evicted: false,
                evict,
            },
        );
        Slot {
            budget: Arc::clone(self),
            id,
        }
    }

    /// Bytes held by every connection together.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.lock().total
    }

    /// Records `held` for `id`, and chooses who must close when the total passes the limit.
    fn report(&self, id: u64, held: usize) {
        let victims = {
            let mut holders = self.lock();
            let Some(entry) = holders.entries.get_mut(&id) else {
                return;
            };
            let before = std::mem::replace(&mut entry.held, held);
            holders.total = holders.total.saturating_sub(before).saturating_add(held);
            if holders.total <= self.limit {
                return;
            }
            choose_victims(&mut holders, self.limit)
        };
        for evict in victims {
            evict();
        }
    }

    fn leave(&self, id: u64) {
        let mut holders = self.lock();
        if let Some(entry) = holders.entries.remove(&id) {
            holders.total = holders.total.saturating_sub(entry.held);
        }
    }
}

/// Marks the largest holders not yet told, until the others fit in `limit`; returns whom to
/// tell.
fn choose_victims(holders: &mut Holders, limit: usize) -> Vec<Evict> {
    let mut live: usize = holders.entries.values().filter(|e| !e.evicted).map(|e| e.held).sum();
    let mut by_size: Vec<(&u64, &Entry)> = holders
        .entries
        .iter()
        .filter(|(_, e)| !e.evicted && e.held > 0)
        .collect();
    by_size.sort_unstable_by_key(|(_, entry)| std::cmp::Reverse(entry.held));
    let mut chosen = Vec::new();
    for (id, entry) in by_size {
        if live <= limit {
            break;
        }
        live -= entry.held;
        chosen.push(*id);
    }
    let mut victims = Vec::with_capacity(chosen.len());
    for id in chosen {
        if let Some(entry) = holders.entries.get_mut(&id) {
            entry.evicted = true;
            victims.push(Arc::clone(&entry.evict));
        }
    }
    victims
}

impl Slot {
    /// Tells the budget this connection now holds `held` bytes of incomplete input; when the
    /// total passes the budget, the largest holders (maybe this one) are told to close.
    pub(crate) fn report(&self, held: usize) {
        self.budget.report(self.id, held);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.budget.leave(self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use proptest::prelude::*;

    use super::*;

    fn counter() -> (Arc<AtomicUsize>, Evict) {
        let count = Arc::new(AtomicUsize::new(0));
        let told = Arc::clone(&count);
        (
            count,
            Arc::new(move || {
                told.fetch_add(1, Ordering::SeqCst);
            }),
        )
    }

    #[test]
    fn past_the_budget_the_largest_holders_are_told_once_until_the_rest_fit() {
        let budget = InboundBudget::new(100);
        let (small_told, evict) = counter();
        let small = budget.join(evict);
        let (large_told, evict) = counter();
        let large = budget.join(evict);
        let (middle_told, evict) = counter();
        let middle = budget.join(evict);
        small.report(10);
        large.report(60);
        middle.report(30);
        assert_eq!(budget.total(), 100);
        assert_eq!(large_told.load(Ordering::SeqCst), 0, "at the budget is within it");
        small.report(11);
        assert_eq!(large_told.load(Ordering::SeqCst), 1, "the largest pays");
        assert_eq!(
            middle_told.load(Ordering::SeqCst) + small_told.load(Ordering::SeqCst),
            0
        );
        large.report(70);
        assert_eq!(large_told.load(Ordering::SeqCst), 1, "told once while it closes");
        drop(large);
        assert_eq!(budget.total(), 41);
        middle.report(95);
        assert_eq!(middle_told.load(Ordering::SeqCst), 1);
        assert_eq!(
            small_told.load(Ordering::SeqCst),
            0,
            "the rest fits once the largest goes"
        );
        drop((small, middle));
        assert_eq!(budget.total(), 0);
    }

    proptest! {
        /// For any budget and any reports, after each report the connections not told to close
        /// hold at most the budget, and only the largest were told (none told holds less than
        /// one left alone, at the moment it was chosen).
        #[test]
        fn the_untold_always_fit_and_the_total_is_exact(
            limit in prop_oneof![Just(0usize), 1usize..1000, Just(usize::MAX)],
            reports in proptest::collection::vec((0usize..5, prop_oneof![0usize..600, Just(usize::MAX / 8)]), 0..80),
        ) {
            let budget = InboundBudget::new(limit);
            let counts: Vec<_> = (0..5).map(|_| counter()).collect();
            let slots: Vec<Slot> = counts.iter().map(|(_, e)| budget.join(Arc::clone(e))).collect();
            let mut held = [0usize; 5];
            for (who, bytes) in reports {
                slots[who].report(bytes);
                held[who] = bytes;
                prop_assert_eq!(budget.total(), held.iter().sum::<usize>());
                let untold: usize = (0..5).filter(|&i| counts[i].0.load(Ordering::SeqCst) == 0).map(|i| held[i]).sum();
                prop_assert!(untold <= limit, "untold {} over {}", untold, limit);
                for (count, _) in &counts {
                    prop_assert!(count.load(Ordering::SeqCst) <= 1);
                }
            }
            drop(slots);
            prop_assert_eq!(budget.total(), 0);
        }
    }
}
