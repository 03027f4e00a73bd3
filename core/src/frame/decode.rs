//! The incremental frame header decoder.

use super::{FrameError, FrameHeader, OpCode, Role};

/// What the decoder checks from the header alone, before any payload byte is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameLimits {
    /// Largest accepted payload of a single frame.
    pub max_frame_size: u64,
    /// RSV1 may mark the first frame of a data message (permessage-deflate was agreed).
    pub rsv1_allowed: bool,
}

impl FrameLimits {
    /// Limits for a connection with no extension: frames up to `max_frame_size`, no RSV bit.
    pub const fn new(max_frame_size: u64) -> Self {
        FrameLimits {
            max_frame_size,
            rsv1_allowed: false,
        }
    }

    /// Lets RSV1 mark compressed messages, as permessage-deflate does.
    pub const fn with_rsv1(mut self, allowed: bool) -> Self {
        self.rsv1_allowed = allowed;
        self
    }
}

/// Decodes a frame header from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((header, header_len)))` when a whole
/// header is present, and an error as soon as the bytes seen so far are invalid: a bad first
/// byte is rejected even before the length bytes arrive. `role` is the role of the *receiver*.
#[inline]
pub fn decode_header(buf: &[u8], role: Role, limits: &FrameLimits) -> Result<Option<(FrameHeader, usize)>, FrameError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let rsv = (b0 >> 4) & 0x7;
    let rsv1 = rsv & 0b100 != 0;
    if rsv & 0b011 != 0 || (rsv1 && !limits.rsv1_allowed) {
        return Err(FrameError::ReservedBits(rsv));
    }
    let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(FrameError::ReservedOpcode(b0 & 0x0F))?;
    if rsv1 && !matches!(opcode, OpCode::Text | OpCode::Binary) {
        return Err(FrameError::MisplacedRsv1(opcode));
    }
    let fin = b0 & 0x80 != 0;
    if opcode.is_control() && !fin {
        return Err(FrameError::FragmentedControl);
    }
    let Some(&b1) = buf.get(1) else {
        return Ok(None);
    };
    let masked = b1 & 0x80 != 0;
    match (role, masked) {
        (Role::Client, true) => return Err(FrameError::MaskedFromServer),
        (Role::Server, false) => return Err(FrameError::UnmaskedFromClient),
        _ => {}
    }
    let short_len = b1 & 0x7F;
    let (payload_len, mut pos) = match short_len {
        126 => {
            let Some(bytes) = buf.get(2..4) else {
                return Ok(None);
            };
            let len = u16::from_be_bytes([bytes[0], bytes[1]]) as u64;
            if len < 126 {
                return Err(FrameError::NonMinimalLength);
            }
            (len, 4)
        }
        127 => {
            let Some(bytes) = buf.get(2..10) else {
                // Reject a set high bit as soon as its byte is here.
                if buf.get(2).is_some_and(|b| b & 0x80 != 0) {
                    return Err(FrameError::LengthHighBit);
                }
                return Ok(None);
            };
            let mut raw = [0u8; 8];
            raw.copy_from_slice(bytes);
            let len = u64::from_be_bytes(raw);
            if len >> 63 != 0 {
                return Err(FrameError::LengthHighBit);
            }
            if len <= 0xFFFF {
                return Err(FrameError::NonMinimalLength);
            }
            (len, 10)
        }
        n => (n as u64, 2),
    };
    if opcode.is_control() && payload_len > 125 {
        return Err(FrameError::ControlTooLong(payload_len));
    }
    if payload_len > limits.max_frame_size {
        return Err(FrameError::FrameTooLarge {
            size: payload_len,
            limit: limits.max_frame_size,
        });
    }
    let mask = if masked {
        let Some(bytes) = buf.get(pos..pos + 4) else {
            return Ok(None);
        };
        pos += 4;
        Some([bytes[0], bytes[1], bytes[2], bytes[3]])
    } else {
        None
    };
    Ok(Some((
        FrameHeader {
            fin,
            rsv1,
            opcode,
            mask,
            payload_len,
        },
        pos,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FrameLimits = FrameLimits::new(16 << 20);

    /// Decodes `bytes` whole, then checks that every strict prefix answers "partial" or the same error.
    fn decode_all_ways(bytes: &[u8], role: Role) -> Result<Option<(FrameHeader, usize)>, FrameError> {
        let whole = decode_header(bytes, role, &LIMITS);
        for cut in 0..bytes.len() {
            match decode_header(&bytes[..cut], role, &LIMITS) {
                Ok(None) => {}
                Ok(Some(h)) => assert_eq!(Ok(Some(h)), whole, "prefix {cut} decoded differently"),
                Err(e) => assert_eq!(Err(e), whole, "prefix {cut} failed differently"),
            }
        }
        whole
    }

    #[test]
    fn rfc_examples_decode() {
        // §5.7: a single-frame unmasked text message "Hello".
        let (h, n) = decode_all_ways(&[0x81, 0x05, 0x48, 0x65], Role::Client)
            .unwrap()
            .unwrap();
        assert_eq!(n, 2);
        assert!(h.fin);
        assert_eq!(h.opcode, OpCode::Text);
        assert_eq!(h.payload_len, 5);
        // §5.7: masked "Hello" at a server.
        let (h, n) = decode_all_ways(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d], Role::Server)
            .unwrap()
            .unwrap();
        assert_eq!(n, 6);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        // §5.7: 256 bytes binary, 16-bit length; 64 KiB binary, 64-bit length.
        let (h, n) = decode_all_ways(&[0x82, 0x7E, 0x01, 0x00], Role::Client)
            .unwrap()
            .unwrap();
        assert_eq!((h.payload_len, n), (256, 4));
        let (h, n) = decode_all_ways(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], Role::Client)
            .unwrap()
            .unwrap();
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn rejects_bad_headers() {
        let cases: &[(&[u8], Role, FrameError)] = &[
            (&[0xC1, 0x00], Role::Client, FrameError::ReservedBits(4)),
            (&[0xF1, 0x00], Role::Client, FrameError::ReservedBits(7)),
            (&[0x83, 0x00], Role::Client, FrameError::ReservedOpcode(3)),
            (&[0x8B, 0x00], Role::Client, FrameError::ReservedOpcode(0xB)),
            (&[0x09, 0x00], Role::Client, FrameError::FragmentedControl),
            (&[0x89, 0x7E, 0x00, 0x7E], Role::Client, FrameError::ControlTooLong(126)),
            (&[0x81, 0x80, 1, 2, 3, 4], Role::Client, FrameError::MaskedFromServer),
            (&[0x81, 0x00], Role::Server, FrameError::UnmaskedFromClient),
            (&[0x82, 0x7E, 0x00, 0x7D], Role::Client, FrameError::NonMinimalLength),
            (
                &[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
                Role::Client,
                FrameError::NonMinimalLength,
            ),
            (
                &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
                Role::Client,
                FrameError::LengthHighBit,
            ),
            (
                &[0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                Role::Client,
                FrameError::FrameTooLarge {
                    size: 0x7FFF_FFFF_FFFF_FFFF,
                    limit: 16 << 20,
                },
            ),
            (
                &[0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0],
                Role::Client,
                FrameError::FrameTooLarge {
                    size: 1 << 32,
                    limit: 16 << 20,
                },
            ),
        ];
        for (bytes, role, err) in cases {
            assert_eq!(decode_all_ways(bytes, *role), Err(err.clone()), "{bytes:02x?}");
            // Fed one byte at a time, the error shows no later than the whole header.
            let first_err = (1..=bytes.len()).find_map(|n| decode_header(&bytes[..n], *role, &LIMITS).err());
            assert_eq!(first_err.as_ref(), Some(err));
        }
    }

    #[test]
    fn rsv1_only_where_permessage_deflate_puts_it() {
        let deflate = LIMITS.with_rsv1(true);
        let decode = |bytes: &[u8], limits: &FrameLimits| decode_header(bytes, Role::Client, limits);
        // Without the extension, RSV1 is reserved on every frame.
        assert_eq!(decode(&[0xC1, 0x00], &LIMITS), Err(FrameError::ReservedBits(4)));
        // With it: the first frame of a text or binary message, fragmented or not.
        for b0 in [0xC1, 0xC2, 0x41, 0x42] {
            let (h, _) = decode(&[b0, 0x00], &deflate).unwrap().unwrap();
            assert!(h.rsv1);
        }
        let (h, _) = decode(&[0x81, 0x00], &deflate).unwrap().unwrap();
        assert!(!h.rsv1);
        // Never on a continuation or a control frame; RSV2 and RSV3 stay reserved.
        for (b0, op) in [
            (0xC0, OpCode::Continuation),
            (0x40, OpCode::Continuation),
            (0xC8, OpCode::Close),
            (0xC9, OpCode::Ping),
            (0xCA, OpCode::Pong),
        ] {
            assert_eq!(
                decode(&[b0, 0x00], &deflate),
                Err(FrameError::MisplacedRsv1(op)),
                "{b0:#x}"
            );
        }
        assert_eq!(decode(&[0xE1, 0x00], &deflate), Err(FrameError::ReservedBits(6)));
        assert_eq!(decode(&[0xA1, 0x00], &deflate), Err(FrameError::ReservedBits(2)));
        assert_eq!(decode(&[0x91, 0x00], &deflate), Err(FrameError::ReservedBits(1)));
    }

    #[test]
    fn high_bit_rejected_before_length_completes() {
        assert_eq!(
            decode_header(&[0x82, 0x7F, 0x80], Role::Client, &LIMITS),
            Err(FrameError::LengthHighBit)
        );
    }

    #[test]
    fn close_codes_for_errors() {
        use crate::close::CloseCode;
        assert_eq!(FrameError::NonMinimalLength.close_code(), CloseCode::PROTOCOL_ERROR);
        assert_eq!(
            FrameError::FrameTooLarge { size: 2, limit: 1 }.close_code(),
            CloseCode::MESSAGE_TOO_BIG
        );
    }
}
