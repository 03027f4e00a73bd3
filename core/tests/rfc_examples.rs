//! The RFC 6455 §5.7 examples as golden vectors through a whole `Connection`, in both
//! directions, plus frames that arrive in the same read as the opening handshake (checklist
//! row H10).

mod common;

use common::*;
use resock_core::{Config, Event, Message, OpCode, Role};

const HELLO_UNMASKED: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const HELLO_MASKED: [u8; 11] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
const HEL_LO: [u8; 9] = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
const PING_HELLO: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const PONG_HELLO_MASKED: [u8; 11] = [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

/// Feeds `input` whole and byte by byte to fresh connections of `role`; both must give
/// `expected` and transmit the same frames, which are returned.
fn check(role: Role, input: &[u8], expected: &[Event]) -> Vec<WireFrame> {
    let mut whole = Peer::open(role, Config::default());
    whole.feed(input);
    assert_eq!(whole.events(), expected);
    let sent = whole.sent_frames();
    let mut bytewise = Peer::open(role, Config::default());
    assert_eq!(bytewise.feed_bytewise(input), expected);
    assert_eq!(bytewise.sent_frames(), sent);
    assert!(whole.conn.is_open() && bytewise.conn.is_open());
    sent
}

#[test]
fn unmasked_hello_to_a_client() {
    let sent = check(Role::Client, &HELLO_UNMASKED, &[Event::Message(Message::text("Hello"))]);
    assert_eq!(sent, []);
}

#[test]
fn masked_hello_to_a_server() {
    let sent = check(Role::Server, &HELLO_MASKED, &[Event::Message(Message::text("Hello"))]);
    assert_eq!(sent, []);
}

#[test]
fn fragmented_hello() {
    check(Role::Client, &HEL_LO, &[Event::Message(Message::text("Hello"))]);
    let masked = [masked_frame(TEXT, b"Hel", KEY), masked_frame(FIN | CONT, b"lo", KEY)].concat();
    check(Role::Server, &masked, &[Event::Message(Message::text("Hello"))]);
}

#[test]
fn ping_hello_gets_pong_hello() {
    let sent = check(Role::Client, &PING_HELLO, &[Event::Ping(b"Hello"[..].into())]);
    assert_eq!(
        sent,
        [WireFrame {
            fin: true,
            opcode: PONG,
            payload: b"Hello".to_vec()
        }]
    );
    // The masked pong of §5.7 reaches a server as a pong "Hello".
    check(Role::Server, &PONG_HELLO_MASKED, &[Event::Pong(b"Hello"[..].into())]);
    let mut server = Peer::server(Config::default());
    server.feed(&masked_frame(FIN | PING, b"Hello", KEY));
    assert_eq!(server.events(), [Event::Ping(b"Hello"[..].into())]);
    assert_eq!(server.transmit(), [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
}

#[test]
fn binary_256_and_65536_bytes() {
    for (len, header) in [
        (256usize, &[0x82u8, 0x7E, 0x01, 0x00][..]),
        (65536, &[0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00][..]),
    ] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let input = [header, &payload].concat();
        assert_eq!(input, frame(FIN | BINARY, &payload));
        check(
            Role::Client,
            &input,
            &[Event::Message(Message::binary(payload.clone()))],
        );
        let masked = masked_frame(FIN | BINARY, &payload, KEY);
        assert_eq!(masked[1], header[1] | 0x80);
        check(Role::Server, &masked, &[Event::Message(Message::binary(payload))]);
    }
}

#[test]
fn a_server_sends_the_unmasked_examples() {
    let mut server = Peer::server(Config::default());
    server.conn.send_text("Hello").unwrap();
    assert_eq!(server.transmit(), HELLO_UNMASKED);
    server.conn.send_fragment(OpCode::Text, b"Hel", false).unwrap();
    server.conn.send_fragment(OpCode::Continuation, b"lo", true).unwrap();
    assert_eq!(server.transmit(), HEL_LO);
    server.conn.send_binary(&[0; 256]).unwrap();
    assert_eq!(server.transmit()[..4], [0x82, 0x7E, 0x01, 0x00]);
    server.conn.send_binary(&[0; 65536]).unwrap();
    let wire = server.transmit();
    assert_eq!(wire[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(wire.len(), 10 + 65536);
    server.conn.ping(b"Hello").unwrap();
    assert_eq!(server.transmit(), PING_HELLO);
}

#[test]
fn a_client_masks_every_frame_with_a_fresh_key() {
    let mut client = Peer::client(Config::default());
    client.conn.send_text("Hello").unwrap();
    client.conn.send_text("Hello").unwrap();
    client.conn.ping(b"Hello").unwrap();
    let wire = client.transmit();
    assert_eq!(wire.len(), 3 * 11);
    let keys: Vec<&[u8]> = wire.chunks(11).map(|f| &f[2..6]).collect();
    assert!(
        keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2],
        "{keys:02x?}"
    );
    let frames = parse_frames(&wire, Role::Client);
    assert!(frames.iter().all(|f| f.payload == b"Hello"));
    assert_eq!(wire[0], 0x81);
    assert_eq!(wire[22], 0x89);
}

#[test]
fn h10_frames_in_the_same_read_as_the_101_response() {
    let frames = [
        HELLO_UNMASKED.to_vec(),
        PING_HELLO.to_vec(),
        HEL_LO.to_vec(),
        HELLO_UNMASKED[..3].to_vec(),
    ]
    .concat();
    for bytewise in [false, true] {
        let mut peer = Peer::client_connecting(Config::default());
        let request = peer.transmit();
        let input = [switching_response(&request), frames.clone()].concat();
        let events = if bytewise {
            peer.feed_bytewise(&input)
        } else {
            peer.feed(&input);
            peer.events()
        };
        assert!(matches!(events[0], Event::Opened(_)), "{events:?}");
        assert_eq!(
            events[1..],
            [
                Event::Message(Message::text("Hello")),
                Event::Ping(b"Hello"[..].into()),
                Event::Message(Message::text("Hello")),
            ]
        );
        let sent = peer.sent_frames();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].opcode, &sent[0].payload[..]), (PONG, &b"Hello"[..]));
        // The rest of the split frame completes it.
        peer.feed(&HELLO_UNMASKED[3..]);
        assert_eq!(peer.events(), [Event::Message(Message::text("Hello"))]);
    }
}

