//! The blocking server role (`blocking::WebSocket::accept`) answers a request that never
//! completes with `408 Request Timeout` once the handshake timeout has passed, and says why.
#![cfg(feature = "blocking")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use resock::Config;
use resock::blocking::{Error, WebSocket};
use resock::core::error::ConnectionError;

#[test]
fn a_request_that_never_completes_is_answered_408_at_the_handshake_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let config = Config::default().handshake_timeout(Duration::from_millis(300));
        WebSocket::accept(stream, config).map(|_| ())
    });
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    // A slowloris: the request line and one header, never the blank line that ends the head.
    client.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).unwrap();
    let waited = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{answer}");
    assert!(waited >= Duration::from_millis(250), "answered after {waited:?}");
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    match server.join().unwrap() {
        Err(Error::Connection(ConnectionError::HandshakeTimeout)) => {}
        other => panic!("expected a handshake timeout, got {other:?}"),
    }
}
