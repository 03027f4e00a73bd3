//! Fan-out and shutdown from outside, on every runtime: a broadcast never waits for a client
//! that stopped reading (that one is closed with 1008 while a reading one gets every message),
//! and shutdown closes every client with 1001.
#![cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]

#[macro_use]
mod server_support;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use resock::{Config, ServerBuilder, ServerCloseReason, ServerConfig};
use server_support::{LIMIT, Rt, connect, eventually, read_until_close};
use tungstenite::Message;

on_server_runtimes!(
    a_broadcast_reaches_a_compressing_client_and_a_plain_one_alike,
    a_subscriber_that_stops_reading_is_closed_1008_and_the_others_get_everything,
    a_subscriber_that_never_reads_again_is_let_go_within_the_close_timeout,
    shutdown_closes_every_client_with_1001,
);

fn a_subscriber_that_stops_reading_is_closed_1008_and_the_others_get_everything<R: Rt>() {
    const READERS: usize = 3;
    let rt = Arc::new(R::new());
    let config = ServerConfig::default()
        .max_queued_messages(4)
        .max_queued_bytes(1 << 20)
        .connection(Config::default().close_timeout(Duration::from_secs(3)));
    let server = rt.bind(ServerBuilder::new().config(config));
    let addr = server.local_addr();
    let (got, received) = mpsc::channel::<usize>();
    let mut readers = Vec::new();
    let mut reader_peers = Vec::new();
    for _ in 0..READERS {
        let (mut reader, _) = connect(addr, "/reader", &[]).unwrap();
        reader_peers.push(rt.block_on(server.accept()).unwrap());
        let got = got.clone();
        readers.push(std::thread::spawn(move || {
            let mut count = 0;
            loop {
                match reader.read() {
                    Ok(Message::Binary(data)) => {
                        assert_eq!(data.len(), 256 << 10);
                        assert_eq!(usize::from(data[0]), count % 256, "in order, none missing");
                        count += 1;
                        got.send(count).unwrap();
                    }
                    Ok(Message::Close(_)) | Err(_) => return count,
                    Ok(_) => {}
                }
            }
        }));
    }
    let (mut sleeper, _) = connect(addr, "/sleeper", &[]).unwrap();
    let sleeper_peer = rt.block_on(server.accept()).unwrap();
    assert_eq!(sleeper_peer.request().path, "/sleeper");

    let hub = server.broadcast();
    let mut slowest_send = Duration::ZERO;
    let mut dropped = 0;
    let total = 120; // 30 MiB: more than loopback socket buffers hold for the sleeper
    for n in 0..total {
        let message = vec![(n % 256) as u8; 256 << 10];
        let start = Instant::now();
        let report = hub.send(message);
        slowest_send = slowest_send.max(start.elapsed());
        dropped += report.dropped_slow;
        assert!(report.delivered >= READERS, "the readers always take it: {report:?}");
        // Pace to the readers (the test waits, not the broadcast).
        for _ in 0..READERS {
            let seen = received.recv_timeout(LIMIT).expect("the readers keep up");
            assert!(seen > n, "{seen} for message {n}");
        }
    }
    assert!(
        slowest_send < Duration::from_millis(200),
        "a broadcast waited: {slowest_send:?}"
    );
    // The sleeper wakes up: what reached its socket, then the close frame 1008.
    let (code, messages) = read_until_close(&mut sleeper);
    assert_eq!(code, Some(1008));
    assert!(messages < total, "{messages} of {total} before the drop");
    let close = rt.block_on(sleeper_peer.closed());
    assert!(matches!(close.why, ServerCloseReason::SlowConsumer { .. }), "{close}");
    assert_eq!(close.code.0, 1008);
    // Its task found it slow after some `send` returned: a later report says so, once.
    dropped += hub.send(vec![(total % 256) as u8; 256 << 10]).dropped_slow;
    assert_eq!(dropped, 1, "one slow consumer, reported once");

    for peer in &reader_peers {
        assert!(peer.is_open());
        peer.close(resock::CloseCode::NORMAL, "done").unwrap();
    }
    for reading in readers {
        assert_eq!(reading.join().unwrap(), total + 1, "each reader got every message");
    }
}

