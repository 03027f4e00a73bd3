//! Edges of the connection that cargo-mutants showed no test pinned down: the bytes waiting
//! for the transport, the configuration getter, a server's rejection, a close reason of exactly
//! 123 bytes, and a transport failure after a clean close.

mod common;

use common::*;
use resock_core::{CloseCode, Config, Connection, ConnectionError, Event, Input, Role};

#[test]
fn buffered_amount_counts_frames_and_pending_pongs_until_transmitted() {
    let mut peer = Peer::open(Role::Client, Config::default());
    assert_eq!(peer.conn.buffered_amount(), 0);
    peer.conn.send_text("hello").unwrap();
    // 2-byte header, 4-byte mask, 5 bytes of payload.
    assert_eq!(peer.conn.buffered_amount(), 11);
    // Two pings arrive: each pong waits as payload plus its 6-byte header and mask.
    let pings = [peer.frame_in(FIN | PING, b"abc"), peer.frame_in(FIN | PING, b"de")].concat();
    peer.feed(&pings);
    let _ = peer.events();
    assert_eq!(peer.conn.buffered_amount(), 11 + (3 + 6) + (2 + 6));
    let written = peer.transmit();
    assert_eq!(written.len(), 11 + 9 + 8);
    assert_eq!(peer.conn.buffered_amount(), 0);
}

#[test]
fn the_configuration_in_force_is_the_one_given() {
    let peer = Peer::open(Role::Client, Config::default().max_frame_size(4321).max_fragments(7));
    assert_eq!(peer.conn.config().max_frame_size, 4321);
    assert_eq!(peer.conn.config().max_fragments, 7);
}

#[test]
fn a_server_rejection_answers_with_the_status_and_ends() {
    let mut server = Connection::server(Config::default(), [1; 32], t0());
    server.handle_input(t0(), Input::Data(&opening_request()));
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server.reject(401, b"token expired");
    let mut out = Vec::new();
    while server.poll_transmit(&mut out).is_some() {}
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.ends_with("token expired"), "{text}");
    assert!(matches!(server.poll_event(), Some(Event::Closed(_))));
    assert!(server.is_finished());
    // A second answer is ignored: nothing more is written.
    server.reject(500, b"again");
    assert!(server.poll_transmit(&mut Vec::new()).is_none());
}

#[test]
fn the_pre_accept_refusal_reports_the_bytes_it_saw() {
    let mut server = Connection::server(Config::default().max_frame_size(100), [1; 32], t0());
    server.handle_input(t0(), Input::Data(&opening_request()));
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server.handle_input(t0(), Input::Data(&[0u8; 90]));
    server.handle_input(t0(), Input::Data(&[0u8; 30]));
    let Some(Event::Closed(info)) = server.poll_event() else {
        panic!("not refused")
    };
    assert!(matches!(
        info.error,
        Some(ConnectionError::Protocol(resock_core::ProtocolError::MessageTooLarge {
            size: 120,
            limit: 100
        }))
    ));
}

#[test]
fn a_close_reason_of_exactly_123_bytes_is_sent_whole() {
    let mut peer = Peer::open(Role::Client, Config::default());
    let reason = "r".repeat(123);
    peer.conn.close(t0(), CloseCode::NORMAL, &reason).unwrap();
    let frames = peer.sent_frames();
    assert_eq!(frames[0].payload.len(), 125);
    let mut peer = Peer::open(Role::Client, Config::default());
    assert!(peer.conn.close(t0(), CloseCode::NORMAL, &"r".repeat(124)).is_err());
}

#[test]
fn a_transport_failure_after_a_clean_close_leaves_it_clean() {
    let mut peer = Peer::open(Role::Client, Config::default());
    let close = peer.frame_in(FIN | CLOSE, &close_body(1000, b"bye"));
    peer.feed(&close);
    let now = peer.now;
    peer.conn
        .handle_input(now, Input::TransportError("connection reset by the peer"));
    let closed = peer
        .events()
        .into_iter()
        .find_map(|e| match e {
            Event::Closed(info) => Some(info),
            _ => None,
        })
        .expect("closed");
    assert_eq!(closed.code, CloseCode::NORMAL);
    assert_eq!(closed.error, None, "the close handshake decided: {closed:?}");
}

/// A whole unfinished data frame during a fragmented message is a protocol error (RFC 6455
/// §5.4), whichever path decodes it: the fast path for whole frames must stay out while a
/// message is open.
#[test]
fn a_whole_data_frame_inside_a_fragmented_message_fails_the_connection() {
    for (first, second) in [(TEXT, FIN | TEXT), (TEXT, FIN | BINARY), (BINARY, FIN | BINARY)] {
        let input = [frame(first, b"part"), frame(second, b"whole")].concat();
        assert_failing(&input, CloseCode::PROTOCOL_ERROR);
        // The second frame in a read of its own, after the first was decoded.
        let mut peer = Peer::open(Role::Client, Config::default());
        peer.feed(&frame(first, b"part"));
        assert!(messages(&peer.events()).is_empty());
        peer.feed(&frame(second, b"whole"));
        let events = peer.events();
        assert!(messages(&events).is_empty(), "{events:?}");
        assert!(closed_info(&events).error.is_some(), "{events:?}");
        let frames = peer.sent_frames();
        assert_eq!(frames.last().and_then(|f| f.close_code()), Some(1002), "{frames:?}");
    }
}

/// A masked frame whose payload arrives in pieces is unmasked once: the fast path must not take
/// a frame whose first bytes the general path already unmasked in place.
#[test]
fn a_masked_frame_split_mid_payload_is_unmasked_once() {
    for payload in [&b"hello, split world"[..], &[0xAB; 200][..]] {
        let input = masked_frame(FIN | BINARY, payload, KEY);
        for split in [input.len() - 1, input.len() - 5, input.len() / 2] {
            let mut peer = Peer::open(Role::Server, Config::default());
            peer.feed(&input[..split]);
            let mut events = peer.events();
            peer.feed(&input[split..]);
            events.extend(peer.events());
            assert_eq!(
                messages(&events),
                [resock_core::Message::binary(payload.to_vec())],
                "split at {split}"
            );
        }
    }
}
