//! The core's only source of randomness: a ChaCha CSPRNG seeded by the caller.
//!
//! Adapters seed it from the operating system; tests pass a constant to get repeatable runs.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// A seeded cryptographically secure generator for mask keys, handshake keys and jitter.
#[derive(Debug, Clone)]
pub struct Rng(ChaCha20Rng);

impl Rng {
    /// Builds the generator from a 32-byte seed. Give it OS entropy outside tests.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Rng(ChaCha20Rng::from_seed(seed))
    }

    /// A fresh masking key for one frame (§5.3).
    #[inline]
    pub fn mask_key(&mut self) -> [u8; 4] {
        self.0.next_u32().to_ne_bytes()
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }

    /// A uniformly random `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A seed for another generator, so each connection gets its own stream.
    pub fn fork_seed(&mut self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        self.fill(&mut seed);
        seed
    }

    /// A uniform value in `0..=max` without modulo bias.
    pub fn below_or_equal(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        let range = max + 1;
        let zone = u64::MAX - (u64::MAX % range) - 1;
        loop {
            let v = self.next_u64();
            if v <= zone {
                return v % range;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::from_seed([7; 32]);
        let mut b = Rng::from_seed([7; 32]);
        assert_eq!(a.mask_key(), b.mask_key());
        assert_ne!(Rng::from_seed([8; 32]).mask_key(), Rng::from_seed([7; 32]).mask_key());
    }

    #[test]
    fn mask_keys_repeat_no_more_than_the_birthday_bound() {
        // 100k draws from 2^32 values: about 1.16 collisions are expected.
        let mut rng = Rng::from_seed([1; 32]);
        let mut seen = HashSet::new();
        let repeats = (0..100_000).filter(|_| !seen.insert(rng.mask_key())).count();
        assert!(repeats <= 8, "{repeats} repeated mask keys");
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut rng = Rng::from_seed([2; 32]);
        for max in [0u64, 1, 9, 1000, u64::MAX] {
            for _ in 0..100 {
                assert!(rng.below_or_equal(max) <= max);
            }
        }
    }
}
