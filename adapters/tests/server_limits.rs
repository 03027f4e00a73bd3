//! The async server's limits from outside, on every runtime: the handshake timeout (408 for a
//! slowloris), max connections (503 + Retry-After, answered promptly while full), the per-IP
//! limit (429), and the shared inbound budget (1009 for the largest holder).
#![cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]

#[macro_use]
mod server_support;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use resock::{Config, ServerBuilder, ServerConfig};
use server_support::{LIMIT, Rt, connect, eventually, raw_exchange, read_head, serve_echo, tcp, upgrade_request};

on_server_runtimes!(
    a_partial_request_is_answered_408_within_the_handshake_timeout,
    past_max_connections_503_with_retry_after_promptly_and_a_freed_place_serves_again,
    past_the_per_ip_limit_429_with_retry_after,
    the_largest_holder_past_the_inbound_budget_is_closed_with_1009,
    past_max_refusals_a_socket_is_closed_at_once_without_an_answer,
);

fn config_with(connection: impl FnOnce(Config) -> Config) -> ServerConfig {
    let config = ServerConfig::default();
    let connection = connection(config.connection.clone());
    config.connection(connection)
}

fn a_partial_request_is_answered_408_within_the_handshake_timeout<R: Rt>() {
    let rt = Arc::new(R::new());
    let timeout = Duration::from_millis(300);
    let config = config_with(|c| c.handshake_timeout(timeout));
    let server = Arc::new(rt.bind(ServerBuilder::new().config(config)));
    serve_echo(&rt, Arc::clone(&server));
    let start = Instant::now();
    let (mut stream, head) = raw_exchange(server.local_addr(), b"GET / HTTP/1.1\r\nHost: slow\r\n");
    let elapsed = start.elapsed();
    assert!(head.starts_with("HTTP/1.1 408 "), "{head:?}");
    assert!(
        elapsed >= timeout - Duration::from_millis(20),
        "answered early: {elapsed:?}"
    );
    assert!(elapsed < timeout + Duration::from_secs(1), "answered late: {elapsed:?}");
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest); // the server closes
    eventually("the connection to be forgotten", || server.connections() == 0);
}

fn past_max_connections_503_with_retry_after_promptly_and_a_freed_place_serves_again<R: Rt>() {
    let rt = Arc::new(R::new());
    let builder = ServerBuilder::new()
        .max_connections(2)
        .retry_after(Duration::from_secs(7));
    let server = Arc::new(rt.bind(builder));
    let addr = server.local_addr();
    serve_echo(&rt, Arc::clone(&server));
    let (mut first, _) = connect(addr, "/", &[]).unwrap();
    let (mut second, _) = connect(addr, "/", &[]).unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let (_, head) = raw_exchange(addr, upgrade_request(addr).as_bytes());
        assert!(head.starts_with("HTTP/1.1 503 "), "{head:?}");
        assert!(head.contains("\r\nRetry-After: 7\r\n"), "{head:?}");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "answered late: {:?}",
            start.elapsed()
        );
    }
    second.send(tungstenite::Message::text("still served")).unwrap();
    assert_eq!(second.read().unwrap(), tungstenite::Message::text("still served"));
    first.close(None).unwrap();
    while first.read().is_ok() {}
    eventually("a place to be freed", || server.connections() < 2);
    let (mut third, _) = connect(addr, "/", &[]).expect("a freed place serves again");
    third.send(tungstenite::Message::text("third")).unwrap();
    assert_eq!(third.read().unwrap(), tungstenite::Message::text("third"));
}

fn past_the_per_ip_limit_429_with_retry_after<R: Rt>() {
    let rt = Arc::new(R::new());
    let server = Arc::new(rt.bind(ServerBuilder::new().max_connections_per_ip(1)));
    let addr = server.local_addr();
    serve_echo(&rt, Arc::clone(&server));
    let (_held, _) = connect(addr, "/", &[]).unwrap();
    let (_, head) = raw_exchange(addr, upgrade_request(addr).as_bytes());
    assert!(head.starts_with("HTTP/1.1 429 "), "{head:?}");
    assert!(head.contains("\r\nRetry-After: 5\r\n"), "the default is 5 s: {head:?}");
}

fn the_largest_holder_past_the_inbound_budget_is_closed_with_1009<R: Rt>() {
    let rt = Arc::new(R::new());
    let server = Arc::new(rt.bind(ServerBuilder::new().inbound_budget(64 << 10)));
    let addr = server.local_addr();
    serve_echo(&rt, Arc::clone(&server));
    // A small client within the budget, holding an unfinished message too.
    let (mut small, _) = connect(addr, "/", &[]).unwrap();
    small.send(tungstenite::Message::text("fine")).unwrap();
    assert_eq!(small.read().unwrap(), tungstenite::Message::text("fine"));

    let mut stream = tcp(addr);
    stream.write_all(upgrade_request(addr).as_bytes()).unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head:?}");
    // A binary frame announcing 200 KiB (under the 1 MiB message limit), mask key zero, and
    // 100 KiB of it: past the 64 KiB budget, unfinished.
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&(200u64 << 10).to_be_bytes());
    frame.extend_from_slice(&[0; 4]);
    frame.extend(std::iter::repeat_n(7u8, 100 << 10));
    stream.write_all(&frame).unwrap();
    let start = Instant::now();
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).expect("a close frame");
    assert_eq!(header[0], 0x88, "a close frame, fin");
    let mut body = vec![0u8; usize::from(header[1] & 0x7f)];
    stream.read_exact(&mut body).unwrap();
    assert_eq!(
        u16::from_be_bytes([body[0], body[1]]),
        1009,
        "{:?}",
        String::from_utf8_lossy(&body[2..])
    );
    assert!(start.elapsed() < LIMIT);

    // The small one is untouched.
    small.send(tungstenite::Message::text("still here")).unwrap();
    assert_eq!(small.read().unwrap(), tungstenite::Message::text("still here"));
}

fn past_max_refusals_a_socket_is_closed_at_once_without_an_answer<R: Rt>() {
    let rt = Arc::new(R::new());
    let builder = ServerBuilder::new().max_connections(1).max_refusals(1);
    let server = Arc::new(rt.bind(builder));
    let addr = server.local_addr();
    serve_echo(&rt, Arc::clone(&server));
    let (_held, _) = connect(addr, "/", &[]).unwrap();
    // Refused and silent: it holds the one refusal place while the server waits for its
    // request (up to the handshake timeout, at most 5 s).
    let _silent = tcp(addr);
    std::thread::sleep(Duration::from_millis(50)); // let the accept loop take it first
    let start = Instant::now();
    let mut flooded = tcp(addr);
    let mut answer = Vec::new();
    let _ = flooded.read_to_end(&mut answer); // EOF or reset: either way, at once
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "closed late: {:?}",
        start.elapsed()
    );
}
