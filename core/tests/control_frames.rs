//! Control frames the connection must accept (RFC6455-CHECKLIST §3b rows F11, F17–F19):
//! ping, pong and close between fragments, frames after the peer's close, unsolicited pongs,
//! and a ping flood that must not grow memory.

mod common;

use common::*;
use resock_core::{CloseCode, Config, Event, Message, Role};

fn run(role: Role, input: &[u8], bytewise: bool) -> (Peer, Vec<Event>) {
    let mut peer = Peer::open(role, Config::default());
    let events = if bytewise {
        peer.feed_bytewise(input)
    } else {
        peer.feed(input);
        peer.events()
    };
    (peer, events)
}

#[test]
fn f11_ping_between_fragments_is_answered_and_the_message_reassembled() {
    for role in [Role::Client, Role::Server] {
        let input = [
            to(role, TEXT, b"Hel"),
            to(role, FIN | PING, b"hi"),
            to(role, CONT, b""),
            to(role, FIN | PING, b""),
            to(role, FIN | CONT, b"lo"),
        ]
        .concat();
        for bytewise in [false, true] {
            let (mut peer, events) = run(role, &input, bytewise);
            assert_eq!(
                events,
                [
                    Event::Ping(b"hi"[..].into()),
                    Event::Ping(b""[..].into()),
                    Event::Message(Message::text("Hello")),
                ],
                "{role:?} bytewise={bytewise}"
            );
            let sent = peer.sent_frames();
            let pongs: Vec<_> = sent.iter().map(|f| (f.opcode, &f.payload[..])).collect();
            assert_eq!(pongs, [(PONG, &b"hi"[..]), (PONG, &b""[..])]);
            assert!(peer.conn.is_open());
        }
    }
}

#[test]
fn f11_pong_between_fragments_is_surfaced_and_the_message_reassembled() {
    for role in [Role::Client, Role::Server] {
        let input = [
            to(role, BINARY, &[1, 2]),
            to(role, FIN | PONG, b"p"),
            to(role, FIN | CONT, &[3]),
        ]
        .concat();
        for bytewise in [false, true] {
            let (mut peer, events) = run(role, &input, bytewise);
            assert_eq!(
                events,
                [
                    Event::Pong(b"p"[..].into()),
                    Event::Message(Message::binary(vec![1, 2, 3]))
                ]
            );
            assert_eq!(peer.transmit(), Vec::<u8>::new());
        }
    }
}

#[test]
fn f11_close_between_fragments_ends_the_connection_cleanly() {
    for role in [Role::Client, Role::Server] {
        let input = [
            to(role, TEXT, b"Hel"),
            to(role, FIN | CLOSE, &close_body(1000, b"done")),
            to(role, FIN | CONT, b"lo"),
        ]
        .concat();
        for bytewise in [false, true] {
            let (mut peer, mut events) = run(role, &input, bytewise);
            assert_eq!(
                events[0],
                Event::CloseReceived {
                    code: CloseCode::NORMAL,
                    reason: "done".into()
                }
            );
            assert!(messages(&events).is_empty(), "the unfinished message is dropped");
            let sent = peer.sent_frames();
            assert_eq!(sent.len(), 1);
            assert_eq!(sent[0].close_code(), Some(1000));
            peer.eof();
            events.extend(peer.events());
            let info = closed_info(&events);
            assert_eq!((info.code, info.clean, info.error), (CloseCode::NORMAL, true, None));
        }
    }
}

#[test]
fn f17_frames_after_the_peers_close_are_never_surfaced() {
    for role in [Role::Client, Role::Server] {
        let after = [
            to(role, FIN | TEXT, b"late"),
            to(role, FIN | PING, b"late"),
            to(role, FIN | PONG, b"late"),
            to(role, FIN | CLOSE, &close_body(1001, b"")),
            // Even garbage is not looked at.
            vec![0xFF, 0xFF, 0xFF],
        ]
        .concat();
        let close = to(role, FIN | CLOSE, &close_body(1000, b""));
        for bytewise in [false, true] {
            let input = [&close[..], &after[..]].concat();
            let (mut peer, mut events) = run(role, &input, bytewise);
            // Later reads are ignored too.
            peer.feed(&after);
            events.extend(peer.events());
            assert_eq!(
                events[0],
                Event::CloseReceived {
                    code: CloseCode::NORMAL,
                    reason: String::new()
                }
            );
            assert!(
                !events
                    .iter()
                    .any(|e| matches!(e, Event::Message(_) | Event::Ping(_) | Event::Pong(_))),
                "{events:?}"
            );
            let sent = peer.sent_frames();
            assert_eq!(sent.len(), 1, "only the close echo is sent: {sent:?}");
            assert_eq!(sent[0].close_code(), Some(1000));
            peer.eof();
            events.extend(peer.events());
            let info = closed_info(&events);
            assert_eq!((info.code, info.clean, info.error), (CloseCode::NORMAL, true, None));
        }
    }
}

