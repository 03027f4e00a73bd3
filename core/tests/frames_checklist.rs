//! Bad frame headers and bad frame sequences (RFC6455-CHECKLIST §3b rows F1–F10, F21): each
//! must fail the connection with the listed close code, whether fed whole or one byte at a
//! time, and the limits must act from the header alone.

mod common;

use common::*;
use resock_core::{CloseCode, Config, ConnectionError, Event, Message, ProtocolError, Role};

const PROTOCOL: CloseCode = CloseCode::PROTOCOL_ERROR;
const TOO_BIG: CloseCode = CloseCode::MESSAGE_TOO_BIG;

/// The protocol error carried by the `Closed` event.
fn protocol_error(events: &[Event]) -> ProtocolError {
    match closed_info(events).error {
        Some(ConnectionError::Protocol(e)) => e,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn f1_masked_frame_from_server() {
    // §5.7's masked "Hello", sent to a client.
    let input = masked_frame(FIN | TEXT, b"Hello", KEY);
    assert_eq!(
        input,
        [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
    );
    let events = assert_failing(&input, PROTOCOL);
    assert!(messages(&events).is_empty());
    // A masked control frame is refused too, before its mask key arrives.
    assert_failing(&[0x89, 0x80], PROTOCOL);
    assert_failing(&masked_frame(FIN | CLOSE, &close_body(1000, b""), KEY), PROTOCOL);
}

#[test]
fn f1_unmasked_frame_from_client() {
    let events = assert_failing_server(&frame(FIN | TEXT, b"Hello"), PROTOCOL);
    assert!(messages(&events).is_empty());
    assert_failing_server(&[0x89, 0x00], PROTOCOL);
    assert_failing_server(&frame(FIN | CLOSE, &close_body(1000, b"")), PROTOCOL);
}

#[test]
fn f2_reserved_bits() {
    for rsv in 1..=7u8 {
        let b0 = rsv << 4;
        for role in [Role::Client, Role::Server] {
            for input in [
                to(role, FIN | b0 | TEXT, b"x"),
                to(role, FIN | b0 | BINARY, b""),
                to(role, FIN | b0 | PING, b"p"),
                to(role, FIN | b0 | CLOSE, &close_body(1000, b"")),
                // RSV on a continuation frame of an otherwise valid message.
                [to(role, TEXT, b"a"), to(role, FIN | b0 | CONT, b"b")].concat(),
            ] {
                assert_failing_with(role, Config::default(), &input, PROTOCOL);
            }
        }
    }
}

#[test]
fn f3_reserved_opcodes() {
    for opcode in (0x3..=0x7).chain(0xB..=0xF) {
        for role in [Role::Client, Role::Server] {
            let events = assert_failing_with(role, Config::default(), &to(role, FIN | opcode, b"abc"), PROTOCOL);
            assert!(
                matches!(protocol_error(&events), ProtocolError::Frame(_)),
                "opcode {opcode:#x}"
            );
            // Without FIN, and in the middle of a fragmented message.
            assert_failing_with(role, Config::default(), &to(role, opcode, b""), PROTOCOL);
            let input = [to(role, TEXT, b"a"), to(role, FIN | opcode, b"b")].concat();
            assert_failing_with(role, Config::default(), &input, PROTOCOL);
        }
    }
}

#[test]
fn f4_control_frame_over_125_bytes() {
    // A 126-byte ping, whole; the header alone already fails.
    let ping = frame(FIN | PING, &[b'p'; 126]);
    assert_eq!(ping[..4], [0x89, 0x7E, 0x00, 0x7E]);
    assert_failing(&ping, PROTOCOL);
    assert_failing(&ping[..4], PROTOCOL);
    assert_failing(&frame(FIN | PONG, &[0; 126]), PROTOCOL);
    assert_failing(&frame(FIN | CLOSE, &close_body(1000, &[b'r'; 124])), PROTOCOL);
    assert_failing_server(&masked_frame(FIN | PING, &[b'p'; 126], KEY), PROTOCOL);
    // 125 bytes is the limit and is fine.
    let mut peer = Peer::client(Config::default());
    peer.feed(&frame(FIN | PING, &[b'p'; 125]));
    assert_eq!(peer.events(), [Event::Ping(vec![b'p'; 125].into())]);
    let pongs = peer.sent_frames();
    assert_eq!(pongs.len(), 1);
    assert_eq!((pongs[0].opcode, &pongs[0].payload[..]), (PONG, &[b'p'; 125][..]));
}

#[test]
fn f5_fragmented_control_frames() {
    for opcode in [PING, PONG, CLOSE] {
        let events = assert_failing(&frame(opcode, b""), PROTOCOL);
        assert!(matches!(protocol_error(&events), ProtocolError::Frame(_)));
        assert_failing(&frame(opcode, b"hi"), PROTOCOL);
        assert_failing_server(&masked_frame(opcode, b"hi", KEY), PROTOCOL);
        // Inside a fragmented message as well.
        assert_failing(&[frame(BINARY, b"a"), frame(opcode, b"")].concat(), PROTOCOL);
    }
}

#[test]
fn f6_non_minimal_lengths() {
    // 125 bytes in the 16-bit form, and 0 bytes in the 16-bit form.
    let mut input = vec![0x82, 0x7E, 0x00, 0x7D];
    input.extend_from_slice(&[0; 125]);
    assert_failing(&input, PROTOCOL);
    assert_failing(&[0x82, 0x7E, 0x00, 0x00], PROTOCOL);
    // 65535 and 126 bytes in the 64-bit form; the header alone fails.
    let mut input = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF];
    input.extend_from_slice(&[0; 65535]);
    assert_failing(&input[..10], PROTOCOL);
    assert_failing(&input[..200], PROTOCOL);
    assert_failing(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7E], PROTOCOL);
    assert_failing(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0], PROTOCOL);
    // A server sees the same with the mask bit set.
    assert_failing_server(&[0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0, 0, 0], PROTOCOL);
    assert_failing_server(&[0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x00], PROTOCOL);
    let events = assert_failing(&[0x81, 0x7E, 0x00, 0x01, b'a'], PROTOCOL);
    assert!(matches!(protocol_error(&events), ProtocolError::Frame(_)));
}