fn shutdown_closes_every_client_with_1001<R: Rt>() {
    let rt = Arc::new(R::new());
    let server = Arc::new(rt.bind(ServerBuilder::new()));
    let addr = server.local_addr();
    server_support::serve_echo(&rt, Arc::clone(&server));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (mut ws, _) = connect(addr, "/", &[]).unwrap();
            std::thread::spawn(move || read_until_close(&mut ws).0)
        })
        .collect();
    eventually("three connections", || server.connections() == 3);
    let start = Instant::now();
    let unfinished = rt.block_on(server.shutdown());
    assert_eq!(unfinished, 0, "every close handshake finished");
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    for client in clients {
        assert_eq!(client.join().unwrap(), Some(1001));
    }
    assert!(
        rt.block_on(server.accept()).is_none(),
        "no more connections after shutdown"
    );
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "the listener is closed"
    );
}

fn a_subscriber_that_never_reads_again_is_let_go_within_the_close_timeout<R: Rt>() {
    let rt = Arc::new(R::new());
    let config = ServerConfig::default()
        .max_queued_messages(2)
        .connection(Config::default().close_timeout(Duration::from_millis(300)));
    let server = rt.bind(ServerBuilder::new().config(config));
    let (_stuck, _) = connect(server.local_addr(), "/", &[]).unwrap();
    let peer = rt.block_on(server.accept()).unwrap();
    let hub = server.broadcast();
    let start = Instant::now();
    let mut n = 0;
    // Its task finds it slow after a `send` returned: keep publishing until a report says so.
    while hub.send(vec![1u8; 256 << 10]).dropped_slow == 0 {
        n += 1;
        assert!(n < 1000, "never found slow");
        std::thread::sleep(Duration::from_millis(2));
    }
    let close = rt.block_on(peer.closed());
    assert_eq!(close.code.0, 1008, "{close}");
    eventually("the task to end", || server.connections() == 0);
    assert!(start.elapsed() < Duration::from_secs(4), "{:?}", start.elapsed());
}

fn a_broadcast_reaches_a_compressing_client_and_a_plain_one_alike<R: Rt>() {
    let rt = Arc::new(R::new());
    let server = rt.bind(ServerBuilder::new());
    let addr = server.local_addr();
    // The resock client offers permessage-deflate (feature `deflate`); tungstenite does not.
    let compressing = rt.client(resock::ClientBuilder::new(&format!("ws://{addr}/z")).unwrap());
    let compressing_peer = rt.block_on(server.accept()).unwrap();
    let (mut plain, _) = connect(addr, "/plain", &[]).unwrap();
    let plain_peer = rt.block_on(server.accept()).unwrap();
    let agreed = compressing_peer
        .request()
        .header("Sec-WebSocket-Extensions")
        .is_some_and(|offer| offer.contains("permessage-deflate"));
    assert_eq!(agreed, cfg!(feature = "deflate"));
    assert!(plain_peer.request().header("Sec-WebSocket-Extensions").is_none());

    let text = "tick ".repeat(1000);
    let report = server.broadcast().send(text.as_str());
    assert_eq!((report.delivered, report.dropped_slow, report.skipped), (2, 0, 0));
    let prepared = resock::PreparedMessage::new(&resock::Message::text("to one"));
    plain_peer.send_prepared(&prepared).unwrap();
    compressing_peer.send_prepared(&prepared).unwrap();

    assert_eq!(plain.read().unwrap(), Message::text(text.clone()));
    assert_eq!(plain.read().unwrap(), Message::text("to one"));
    rt.block_on(async {
        assert_eq!(compressing.recv().await.unwrap().as_text(), Some(text.as_str()));
        assert_eq!(compressing.recv().await.unwrap().as_text(), Some("to one"));
    });
}
