//! The resock / tungstenite differential as a proptest (stable), plus one test per documented
//! intentional difference.

use proptest::prelude::*;
use resock_fuzz::differential::{
    CHECK_ORDER, CLOSE_CODE, EARLY_VALIDATION, End, ErrorClass, HIGH_BIT, LIMITS, Limits, NON_MINIMAL, Verdict,
    compare, resock_outcome,
};
use resock_fuzz::seeds::{frame, masked};

const MEDIUM: Limits = LIMITS[2];

/// One frame of a generated stream.
#[derive(Debug, Clone)]
struct Spec {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: bool,
    /// 0 minimal, 1 16-bit when shorter would do, 2 64-bit when shorter would do.
    length_form: u8,
    payload: Vec<u8>,
}

impl Spec {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.fin) << 7 | (self.rsv & 7) << 4 | (self.opcode & 0xF));
        let m = if self.mask { 0x80 } else { 0 };
        let len = self.payload.len();
        match (self.length_form, len) {
            (0, 0..=125) => out.push(m | len as u8),
            (0 | 1, 0..=0xFFFF) => {
                out.push(m | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(m | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        if self.mask {
            out.extend_from_slice(&[1, 2, 3, 4]);
            out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]));
        } else {
            out.extend_from_slice(&self.payload);
        }
    }
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-zé€😀]{0,40}".prop_map(String::into_bytes),
        2 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => proptest::collection::vec(any::<u8>(), 100..300),
        1 => Just(vec![0xF0, 0x9F]),
        1 => Just(vec![0x98, 0x80]),
        1 => (1000u16..=4000).prop_map(|code| code.to_be_bytes().to_vec()),
    ]
}

/// Mostly valid frames, with every kind of fault sprinkled in.
fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::bool::weighted(0.7),
        prop_oneof![12 => Just(0u8), 1 => 0u8..8],
        prop_oneof![3 => Just(1u8), 3 => Just(2u8), 3 => Just(0u8), 1 => Just(8u8), 2 => Just(9u8), 1 => Just(10u8), 1 => 0u8..16],
        prop::bool::weighted(0.05),
        prop_oneof![20 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        payload(),
    )
        .prop_map(|(fin, rsv, opcode, mask, length_form, payload)| Spec {
            fin: fin || opcode >= 8 && rsv == 0,
            rsv,
            opcode,
            mask,
            length_form,
            payload,
        })
}

/// A valid stream: data messages (possibly fragmented, with pings between fragments).
fn valid_message() -> impl Strategy<Value = (bool, Vec<Vec<u8>>)> {
    (
        any::<bool>(),
        proptest::collection::vec("[a-z€😀]{0,30}".prop_map(String::into_bytes), 1..4),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any stream: the oracle explains every difference.
    #[test]
    fn no_unexplained_difference(
        frames in proptest::collection::vec(spec(), 0..8),
        cut in proptest::option::weighted(0.3, any::<prop::sample::Index>()),
        limits in prop::sample::select(LIMITS.to_vec()),
    ) {
        let mut stream = Vec::new();
        for f in &frames {
            f.encode(&mut stream);
        }
        if let Some(cut) = cut {
            stream.truncate(cut.index(stream.len() + 1));
        }
        let verdict = compare(&stream, limits);
        prop_assert!(!matches!(verdict, Verdict::Mismatch(_)), "{verdict:?}");
    }

    /// Valid streams: both deliver exactly the messages sent.
    #[test]
    fn valid_streams_agree(messages in proptest::collection::vec(valid_message(), 0..6)) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (text, parts) in &messages {
            let n = parts.len();
            for (i, part) in parts.iter().enumerate() {
                let opcode = if i == 0 { if *text { 1 } else { 2 } } else { 0 };
                let fin = if i + 1 == n { 0x80 } else { 0 };
                stream.extend(frame(fin | opcode, part));
                if i + 1 < n {
                    stream.extend(frame(0x89, b"between"));
                }
            }
            expected.push((*text, parts.concat()));
        }
        prop_assert_eq!(compare(&stream, MEDIUM), Verdict::Same);
        prop_assert_eq!(resock_outcome(&stream, MEDIUM).messages, expected);
    }
}

#[test]
fn non_minimal_length_is_an_expected_difference() {
    let stream = [
        &frame(0x81, b"ok")[..],
        &[0x82, 0x7E, 0x00, 0x03, 1, 2, 3],
        &frame(0x81, b"more"),
    ]
    .concat();
    assert_eq!(compare(&stream, MEDIUM), Verdict::ExpectedDifference(NON_MINIMAL));
    let r = resock_outcome(&stream, MEDIUM);
    assert_eq!(r.messages.len(), 1, "resock stops at the non-minimal frame");
    assert_eq!(r.end, End::Error(ErrorClass::Protocol));
}

#[test]
fn high_bit_length_is_an_expected_difference() {
    assert_eq!(
        compare(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1], MEDIUM),
        Verdict::ExpectedDifference(HIGH_BIT)
    );
}

#[test]
fn early_validation_is_an_expected_difference() {
    // Invalid UTF-8 in a text frame whose payload has not fully arrived.
    assert_eq!(
        compare(&[0x81, 0x10, b'o', 0xFF], MEDIUM),
        Verdict::ExpectedDifference(EARLY_VALIDATION)
    );
    // A masked header with its payload still missing.
    assert_eq!(
        compare(&masked(0x81, b"Hello", [1, 2, 3, 4])[..8], MEDIUM),
        Verdict::ExpectedDifference(EARLY_VALIDATION)
    );
}

#[test]
fn unsendable_close_code_is_an_expected_difference() {
    let stream = [&frame(0x81, b"before")[..], &frame(0x88, &1005u16.to_be_bytes())].concat();
    assert_eq!(compare(&stream, MEDIUM), Verdict::ExpectedDifference(CLOSE_CODE));
}

#[test]
fn check_order_is_an_expected_difference() {
    // RSV1 and a length over the frame limit: resock says protocol, tungstenite says size.
    let stream = [&[0xC2, 0x7E, 0x10, 0x00][..], &[0; 4096]].concat();
    assert_eq!(compare(&stream, LIMITS[1]), Verdict::ExpectedDifference(CHECK_ORDER));
}

#[test]
fn same_errors_are_same() {
    for stream in [
        frame(0xC1, b"x"),
        frame(0x83, b""),
        frame(0x80, b"x"),
        frame(0x81, &[0xFF]),
        frame(0x88, &[3]),
    ] {
        assert_eq!(compare(&stream, MEDIUM), Verdict::Same, "{stream:02x?}");
    }
}
