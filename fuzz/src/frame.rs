//! `frame_decode`: the frame header decoder in both roles, the encoder, and masking.
//!
//! Input: one selector byte (frame limit, mask key rotation), then bytes decoded as a run of
//! frames by `decode_header` for a client and for a server.

use resock_core::frame::{
    FrameError, FrameHeader, FrameLimits, OpCode, Role, apply_mask, apply_mask_at, decode_header, encode_frame,
    encoded_len, write_compressed_header, write_header,
};

/// Frame limits the selector byte chooses from: control size, 16-bit edge, 64-bit edge, default.
const LIMITS: [u64; 4] = [125, 0xFFFF, 0x1_0000, 16 << 20];

/// The longest header RFC 6455 allows: 2 + 8 (length) + 4 (mask).
pub const MAX_HEADER: usize = 14;

/// The target body.
pub fn frame_decode(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let limits = FrameLimits::new(LIMITS[usize::from(sel & 3)]).with_rsv1(sel & 4 != 0);
    for role in [Role::Client, Role::Server] {
        walk(rest, role, &limits);
    }
    check_mask(rest, sel);
    check_encode(rest, sel, &limits);
}

/// Decodes frame after frame (skipping payloads) and checks each header.
fn walk(mut buf: &[u8], role: Role, limits: &FrameLimits) {
    for _ in 0..256 {
        match check_header(buf, role, limits) {
            Some((header, n)) => {
                let end = n as u64 + header.payload_len;
                if end > buf.len() as u64 {
                    return;
                }
                buf = &buf[end as usize..];
            }
            None => return,
        }
    }
}

/// Checks one header decode against every prefix and against the encoder; returns it if whole.
pub fn check_header(buf: &[u8], role: Role, limits: &FrameLimits) -> Option<(FrameHeader, usize)> {
    let whole = decode_header(buf, role, limits);
    // Every strict prefix is "partial" or already the final answer: errors show as early as the
    // bytes allow and never change, and no prefix decodes differently.
    for cut in 0..buf.len().min(MAX_HEADER + 1) {
        match decode_header(&buf[..cut], role, limits) {
            Ok(None) => {}
            prefix => assert_eq!(
                prefix,
                whole,
                "prefix of {cut} bytes of {:02x?}",
                &buf[..buf.len().min(16)]
            ),
        }
    }
    match whole {
        Ok(None) => {
            assert!(buf.len() < MAX_HEADER, "asked for more than {MAX_HEADER} header bytes");
            None
        }
        Ok(Some((h, n))) => {
            assert!(n <= buf.len() && n <= MAX_HEADER, "header length {n}");
            assert!(h.payload_len <= limits.max_frame_size, "limit not applied");
            assert!(h.payload_len < 1 << 63);
            if h.opcode.is_control() {
                assert!(h.fin && h.payload_len <= 125, "bad control frame accepted: {h:?}");
            }
            match role {
                Role::Client => assert!(h.mask.is_none(), "masked frame accepted by a client"),
                Role::Server => assert!(h.mask.is_some(), "unmasked frame accepted by a server"),
            }
            if h.rsv1 {
                assert!(limits.rsv1_allowed, "RSV1 accepted with no extension");
                assert!(matches!(h.opcode, OpCode::Text | OpCode::Binary), "RSV1 on {h:?}");
            }
            // Only the minimal encoding is accepted, so re-encoding gives the same bytes.
            let mut again = Vec::new();
            let write = if h.rsv1 { write_compressed_header } else { write_header };
            write(&mut again, h.fin, h.opcode, h.payload_len as usize, h.mask);
            assert_eq!(again, &buf[..n], "re-encoded header differs");
            assert_eq!(
                encoded_len(h.payload_len as usize, h.mask.is_some()),
                n + h.payload_len as usize
            );
            Some((h, n))
        }
        Err(e) => {
            // The error is about the bytes seen: reserved bits and opcodes from the first byte.
            let b0 = buf[0];
            match e {
                FrameError::ReservedBits(bits) => assert_eq!(bits, (b0 >> 4) & 7),
                FrameError::ReservedOpcode(op) => assert!(OpCode::from_u8(op).is_none() && op == b0 & 0xF),
                FrameError::FrameTooLarge { size, limit } => assert!(size > limit),
                _ => {}
            }
            None
        }
    }
}

/// Word-at-a-time masking equals byte-wise masking, whole or split at any point.
fn check_mask(data: &[u8], sel: u8) {
    let key = [sel, sel.rotate_left(3) ^ 0x5A, sel.wrapping_mul(31), !sel];
    let mut whole = data.to_vec();
    apply_mask(&mut whole, key);
    for (i, (m, d)) in whole.iter().zip(data).enumerate() {
        assert_eq!(*m, d ^ key[i % 4], "mask byte {i}");
    }
    let cut = usize::from(sel).min(data.len());
    let mut pieces = data.to_vec();
    let (a, b) = pieces.split_at_mut(cut);
    apply_mask_at(a, key, 0);
    apply_mask_at(b, key, cut);
    assert_eq!(whole, pieces, "piecewise masking differs at cut {cut}");
    apply_mask(&mut whole, key);
    assert_eq!(whole, data, "masking is not an involution");
}

/// A frame built from the input round-trips through the encoder and the decoder.
fn check_encode(data: &[u8], sel: u8, limits: &FrameLimits) {
    let opcodes = [
        OpCode::Text,
        OpCode::Binary,
        OpCode::Continuation,
        OpCode::Ping,
        OpCode::Pong,
        OpCode::Close,
    ];
    let opcode = opcodes[usize::from(sel >> 2) % opcodes.len()];
    let payload = if opcode.is_control() {
        &data[..data.len().min(125)]
    } else {
        data
    };
    let fin = opcode.is_control() || sel & 0x80 != 0;
    for role in [Role::Client, Role::Server] {
        // A client's receiver decodes what a server sends (unmasked), and vice versa.
        let mask = match role {
            Role::Client => None,
            Role::Server => Some([sel, 1, 2, sel ^ 0xFF]),
        };
        let mut wire = Vec::new();
        encode_frame(&mut wire, fin, opcode, payload, mask);
        assert_eq!(wire.len(), encoded_len(payload.len(), mask.is_some()));
        match decode_header(&wire, role, limits) {
            Ok(Some((h, n))) => {
                assert_eq!(
                    (h.fin, h.opcode, h.mask, h.payload_len),
                    (fin, opcode, mask, payload.len() as u64)
                );
                let mut body = wire[n..].to_vec();
                if let Some(key) = h.mask {
                    apply_mask(&mut body, key);
                }
                assert_eq!(body, payload);
            }
            Err(FrameError::FrameTooLarge { .. }) => assert!(payload.len() as u64 > limits.max_frame_size),
            other => panic!("encoded frame did not decode: {other:?}"),
        }
    }
}
