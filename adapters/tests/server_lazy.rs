//! The async server decodes on demand, on every runtime: a message arriving just before a
//! protocol violation is echoed before the failure's close frame (Autobahn 3.x, 4.x, 5.15),
//! an application that never calls `recv` still answers pings and runs its heartbeat, and a
//! client flooding such an application is paused by TCP instead of filling the server.
#![cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]

#[macro_use]
mod server_support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use resock::{ServerBuilder, ServerConfig};
use server_support::{LIMIT, Rt, raw_exchange, serve_echo, upgrade_request};

on_server_runtimes!(
    a_message_before_a_reserved_opcode_is_echoed_before_the_1002,
    a_message_before_a_bad_continuation_is_echoed_before_the_1002,
    a_message_before_invalid_utf8_is_echoed_before_the_1007,
    a_message_a_ping_and_a_bad_frame_get_echo_pong_close_in_order,
    an_app_that_never_calls_recv_answers_pings_and_runs_its_heartbeat,
    a_flood_at_an_app_that_never_calls_recv_pauses_reading,
);

const TEXT: u8 = 0x1;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// A masked client frame.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// An unmasked server frame: its opcode and payload; `None` at the end of the stream.
fn read_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    match stream.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof || e.kind() == ErrorKind::ConnectionReset => return None,
        Err(e) => panic!("reading a frame: {e}"),
    }
    assert_eq!(head[1] & 0x80, 0, "a server frame is never masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).unwrap();
            u64::from(u16::from_be_bytes(ext))
        }
        127 => {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext).unwrap();
            u64::from_be_bytes(ext)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0; usize::try_from(len).unwrap()];
    stream.read_exact(&mut payload).unwrap();
    Some((head[0] & 0x0f, payload))
}

/// An open raw connection to the server at `addr`.
fn open(addr: std::net::SocketAddr) -> TcpStream {
    let (stream, head) = raw_exchange(addr, upgrade_request(addr).as_bytes());
    assert!(head.starts_with("HTTP/1.1 101 "), "{head:?}");
    stream
}

/// The close code of a close frame's payload.
fn close_code(payload: &[u8]) -> u16 {
    assert!(payload.len() >= 2, "a close frame without a code: {payload:?}");
    u16::from_be_bytes([payload[0], payload[1]])
}

/// Writes `valid` then `bad` in one write to an echoing server; the echo of `valid` must come
/// before the close frame, whose code is `code`.
fn echo_comes_before_the_failure<R: Rt>(bad: &[u8], code: u16) {
    let rt = Arc::new(R::new());
    let server = Arc::new(rt.bind(ServerBuilder::new()));
    serve_echo(&rt, Arc::clone(&server));
    let mut stream = open(server.local_addr());
    let mut bytes = frame(true, TEXT, b"before the violation");
    bytes.extend_from_slice(bad);
    stream.write_all(&bytes).unwrap();
    let first = read_frame(&mut stream).expect("a frame before the end");
    assert_eq!(first, (TEXT, b"before the violation".to_vec()), "the echo comes first");
    let (opcode, payload) = read_frame(&mut stream).expect("the close frame");
    assert_eq!(opcode, CLOSE);
    assert_eq!(close_code(&payload), code);
}

fn a_message_before_a_reserved_opcode_is_echoed_before_the_1002<R: Rt>() {
    echo_comes_before_the_failure::<R>(&frame(true, 0x3, b"reserved"), 1002);
}

fn a_message_before_a_bad_continuation_is_echoed_before_the_1002<R: Rt>() {
    echo_comes_before_the_failure::<R>(&frame(true, CONTINUATION, b"nothing to continue"), 1002);
}

fn a_message_before_invalid_utf8_is_echoed_before_the_1007<R: Rt>() {
    echo_comes_before_the_failure::<R>(&frame(true, TEXT, b"bad \xff utf-8"), 1007);
}

