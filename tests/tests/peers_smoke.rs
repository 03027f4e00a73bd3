//! The foreign peer servers (`interop/`, `resock_tests::peers`) against a tungstenite client:
//! every path of `interop/README.md`, the wss:// option, restarts on the same port, and that no
//! server process outlives its `Peer`. Each test runs for both servers; a server whose runtime is
//! not set up (`scripts/interop-setup.sh`) is skipped, or fails with `RESOCK_REQUIRE_PEERS=1`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use resock_tests::peers::{Peer, PeerKind, PeerOptions};
use tungstenite::handshake::client::Response;
use tungstenite::http::StatusCode;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role};
use tungstenite::{Bytes, Message, WebSocket};

const IO_TIMEOUT: Duration = Duration::from_secs(20);
const LOG_TIMEOUT: Duration = Duration::from_secs(5);

fn tcp(peer: &Peer) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", peer.port())).expect("connect to the peer");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

fn request(url: &str, headers: &[(&str, &str)]) -> tungstenite::handshake::client::Request {
    use tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    request
}

fn configure<S: Read + Write>(ws: &mut WebSocket<S>) {
    ws.set_config(|c| {
        c.max_message_size = Some(64 << 20);
        c.max_frame_size = Some(64 << 20);
    });
}

/// A tungstenite client on `path`, with extra request headers.
fn connect_with(peer: &Peer, path: &str, headers: &[(&str, &str)]) -> (WebSocket<TcpStream>, Response) {
    let (mut ws, response) = tungstenite::client(request(&peer.url(path), headers), tcp(peer))
        .unwrap_or_else(|e| panic!("{} peer, {path}: handshake failed: {e}\n{}", peer.kind(), peer.stderr()));
    configure(&mut ws);
    (ws, response)
}

fn connect(peer: &Peer, path: &str) -> WebSocket<TcpStream> {
    connect_with(peer, path, &[]).0
}

fn read_text<S: Read + Write>(ws: &mut WebSocket<S>) -> String {
    match ws.read().expect("read a message") {
        Message::Text(text) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Sends each message and expects it back unchanged.
fn assert_echoes<S: Read + Write>(ws: &mut WebSocket<S>, messages: &[Message]) {
    for message in messages {
        ws.send(message.clone()).unwrap();
        let back = ws.read().unwrap();
        assert!(back == *message, "echo of a {}-byte message differs", message.len());
    }
}

/// Reads until the connection is closed; returns the close frame the server sent, if any.
fn read_until_closed<S: Read + Write>(ws: &mut WebSocket<S>) -> Option<CloseFrame> {
    let mut frame = None;
    loop {
        match ws.read() {
            Ok(Message::Close(f)) => frame = f,
            Ok(other) => panic!("expected the close, got {other:?}"),
            Err(tungstenite::Error::ConnectionClosed) => return frame,
            Err(e) => panic!("expected a clean close, got {e}"),
        }
    }
}

/// Closes with `code` and `reason`, completes the closing handshake and drops the TCP connection
/// (the servers see the connection as closed, and log it, only once the TCP connection is gone).
fn close<S: Read + Write>(mut ws: WebSocket<S>, code: u16, reason: &str) {
    ws.close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }))
    .unwrap();
    let echoed = read_until_closed(&mut ws).expect("the server answers the close");
    assert_eq!(u16::from(echoed.code), code);
}

