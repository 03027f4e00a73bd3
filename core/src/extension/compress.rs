//! The sending half of permessage-deflate: a whole message compressed with a sync flush and
//! the 4-byte tail removed (RFC 7692 §7.2.1).

use flate2::{Compress, Compression, FlushCompress};

/// One direction's compressor, made on the first message that is compressed.
#[derive(Debug)]
pub(crate) struct Compressor {
    inner: Option<Box<Compress>>,
    level: u32,
    /// The agreed window for this direction, 8 to 15.
    window_bits: u8,
    /// Our side resets its context after every message (our `*_no_context_takeover`), so
    /// the state is dropped between messages rather than kept.
    reset_after_message: bool,
}

impl Compressor {
    /// A compressor at `level` (0-9, clamped) with the agreed `window_bits` (clamped to 8-15).
    pub(crate) fn new(level: u32, window_bits: u8, reset_after_message: bool) -> Self {
        Compressor {
            inner: None,
            level: level.min(9),
            window_bits: window_bits.clamp(8, 15),
            reset_after_message,
        }
    }

    /// Whether messages can be compressed at all: zlib cannot make an 8-bit window, so a
    /// peer that asked for one gets every message uncompressed, which RFC 7692 allows.
    pub(crate) fn can_compress(&self) -> bool {
        self.window_bits >= 9
    }

    /// Compresses `payload` as one message, appending the bytes (tail removed) to `out`.
    pub(crate) fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        self.compress_part(payload, out, true);
    }

    /// Compresses one part of a message sent in fragments, appending its bytes to `out`: each
    /// part is flushed (so it can go on the wire now; its empty stored block stays, which
    /// inflates to nothing), and the `last` part's tail is removed as a whole message's is.
    pub(crate) fn compress_part(&mut self, payload: &[u8], out: &mut Vec<u8>, last: bool) {
        let (level, bits) = (self.level, self.window_bits);
        let compressor = self
            .inner
            .get_or_insert_with(|| Box::new(Compress::new_with_window_bits(Compression::new(level), false, bits)));
        let start = out.len();
        out.reserve(payload.len() / 2 + 64);
        let first_in = compressor.total_in();
        loop {
            let done = (compressor.total_in() - first_in) as usize;
            // A sync flush cannot fail on a raw stream with valid settings: the only errors
            // zlib reports are for a stream used after finishing, which never happens here.
            let _ = compressor.compress_vec(&payload[done..], out, FlushCompress::Sync);
            let all_in = (compressor.total_in() - first_in) as usize == payload.len();
            // zlib's rule: the flush is complete once it leaves output room unused.
            if all_in && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if !last {
            return;
        }
        // The sync flush ends with an empty stored block, 00 00 FF FF; RFC 7692 removes it.
        if out.len() >= start + 4 && out[out.len() - 4..] == [0x00, 0x00, 0xff, 0xff] {
            out.truncate(out.len() - 4);
        } else if out.len() == start {
            // An empty message right after a flush: zlib has nothing to write (it refuses a
            // second flush in a row), but RFC 7692 §7.2.1 still wants an empty stored block
            // appended and its last four bytes removed. The stream is byte-aligned after the
            // flush, so that leaves the block's first byte, 0x00. An empty payload instead
            // would leave the peer's inflater inside a stored block header after it appends
            // 00 00 FF FF, and the next message would fail or inflate to garbage.
            out.push(0x00);
        }
        if self.reset_after_message {
            // No history to keep: free the state (about 250-370 KiB) until the next message.
            self.inner = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::inflate::Inflater;
    use super::*;
    use proptest::prelude::*;

    /// Compresses `messages` in order and inflates them with resock's inflater and with a
    /// bare flate2 inflater whose window is exactly the agreed one, as a strict peer's is.
    fn round_trip(level: u32, bits: u8, reset: bool, messages: &[Vec<u8>]) {
        let mut c = Compressor::new(level, bits, reset);
        let mut d = Inflater::new(reset);
        let mut strict = flate2::Decompress::new_with_window_bits(false, bits);
        for m in messages {
            let mut wire = Vec::new();
            c.compress(m, &mut wire);
            let mut out = Vec::new();
            d.feed(&wire, &mut out, usize::MAX).unwrap();
            d.finish_message(&mut out, usize::MAX).unwrap();
            assert_eq!(&out, m);
            wire.extend_from_slice(&[0, 0, 0xff, 0xff]);
            let mut alone = Vec::with_capacity(m.len() + 64);
            strict
                .decompress_vec(&wire, &mut alone, flate2::FlushDecompress::Sync)
                .unwrap();
            assert_eq!(&alone, m);
            if reset {
                strict.reset(false);
            }
        }
    }

    #[test]
    fn compresses_text_and_strips_the_tail() {
        let text = "{\"type\":\"trade\",\"price\":\"101.25\",\"qty\":\"3\"}".repeat(20);
        let mut c = Compressor::new(6, 15, false);
        let mut wire = Vec::new();
        c.compress(text.as_bytes(), &mut wire);
        assert!(wire.len() * 5 < text.len(), "{} -> {}", text.len(), wire.len());
        assert!(!wire.ends_with(&[0, 0, 0xff, 0xff]));
        round_trip(
            6,
            15,
            false,
            &[text.clone().into_bytes(), text.into_bytes(), Vec::new()],
        );
    }

    #[test]
    fn an_empty_message_between_others_keeps_the_stream_in_step() {
        let text = b"{\"type\":\"trade\",\"price\":\"101.25\"}".repeat(10);
        for level in [0, 6] {
            round_trip(level, 15, false, &[text.clone(), Vec::new(), Vec::new(), text.clone()]);
        }
        let mut c = Compressor::new(6, 15, false);
        let mut wire = Vec::new();
        c.compress(&text, &mut wire);
        wire.clear();
        c.compress(b"", &mut wire);
        assert_eq!(wire, [0x00], "an empty stored block without its last four bytes");
    }

    #[test]
    fn window_eight_is_not_compressible() {
        assert!(!Compressor::new(6, 8, false).can_compress());
        assert!(Compressor::new(6, 9, false).can_compress());
        assert!(!Compressor::new(6, 0, false).can_compress());
    }

    proptest! {
        /// Whatever resock compresses, resock's inflater and bare flate2 restore byte for byte,
        /// at every level and window, with and without context takeover.
        #[test]
        fn compressed_messages_round_trip(
            level in 0u32..=9,
            bits in 9u8..=15,
            reset: bool,
            messages in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..3000),
                    proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'{')], 0..20_000),
                ],
                1..5,
            ),
        ) {
            round_trip(level, bits, reset, &messages);
        }
    }
}