#[test]
fn h10_a_response_split_anywhere_with_a_frame_behind_it() {
    let mut template = Peer::client_connecting(Config::default());
    let request = template.transmit();
    let input = [switching_response(&request), HELLO_UNMASKED.to_vec()].concat();
    for cut in 0..=input.len() {
        let mut peer = Peer::client_connecting(Config::default());
        let _ = peer.transmit();
        peer.feed(&input[..cut]);
        let mut events = peer.events();
        peer.feed(&input[cut..]);
        events.extend(peer.events());
        assert_eq!(events.len(), 2, "cut {cut}: {events:?}");
        assert!(matches!(events[0], Event::Opened(_)));
        assert_eq!(events[1], Event::Message(Message::text("Hello")), "cut {cut}");
    }
}

#[test]
fn h10_frames_in_the_same_read_as_the_opening_request() {
    for bytewise in [false, true] {
        let mut peer = Peer {
            conn: resock_core::Connection::server(Config::default(), [3; 32], t0()),
            now: t0(),
            role: Role::Server,
        };
        let input = [
            opening_request(),
            HELLO_MASKED.to_vec(),
            masked_frame(FIN | PING, b"p", KEY),
        ]
        .concat();
        let events = if bytewise {
            peer.feed_bytewise(&input)
        } else {
            peer.feed(&input);
            peer.events()
        };
        // Nothing but the request until the application accepts it.
        let [Event::Request(request)] = &events[..] else {
            panic!("expected only a Request, got {events:?}");
        };
        assert_eq!(peer.transmit(), Vec::<u8>::new());
        let now = peer.now;
        peer.conn.accept(now, request, None, &[]);
        let events = peer.events();
        assert!(matches!(events[0], Event::Opened(_)));
        assert_eq!(
            events[1..],
            [Event::Message(Message::text("Hello")), Event::Ping(b"p"[..].into())]
        );
        let wire = peer.transmit();
        let head_end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(wire.starts_with(b"HTTP/1.1 101 "));
        assert_eq!(wire[head_end..], [0x8a, 0x01, b'p']);
    }
}