fn start(kind: PeerKind) -> Peer {
    Peer::start(kind, PeerOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn small_messages() -> Vec<Message> {
    vec![
        Message::text(""),
        Message::text("hello"),
        Message::text("κόσμε 🦀 ".repeat(1000)),
        Message::binary(Vec::new()),
        Message::binary((0..=255u8).collect::<Vec<u8>>()),
        Message::binary((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()),
    ]
}

fn echo(kind: PeerKind) {
    let peer = start(kind);
    let mut ws = connect(&peer, "/echo");
    assert_echoes(&mut ws, &small_messages());
    // 16 MiB each way, text and binary (the servers take up to 17 MiB).
    assert_echoes(
        &mut ws,
        &[
            Message::binary(vec![0xA5u8; 16 << 20]),
            Message::text("é".repeat(8 << 20)),
        ],
    );
    // The server answers our pings.
    ws.send(Message::Ping(Bytes::from_static(b"are you there"))).unwrap();
    match ws.read().unwrap() {
        Message::Pong(data) => assert_eq!(&data[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    close(ws, 1000, "");
    peer.wait_for_log_line("close 1000 ", LOG_TIMEOUT).unwrap();
}

fn headers(kind: PeerKind) {
    let peer = start(kind);
    let (mut ws, _) = connect_with(
        &peer,
        "/headers",
        &[("X-Resock-Probe", "42"), ("User-Agent", "resock-smoke")],
    );
    let json = read_text(&mut ws);
    for field in [
        "\"x-resock-probe\":\"42\"",
        "\"user-agent\":\"resock-smoke\"",
        "\"upgrade\":\"websocket\"",
        "\"sec-websocket-version\":\"13\"",
        &format!("\"host\":\"127.0.0.1:{}\"", peer.port()),
    ] {
        assert!(json.contains(field), "{field} missing from {json}");
    }
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    assert!(json.contains("\"sec-websocket-key\":"), "{json}");
    // After the headers, it echoes.
    assert_echoes(&mut ws, &[Message::text("after")]);
    close(ws, 1000, "");
}

fn subprotocol(kind: PeerKind) {
    let peer = start(kind);
    for (offered, chosen) in [
        ("chat.v1, chat.v2", "chat.v1"),
        ("x, chat.v2, chat.v1", "chat.v2"),
        ("chat.v1", "chat.v1"),
    ] {
        let (mut ws, response) = connect_with(&peer, "/subprotocol", &[("Sec-WebSocket-Protocol", offered)]);
        assert_eq!(
            response.headers().get("sec-websocket-protocol").unwrap(),
            chosen,
            "offered {offered}"
        );
        assert_eq!(read_text(&mut ws), chosen, "offered {offered}");
        close(ws, 1000, "");
    }
    // None offered: none chosen, and the message is empty.
    let (mut ws, response) = connect_with(&peer, "/subprotocol", &[]);
    assert!(response.headers().get("sec-websocket-protocol").is_none());
    assert_eq!(read_text(&mut ws), "");
    close(ws, 1000, "");
    // Only unsupported ones offered: the handshake succeeds without one (tungstenite would refuse
    // that, so this handshake is written by hand).
    let mut ws = raw_upgrade(&peer, "/subprotocol", "Sec-WebSocket-Protocol: chat.v3\r\n");
    assert_eq!(read_text(&mut ws), "");
    close(ws, 1000, "");
}

/// An upgrade written by hand: asserts a 101 without `Sec-WebSocket-Protocol`.
fn raw_upgrade(peer: &Peer, path: &str, extra_headers: &str) -> WebSocket<TcpStream> {
    let mut stream = tcp(peer);
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n",
        peer.port()
    )
    .unwrap();
    // Byte by byte, so nothing after the head is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("s3pplmbitxaq9kygzzhzrbk+xoo="),
        "wrong accept key: {head}"
    );
    assert!(!head.contains("sec-websocket-protocol"), "{head}");
    WebSocket::from_raw_socket(stream, Role::Client, None)
}

fn close_code(kind: PeerKind) {
    let peer = start(kind);
    for code in [4001u16, 1000, 1011, 3000] {
        let mut ws = connect(&peer, &format!("/close/{code}"));
        ws.send(Message::text("first")).unwrap();
        let frame = read_until_closed(&mut ws).expect("a close frame");
        assert_eq!(u16::from(frame.code), code);
        assert_eq!(frame.reason.as_str(), "bye");
    }
    // Codes a server may not send, and garbage, are unknown paths.
    for path in [
        "/close/1005",
        "/close/1006",
        "/close/999",
        "/close/5000",
        "/close/abc",
        "/close/",
    ] {
        assert_not_found(&peer, path);
    }
    // Server-initiated closes are not logged: after a marker close by us, it is the only line.
    let ws = connect(&peer, "/closed-by-client");
    close(ws, 4999, "marker");
    let lines = peer.wait_for_log_line("close 4999 marker", LOG_TIMEOUT).unwrap();
    assert_eq!(lines, ["close 4999 marker"]);
}

fn closed_by_client(kind: PeerKind) {
    let peer = start(kind);
    let mut ws = connect(&peer, "/closed-by-client");
    assert_echoes(&mut ws, &[Message::text("still open")]);
    close(ws, 4002, "client bye");
    peer.wait_for_log_line("close 4002 client bye", LOG_TIMEOUT).unwrap();
    // A close frame without a code, and a connection dropped without a close frame.
    let mut ws = connect(&peer, "/closed-by-client");
    ws.close(None).unwrap();
    assert!(read_until_closed(&mut ws).is_none_or(|f| u16::from(f.code) == 1005 || u16::from(f.code) == 1000));
    drop(ws);
    peer.wait_for_log_line("close 1005 ", LOG_TIMEOUT).unwrap();
    let ws = connect(&peer, "/closed-by-client");
    ws.get_ref().shutdown(Shutdown::Both).unwrap();
    drop(ws);
    peer.wait_for_log_line("close 1006 ", LOG_TIMEOUT).unwrap();
    // The reason is escaped onto one line.
    let ws = connect(&peer, "/echo");
    close(ws, 4003, "two\nlines \\ here");
    peer.wait_for_log_line("close 4003 two\\nlines \\\\ here", LOG_TIMEOUT)
        .unwrap();
}

fn count(kind: PeerKind) {
    let peer = start(kind);
    let mut ws = connect(&peer, "/count");
    for i in 1..=100 {
        let text = format!("n{i}");
        ws.send(Message::text(text.clone())).unwrap();
        assert_eq!(read_text(&mut ws), text);
    }
    // Binary: echoed, not logged; text with a line feed and a backslash: escaped.
    assert_echoes(&mut ws, &[Message::binary(vec![1u8, 2, 3]), Message::text("a\\b\nc\r")]);
    // `msg` lines are written before the echo, so they are all there already.
    let mut expected: Vec<String> = (1..=100).map(|i| format!("msg n{i}")).collect();
    expected.push("msg a\\\\b\\nc\\r".to_owned());
    assert_eq!(peer.log_lines(), expected);
    close(ws, 1000, "done");
    peer.wait_for_log_line("close 1000 done", LOG_TIMEOUT).unwrap();
}

fn assert_not_found(peer: &Peer, path: &str) {
    match tungstenite::client(request(&peer.url(path), &[]), tcp(peer)) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}")
        }
        Ok(_) => panic!("{path}: upgraded"),
        Err(e) => panic!("{path}: {e}"),
    }
}

fn unknown_path(kind: PeerKind) {
    let peer = start(kind);
    for path in ["/", "/nope", "/echo/extra", "/closed"] {
        assert_not_found(&peer, path);
    }
    // A query string does not change the route.
    let mut ws = connect(&peer, "/echo?x=1");
    assert_echoes(&mut ws, &[Message::text("q")]);
    close(ws, 1000, "");
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf, rustls::pki_types::CertificateDer<'static>) {
    std::fs::create_dir_all(dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key, certified.cert.der().clone())
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect_tls(peer: &Peer, path: &str, root: &rustls::pki_types::CertificateDer<'static>) -> WebSocket<TlsStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let stream = rustls::StreamOwned::new(conn, tcp(peer));
    let (mut ws, _) = tungstenite::client(request(&peer.url(path), &[]), stream)
        .unwrap_or_else(|e| panic!("{} peer over TLS: {e}\n{}", peer.kind(), peer.stderr()));
    configure(&mut ws);
    ws
}

fn tls(kind: PeerKind) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("peers-tls-{}-{}", kind.name(), std::process::id()));
    let (cert, key, root) = self_signed(&dir);
    let peer = Peer::start(
        kind,
        PeerOptions {
            tls: Some((cert, key)),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(peer.url("/echo").starts_with("wss://127.0.0.1:"));
    let mut ws = connect_tls(&peer, "/echo", &root);
    assert_echoes(&mut ws, &small_messages());
    assert_echoes(&mut ws, &[Message::binary(vec![7u8; 1 << 20])]);
    close(ws, 1000, "");
    let mut ws = connect_tls(&peer, "/subprotocol", &root);
    assert_eq!(read_text(&mut ws), "");
    close(ws, 4004, "tls bye");
    peer.wait_for_log_line("close 4004 tls bye", LOG_TIMEOUT).unwrap();
    // A plain ws:// client is not served on a wss:// port.
    let plain = tungstenite::client(request(&peer.url("/echo").replacen("wss", "ws", 1), &[]), tcp(&peer));
    assert!(plain.is_err());
    drop(peer);
    let _ = std::fs::remove_dir_all(dir);
}

fn restart_after_kill(kind: PeerKind) {
    let mut peer = start(kind);
    let port = peer.port();
    let mut ws = connect(&peer, "/count");
    assert_echoes(&mut ws, &[Message::text("before")]);
    let pid = peer.pid().unwrap();
    peer.kill().unwrap();
    assert!(peer.pid().is_none() && !Path::new(&format!("/proc/{pid}")).exists());
    // The connection ends without a close frame, and nothing listens any more.
    assert!(ws.read().is_err(), "the connection survived the kill");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening after kill"
    );
    let t0 = Instant::now();
    peer.restart().unwrap();
    eprintln!("{kind}: restart after kill took {:?}", t0.elapsed());
    assert_eq!(peer.port(), port);
    assert_ne!(peer.pid(), Some(pid));
    let mut ws = connect(&peer, "/count");
    assert_echoes(&mut ws, &[Message::text("after")]);
    close(ws, 1000, "");
    // The log carries on across the restart.
    let lines = peer.wait_for_log_line("close 1000 ", LOG_TIMEOUT).unwrap();
    assert_eq!(lines, ["msg before", "msg after", "close 1000 "]);
}

fn restart_after_stop(kind: PeerKind) {
    let mut peer = start(kind);
    let port = peer.port();
    let mut ws = connect(&peer, "/echo");
    assert_echoes(&mut ws, &[Message::text("before")]);
    // A graceful stop closes open connections with 1001 (going away); this client answers it.
    let client = thread::spawn(move || read_until_closed(&mut ws));
    let t0 = Instant::now();
    let status = peer.stop().unwrap();
    eprintln!("{kind}: graceful stop took {:?}", t0.elapsed());
    assert!(status.success(), "{status:?}");
    let frame = client.join().unwrap().expect("a close frame on stop");
    assert_eq!(u16::from(frame.code), 1001);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening after stop"
    );
    assert!(peer.stop().is_err(), "stopped twice");
    peer.restart().unwrap();
    assert_eq!(peer.port(), port);
    let mut ws = connect(&peer, "/echo");
    assert_echoes(&mut ws, &[Message::text("after")]);
    close(ws, 1000, "");
    // Shutdown closes are not logged; the client's close is.
    let lines = peer.wait_for_log_line("close 1000 ", LOG_TIMEOUT).unwrap();
    assert_eq!(lines, ["close 1000 "]);
    // restart() on a running server stops it first.
    let pid = peer.pid().unwrap();
    peer.restart().unwrap();
    assert_ne!(peer.pid(), Some(pid));
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(peer.port(), port);
    let mut ws = connect(&peer, "/echo");
    assert_echoes(&mut ws, &[Message::text("again")]);
}

