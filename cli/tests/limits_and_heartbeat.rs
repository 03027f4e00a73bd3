//! The client's own settings, seen from outside: a pong timeout longer than the ping interval
//! still detects a server that never answers pings, and a message over `--max-message` ends
//! the command after one attempt, naming the limit.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Proc, events, json_lines, serve};
use resock_core::handshake::accept_key;

/// A loopback WebSocket server that completes each handshake, then reads and ignores every
/// frame (pings included) and never writes again. Reports the instant of each accept.
fn server_that_never_answers_pings() -> (u16, mpsc::Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted, accepts) = mpsc::channel();
    thread::spawn(move || {
        // Bounded: the test needs two connections; a third ends the thread.
        for stream in listener.incoming().take(3) {
            let Ok(stream) = stream else { return };
            if accepted.send(Instant::now()).is_err() {
                return;
            }
            thread::spawn(move || swallow(stream));
        }
    });
    (port, accepts)
}

fn swallow(stream: TcpStream) {
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut key = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("sec-websocket-key") {
                key = Some(value.trim().to_owned());
            }
        }
        if line == "\r\n" {
            break;
        }
    }
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key.expect("a key"))
    );
    (&stream).write_all(response.as_bytes()).unwrap();
    let mut sink = [0u8; 4096];
    while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
}

#[test]
fn a_pong_timeout_longer_than_the_interval_reconnects_within_half_a_second() {
    for runtime in ["smol", "tokio", "blocking"] {
        let (port, accepts) = server_that_never_answers_pings();
        let url = format!("ws://127.0.0.1:{port}/");
        let client = Proc::start(&[
            &url,
            "--ping-interval",
            "200",
            "--pong-timeout",
            "300",
            "--backoff-initial",
            "10",
            "--backoff-max",
            "10",
            "--json-events",
            "--runtime",
            runtime,
        ]);
        let first = accepts.recv_timeout(Duration::from_secs(10)).expect("first connection");
        let second = accepts
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{runtime}: never reconnected; stderr: {}", client.stderr()));
        let gap = second - first;
        // The first ping goes out 200 ms after the open, the pong is due 300 ms later.
        assert!(gap >= Duration::from_millis(480), "{runtime}: {gap:?}");
        assert!(gap < Duration::from_millis(2500), "{runtime}: {gap:?}");
        let out = client.wait_stdout("the reconnect event", |t| t.contains("\"reconnect\""));
        let all = json_lines(&out);
        let disconnected = events(&all, "disconnected");
        assert!(
            disconnected[0]["reason"].as_str().unwrap().contains("pong"),
            "{runtime}: {}",
            disconnected[0]
        );
    }
}

#[test]
fn a_message_over_max_message_ends_the_command_after_one_attempt() {
    let (_server, port) = serve(&["-q"]);
    let url = format!("ws://127.0.0.1:{port}/");
    for runtime in ["smol", "async-std", "tokio", "blocking"] {
        let mut client = Proc::start(&[&url, "--max-message", "20", "--json-events", "--runtime", runtime]);
        client.wait_stdout("open", |t| t.contains("\"open\""));
        // The echo server sends the 40-byte line back: over the client's 20-byte limit.
        client.write_stdin(b"0123456789012345678901234567890123456789\n");
        let status = client.wait_exit();
        assert_eq!(status.code(), Some(1), "{runtime}");
        let err = client.stderr();
        assert!(
            err.contains("over this client's max_message_size of 20 bytes"),
            "{runtime}: {err}"
        );
        let all = json_lines(&client.stdout());
        let attempts = events(&all, "state")
            .into_iter()
            .filter(|e| e["state"] == "connecting")
            .count();
        assert_eq!(attempts, 1, "{runtime}: one attempt only");
    }
}
