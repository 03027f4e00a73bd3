//! A flood of silent sockets against a full server, on every runtime: the server closes what
//! it has no place for at once, so the flood costs it a bounded number of descriptors, and it
//! keeps serving. Descriptors are counted for the whole process, so this file's tests run one
//! at a time and alone in their binary.
#![cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]

#[macro_use]
mod server_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resock::{Config, ServerBuilder, ServerConfig};
use server_support::{Rt, connect, serve_echo, tcp};

on_server_runtimes!(a_flood_of_silent_sockets_costs_the_server_a_bounded_number_of_descriptors);

/// One test at a time: each counts the process's descriptors.
static ALONE: Mutex<()> = Mutex::new(());

/// Whether the server closed `stream` (EOF or reset), without waiting or taking any byte.
fn closed_by_the_server(stream: &std::net::TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let closed = match stream.peek(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

/// Descriptors this process holds (Linux: `/proc/self/fd`).
#[cfg(target_os = "linux")]
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|dir| dir.count()).unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn open_descriptors() -> usize {
    0
}

fn a_flood_of_silent_sockets_costs_the_server_a_bounded_number_of_descriptors<R: Rt>() {
    let _alone = ALONE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let rt = Arc::new(R::new());
    let config = ServerConfig::default().connection(Config::default().handshake_timeout(Duration::from_secs(3)));
    let builder = ServerBuilder::new().config(config).max_connections(2).max_refusals(4);
    let server = Arc::new(rt.bind(builder));
    let addr = server.local_addr();
    serve_echo(&rt, Arc::clone(&server));
    let (mut served, _) = connect(addr, "/", &[]).unwrap();
    let before = open_descriptors();
    // 60 sockets that send nothing: one takes the last place, four are being refused (their
    // request awaited), and the server closes the rest at once.
    let flood: Vec<_> = (0..60).map(|_| tcp(addr)).collect();
    // Closed at once: well before the 3 s a refused socket is given for its request.
    let start = std::time::Instant::now();
    while flood.iter().filter(|s| closed_by_the_server(s)).count() < 60 - 5 {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the flood past the places was not closed at once"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let after = open_descriptors();
    if cfg!(target_os = "linux") {
        // Our 60 client sockets, and on the server side at most 1 connection + 4 refusals
        // (plus a few descriptors a runtime may open meanwhile).
        assert!(
            after <= before + 60 + 5 + 4,
            "{before} descriptors before, {after} after"
        );
    }
    // The server still serves its connection.
    served.send(tungstenite::Message::text("still served")).unwrap();
    assert_eq!(served.read().unwrap(), tungstenite::Message::text("still served"));
    drop(flood);
}