fn a_message_a_ping_and_a_bad_frame_get_echo_pong_close_in_order<R: Rt>() {
    let rt = Arc::new(R::new());
    let server = Arc::new(rt.bind(ServerBuilder::new()));
    serve_echo(&rt, Arc::clone(&server));
    let mut stream = open(server.local_addr());
    let mut bytes = frame(true, TEXT, b"echo me");
    bytes.extend(frame(true, PING, b"ping me"));
    bytes.extend(frame(true, 0xB, b"reserved control"));
    stream.write_all(&bytes).unwrap();
    assert_eq!(read_frame(&mut stream), Some((TEXT, b"echo me".to_vec())));
    assert_eq!(read_frame(&mut stream), Some((PONG, b"ping me".to_vec())));
    let (opcode, payload) = read_frame(&mut stream).expect("the close frame");
    assert_eq!(opcode, CLOSE);
    assert_eq!(close_code(&payload), 1002);
}

fn an_app_that_never_calls_recv_answers_pings_and_runs_its_heartbeat<R: Rt>() {
    let rt = Arc::new(R::new());
    let config = ServerConfig::default()
        .ping_interval(Some(Duration::from_millis(200)))
        .pong_timeout(Duration::from_millis(300));
    let server = Arc::new(rt.bind(ServerBuilder::new().config(config)));
    let mut stream = open(server.local_addr());
    // The application takes the connection and only ever sends.
    let peer = rt.block_on(server.accept()).expect("the connection");
    peer.send("hello").unwrap();
    assert_eq!(read_frame(&mut stream), Some((TEXT, b"hello".to_vec())));
    for n in 0..3u8 {
        stream.write_all(&frame(true, PING, &[n])).unwrap();
        assert_eq!(read_frame(&mut stream), Some((PONG, vec![n])), "ping {n} answered");
    }
    // The heartbeat: after 200 ms of silence the server pings; this client answers once,
    // then stays silent, and is dropped with 1011 within interval + timeout.
    let (opcode, payload) = read_frame(&mut stream).expect("the server's ping");
    assert_eq!(opcode, PING);
    stream.write_all(&frame(true, PONG, &payload)).unwrap();
    let silent_since = Instant::now();
    loop {
        let (opcode, payload) = read_frame(&mut stream).expect("a ping or the close");
        if opcode == CLOSE {
            assert_eq!(close_code(&payload), 1011, "pong timeout");
            break;
        }
        assert_eq!(opcode, PING);
    }
    let waited = silent_since.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_millis(500) + LIMIT / 5,
        "dropped after {waited:?} of silence"
    );
    assert!(rt.block_on(peer.recv()).is_none(), "closed, nothing received");
}

fn a_flood_at_an_app_that_never_calls_recv_pauses_reading<R: Rt>() {
    let rt = Arc::new(R::new());
    let server = Arc::new(rt.bind(ServerBuilder::new()));
    let mut stream = open(server.local_addr());
    let peer = rt.block_on(server.accept()).expect("the connection");
    // 1 KiB messages until writing blocks: the server stops reading (TCP pushes back), so
    // what it took stays a few socket buffers, not the 256 MiB offered.
    stream.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
    let message = frame(true, TEXT, &[b'x'; 1024]);
    let batch: Vec<u8> = message.iter().copied().cycle().take(message.len() * 64).collect();
    let mut written = 0usize;
    let offered = 256 << 20;
    while written < offered {
        match stream.write(&batch) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("writing the flood: {e}"),
        }
    }
    assert!(written < 64 << 20, "the server kept reading: {written} bytes taken");
    assert!(peer.is_open(), "paused, not closed");
    // The first message waited for recv all along; taking it lets the flood go on.
    let first = rt.block_on(peer.recv()).expect("the first message");
    assert_eq!(first.as_bytes().len(), 1024);
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    let reader = peer.clone();
    rt.spawn(async move { while reader.recv().await.is_some() {} });
    stream.write_all(&batch).expect("reading resumed");
    drop(peer);
}
