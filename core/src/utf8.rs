//! Incremental UTF-8 validation: a text message is checked piece by piece as its bytes
//! arrive, so an invalid message fails at the first bad byte (Autobahn 6.4.x), while a code
//! point split across frames or reads stays legal (§5.6).

use simdutf8::compat::from_utf8;

/// A streaming validator holding at most three bytes of an incomplete code point.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    partial: [u8; 4],
    partial_len: u8,
}

/// The bytes seen so far can never become valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

/// The length of the sequence a lead byte starts, or `None` for a byte that cannot lead.
fn sequence_len(lead: u8) -> Option<usize> {
    match lead {
        0x00..=0x7F => Some(1),
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no incomplete code point is pending.
    pub fn is_complete(&self) -> bool {
        self.partial_len == 0
    }

    /// Checks the next piece of the message.
    #[inline]
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            data = self.finish_partial(data)?;
            if self.partial_len > 0 {
                return Ok(());
            }
        }
        match from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                // A truncated but so far valid sequence at the end: keep it for the next piece.
                let tail = &data[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Completes the pending code point from the front of `data`; returns what is left.
    fn finish_partial<'a>(&mut self, data: &'a [u8]) -> Result<&'a [u8], InvalidUtf8> {
        let have = self.partial_len as usize;
        let need = sequence_len(self.partial[0]).ok_or(InvalidUtf8)?;
        let take = (need - have).min(data.len());
        let mut seq = [0u8; 4];
        seq[..have].copy_from_slice(&self.partial[..have]);
        seq[have..have + take].copy_from_slice(&data[..take]);
        let len = have + take;
        match from_utf8(&seq[..len]) {
            Ok(_) => {
                self.partial_len = 0;
                Ok(&data[take..])
            }
            Err(e) if e.error_len().is_none() && len < need => {
                self.partial = seq;
                self.partial_len = len as u8;
                Ok(&data[take..])
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the message: an incomplete trailing code point makes it invalid.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        self.partial_len = 0;
        if complete { Ok(()) } else { Err(InvalidUtf8) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn validate_in_pieces(data: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &cut in cuts {
            let cut = cut.clamp(start, data.len());
            v.feed(&data[start..cut])?;
            start = cut;
        }
        v.feed(&data[start..])?;
        v.finish()
    }

    #[test]
    fn split_code_points_are_legal() {
        let text = "κόσμε 𝄞 €".as_bytes();
        for cut in 0..=text.len() {
            assert_eq!(validate_in_pieces(text, &[cut]), Ok(()), "cut {cut}");
        }
        let one_by_one: Vec<usize> = (0..text.len()).collect();
        assert_eq!(validate_in_pieces(text, &one_by_one), Ok(()));
    }

    #[test]
    fn fails_fast_on_the_bad_byte() {
        // Autobahn 6.4.1: valid prefix, then a surrogate-range byte sequence.
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed("κόσμε".as_bytes()), Ok(()));
        assert_eq!(v.feed(&[0xF4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xED]), Ok(()));
        assert_eq!(v.feed(&[0xA0]), Err(InvalidUtf8));
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xFF]), Err(InvalidUtf8));
    }

    #[test]
    fn truncated_at_end_is_invalid() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xE2, 0x82]), Ok(()));
        assert_eq!(v.finish(), Err(InvalidUtf8));
    }

    proptest! {
        #[test]
        fn agrees_with_std_for_any_chunking(data in proptest::collection::vec(any::<u8>(), 0..64), cuts in proptest::collection::vec(0usize..64, 0..8)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let expected = std::str::from_utf8(&data).is_ok();
            prop_assert_eq!(validate_in_pieces(&data, &cuts).is_ok(), expected);
        }

        #[test]
        fn valid_strings_pass_any_chunking(s in "\\PC{0,40}", cuts in proptest::collection::vec(0usize..200, 0..8)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert_eq!(validate_in_pieces(s.as_bytes(), &cuts), Ok(()));
        }
    }
}
