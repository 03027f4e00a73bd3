//! UTF-8 in text messages (RFC6455-CHECKLIST §3b rows F12, F13): invalid text fails with 1007,
//! within a frame, across fragments or truncated at FIN; a code point split across fragments is
//! legal; and the failure comes at the first bad byte, before the rest of the message arrives.

mod common;

use common::*;
use resock_core::{CloseCode, Config, ConnectionError, Event, Message, ProtocolError, Role};

const INVALID: CloseCode = CloseCode::INVALID_PAYLOAD;

fn assert_invalid_utf8(role: Role, input: &[u8]) -> Vec<Event> {
    let events = assert_failing_with(role, Config::default(), input, INVALID);
    match closed_info(&events).error {
        Some(ConnectionError::Protocol(ProtocolError::InvalidUtf8)) => {}
        other => panic!("expected InvalidUtf8, got {other:?}"),
    }
    events
}

/// Byte sequences that are never valid UTF-8, wherever they stand.
const BAD: &[&[u8]] = &[
    &[0xFF],
    &[0xC0, 0x80],             // overlong NUL
    &[0xC3, 0x28],             // bad continuation
    &[0xED, 0xA0, 0x80],       // surrogate U+D800
    &[0xF4, 0x90, 0x80, 0x80], // above U+10FFFF
    &[0x80],                   // lone continuation
    &[0xE0, 0x80, 0xAF],       // overlong
];

#[test]
fn f12_invalid_utf8_in_a_single_frame_text_message() {
    for bad in BAD {
        for role in [Role::Client, Role::Server] {
            let payload = [b"ok ", *bad, b" tail"].concat();
            let events = assert_invalid_utf8(role, &to(role, FIN | TEXT, &payload));
            assert!(messages(&events).is_empty(), "{bad:02x?}");
        }
    }
    // Autobahn 6.3.1: "κόσμε" then an encoded surrogate, then "edited".
    let payload = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";
    assert_invalid_utf8(Role::Client, &frame(FIN | TEXT, payload));
}

#[test]
fn f12_the_same_bytes_are_fine_in_a_binary_message() {
    for bad in BAD {
        let mut peer = Peer::client(Config::default());
        peer.feed(&frame(FIN | BINARY, bad));
        assert_eq!(peer.events(), [Event::Message(Message::binary(bad.to_vec()))]);
    }
}

#[test]
fn f13_invalid_utf8_across_fragments() {
    // Each fragment alone could start or end valid text; together they are invalid.
    let cases: &[&[&[u8]]] = &[
        &[b"\xce", b"\x28"],
        &[b"ab\xed", b"\xa0\x80"],
        &[b"\xf4", b"\x90", b"\x80\x80"],
        &[b"\xe2\x82", b"\xac\xac"],
        &[b"fine", b"", b"\xff"],
    ];
    for pieces in cases {
        for role in [Role::Client, Role::Server] {
            let mut input = Vec::new();
            for (i, piece) in pieces.iter().enumerate() {
                let opcode = if i == 0 { TEXT } else { CONT };
                let fin = if i + 1 == pieces.len() { FIN } else { 0 };
                input.extend(to(role, fin | opcode, piece));
            }
            let events = assert_invalid_utf8(role, &input);
            assert!(messages(&events).is_empty());
        }
    }
}

#[test]
fn f13_truncated_code_point_at_fin() {
    for role in [Role::Client, Role::Server] {
        assert_invalid_utf8(role, &to(role, FIN | TEXT, b"\xce"));
        assert_invalid_utf8(role, &to(role, FIN | TEXT, b"abc\xf0\x9f\x98"));
        let input = [to(role, TEXT, b"a\xe2\x82"), to(role, FIN | CONT, b"")].concat();
        assert_invalid_utf8(role, &input);
        let input = [
            to(role, TEXT, b"\xf0"),
            to(role, CONT, b"\x9f"),
            to(role, FIN | CONT, b"\x98"),
        ]
        .concat();
        assert_invalid_utf8(role, &input);
    }
}

