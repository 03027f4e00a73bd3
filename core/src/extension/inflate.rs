//! The receiving half of permessage-deflate: raw DEFLATE inflated as payload bytes arrive,
//! into a buffer that never grows past the message limit plus one byte.

use flate2::{Decompress, FlushDecompress, Status};

/// The four bytes RFC 7692 §7.2.2 has the receiver append to every compressed message.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Smallest growth step of the output buffer.
const MIN_GROWTH: usize = 4096;

/// Why inflating failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The inflated message passed the limit; `size` is how far it got (at most limit + 1).
    TooLarge { size: u64 },
    /// The bytes are not valid DEFLATE data; the text is zlib's.
    Corrupt(String),
}

/// One direction's decompressor, kept across messages unless the sender resets its context.
#[derive(Debug)]
pub(crate) struct Inflater {
    /// Made on the first compressed message; always a 15-bit window, which inflates every
    /// window size a peer may use (8 to 15) and the 8-to-9 rounding some zlib users do.
    inner: Option<Box<Decompress>>,
    /// The peer resets its context after every message (its `*_no_context_takeover`).
    reset_after_message: bool,
    /// A final (BFINAL) block ended the stream inside the current message.
    ended: bool,
    /// The current message has given the inflater bytes: only then does it get the tail. A
    /// message with no compressed bytes at all added nothing to the sender's stream, and the
    /// tail alone would leave the inflater inside a stored block, reading the next message's
    /// bytes as its contents.
    fed: bool,
}

impl Inflater {
    /// An inflater for a peer that resets its context after each message when
    /// `reset_after_message` is set.
    pub(crate) fn new(reset_after_message: bool) -> Self {
        Inflater {
            inner: None,
            reset_after_message,
            ended: false,
            fed: false,
        }
    }

    /// Inflates `input` (payload bytes of the message in progress), appending to `out`.
    /// Fails once `out` would hold more than `limit` bytes; it never allocates beyond
    /// `limit + 1` bytes to find out.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        if input.is_empty() {
            return Ok(());
        }
        if self.ended {
            return Err(InflateError::Corrupt("compressed data after the final block".into()));
        }
        self.fed = true;
        let inflater = self
            .inner
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, 15)));
        let mut input = input;
        loop {
            grow(out, limit, input.len());
            let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            let consumed = (inflater.total_in() - in_before) as usize;
            let produced = inflater.total_out() - out_before;
            input = &input[consumed..];
            if out.len() > limit {
                return Err(InflateError::TooLarge { size: out.len() as u64 });
            }
            if status == Status::StreamEnd {
                self.ended = true;
                if !input.is_empty() {
                    return Err(InflateError::Corrupt("compressed data after the final block".into()));
                }
                return Ok(());
            }
            let room_left = out.len() < out.capacity();
            if (input.is_empty() || (consumed == 0 && produced == 0)) && room_left {
                return Ok(());
            }
        }
    }

    /// Ends the message: inflates the implicit tail (unless the message had no compressed
    /// bytes: it is empty), then resets the context if the peer resets its own (or the
    /// stream ended with a final block).
    pub(crate) fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        if self.fed && !self.ended {
            self.feed(&TAIL, out, limit)?;
        }
        self.fed = false;
        if self.reset_after_message {
            // The peer keeps no history either: free the window until its next message.
            self.inner = None;
        } else if self.ended
            && let Some(inflater) = self.inner.as_mut()
        {
            inflater.reset(false);
        }
        self.ended = false;
        Ok(())
    }
}

