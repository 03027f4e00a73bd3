//! The transport ending without a close handshake (RFC6455-CHECKLIST §3b row F20, §7.1.5):
//! EOF mid-frame, between frames or mid-message closes with code 1006, `ResetWithoutClose`,
//! not clean; whatever complete frames arrived before the EOF are still delivered.

mod common;

use common::*;
use resock_core::{CloseCode, Config, ConnectionError, Event, Initiator, Input, Message, Role};

fn assert_reset(events: &[Event]) {
    let info = closed_info(events);
    assert_eq!(info.code, CloseCode::ABNORMAL);
    assert_eq!(info.error, Some(ConnectionError::ResetWithoutClose));
    assert_eq!(info.initiator, Initiator::Remote);
    assert!(!info.clean);
    assert_eq!(info.reason, "");
}

/// Feeds `input` (whole or byte by byte), then EOF; returns every event.
fn feed_then_eof(role: Role, input: &[u8], bytewise: bool) -> (Peer, Vec<Event>) {
    let mut peer = Peer::open(role, Config::default());
    let mut events = if bytewise {
        peer.feed_bytewise(input)
    } else {
        peer.feed(input);
        Vec::new()
    };
    peer.eof();
    events.extend(peer.events());
    (peer, events)
}

#[test]
fn f20_eof_with_no_close() {
    for role in [Role::Client, Role::Server] {
        let (mut peer, events) = feed_then_eof(role, &[], false);
        assert_reset(&events);
        assert!(peer.conn.is_finished());
        assert_eq!(peer.conn.poll_timeout(), None);
        assert!(
            !parse_frames(&peer.transmit(), role).iter().any(|f| f.opcode == CLOSE),
            "no close frame goes to a transport that is gone"
        );
    }
}

#[test]
fn f20_eof_mid_frame() {
    for role in [Role::Client, Role::Server] {
        let hello = to(role, FIN | TEXT, b"Hello");
        for cut in 1..hello.len() {
            for bytewise in [false, true] {
                let (_, events) = feed_then_eof(role, &hello[..cut], bytewise);
                assert_eq!(events.len(), 1, "cut {cut}: {events:?}");
                assert_reset(&events);
            }
        }
        // Mid-header of a 64-bit length, and mid-payload of a big frame.
        let big = to(role, FIN | BINARY, &[0; 70_000]);
        for cut in [3, 9, 5000, 69_999] {
            let (_, events) = feed_then_eof(role, &big[..cut], false);
            assert_reset(&events);
        }
    }
}

#[test]
fn f20_eof_mid_message_delivers_nothing_partial() {
    for role in [Role::Client, Role::Server] {
        let input = [to(role, TEXT, b"Hel"), to(role, CONT, b"lo")].concat();
        for bytewise in [false, true] {
            let (_, events) = feed_then_eof(role, &input, bytewise);
            assert!(messages(&events).is_empty());
            assert_reset(&events);
        }
    }
}

#[test]
fn f20_complete_frames_before_eof_are_delivered_first() {
    for role in [Role::Client, Role::Server] {
        let input = [
            to(role, FIN | TEXT, b"one"),
            to(role, FIN | PING, b"p"),
            to(role, FIN | BINARY, &[2]),
            to(role, FIN | TEXT, b"tru"),
        ]
        .concat();
        let cut = input.len() - 1;
        // Not drained before the EOF: the lazily decoded frames must still come out.
        let (_, events) = feed_then_eof(role, &input[..cut], false);
        assert_eq!(events.len(), 4, "{events:?}");
        assert_eq!(
            events[..3],
            [
                Event::Message(Message::text("one")),
                Event::Ping(b"p"[..].into()),
                Event::Message(Message::binary(vec![2])),
            ]
        );
        assert_reset(&events);
    }
}

#[test]
fn f20_eof_after_our_close_is_not_clean() {
    let mut peer = Peer::client(Config::default());
    let now = peer.now;
    peer.conn.close(now, CloseCode::NORMAL, "").unwrap();
    let _ = peer.transmit();
    peer.eof();
    let info = closed_info(&peer.events());
    assert_eq!(info.code, CloseCode::ABNORMAL);
    assert_eq!(info.error, Some(ConnectionError::ResetWithoutClose));
    assert!(!info.clean);
    assert_eq!(info.initiator, Initiator::Local);
}

#[test]
fn close_frame_and_eof_in_the_same_batch_is_clean() {
    let mut peer = Peer::client(Config::default());
    peer.feed(&frame(FIN | CLOSE, &close_body(1000, b"")));
    // EOF before the application polled: the close frame is still honoured.
    peer.eof();
    let events = peer.events();
    assert_eq!(
        events[0],
        Event::CloseReceived {
            code: CloseCode::NORMAL,
            reason: String::new()
        }
    );
    let info = closed_info(&events);
    assert_eq!((info.code, info.clean, info.error), (CloseCode::NORMAL, true, None));
}

#[test]
fn transport_error_reports_its_text() {
    let mut peer = Peer::client(Config::default());
    let now = peer.now;
    peer.conn.handle_input(now, Input::TransportError("connection reset"));
    let info = closed_info(&peer.events());
    assert_eq!(info.code, CloseCode::ABNORMAL);
    assert_eq!(info.error, Some(ConnectionError::Transport("connection reset".into())));
    assert!(!info.clean);
    assert!(peer.conn.is_finished());
}

#[test]
fn eof_during_the_opening_handshake() {
    let mut peer = Peer::client_connecting(Config::default());
    let request = peer.transmit();
    let response = switching_response(&request);
    peer.feed(&response[..10]);
    peer.eof();
    let info = closed_info(&peer.events());
    assert!(
        matches!(info.error, Some(ConnectionError::Handshake(_))),
        "{:?}",
        info.error
    );
    assert_eq!(info.code, CloseCode::ABNORMAL);
    assert!(!info.clean);
}
