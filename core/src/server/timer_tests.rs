//! The server's deadlines on virtual time: 408, 503, ping and pong deadline, idle close,
//! the close timeout of a drain.

#![allow(clippy::disallowed_methods)] // one real Instant to start from

use std::time::{Duration, Instant};

use crate::close::CloseCode;
use crate::connection::{Event, Input};
use crate::error::ConnectionError;
use crate::message::Message;

use super::tests::{REQUEST, events, open_pair, quiet, transmit};
use super::*;

fn closed(events: &[ServerEvent]) -> Option<&ServerClose> {
    events.iter().find_map(|e| match e {
        ServerEvent::Closed(c) => Some(c),
        _ => None,
    })
}

#[test]
fn an_incomplete_request_gets_408_at_the_handshake_timeout() {
    let start = Instant::now();
    let config = quiet();
    let mut server = ServerConnection::new(&config, [0; 32], start);
    server.handle_input(start, Input::Data(&REQUEST[..20]));
    assert_eq!(events(&mut server), vec![]);
    let deadline = start + Duration::from_secs(10);
    assert_eq!(server.poll_timeout(), Some(deadline));
    server.handle_timeout(deadline - Duration::from_nanos(1));
    assert!(transmit(&mut server).is_empty(), "nothing before the deadline");
    server.handle_timeout(deadline);
    let out = String::from_utf8(transmit(&mut server)).unwrap();
    assert!(out.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{out}");
    let evs = events(&mut server);
    assert_eq!(closed(&evs).map(|c| &c.why), Some(&ServerCloseReason::HandshakeTimeout));
    assert!(server.is_finished());
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn an_undecided_request_gets_503_at_the_handshake_timeout() {
    let start = Instant::now();
    let mut server = ServerConnection::new(&quiet(), [0; 32], start);
    server.handle_input(start, Input::Data(REQUEST));
    assert!(matches!(server.poll_event(), Some(ServerEvent::Request(_))));
    let deadline = start + Duration::from_secs(10);
    assert_eq!(server.poll_timeout(), Some(deadline));
    server.handle_timeout(deadline);
    let out = String::from_utf8(transmit(&mut server)).unwrap();
    assert!(out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{out}");
    let evs = events(&mut server);
    assert_eq!(closed(&evs).map(|c| &c.why), Some(&ServerCloseReason::DecisionTimeout));
    // Too late to accept now.
    server.accept(deadline, None, &[]);
    assert!(!server.is_open());
}

#[test]
fn a_plain_connection_times_out_its_handshake_with_408_too() {
    let start = Instant::now();
    let mut conn = crate::Connection::server(quiet().connection, [0; 32], start);
    conn.handle_timeout(start + Duration::from_secs(10));
    let mut out = Vec::new();
    while conn.poll_transmit(&mut out).is_some() {}
    assert!(out.starts_with(b"HTTP/1.1 408 "));
    let closed = std::iter::from_fn(|| conn.poll_event()).find_map(|e| match e {
        Event::Closed(info) => Some(info),
        _ => None,
    });
    assert_eq!(closed.and_then(|i| i.error), Some(ConnectionError::HandshakeTimeout));
}

fn heartbeat(interval: u64, timeout: u64) -> ServerConfig {
    quiet()
        .ping_interval(Some(Duration::from_secs(interval)))
        .pong_timeout(Duration::from_secs(timeout))
}

#[test]
fn a_ping_after_the_interval_and_a_pong_keeps_the_client() {
    let start = Instant::now();
    let (mut client, mut server) = open_pair(&heartbeat(30, 10), start);
    let ping_at = start + Duration::from_secs(30);
    assert_eq!(server.poll_timeout(), Some(ping_at));
    server.handle_timeout(ping_at);
    client.handle_input(ping_at, Input::Data(&transmit(&mut server)));
    assert!(matches!(client.poll_event(), Some(Event::Ping(_))));
    // The pong deadline is 10 s after the ping.
    assert_eq!(server.poll_timeout(), Some(ping_at + Duration::from_secs(10)));
    let mut pong = Vec::new();
    while client.poll_transmit(&mut pong).is_some() {}
    let answered = ping_at + Duration::from_secs(3);
    server.handle_input(answered, Input::Data(&pong));
    assert_eq!(events(&mut server), vec![]);
    // Next ping one interval after the pong; no failure at the old deadline.
    assert_eq!(server.poll_timeout(), Some(answered + Duration::from_secs(30)));
    server.handle_timeout(ping_at + Duration::from_secs(10));
    assert!(server.is_open());
}

#[test]
fn a_silent_client_is_failed_1011_at_interval_plus_timeout_without_waiting() {
    let start = Instant::now();
    let (mut client, mut server) = open_pair(&heartbeat(30, 10), start);
    let last = start + Duration::from_secs(5);
    client.send_text("alive").unwrap();
    let mut bytes = Vec::new();
    while client.poll_transmit(&mut bytes).is_some() {}
    server.handle_input(last, Input::Data(&bytes));
    assert_eq!(events(&mut server).len(), 1);
    let mut now = last;
    while !server.is_finished() {
        let deadline = server.poll_timeout().expect("a deadline");
        assert!(deadline >= now);
        now = deadline;
        server.handle_timeout(now);
    }
    assert_eq!(now, last + Duration::from_secs(40));
    let evs = events(&mut server);
    let close = closed(&evs).unwrap();
    assert_eq!(
        (close.code, close.reason.as_str(), &close.why),
        (
            CloseCode::INTERNAL_ERROR,
            "pong timeout",
            &ServerCloseReason::PongTimeout
        )
    );
    // The ping and the 1011 close frame went out; the client sees both.
    client.handle_input(now, Input::Data(&transmit(&mut server)));
    let got: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(matches!(got[0], Event::Ping(_)));
    assert!(matches!(&got[1], Event::CloseReceived { code, .. } if *code == CloseCode::INTERNAL_ERROR));
}

#[test]
fn a_pong_timeout_longer_than_the_interval_still_fails_at_interval_plus_timeout() {
    let start = Instant::now();
    let (_client, mut server) = open_pair(&heartbeat(10, 25), start);
    let mut now = start;
    let mut pings = 0;
    while !server.is_finished() {
        now = server.poll_timeout().unwrap();
        server.handle_timeout(now);
        if !server.is_finished() {
            pings += 1;
        }
    }
    assert_eq!(now, start + Duration::from_secs(35));
    assert_eq!(pings, 3, "pings at 10, 20 and 30 s");
}

#[test]
fn while_not_reading_no_pong_deadline_runs() {
    let start = Instant::now();
    let (_client, mut server) = open_pair(&heartbeat(30, 10), start);
    let ping_at = start + Duration::from_secs(30);
    server.handle_timeout(ping_at);
    server.set_reading(ping_at, false);
    let next = server.poll_timeout().unwrap();
    assert_eq!(next, ping_at + Duration::from_secs(30), "only the next ping");
    // Resumed long after the old pong deadline: not failed, a full timeout from the resume.
    let resumed = ping_at + Duration::from_secs(100);
    server.set_reading(resumed, true);
    server.handle_timeout(resumed);
    assert!(server.is_open());
    assert_eq!(server.poll_timeout(), Some(resumed + Duration::from_secs(10)));
    server.handle_timeout(resumed + Duration::from_secs(10));
    assert!(server.is_finished());
}

#[test]
fn an_idle_connection_is_closed_1000_and_messages_reset_the_timer() {
    let start = Instant::now();
    let config = quiet().idle_timeout(Some(Duration::from_secs(60)));
    let (mut client, mut server) = open_pair(&config, start);
    assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(60)));
    // A message from the client at 40 s moves the deadline to 100 s.
    client.send_text("hi").unwrap();
    let mut bytes = Vec::new();
    while client.poll_transmit(&mut bytes).is_some() {}
    server.handle_input(start + Duration::from_secs(40), Input::Data(&bytes));
    assert_eq!(events(&mut server).len(), 1);
    assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(100)));
    // A message from the server at 70 s moves it to 130 s.
    server
        .send(start + Duration::from_secs(70), &Message::text("yo"))
        .unwrap();
    let _ = transmit(&mut server);
    assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(130)));
    let at = start + Duration::from_secs(130);
    server.handle_timeout(at);
    assert!(!server.is_open());
    client.handle_input(at, Input::Data(&transmit(&mut server)));
    let got: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(
        matches!(&got[0], Event::CloseReceived { code, reason } if *code == CloseCode::NORMAL && reason == "idle timeout")
    );
    let mut reply = Vec::new();
    while client.poll_transmit(&mut reply).is_some() {}
    server.handle_input(at, Input::Data(&reply));
    let evs = events(&mut server);
    assert_eq!(closed(&evs).map(|c| &c.why), Some(&ServerCloseReason::IdleTimeout));
}