/// Makes room in `out` for more output, never past `limit + 1` bytes, so a bomb is caught
/// having allocated at most one byte over the limit. The first allocation is sized from the
/// compressed bytes at hand (`arrived`, what was received, never a declared length): 5/4 of
/// them, enough for data that does not compress; after that the capacity doubles.
fn grow(out: &mut Vec<u8>, limit: usize, arrived: usize) {
    if out.len() < out.capacity() {
        return;
    }
    let cap_limit = limit.saturating_add(1);
    let first = arrived.saturating_add(arrived / 4);
    let want = out
        .capacity()
        .saturating_mul(2)
        .max(first)
        .max(MIN_GROWTH)
        .min(cap_limit);
    if want > out.len() {
        out.reserve_exact(want - out.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// Raw DEFLATE of `data` with a sync flush, the 4-byte tail removed (RFC 7692 §7.2.1).
    fn deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        let start = c.total_in();
        loop {
            let done = (c.total_in() - start) as usize;
            c.compress_vec(&data[done..], &mut out, FlushCompress::Sync).unwrap();
            if (c.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - 4);
        out
    }

    fn fresh() -> Compress {
        Compress::new_with_window_bits(Compression::default(), false, 15)
    }

    #[test]
    fn inflates_in_any_chunking_with_context_across_messages() {
        let mut c = fresh();
        let first = deflate(&mut c, b"hello hello hello hello");
        let second = deflate(&mut c, b"hello hello hello hello");
        assert!(second.len() < first.len(), "the second message refers to the first");
        for chunk in [1, 3, usize::MAX] {
            let mut inf = Inflater::new(false);
            for wire in [&first, &second] {
                let mut out = Vec::new();
                for part in wire.chunks(chunk.min(wire.len()).max(1)) {
                    inf.feed(part, &mut out, 1 << 20).unwrap();
                }
                inf.finish_message(&mut out, 1 << 20).unwrap();
                assert_eq!(out, b"hello hello hello hello");
            }
        }
    }

    #[test]
    fn a_bomb_fails_at_the_limit_without_allocating_past_it() {
        let zeros = vec![0u8; 16 << 20];
        let mut c = fresh();
        let wire = deflate(&mut c, &zeros);
        assert!(wire.len() < 32 << 10);
        for limit in [0, 1, 1000, 64 << 10] {
            let mut inf = Inflater::new(false);
            let mut out = Vec::new();
            let err = inf
                .feed(&wire, &mut out, limit)
                .and_then(|()| inf.finish_message(&mut out, limit));
            assert_eq!(err, Err(InflateError::TooLarge { size: limit as u64 + 1 }));
            assert!(
                out.capacity() <= limit + 1,
                "capacity {} for limit {limit}",
                out.capacity()
            );
        }
        // Exactly at the limit is fine.
        let mut inf = Inflater::new(false);
        let mut out = Vec::new();
        inf.feed(&wire, &mut out, zeros.len()).unwrap();
        inf.finish_message(&mut out, zeros.len()).unwrap();
        assert_eq!(out.len(), zeros.len());
    }

    #[test]
    fn corrupt_data_and_data_after_a_final_block_fail() {
        let mut inf = Inflater::new(false);
        let mut out = Vec::new();
        // BTYPE 11 is reserved.
        assert!(matches!(
            inf.feed(&[0xff, 0xff], &mut out, 100),
            Err(InflateError::Corrupt(_))
        ));
        // A complete final block (BFINAL=1), then more bytes in the same message.
        let mut c = Compress::new_with_window_bits(Compression::default(), false, 15);
        let mut wire = Vec::with_capacity(64);
        c.compress_vec(b"abc", &mut wire, FlushCompress::Finish).unwrap();
        let mut inf = Inflater::new(false);
        let mut out = Vec::new();
        inf.feed(&wire, &mut out, 100).unwrap();
        assert_eq!(out, b"abc");
        assert!(matches!(inf.feed(&[0], &mut out, 100), Err(InflateError::Corrupt(_))));
        // A final block ends the message cleanly, and the next message starts a new stream.
        let mut inf = Inflater::new(false);
        let mut out = Vec::new();
        inf.feed(&wire, &mut out, 100).unwrap();
        inf.finish_message(&mut out, 100).unwrap();
        let mut out = Vec::new();
        inf.feed(&wire, &mut out, 100).unwrap();
        inf.finish_message(&mut out, 100).unwrap();
        assert_eq!(out, b"abc");
    }

    #[test]
    fn an_empty_compressed_message_inflates_to_nothing_and_leaves_the_context_in_step() {
        // A compressor turns an empty message into one byte; a peer that sends none at all
        // (RSV1 on an empty payload) added nothing to its stream, so nothing is inflated: the
        // tail alone would leave the inflater inside a stored block, and the next message's
        // bytes would be read as that block's contents.
        let mut c = fresh();
        let first = deflate(&mut c, b"hello hello hello hello");
        let third = deflate(&mut c, b"hello hello hello hello");
        for reset in [false, true] {
            let mut inf = Inflater::new(reset);
            let mut out = Vec::new();
            inf.feed(&first, &mut out, 100).unwrap();
            inf.finish_message(&mut out, 100).unwrap();
            let mut empty = Vec::new();
            inf.feed(&[], &mut empty, 100).unwrap();
            inf.finish_message(&mut empty, 100).unwrap();
            assert!(empty.is_empty());
            if !reset {
                let mut out = Vec::new();
                inf.feed(&third, &mut out, 100).unwrap();
                inf.finish_message(&mut out, 100).unwrap();
                assert_eq!(out, b"hello hello hello hello");
            }
        }
        // The one-byte form of an empty message, as compressors send it.
        let mut c = fresh();
        let empty = deflate(&mut c, b"");
        assert_eq!(empty, [0x00]);
        let next = deflate(&mut c, b"abc");
        let mut inf = Inflater::new(false);
        for (wire, text) in [(&empty, &b""[..]), (&next, &b"abc"[..])] {
            let mut out = Vec::new();
            inf.feed(wire, &mut out, 100).unwrap();
            inf.finish_message(&mut out, 100).unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn reset_after_message_forgets_the_window() {
        let mut c = fresh();
        let first = deflate(&mut c, b"abcdefabcdefabcdef");
        let second = deflate(&mut c, b"abcdefabcdefabcdef");
        let mut inf = Inflater::new(true);
        let mut out = Vec::new();
        inf.feed(&first, &mut out, 100).unwrap();
        inf.finish_message(&mut out, 100).unwrap();
        let mut out = Vec::new();
        let result = inf
            .feed(&second, &mut out, 100)
            .and_then(|()| inf.finish_message(&mut out, 100));
        assert!(
            result.is_err() || out != b"abcdefabcdefabcdef",
            "a reset inflater cannot see the first message"
        );
    }
}
