//! The close handshake in both directions and both roles (RFC 6455 §5.5.1, §7.1), and the
//! timeouts that bound it and the opening handshake (checklist row T2): who sends what, when
//! `Closed` is reported, and what `CloseInfo` says.

mod common;

use std::time::Duration;

use common::*;
use resock_core::{CloseCode, CloseError, Config, ConnectionError, Event, Initiator, Message, SendError};

const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn client_initiated_close() {
    let mut peer = Peer::client(Config::default());
    let now = peer.now;
    peer.conn.close(now, CloseCode::NORMAL, "bye").unwrap();
    assert!(!peer.conn.is_open());
    assert!(!peer.conn.is_finished());
    assert_eq!(peer.conn.send_text("no"), Err(SendError::Closed));
    assert_eq!(peer.conn.ping(b"no"), Err(SendError::Closed));
    assert_eq!(
        peer.conn.close(now, CloseCode::NORMAL, ""),
        Err(CloseError::AlreadyClosing)
    );
    let wire = peer.transmit();
    // Masked (§5.1), and the payload unmasks to code 1000 + "bye".
    assert_eq!(wire[0], 0x88);
    assert_eq!(wire[1], 0x80 | 5);
    let sent = parse_frames(&wire, peer.role);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].payload, close_body(1000, b"bye"));
    assert_eq!(peer.conn.poll_timeout(), Some(now + CLOSE_TIMEOUT));
    assert_eq!(peer.events(), []);

    // The server replies; the client waits for the TCP close.
    peer.now += Duration::from_secs(1);
    peer.feed(&frame(FIN | CLOSE, &close_body(1000, b"")));
    assert_eq!(
        peer.events(),
        [Event::CloseReceived {
            code: CloseCode::NORMAL,
            reason: String::new()
        }]
    );
    assert_eq!(peer.transmit(), Vec::<u8>::new(), "the client does not answer a reply");
    assert!(!peer.conn.is_finished());
    assert!(peer.conn.poll_timeout().is_some());
    peer.eof();
    let info = closed_info(&peer.events());
    assert_eq!(info.code, CloseCode::NORMAL);
    assert_eq!(info.initiator, Initiator::Local);
    assert!(info.clean);
    assert_eq!(info.error, None);
    assert!(peer.conn.is_finished());
    assert_eq!(peer.conn.poll_timeout(), None);
}

#[test]
fn messages_before_the_servers_reply_are_still_delivered() {
    let mut peer = Peer::client(Config::default());
    let now = peer.now;
    peer.conn.close(now, CloseCode::GOING_AWAY, "").unwrap();
    let _ = peer.transmit();
    let input = [
        frame(FIN | TEXT, b"in flight"),
        frame(FIN | CLOSE, &close_body(1001, b"")),
    ]
    .concat();
    let events = peer.feed_bytewise(&input);
    assert_eq!(
        events,
        [
            Event::Message(Message::text("in flight")),
            Event::CloseReceived {
                code: CloseCode::GOING_AWAY,
                reason: String::new()
            }
        ]
    );
    peer.eof();
    let info = closed_info(&peer.events());
    assert_eq!((info.initiator, info.clean), (Initiator::Local, true));
}

#[test]
fn server_initiated_close_is_echoed_then_closed_on_eof() {
    let mut peer = Peer::client(Config::default());
    peer.now += Duration::from_secs(5);
    peer.feed(&frame(FIN | CLOSE, &close_body(1001, b"restart")));
    assert_eq!(
        peer.events(),
        [Event::CloseReceived {
            code: CloseCode::GOING_AWAY,
            reason: "restart".into()
        }]
    );
    let sent = peer.sent_frames();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].close_code(), Some(1001), "the code is echoed");
    assert_eq!(peer.conn.send_text("x"), Err(SendError::Closed));
    assert_eq!(peer.conn.poll_timeout(), Some(peer.now + CLOSE_TIMEOUT));
    peer.advance(Duration::from_secs(9));
    assert_eq!(peer.events(), [], "before the deadline nothing happens");
    peer.eof();
    let info = closed_info(&peer.events());
    assert_eq!(info.code, CloseCode::GOING_AWAY);
    assert_eq!(info.reason, "restart");
    assert_eq!(info.initiator, Initiator::Remote);
    assert!(info.clean);
    assert_eq!(info.error, None);
}