#[test]
fn f13_code_points_split_across_fragments_are_accepted() {
    let text = "κόσμε 😀 €!";
    let bytes = text.as_bytes();
    for role in [Role::Client, Role::Server] {
        for cut in 0..=bytes.len() {
            let input = [to(role, TEXT, &bytes[..cut]), to(role, FIN | CONT, &bytes[cut..])].concat();
            for bytewise in [false, true] {
                let mut peer = Peer::open(role, Config::default());
                let events = if bytewise {
                    peer.feed_bytewise(&input)
                } else {
                    peer.feed(&input);
                    peer.events()
                };
                assert_eq!(events, [Event::Message(Message::text(text))], "cut {cut}");
            }
        }
        // Every byte in its own fragment, with a ping in between each.
        let mut input = to(role, TEXT, &bytes[..1]);
        for b in &bytes[1..bytes.len() - 1] {
            input.extend(to(role, FIN | PING, b""));
            input.extend(to(role, CONT, std::slice::from_ref(b)));
        }
        input.extend(to(role, FIN | CONT, &bytes[bytes.len() - 1..]));
        let mut peer = Peer::open(role, Config::default());
        let events = peer.feed_bytewise(&input);
        assert_eq!(messages(&events), [Message::text(text)]);
        assert_eq!(
            events.len(),
            bytes.len() - 1,
            "one Ping per inner fragment, then the message"
        );
    }
}

#[test]
fn f13_validator_state_does_not_leak_between_messages() {
    let mut peer = Peer::client(Config::default());
    peer.feed(&[frame(FIN | TEXT, "é".as_bytes()), frame(FIN | TEXT, b"x")].concat());
    assert_eq!(messages(&peer.events()), [Message::text("é"), Message::text("x")]);
    // A binary message with a dangling lead byte does not poison the next text message.
    peer.feed(&[frame(FIN | BINARY, b"\xe2"), frame(FIN | TEXT, b"\xac")].concat());
    let events = peer.events();
    assert_eq!(messages(&events), [Message::binary(b"\xe2".to_vec())]);
    assert!(matches!(
        closed_info(&events).error,
        Some(ConnectionError::Protocol(ProtocolError::InvalidUtf8))
    ));
}

#[test]
fn f13_fail_fast_in_the_first_fragment() {
    // Only the first (non-final) fragment arrives: it is already invalid.
    for role in [Role::Client, Role::Server] {
        for bad in BAD {
            let payload = [b"abc", *bad].concat();
            let events = assert_invalid_utf8(role, &to(role, TEXT, &payload));
            assert!(messages(&events).is_empty());
        }
    }
}

#[test]
fn f13_fail_fast_within_a_half_received_frame() {
    // Autobahn 6.4.x: the frame declares 20 bytes, only the first half arrives, and it
    // already holds a byte sequence no continuation can repair.
    let payload: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65";
    assert_eq!(payload.len(), 20);
    for role in [Role::Client, Role::Server] {
        let whole = to(role, FIN | TEXT, payload);
        let header = whole.len() - payload.len();
        // Up to and including 0x90, the first impossible byte.
        assert_invalid_utf8(role, &whole[..header + 13]);
        // Just before it, the prefix is still acceptable.
        let mut peer = Peer::open(role, Config::default());
        peer.feed(&whole[..header + 12]);
        assert_eq!(peer.events(), []);
        assert!(peer.conn.is_open());
    }
    // A long frame: 64 KiB declared, a bad byte in the first 100.
    let mut payload = vec![b'a'; 65536];
    payload[50] = 0xFF;
    let whole = frame(FIN | TEXT, &payload);
    assert_invalid_utf8(Role::Client, &whole[..10 + 100]);
    // The same fail-fast inside a continuation frame.
    let mut input = frame(TEXT, b"good start ");
    let cont = frame(FIN | CONT, b"more \xed\xa0\x80 and more text to come");
    input.extend_from_slice(&cont[..2 + 8]);
    assert_invalid_utf8(Role::Client, &input);
}

#[test]
fn f12_valid_text_of_every_width() {
    let text = "a ß € 😀 \u{10FFFF} \u{FEFF} \u{0}";
    for role in [Role::Client, Role::Server] {
        let mut peer = Peer::open(role, Config::default());
        let events = peer.feed_bytewise(&to(role, FIN | TEXT, text.as_bytes()));
        assert_eq!(events, [Event::Message(Message::text(text))]);
        assert_eq!(messages(&events)[0].as_text(), Some(text));
    }
}
