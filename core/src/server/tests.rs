//! Scenarios on virtual time: a real client `Connection` talks to a `ServerConnection`.

#![allow(clippy::disallowed_methods)] // one real Instant to start from

use std::time::Instant;

use crate::close::CloseCode;
use crate::connection::{Connection, Event, Input};
use crate::handshake::ClientOptions;
use crate::message::Message;
use crate::url::WsUrl;

use super::*;

pub(super) const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The server's output, drained.
pub(super) fn transmit(server: &mut ServerConnection) -> Vec<u8> {
    let mut out = Vec::new();
    while server.poll_transmit(&mut out).is_some() {}
    out
}

pub(super) fn events(server: &mut ServerConnection) -> Vec<ServerEvent> {
    std::iter::from_fn(|| server.poll_event()).collect()
}

fn client_events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// A client and an accepted server connection, the client's `Opened` consumed.
pub(super) fn open_pair(config: &ServerConfig, now: Instant) -> (Connection, ServerConnection) {
    let url: WsUrl = "ws://example.com/chat".parse().unwrap();
    let mut client =
        Connection::client(&url, &ClientOptions::default(), config.connection.clone(), [1; 32], now).unwrap();
    let mut server = ServerConnection::new(config, [2; 32], now);
    let mut bytes = Vec::new();
    while client.poll_transmit(&mut bytes).is_some() {}
    server.handle_input(now, Input::Data(&bytes));
    assert!(matches!(server.poll_event(), Some(ServerEvent::Request(_))));
    server.accept(now, None, &[]);
    assert!(matches!(server.poll_event(), Some(ServerEvent::Opened(_))));
    client.handle_input(now, Input::Data(&transmit(&mut server)));
    assert!(matches!(client.poll_event(), Some(Event::Opened(_))));
    (client, server)
}

/// Moves the server's bytes to the client and returns the client's events.
fn to_client(now: Instant, server: &mut ServerConnection, client: &mut Connection) -> Vec<Event> {
    client.handle_input(now, Input::Data(&transmit(server)));
    client_events(client)
}

/// Moves the client's bytes to the server.
fn to_server(now: Instant, client: &mut Connection, server: &mut ServerConnection) {
    let mut bytes = Vec::new();
    while client.poll_transmit(&mut bytes).is_some() {}
    server.handle_input(now, Input::Data(&bytes));
}

/// No idle timeout, no heartbeat, no compression: only what a test turns on.
pub(super) fn quiet() -> ServerConfig {
    let connection = ServerConfig::default().connection.deflate(None);
    ServerConfig::default()
        .connection(connection)
        .idle_timeout(None)
        .ping_interval(None)
}

fn closed(events: &[ServerEvent]) -> Option<&ServerClose> {
    events.iter().find_map(|e| match e {
        ServerEvent::Closed(c) => Some(c),
        _ => None,
    })
}

#[test]
fn handshake_accept_then_messages_both_ways_and_a_client_close() {
    let now = Instant::now();
    let (mut client, mut server) = open_pair(&quiet(), now);
    assert!(server.is_open());
    assert_eq!(server.request().map(|r| r.path.as_str()), Some("/chat"));
    server.send(now, &Message::text("hello")).unwrap();
    server
        .send_prepared(now, &PreparedMessage::new(&Message::binary(vec![1, 2, 3])))
        .unwrap();
    assert_eq!(server.queued(), (2, 8));
    let got = to_client(now, &mut server, &mut client);
    assert_eq!(
        got,
        vec![
            Event::Message(Message::text("hello")),
            Event::Message(Message::binary(vec![1, 2, 3]))
        ]
    );
    assert_eq!(server.queued(), (0, 0));
    client.send_text("up").unwrap();
    to_server(now, &mut client, &mut server);
    assert_eq!(events(&mut server), vec![ServerEvent::Message(Message::text("up"))]);
    client.close(now, CloseCode(4000), "bye").unwrap();
    to_server(now, &mut client, &mut server);
    let evs = events(&mut server);
    let close = closed(&evs).expect("closed");
    assert_eq!(
        (close.code, close.reason.as_str(), &close.why),
        (CloseCode(4000), "bye", &ServerCloseReason::Peer)
    );
    assert!(server.is_finished());
    assert_eq!(server.poll_timeout(), None);
    assert_eq!(server.send(now, &Message::text("late")), Err(ServerSendError::NotOpen));
}

#[test]
fn send_before_accept_is_not_open() {
    let now = Instant::now();
    let mut server = ServerConnection::new(&quiet(), [0; 32], now);
    assert_eq!(server.send(now, &Message::text("x")), Err(ServerSendError::NotOpen));
    server.handle_input(now, Input::Data(REQUEST));
    assert!(matches!(server.poll_event(), Some(ServerEvent::Request(_))));
    assert_eq!(server.send(now, &Message::text("x")), Err(ServerSendError::NotOpen));
}

