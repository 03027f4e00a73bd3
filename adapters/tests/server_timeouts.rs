//! The async server's timers from outside, on every runtime: an idle connection is closed with
//! 1000 "idle timeout", and a client that stops answering is failed with 1011 within ping
//! interval + pong timeout of its last frame.
#![cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]

#[macro_use]
mod server_support;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use resock::{ServerBuilder, ServerCloseReason, ServerConfig};
use server_support::{Rt, connect, read_head, read_until_close, tcp, upgrade_request};

on_server_runtimes!(
    an_idle_connection_is_closed_1000_at_the_idle_timeout,
    a_client_that_stops_answering_is_failed_1011_within_interval_plus_timeout,
);

fn an_idle_connection_is_closed_1000_at_the_idle_timeout<R: Rt>() {
    let rt = Arc::new(R::new());
    let idle = Duration::from_millis(300);
    let config = ServerConfig::default().idle_timeout(Some(idle)).ping_interval(None);
    let server = rt.bind(ServerBuilder::new().config(config));
    let (mut ws, _) = connect(server.local_addr(), "/", &[]).unwrap();
    let peer = rt.block_on(server.accept()).unwrap();
    let start = Instant::now();
    assert_eq!(read_until_close(&mut ws), (Some(1000), 0));
    let elapsed = start.elapsed();
    assert!(elapsed >= idle - Duration::from_millis(150), "early: {elapsed:?}");
    assert!(elapsed < idle + Duration::from_secs(1), "late: {elapsed:?}");
    let close = rt.block_on(peer.closed());
    assert_eq!(close.why, ServerCloseReason::IdleTimeout, "{close}");
}

fn a_client_that_stops_answering_is_failed_1011_within_interval_plus_timeout<R: Rt>() {
    let rt = Arc::new(R::new());
    let (interval, timeout) = (Duration::from_millis(100), Duration::from_millis(200));
    let config = ServerConfig::default()
        .ping_interval(Some(interval))
        .pong_timeout(timeout);
    let server = rt.bind(ServerBuilder::new().config(config));
    let addr = server.local_addr();
    let mut stream = tcp(addr);
    stream.write_all(upgrade_request(addr).as_bytes()).unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head:?}");
    let peer = rt.block_on(server.accept()).unwrap();
    let last_frame = Instant::now(); // the request: nothing from the client after it
    // Read the server's frames (pings, then the close) and answer none of them.
    let mut frames = Vec::new();
    let code = loop {
        let mut header = [0u8; 2];
        stream
            .read_exact(&mut header)
            .expect("a frame before the server gives up");
        let mut payload = vec![0u8; usize::from(header[1] & 0x7f)];
        stream.read_exact(&mut payload).unwrap();
        frames.push(header[0]);
        if header[0] == 0x88 {
            break u16::from_be_bytes([payload[0], payload[1]]);
        }
    };
    let elapsed = last_frame.elapsed();
    assert_eq!(code, 1011);
    assert_eq!(frames.first(), Some(&0x89), "a ping first: {frames:x?}");
    assert!(
        elapsed < interval + timeout + Duration::from_millis(500),
        "late: {elapsed:?}"
    );
    assert!(
        elapsed >= interval + timeout - Duration::from_millis(150),
        "early: {elapsed:?}"
    );
    let close = rt.block_on(peer.closed());
    assert_eq!(close.why, ServerCloseReason::PongTimeout, "{close}");
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest); // the server drops the dead peer at once
}
