//! The frame encoder: header and payload appended to a caller buffer, masked in place.

use super::{OpCode, apply_mask};

/// The number of bytes a frame with this payload length and masking takes on the wire.
#[inline]
pub fn encoded_len(payload_len: usize, masked: bool) -> usize {
    let len_bytes = match payload_len {
        0..=125 => 0,
        126..=0xFFFF => 2,
        _ => 8,
    };
    2 + len_bytes + if masked { 4 } else { 0 } + payload_len
}

/// Appends a frame header, always using the minimal length encoding.
#[inline]
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: OpCode, payload_len: usize, mask: Option<[u8; 4]>) {
    write_first_bytes(out, (u8::from(fin) << 7) | opcode.as_u8(), payload_len, mask);
}

/// Appends the header of the first frame of a compressed message: like [`write_header`],
/// with RSV1 set (RFC 7692 §6).
#[inline]
pub fn write_compressed_header(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: OpCode,
    payload_len: usize,
    mask: Option<[u8; 4]>,
) {
    write_first_bytes(out, (u8::from(fin) << 7) | 0x40 | opcode.as_u8(), payload_len, mask);
}

#[inline]
fn write_first_bytes(out: &mut Vec<u8>, b0: u8, payload_len: usize, mask: Option<[u8; 4]>) {
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload_len {
        0..=125 => out.extend_from_slice(&[b0, mask_bit | payload_len as u8]),
        126..=0xFFFF => {
            let len = (payload_len as u16).to_be_bytes();
            out.extend_from_slice(&[b0, mask_bit | 126, len[0], len[1]]);
        }
        _ => {
            out.extend_from_slice(&[b0, mask_bit | 127]);
            out.extend_from_slice(&(payload_len as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// Appends a whole frame to `out`; with a key, the payload copy is masked in place.
#[inline]
pub fn encode_frame(out: &mut Vec<u8>, fin: bool, opcode: OpCode, payload: &[u8], mask: Option<[u8; 4]>) {
    out.reserve(encoded_len(payload.len(), mask.is_some()));
    write_header(out, fin, opcode, payload.len(), mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameLimits, Role, apply_mask, decode_header};
    use proptest::prelude::*;

    #[test]
    fn rfc_5_7_vectors() {
        let mut out = Vec::new();
        encode_frame(&mut out, true, OpCode::Text, b"Hello", None);
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        encode_frame(&mut out, true, OpCode::Text, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        out.clear();
        encode_frame(&mut out, false, OpCode::Text, b"Hel", None);
        encode_frame(&mut out, true, OpCode::Continuation, b"lo", None);
        assert_eq!(out, [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
        out.clear();
        encode_frame(&mut out, true, OpCode::Ping, b"Hello", None);
        assert_eq!(out, [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        encode_frame(&mut out, true, OpCode::Pong, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(out, [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        out.clear();
        encode_frame(&mut out, true, OpCode::Binary, &[0u8; 256], None);
        assert_eq!(out[..4], [0x82, 0x7E, 0x01, 0x00]);
        out.clear();
        encode_frame(&mut out, true, OpCode::Binary, &vec![0u8; 65536], None);
        assert_eq!(out[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(
            payload in proptest::collection::vec(any::<u8>(), 0..70_000),
            fin: bool,
            binary: bool,
            key: Option<[u8; 4]>,
        ) {
            let opcode = if binary { OpCode::Binary } else { OpCode::Text };
            let mut out = Vec::new();
            encode_frame(&mut out, fin, opcode, &payload, key);
            prop_assert_eq!(out.len(), encoded_len(payload.len(), key.is_some()));
            let role = if key.is_some() { Role::Server } else { Role::Client };
            let limits = FrameLimits::new(1 << 20);
            let (header, n) = decode_header(&out, role, &limits).unwrap().unwrap();
            prop_assert_eq!(header.fin, fin);
            prop_assert_eq!(header.opcode, opcode);
            prop_assert_eq!(header.mask, key);
            prop_assert_eq!(header.payload_len as usize, payload.len());
            let mut body = out[n..].to_vec();
            if let Some(k) = key {
                apply_mask(&mut body, k);
            }
            prop_assert_eq!(body, payload);
        }
    }
}