#[test]
fn server_initiated_close_then_no_eof_until_close_timeout() {
    let mut peer = Peer::client(Config::default().close_timeout(Duration::from_secs(3)));
    peer.feed(&frame(FIN | CLOSE, &close_body(1000, b"")));
    let _ = peer.events();
    let _ = peer.transmit();
    let deadline = peer.conn.poll_timeout().expect("the client waits for the TCP close");
    assert_eq!(deadline, peer.now + Duration::from_secs(3));
    peer.conn.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(peer.events(), []);
    peer.conn.handle_timeout(deadline);
    let info = closed_info(&peer.events());
    assert_eq!(info.code, CloseCode::NORMAL);
    assert!(info.clean, "both close frames were exchanged");
    assert_eq!(info.error, None);
    assert!(peer.conn.is_finished());
}

#[test]
fn t2_close_timeout_when_the_peer_never_answers() {
    let mut peer = Peer::client(Config::default());
    let now = peer.now;
    peer.conn.close(now, CloseCode::NORMAL, "").unwrap();
    let _ = peer.transmit();
    let deadline = peer.conn.poll_timeout().expect("a close deadline");
    assert_eq!(deadline, now + CLOSE_TIMEOUT);
    // Data keeps flowing in, but no close frame: the deadline does not move.
    peer.now += Duration::from_secs(5);
    peer.feed(&frame(FIN | TEXT, b"still talking"));
    assert_eq!(messages(&peer.events()), [Message::text("still talking")]);
    assert_eq!(peer.conn.poll_timeout(), Some(deadline));
    peer.now = deadline;
    peer.conn.handle_timeout(deadline);
    let info = closed_info(&peer.events());
    assert_eq!(info.error, Some(ConnectionError::CloseTimeout));
    assert_eq!(info.code, CloseCode::ABNORMAL);
    assert_eq!(info.initiator, Initiator::Local);
    assert!(!info.clean);
    assert!(peer.conn.is_finished());
    assert_eq!(peer.transmit(), Vec::<u8>::new());
}

#[test]
fn server_close_timeout_when_the_client_never_answers() {
    let mut peer = Peer::server(Config::default().close_timeout(Duration::from_secs(1)));
    let now = peer.now;
    peer.conn.close(now, CloseCode::TRY_AGAIN_LATER, "busy").unwrap();
    let sent = peer.sent_frames();
    assert_eq!(sent[0].payload, close_body(1013, b"busy"));
    peer.advance(Duration::from_secs(1));
    let info = closed_info(&peer.events());
    assert_eq!(info.error, Some(ConnectionError::CloseTimeout));
    assert!(!info.clean);
}

#[test]
fn handshake_timeout_for_a_client_without_response() {
    let mut peer = Peer::client_connecting(Config::default().handshake_timeout(Duration::from_secs(5)));
    let request = peer.transmit();
    assert!(request.starts_with(b"GET /chat HTTP/1.1\r\n"));
    assert_eq!(peer.conn.poll_timeout(), Some(peer.now + Duration::from_secs(5)));
    // Half a response does not extend the deadline.
    let response = switching_response(&request);
    peer.now += Duration::from_secs(2);
    peer.feed(&response[..response.len() / 2]);
    assert_eq!(peer.events(), []);
    peer.advance(Duration::from_secs(2));
    assert_eq!(peer.events(), []);
    peer.advance(Duration::from_secs(1));
    let info = closed_info(&peer.events());
    assert_eq!(info.error, Some(ConnectionError::HandshakeTimeout));
    assert_eq!(info.initiator, Initiator::Local);
    assert_eq!(info.code, CloseCode::ABNORMAL);
    assert!(!info.clean);
    assert!(peer.conn.is_finished());
    // Nothing is sent: there is no WebSocket connection to close.
    assert_eq!(peer.transmit(), Vec::<u8>::new());
    peer.feed(&response[response.len() / 2..]);
    assert_eq!(peer.events(), []);
}