fn drop_leaves_no_process(kind: PeerKind) {
    let peer = start(kind);
    let pid = peer.pid().unwrap();
    let log = peer.log_path().to_owned();
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_dir.exists());
    // An open connection does not keep it alive.
    let _ws = connect(&peer, "/echo");
    drop(peer);
    assert!(!proc_dir.exists(), "process {pid} outlived its Peer");
    assert!(!log.exists(), "the temporary log outlived its Peer");
}

fn exits_at_end_of_stdin(kind: PeerKind) {
    let mut peer = start(kind);
    let pid = peer.pid().unwrap();
    peer.close_stdin();
    let status = peer
        .wait_exit(Duration::from_secs(5))
        .unwrap()
        .expect("exited at end of stdin");
    assert!(status.success(), "{status:?}");
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

fn fixed_port(kind: PeerKind) {
    let first = start(kind);
    let port = first.port();
    // A second server on a taken port fails with AddrInUse, quickly.
    let taken = Peer::start(
        kind,
        PeerOptions {
            port: Some(port),
            ..Default::default()
        },
    );
    assert!(
        matches!(taken, Err(resock_tests::peers::PeerError::AddrInUse { .. })),
        "{:?}",
        taken.as_ref().err()
    );
    drop(first);
    let second = Peer::start(
        kind,
        PeerOptions {
            port: Some(port),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(second.port(), port);
    let mut ws = connect(&second, "/echo");
    assert_echoes(&mut ws, &[Message::text("fixed")]);
}

macro_rules! for_each_peer {
    ($($module:ident => $kind:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            const KIND: PeerKind = $kind;
            for_each_peer!(@tests echo headers subprotocol close_code closed_by_client count unknown_path tls
                restart_after_kill restart_after_stop drop_leaves_no_process exits_at_end_of_stdin fixed_port);
        }
    )*};
    (@tests $($test:ident)*) => {$(
        #[test]
        fn $test() {
            if KIND.require_or_skip() {
                super::$test(KIND);
            }
        }
    )*};
}

for_each_peer!(python => PeerKind::Python, node => PeerKind::Node);
