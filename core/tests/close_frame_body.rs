//! The body of a received close frame (RFC6455-CHECKLIST §3b rows F14–F16, §5.5.1, §7.4): a
//! one-byte body and codes that may not appear on the wire fail with 1002, a reason that is not
//! UTF-8 fails with 1007, and every valid code is echoed back.

mod common;

use common::*;
use resock_core::{CloseCode, Config, ConnectionError, Event, Initiator, ProtocolError, Role};

const INVALID_CODES: [u16; 13] = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
const VALID_CODES: [u16; 17] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4001, 4999,
];

fn close_error(events: &[Event]) -> ProtocolError {
    match closed_info(events).error {
        Some(ConnectionError::Protocol(e @ ProtocolError::Close(_))) => e,
        other => panic!("expected a close frame error, got {other:?}"),
    }
}

#[test]
fn f14_one_byte_close_body() {
    for byte in [0x03, 0x00, 0xFF] {
        let events = assert_failing(&frame(FIN | CLOSE, &[byte]), CloseCode::PROTOCOL_ERROR);
        close_error(&events);
        assert!(!events.iter().any(|e| matches!(e, Event::CloseReceived { .. })));
        assert_failing_server(&masked_frame(FIN | CLOSE, &[byte], KEY), CloseCode::PROTOCOL_ERROR);
    }
}

#[test]
fn f15_invalid_close_codes() {
    for code in INVALID_CODES {
        for role in [Role::Client, Role::Server] {
            for reason in [&b""[..], b"bye"] {
                let input = to(role, FIN | CLOSE, &close_body(code, reason));
                let events = assert_failing_with(role, Config::default(), &input, CloseCode::PROTOCOL_ERROR);
                close_error(&events);
                assert!(
                    !events.iter().any(|e| matches!(e, Event::CloseReceived { .. })),
                    "code {code}: an invalid close frame was surfaced"
                );
            }
        }
    }
}

#[test]
fn f15_valid_close_codes_are_echoed_by_a_client() {
    for code in VALID_CODES {
        let mut peer = Peer::client(Config::default());
        peer.feed(&frame(FIN | CLOSE, &close_body(code, b"reason")));
        let events = peer.events();
        assert_eq!(
            events,
            [Event::CloseReceived {
                code: CloseCode(code),
                reason: "reason".into()
            }],
            "code {code}"
        );
        let sent = peer.sent_frames();
        assert_eq!(sent.len(), 1, "code {code}: {sent:?}");
        assert_eq!(sent[0].close_code(), Some(code), "code {code}: echo");
        assert!(!peer.conn.is_open());
        // The client waits for the server to close the TCP connection.
        assert!(!peer.conn.is_finished());
        peer.eof();
        let info = closed_info(&peer.events());
        assert_eq!(info.code, CloseCode(code));
        assert_eq!(info.reason, "reason");
        assert_eq!(info.initiator, Initiator::Remote);
        assert!(info.clean);
        assert_eq!(info.error, None);
    }
}

#[test]
fn f15_valid_close_codes_are_echoed_by_a_server() {
    for code in VALID_CODES {
        let mut peer = Peer::server(Config::default());
        let events = peer.feed_bytewise(&masked_frame(FIN | CLOSE, &close_body(code, b""), KEY));
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(
            events[0],
            Event::CloseReceived {
                code: CloseCode(code),
                reason: String::new()
            }
        );
        let info = closed_info(&events);
        assert_eq!((info.code, info.clean, info.error), (CloseCode(code), true, None));
        let sent = peer.sent_frames();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].close_code(), Some(code));
        // The server closes the TCP connection first (§7.1.1).
        assert!(peer.conn.is_finished());
    }
}

#[test]
fn empty_close_body_means_no_status() {
    for role in [Role::Client, Role::Server] {
        let mut peer = Peer::open(role, Config::default());
        peer.feed(&to(role, FIN | CLOSE, b""));
        let events = peer.events();
        assert_eq!(
            events[0],
            Event::CloseReceived {
                code: CloseCode::NO_STATUS,
                reason: String::new()
            }
        );
        // 1005 may not be sent, so the echo has an empty body too.
        let sent = peer.sent_frames();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].opcode, sent[0].payload.len()), (CLOSE, 0));
        peer.eof();
        let events = [events, peer.events()].concat();
        let info = closed_info(&events);
        assert_eq!((info.code, info.clean), (CloseCode::NO_STATUS, true));
    }
}

#[test]
fn f16_close_reason_not_utf8() {
    for reason in [
        &b"\xff"[..],
        b"ok\xce",
        b"\xed\xa0\x80",
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
    ] {
        for role in [Role::Client, Role::Server] {
            let input = to(role, FIN | CLOSE, &close_body(1000, reason));
            let events = assert_failing_with(role, Config::default(), &input, CloseCode::INVALID_PAYLOAD);
            close_error(&events);
        }
    }
    // A valid multi-byte reason is kept as sent.
    let mut peer = Peer::client(Config::default());
    peer.feed(&frame(FIN | CLOSE, &close_body(4000, "κόσμε 😀".as_bytes())));
    assert_eq!(
        peer.events(),
        [Event::CloseReceived {
            code: CloseCode(4000),
            reason: "κόσμε 😀".into()
        }]
    );
}

#[test]
fn longest_close_reason_is_accepted() {
    let reason = "r".repeat(123);
    let mut peer = Peer::client(Config::default());
    peer.feed_bytewise(&frame(FIN | CLOSE, &close_body(1000, reason.as_bytes())));
    peer.eof();
    let info = closed_info(&peer.events());
    assert_eq!((info.code, info.reason.len()), (CloseCode::NORMAL, 123));
}