#[test]
fn handshake_timeout_for_a_server_without_request() {
    let t = t0();
    let mut conn = resock_core::Connection::server(Config::default(), [1; 32], t);
    assert_eq!(conn.poll_timeout(), Some(t + Duration::from_secs(10)));
    conn.handle_input(t, resock_core::Input::Data(b"GET /chat HTTP/1.1\r\n"));
    conn.handle_timeout(t + Duration::from_secs(10));
    let events: Vec<_> = std::iter::from_fn(|| conn.poll_event()).collect();
    let info = closed_info(&events);
    assert_eq!(info.error, Some(ConnectionError::HandshakeTimeout));
}

#[test]
fn opening_the_connection_clears_the_handshake_deadline() {
    let peer = Peer::client(Config::default());
    assert_eq!(peer.conn.poll_timeout(), None);
    let peer = Peer::server(Config::default());
    assert_eq!(peer.conn.poll_timeout(), None);
}

#[test]
fn server_role_client_initiated_close_finishes_at_once() {
    let mut peer = Peer::server(Config::default());
    peer.feed(&masked_frame(FIN | CLOSE, &close_body(1000, b"done"), KEY));
    let events = peer.events();
    assert_eq!(
        events[0],
        Event::CloseReceived {
            code: CloseCode::NORMAL,
            reason: "done".into()
        }
    );
    // The server echoes unmasked and closes the TCP connection first (§7.1.1).
    assert_eq!(peer.transmit(), [0x88, 0x02, 0x03, 0xE8]);
    let info = closed_info(&events);
    assert_eq!(info.code, CloseCode::NORMAL);
    assert_eq!(info.reason, "done");
    assert_eq!(info.initiator, Initiator::Remote);
    assert!(info.clean);
    assert_eq!(info.error, None);
    assert!(peer.conn.is_finished());
    assert_eq!(peer.conn.poll_timeout(), None);
}

#[test]
fn server_role_server_initiated_close_finishes_on_the_reply() {
    let mut peer = Peer::server(Config::default());
    let now = peer.now;
    peer.conn.close(now, CloseCode(4000), "app").unwrap();
    assert_eq!(peer.transmit(), [0x88, 0x05, 0x0F, 0xA0, b'a', b'p', b'p']);
    peer.feed(&masked_frame(FIN | CLOSE, &close_body(4000, b""), KEY));
    let events = peer.events();
    assert_eq!(events.len(), 2, "{events:?}");
    let info = closed_info(&events);
    assert_eq!(info.code, CloseCode(4000));
    assert_eq!(info.initiator, Initiator::Local);
    assert!(info.clean);
    assert_eq!(info.error, None);
    assert!(peer.conn.is_finished());
    assert_eq!(peer.transmit(), Vec::<u8>::new(), "no second close frame");
}

#[test]
fn close_refuses_bad_arguments() {
    let mut peer = Peer::client(Config::default());
    let now = peer.now;
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert_eq!(
            peer.conn.close(now, CloseCode(code), ""),
            Err(CloseError::InvalidCode(code))
        );
    }
    assert_eq!(
        peer.conn.close(now, CloseCode::NORMAL, &"x".repeat(124)),
        Err(CloseError::ReasonTooLong(124))
    );
    assert!(peer.conn.is_open(), "a refused close changes nothing");
    assert_eq!(peer.transmit(), Vec::<u8>::new());
    peer.conn.close(now, CloseCode::NORMAL, &"é".repeat(61)).unwrap();
    let sent = peer.sent_frames();
    assert_eq!(sent[0].payload.len(), 2 + 122);
}

#[test]
fn close_before_the_handshake_abandons_the_connection() {
    let mut peer = Peer::client_connecting(Config::default());
    let _ = peer.transmit();
    let now = peer.now;
    peer.conn.close(now, CloseCode::NORMAL, "").unwrap();
    let info = closed_info(&peer.events());
    assert_eq!(info.initiator, Initiator::Local);
    assert!(peer.conn.is_finished());
    assert_eq!(peer.transmit(), Vec::<u8>::new());
}