#[test]
fn f6_minimal_lengths_at_the_boundaries_are_accepted() {
    for len in [0, 125, 126, 65535, 65536] {
        let mut peer = Peer::client(Config::default());
        let input = frame(FIN | BINARY, &vec![0xAB; len]);
        peer.feed(&input);
        assert_eq!(
            peer.events(),
            [Event::Message(Message::binary(vec![0xAB; len]))],
            "{len}"
        );
    }
}

#[test]
fn f7_64_bit_length_with_the_high_bit_set() {
    assert_failing(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0], PROTOCOL);
    assert_failing(&[0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], PROTOCOL);
    // The high bit is refused as soon as its byte arrives.
    let events = assert_failing(&[0x82, 0x7F, 0x80], PROTOCOL);
    assert!(matches!(protocol_error(&events), ProtocolError::Frame(_)));
    assert_failing_server(&[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4], PROTOCOL);
}

#[test]
fn f8_frame_over_max_frame_size_fails_from_the_header() {
    // Default limit (16 MiB): no payload byte is needed to refuse these.
    for header in [
        [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        [0x82, 0x7F, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],
        [0x81, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01],
    ] {
        let events = assert_failing(&header, TOO_BIG);
        assert!(matches!(protocol_error(&events), ProtocolError::Frame(_)));
    }
    // A small limit: 1001 bytes fails, 1000 passes.
    let config = Config::default().max_frame_size(1000);
    assert_failing_with(Role::Client, config.clone(), &[0x82, 0x7E, 0x03, 0xE9], TOO_BIG);
    assert_failing_with(Role::Server, config.clone(), &[0x82, 0xFE, 0x03, 0xE9], TOO_BIG);
    // The limit holds for each fragment of a message.
    let input = [frame(BINARY, &[1; 1000]), vec![0x80, 0x7E, 0x03, 0xE9]].concat();
    assert_failing_with(Role::Client, config.clone(), &input, TOO_BIG);
    let mut peer = Peer::client(config);
    peer.feed(&frame(FIN | BINARY, &[1; 1000]));
    assert_eq!(peer.events(), [Event::Message(Message::binary(vec![1; 1000]))]);
}

#[test]
fn f8_message_over_max_message_size() {
    let config = Config::default().max_message_size(100);
    // 60 + 60 bytes: the second header alone pushes the message past the limit.
    let input = [frame(BINARY, &[1; 60]), vec![0x80, 60]].concat();
    let events = assert_failing_with(Role::Client, config.clone(), &input, TOO_BIG);
    assert!(matches!(
        protocol_error(&events),
        ProtocolError::MessageTooLarge { limit: 100, .. }
    ));
    let input = [
        frame(TEXT, b"0123456789"),
        frame(CONT, &[b'a'; 45]),
        frame(CONT, &[b'b'; 46]),
    ]
    .concat();
    assert_failing_with(Role::Client, config.clone(), &input, TOO_BIG);
    let input = [
        masked_frame(BINARY, &[1; 60], KEY),
        masked_frame(FIN | CONT, &[2; 60], KEY),
    ]
    .concat();
    assert_failing_with(Role::Server, config.clone(), &input, TOO_BIG);
    // A single frame over the message limit (but under the frame limit) fails too.
    assert_failing_with(Role::Client, config.clone(), &[0x82, 101], TOO_BIG);

    // Exactly 100 bytes is accepted, and the count starts over with the next message.
    let mut peer = Peer::client(config);
    for _ in 0..3 {
        peer.feed(&[frame(BINARY, &[1; 60]), frame(FIN | CONT, &[2; 40])].concat());
        let events = peer.events();
        assert_eq!(messages(&events).len(), 1, "{events:?}");
        assert_eq!(messages(&events)[0].len(), 100);
    }
}

#[test]
fn f9_continuation_with_nothing_to_continue() {
    assert_failing(&frame(FIN | CONT, b""), PROTOCOL);
    assert_failing(&frame(FIN | CONT, b"abc"), PROTOCOL);
    let events = assert_failing(&frame(CONT, b"abc"), PROTOCOL);
    assert_eq!(protocol_error(&events), ProtocolError::UnexpectedContinuation);
    assert_failing_server(&masked_frame(FIN | CONT, b"abc", KEY), PROTOCOL);
    // Right after a complete message: the message is delivered, then the connection fails.
    let input = [frame(FIN | TEXT, b"A"), frame(FIN | CONT, b"B")].concat();
    let events = assert_failing(&input, PROTOCOL);
    assert_eq!(messages(&events), [Message::text("A")]);
    let input = [frame(TEXT, b"A"), frame(FIN | CONT, b"B"), frame(CONT, b"C")].concat();
    let events = assert_failing(&input, PROTOCOL);
    assert_eq!(messages(&events), [Message::text("AB")]);
}

#[test]
fn f10_new_data_frame_while_a_message_is_open() {
    for (first, second) in [(TEXT, TEXT), (TEXT, BINARY), (BINARY, TEXT), (BINARY, BINARY)] {
        let input = [frame(first, b"A"), frame(FIN | second, b"B")].concat();
        let events = assert_failing(&input, PROTOCOL);
        assert_eq!(protocol_error(&events), ProtocolError::ExpectedContinuation);
        assert!(messages(&events).is_empty());
        // After a continuation, too, and without FIN on the intruder.
        let input = [frame(first, b"A"), frame(CONT, b"B"), frame(second, b"C")].concat();
        assert_failing(&input, PROTOCOL);
        let input = [masked_frame(first, b"A", KEY), masked_frame(FIN | second, b"B", KEY)].concat();
        assert_failing_server(&input, PROTOCOL);
    }
}

#[test]
fn f21_more_fragments_than_max_fragments() {
    let config = Config::default().max_fragments(16);
    // 16 empty frames make one (empty) message.
    let mut sixteen = frame(TEXT, b"");
    for _ in 0..14 {
        sixteen.extend(frame(CONT, b""));
    }
    sixteen.extend(frame(FIN | CONT, b""));
    let mut peer = Peer::client(config.clone());
    peer.feed(&sixteen);
    peer.feed(&sixteen);
    assert_eq!(messages(&peer.events()), [Message::text(""), Message::text("")]);

    // A 17th frame fails with 1008, before the message ends, empty or not.
    let mut seventeen = frame(BINARY, b"");
    for _ in 0..15 {
        seventeen.extend(frame(CONT, b""));
    }
    let input = [&seventeen[..], &[0x00, 0x00]].concat();
    let events = assert_failing_with(Role::Client, config.clone(), &input, CloseCode::POLICY_VIOLATION);
    assert_eq!(protocol_error(&events), ProtocolError::TooManyFragments { limit: 16 });
    assert_failing_with(
        Role::Client,
        config.clone(),
        &[seventeen.clone(), frame(FIN | CONT, b"x")].concat(),
        CloseCode::POLICY_VIOLATION,
    );
    // Control frames between fragments do not count.
    let mut with_pings = Vec::new();
    for chunk in sixteen.chunks(2) {
        with_pings.extend_from_slice(chunk);
        with_pings.extend(frame(FIN | PING, b""));
    }
    let mut peer = Peer::client(config.clone());
    peer.feed(&with_pings);
    assert_eq!(messages(&peer.events()), [Message::text("")]);

    let mut masked = Vec::new();
    for i in 0..17 {
        masked.extend(masked_frame(if i == 0 { BINARY } else { CONT }, b"", KEY));
    }
    assert_failing_with(Role::Server, config, &masked, CloseCode::POLICY_VIOLATION);
}

#[test]
#[should_panic(expected = "expected exactly one Closed")]
fn harness_rejects_input_that_does_not_fail() {
    assert_failing(&frame(FIN | TEXT, b"fine"), PROTOCOL);
}

#[test]
#[should_panic(expected = "wrong code")]
fn harness_rejects_the_wrong_code() {
    assert_failing(&frame(FIN | PING, &[0; 126]), TOO_BIG);
}

/// A whole unfragmented frame takes the receive fast path, a frame fed byte by byte the general
/// one; `assert_failing_with` feeds both ways and demands the same outcome.
#[test]
fn whole_frames_respect_the_limits_of_the_general_path() {
    for role in [Role::Client, Role::Server] {
        // max_fragments 0: even an empty message is one fragment too many.
        let config = Config::default().max_fragments(0);
        let events = assert_failing_with(role, config, &to(role, FIN | TEXT, b""), CloseCode::POLICY_VIOLATION);
        assert!(matches!(
            closed_info(&events).error,
            Some(ConnectionError::Protocol(ProtocolError::TooManyFragments { limit: 0 }))
        ));
        // One byte above the message limit, with a 16-bit length.
        let config = Config::default().max_message_size(200);
        assert_failing_with(
            role,
            config,
            &to(role, FIN | BINARY, &[0u8; 201]),
            CloseCode::MESSAGE_TOO_BIG,
        );
        // Exactly at the limit is fine, whole or byte by byte.
        for bytewise in [false, true] {
            let mut peer = Peer::open(role, Config::default().max_message_size(200));
            let frame = to(role, FIN | TEXT, &[b'a'; 200]);
            let events = if bytewise {
                peer.feed_bytewise(&frame)
            } else {
                peer.feed(&frame);
                peer.events()
            };
            assert_eq!(messages(&events), vec![Message::text("a".repeat(200))]);
        }
        // Invalid UTF-8 in a whole frame fails like it does byte by byte.
        assert_failing_with(
            role,
            Config::default(),
            &to(role, FIN | TEXT, b"ok\xff"),
            CloseCode::INVALID_PAYLOAD,
        );
    }
}