#[test]
fn f17_frames_before_the_close_in_the_same_read_are_delivered() {
    let input = [
        frame(FIN | TEXT, b"one"),
        frame(FIN | PING, b"p"),
        frame(FIN | CLOSE, &close_body(1001, b"bye")),
        frame(FIN | TEXT, b"two"),
    ]
    .concat();
    let (mut peer, events) = run(Role::Client, &input, false);
    assert_eq!(
        events,
        [
            Event::Message(Message::text("one")),
            Event::Ping(b"p"[..].into()),
            Event::CloseReceived {
                code: CloseCode::GOING_AWAY,
                reason: "bye".into()
            },
        ]
    );
    // The pong queued before the close goes out first; nothing follows the close.
    let sent = peer.sent_frames();
    let kinds: Vec<_> = sent.iter().map(|f| f.opcode).collect();
    assert_eq!(kinds, [PONG, CLOSE]);
    assert_eq!(sent[0].payload, b"p");
    assert_eq!(sent[1].close_code(), Some(1001));
}

#[test]
fn f18_unsolicited_pong_is_only_reported() {
    for role in [Role::Client, Role::Server] {
        for payload in [&b""[..], b"Hello", &[0xFF; 125]] {
            for bytewise in [false, true] {
                let (mut peer, events) = run(role, &to(role, FIN | PONG, payload), bytewise);
                assert_eq!(events, [Event::Pong(payload.to_vec().into())]);
                assert_eq!(peer.transmit(), Vec::<u8>::new());
                assert!(peer.conn.is_open());
                assert_eq!(peer.conn.poll_timeout(), None);
            }
        }
    }
}

#[test]
fn pending_pong_goes_out_before_our_close_and_nothing_after_it() {
    let mut peer = Peer::client(Config::default());
    peer.feed(&frame(FIN | PING, b"ping"));
    assert_eq!(peer.events(), [Event::Ping(b"ping"[..].into())]);
    let now = peer.now;
    peer.conn.close(now, CloseCode::NORMAL, "").unwrap();
    // A ping arriving after our close is reported, but no pong follows the close frame.
    peer.feed(&frame(FIN | PING, b"late"));
    assert_eq!(peer.events(), [Event::Ping(b"late"[..].into())]);
    let sent = peer.sent_frames();
    let kinds: Vec<_> = sent.iter().map(|f| f.opcode).collect();
    assert_eq!(kinds, [PONG, CLOSE]);
    assert_eq!(sent[0].payload, b"ping");
}

#[test]
fn f19_ping_flood_keeps_memory_bounded() {
    const PINGS: u32 = 1_000_000;
    const PER_READ: u32 = 1000;
    let mut peer = Peer::client(Config::default());
    let mut pings_seen = 0u32;
    let mut last_pong: Option<u32> = None;
    let mut chunk = Vec::with_capacity(PER_READ as usize * 6);
    for read in 0..PINGS / PER_READ {
        chunk.clear();
        for i in 0..PER_READ {
            chunk.extend(frame(FIN | PING, &(read * PER_READ + i).to_be_bytes()));
        }
        peer.feed(&chunk);
        while let Some(event) = peer.conn.poll_event() {
            match event {
                Event::Ping(p) => {
                    assert_eq!(p[..], pings_seen.to_be_bytes());
                    pings_seen += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            peer.conn.buffered_amount() < 4096,
            "{} bytes buffered after {pings_seen} pings",
            peer.conn.buffered_amount()
        );
        // Drain the transmit side only now and then; every pong must be well-formed and
        // answer one of the pings, newest last.
        if read % 100 == 99 {
            let sent = peer.sent_frames();
            assert!(!sent.is_empty() && sent.len() <= 64, "{} pongs queued", sent.len());
            for pong in sent {
                assert_eq!(pong.opcode, PONG);
                let n = u32::from_be_bytes(pong.payload[..].try_into().expect("4-byte payload"));
                assert!(
                    n < pings_seen && last_pong.is_none_or(|l| n > l),
                    "pong {n} out of order"
                );
                last_pong = Some(n);
            }
            assert_eq!(last_pong, Some(pings_seen - 1), "the latest ping is answered");
        }
    }
    assert_eq!(pings_seen, PINGS);
    assert!(peer.conn.is_open());
}

#[test]
fn pong_payload_matches_ping_exactly() {
    // §5.7: a server answers an unmasked-to-it, masked "Hello" ping with an unmasked pong.
    let mut peer = Peer::server(Config::default());
    peer.feed(&[0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert_eq!(peer.events(), [Event::Ping(b"Hello"[..].into())]);
    assert_eq!(peer.transmit(), [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    // Binary payloads of every length up to 125 come back byte for byte.
    let mut peer = Peer::client(Config::default());
    for len in 0..=125usize {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        peer.feed(&frame(FIN | PING, &payload));
        assert_eq!(peer.events(), [Event::Ping(payload.clone().into())]);
        let sent = peer.sent_frames();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].opcode, &sent[0].payload), (PONG, &payload));
    }
}