#[test]
fn a_close_whose_queue_is_never_taken_ends_at_the_close_timeout() {
    let start = Instant::now();
    let (_client, mut server) = open_pair(&quiet(), start);
    server.send(start, &Message::text("never read")).unwrap();
    server.going_away(start);
    // The driver cannot write: the queue stays. The close timeout ends the connection.
    let deadline = start + Duration::from_secs(10);
    assert_eq!(server.poll_timeout(), Some(deadline));
    server.handle_timeout(deadline);
    assert!(server.is_finished());
    let evs = events(&mut server);
    assert_eq!(closed(&evs).map(|c| &c.why), Some(&ServerCloseReason::GoingAway));
    assert_eq!(server.queued(), (0, 0));
}

#[test]
fn an_unanswered_close_ends_at_the_close_timeout() {
    let start = Instant::now();
    let (_client, mut server) = open_pair(&quiet(), start);
    server.close(start, CloseCode::NORMAL, "bye").unwrap();
    let _ = transmit(&mut server);
    let deadline = start + Duration::from_secs(10);
    assert_eq!(server.poll_timeout(), Some(deadline));
    server.handle_timeout(deadline);
    let evs = events(&mut server);
    assert_eq!(closed(&evs).map(|c| &c.why), Some(&ServerCloseReason::Local));
}

