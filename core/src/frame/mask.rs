//! XOR masking (§5.3), a machine word at a time in safe code.

/// Masks or unmasks `buf` in place with `key`, as if `buf` started at payload offset 0.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    apply_mask_at(buf, key, 0);
}

/// Masks or unmasks `buf` in place, where `buf` starts at byte `offset` of the payload.
///
/// Masking is its own inverse. Used to unmask a payload piece by piece as it arrives.
#[inline]
pub fn apply_mask_at(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let shift = offset % 4;
    let key = [
        key[shift],
        key[(shift + 1) % 4],
        key[(shift + 2) % 4],
        key[(shift + 3) % 4],
    ];
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc_hello() {
        let mut hello = *b"Hello";
        apply_mask(&mut hello, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    proptest! {
        #[test]
        fn matches_bytewise(data in proptest::collection::vec(any::<u8>(), 0..300), key: [u8; 4], offset in 0usize..16) {
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask_at(&mut fast, key, offset);
            naive(&mut slow, key, offset);
            prop_assert_eq!(&fast, &slow);
            apply_mask_at(&mut fast, key, offset);
            prop_assert_eq!(fast, data);
        }

        #[test]
        fn piecewise_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..200), key: [u8; 4], cut in 0usize..200) {
            let cut = cut.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key);
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(cut);
            apply_mask_at(a, key, 0);
            apply_mask_at(b, key, cut);
            prop_assert_eq!(whole, pieces);
        }
    }
}