#[test]
fn reject_writes_the_status_and_headers_and_ends() {
    let now = Instant::now();
    let mut server = ServerConnection::new(&quiet(), [0; 32], now);
    server.handle_input(now, Input::Data(REQUEST));
    assert!(matches!(server.poll_event(), Some(ServerEvent::Request(_))));
    server.reject(503, &[("Retry-After".into(), "7".into())], b"full");
    let out = String::from_utf8(transmit(&mut server)).unwrap();
    assert!(out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{out}");
    assert!(out.contains("Retry-After: 7\r\n"), "{out}");
    assert!(out.ends_with("full"), "{out}");
    let evs = events(&mut server);
    assert_eq!(
        closed(&evs).map(|c| &c.why),
        Some(&ServerCloseReason::Rejected { status: 503 })
    );
    assert!(server.is_finished());
}

#[test]
fn local_close_writes_queued_messages_before_the_close_frame() {
    let now = Instant::now();
    let (mut client, mut server) = open_pair(&quiet(), now);
    server.send(now, &Message::text("one")).unwrap();
    server.send(now, &Message::text("two")).unwrap();
    server.close(now, CloseCode::NORMAL, "done").unwrap();
    assert!(!server.is_open());
    assert_eq!(server.send(now, &Message::text("three")), Err(ServerSendError::NotOpen));
    let got = to_client(now, &mut server, &mut client);
    assert_eq!(got[0], Event::Message(Message::text("one")));
    assert_eq!(got[1], Event::Message(Message::text("two")));
    assert!(matches!(&got[2], Event::CloseReceived { code, reason } if *code == CloseCode::NORMAL && reason == "done"));
    to_server(now, &mut client, &mut server);
    let evs = events(&mut server);
    assert_eq!(
        closed(&evs).map(|c| (&c.why, c.code)),
        Some((&ServerCloseReason::Local, CloseCode::NORMAL))
    );
}

#[test]
fn going_away_closes_1001_after_the_queue() {
    let now = Instant::now();
    let (mut client, mut server) = open_pair(&quiet(), now);
    server.send(now, &Message::text("last")).unwrap();
    server.going_away(now);
    let got = to_client(now, &mut server, &mut client);
    assert_eq!(got[0], Event::Message(Message::text("last")));
    assert!(matches!(&got[1], Event::CloseReceived { code, .. } if *code == CloseCode::GOING_AWAY));
    to_server(now, &mut client, &mut server);
    let evs = events(&mut server);
    assert_eq!(closed(&evs).map(|c| &c.why), Some(&ServerCloseReason::GoingAway));
}

#[test]
fn poll_transmit_returns_whole_frames_about_a_chunk_at_a_time() {
    let now = Instant::now();
    let (mut client, mut server) = open_pair(&quiet(), now);
    let message = Message::binary(vec![7u8; 10_000]);
    for _ in 0..20 {
        server.send(now, &message).unwrap();
    }
    let frame_len = PreparedMessage::new(&message).frame().len();
    let mut all = Vec::new();
    let mut calls = 0;
    loop {
        let mut buf = Vec::new();
        let Some(n) = server.poll_transmit(&mut buf) else { break };
        calls += 1;
        assert_eq!(n, buf.len());
        assert_eq!(n % frame_len, 0, "whole frames only");
        assert!(n < TRANSMIT_CHUNK + frame_len);
        all.extend_from_slice(&buf);
    }
    assert!(calls >= 3, "{calls} calls");
    client.handle_input(now, Input::Data(&all));
    assert_eq!(client_events(&mut client).len(), 20);
}

#[test]
fn a_request_and_a_message_fed_one_byte_at_a_time_arrive_whole() {
    let now = Instant::now();
    let mut server = ServerConnection::new(&quiet(), [0; 32], now);
    // The request offers the subprotocol the server picks.
    let offer = b"Sec-WebSocket-Protocol: chat\r\n\r\n";
    let request = [&REQUEST[..REQUEST.len() - 2], &offer[..]].concat();
    for byte in &request {
        server.handle_input(now, Input::Data(std::slice::from_ref(byte)));
    }
    assert!(matches!(server.poll_event(), Some(ServerEvent::Request(_))));
    server.accept(now, Some("chat"), &[]);
    assert!(matches!(server.poll_event(), Some(ServerEvent::Opened(a)) if a.subprotocol.as_deref() == Some("chat")));
    let frame = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
    for byte in &frame {
        server.handle_input(now, Input::Data(std::slice::from_ref(byte)));
    }
    assert_eq!(events(&mut server), vec![ServerEvent::Message(Message::text("hi"))]);
}

#[test]
fn a_bad_request_whole_or_byte_by_byte_is_answered_400_and_ends_with_the_error() {
    let bad = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    for chunk in [bad.len(), 1] {
        let now = Instant::now();
        let mut server = ServerConnection::new(&quiet(), [0; 32], now);
        for part in bad.chunks(chunk) {
            server.handle_input(now, Input::Data(part));
        }
        let out = String::from_utf8(transmit(&mut server)).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        let evs = events(&mut server);
        assert!(
            matches!(
                closed(&evs).map(|c| &c.why),
                Some(ServerCloseReason::Error(crate::ConnectionError::Handshake(_)))
            ),
            "{evs:?}"
        );
        assert!(server.is_finished());
    }
}

#[test]
fn a_subprotocol_the_client_did_not_offer_is_neither_answered_nor_reported() {
    let now = Instant::now();
    let mut server = ServerConnection::new(&ServerConfig::default(), [2; 32], now);
    server.handle_input(now, Input::Data(REQUEST));
    assert!(matches!(server.poll_event(), Some(ServerEvent::Request(_))));
    server.accept(now, Some("chat"), &[]);
    let Some(ServerEvent::Opened(accepted)) = server.poll_event() else {
        panic!("not opened")
    };
    assert_eq!(accepted.subprotocol, None);
    let answer = String::from_utf8(transmit(&mut server)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 101 "), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("sec-websocket-protocol"),
        "{answer}"
    );
}