#[test]
fn pings_and_pongs_do_not_keep_an_idle_connection_open() {
    let start = Instant::now();
    let config = heartbeat(30, 10).idle_timeout(Some(Duration::from_secs(100)));
    let (mut client, mut server) = open_pair(&config, start);
    let mut now = start;
    while server.is_open() {
        now = server.poll_timeout().unwrap();
        server.handle_timeout(now);
        if !server.is_open() {
            break;
        }
        // The client answers every ping at once.
        client.handle_input(now, Input::Data(&transmit(&mut server)));
        while client.poll_event().is_some() {}
        let mut pong = Vec::new();
        while client.poll_transmit(&mut pong).is_some() {}
        server.handle_input(now, Input::Data(&pong));
        assert_eq!(events(&mut server), vec![]);
    }
    assert_eq!(now, start + Duration::from_secs(100));
    client.handle_input(now, Input::Data(&transmit(&mut server)));
    let got: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(
        got.iter()
            .any(|e| matches!(e, Event::CloseReceived { reason, .. } if reason == "idle timeout"))
    );
}

#[test]
fn going_away_answers_an_undecided_request_503() {
    let start = Instant::now();
    let mut server = ServerConnection::new(&quiet(), [0; 32], start);
    server.handle_input(start, Input::Data(REQUEST));
    assert!(matches!(server.poll_event(), Some(ServerEvent::Request(_))));
    server.going_away(start);
    let out = String::from_utf8(transmit(&mut server)).unwrap();
    assert!(out.starts_with("HTTP/1.1 503 "), "{out}");
    let evs = events(&mut server);
    assert_eq!(closed(&evs).map(|c| &c.why), Some(&ServerCloseReason::GoingAway));
}

#[test]
fn close_before_accept_ends_without_an_answer() {
    let start = Instant::now();
    let mut server = ServerConnection::new(&quiet(), [0; 32], start);
    server.handle_input(start, Input::Data(&REQUEST[..10]));
    server.close(start, CloseCode::NORMAL, "").unwrap();
    assert!(transmit(&mut server).is_empty());
    let evs = events(&mut server);
    assert_eq!(closed(&evs).map(|c| &c.why), Some(&ServerCloseReason::Local));
    assert_eq!(
        server.close(start, CloseCode::NORMAL, ""),
        Err(crate::CloseError::AlreadyClosing)
    );
}
