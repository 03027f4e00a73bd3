//! `handshake_response` (client side) and `handshake_request` (server side).
//!
//! Input: a selector byte (options and limits), a chunking seed byte (see
//! [`chunks`](crate::util::chunks)), then the HTTP bytes. Each input is parsed whole and
//! chunked; both must agree, errors must be sticky, and what is accepted must be valid.

use std::time::{Duration, Instant};

use resock_core::handshake::headers::{accept_key, encode_key, is_token, is_valid_key};
use resock_core::handshake::{
    Accepted, ClientHandshake, ClientOptions, HandshakeError, HandshakeLimits, Progress, Request, ServerHandshake,
    reject_response, try_accept_response,
};
use resock_core::session::{ReconnectPolicy, retry_after};
use resock_core::{Config, Connection, ConnectionError, DisconnectReason, Event, Input, WsUrl};

use crate::util::chunks;

/// The `Sec-WebSocket-Key` bytes the fuzzed client sends (seeds carry the matching accept).
pub const CLIENT_KEY: [u8; 16] = *b"resock fuzz key!";
/// The URL the fuzzed client connects to.
pub const CLIENT_URL: &str = "ws://example.com/chat";
/// The subprotocols the client offers under selector profiles 1 and 2.
pub const SUBPROTOCOLS: [&str; 2] = ["chat", "superchat"];

/// The `Sec-WebSocket-Accept` value that matches [`CLIENT_KEY`].
pub fn client_accept() -> String {
    accept_key(&encode_key(&CLIENT_KEY))
}

/// Limits small enough for the fuzzer to reach them.
pub fn small_limits() -> HandshakeLimits {
    HandshakeLimits {
        max_header_bytes: 512,
        max_headers: 8,
        max_body_prefix: 16,
    }
}

/// Client options by selector: 0 none, 1 subprotocols, 2 subprotocols required, 3 small limits.
pub fn client_options(sel: u8) -> ClientOptions {
    let mut options = ClientOptions::default();
    match sel & 3 {
        1 => options.subprotocols = SUBPROTOCOLS.map(str::to_owned).to_vec(),
        2 => {
            options.subprotocols = SUBPROTOCOLS.map(str::to_owned).to_vec();
            options.require_subprotocol = true;
        }
        3 => options.limits = small_limits(),
        _ => {}
    }
    options
}

#[derive(Debug, PartialEq)]
enum ClientOutcome {
    /// Accepted; the head ended this many bytes into the whole input.
    Complete(Accepted, usize),
    Failed(HandshakeError),
    /// Still partial at the end of input; `feed_eof` said this.
    Eof(HandshakeError),
}

fn run_client(options: &ClientOptions, pieces: &[&[u8]]) -> ClientOutcome {
    let url: WsUrl = CLIENT_URL.parse().expect("fixed URL");
    let mut hs = ClientHandshake::new(&url, options, CLIENT_KEY).expect("fixed options are valid");
    let mut offset = 0;
    let outcome = 'run: {
        for piece in pieces {
            match hs.feed(piece) {
                Ok(Progress::Partial) => offset += piece.len(),
                Ok(Progress::Complete { value, consumed }) => {
                    assert!(consumed <= piece.len(), "consumed {consumed} of {}", piece.len());
                    break 'run ClientOutcome::Complete(value, offset + consumed);
                }
                Err(e) => break 'run ClientOutcome::Failed(e),
            }
        }
        ClientOutcome::Eof(hs.feed_eof())
    };
    // Errors are sticky and a finished handshake refuses more input.
    match &outcome {
        ClientOutcome::Complete(..) => assert_eq!(hs.feed(b"x"), Err(HandshakeError::Finished)),
        ClientOutcome::Failed(e) | ClientOutcome::Eof(e) => assert_eq!(hs.feed(b"\r\n\r\n").as_ref(), Err(e)),
    }
    outcome
}

/// The `handshake_response` target body.
pub fn handshake_response(data: &[u8]) {
    let [sel, seed, response @ ..] = data else {
        return;
    };
    let options = client_options(*sel);
    let whole = run_client(&options, &[response]);
    let chunked = run_client(&options, &chunks(response, *seed));
    assert_eq!(whole, chunked, "chunking changed the outcome");
    match whole {
        ClientOutcome::Complete(accepted, consumed) => {
            assert!(consumed <= response.len());
            assert!(accepted.headers.len() <= options.limits.max_headers);
            match &accepted.subprotocol {
                Some(p) => assert!(options.subprotocols.contains(p), "unoffered subprotocol {p:?} accepted"),
                None => assert!(!options.require_subprotocol || options.subprotocols.is_empty()),
            }
            assert!(consumed <= options.limits.max_header_bytes);
        }
        ClientOutcome::Failed(e) | ClientOutcome::Eof(e) => {
            assert!(!e.is_local_misuse(), "peer input reported as local misuse: {e:?}");
            if let HandshakeError::Rejected(r) = &e {
                assert_ne!(r.status, 101);
                assert!(r.body.len() <= options.limits.max_body_prefix);
                assert!(r.headers.len() <= options.limits.max_headers);
                // The session reads Retry-After (delay-seconds or an HTTP-date) from rejections.
                if let Some(delay) = retry_after(r) {
                    assert!(delay <= Duration::from_secs(24 * 3600), "Retry-After of {delay:?}");
                }
            }
            let _ = DisconnectReason::Handshake(e.clone()).default_decision(&ReconnectPolicy::default());
            let _ = e.to_string();
        }
    }
}

#[derive(Debug, PartialEq)]
enum ServerOutcome {
    Complete(Request, usize),
    Failed(HandshakeError),
    Partial,
}

fn run_server(limits: &HandshakeLimits, pieces: &[&[u8]]) -> ServerOutcome {
    let mut hs = ServerHandshake::new(limits.clone());
    let mut offset = 0;
    let outcome = 'run: {
        for piece in pieces {
            match hs.feed(piece) {
                Ok(Progress::Partial) => offset += piece.len(),
                Ok(Progress::Complete { value, consumed }) => {
                    assert!(consumed <= piece.len());
                    break 'run ServerOutcome::Complete(value, offset + consumed);
                }
                Err(e) => break 'run ServerOutcome::Failed(e),
            }
        }
        ServerOutcome::Partial
    };
    match &outcome {
        ServerOutcome::Complete(..) => assert_eq!(hs.feed(b"x"), Err(HandshakeError::Finished)),
        ServerOutcome::Failed(e) => assert_eq!(hs.feed(b"\r\n\r\n").as_ref(), Err(e)),
        ServerOutcome::Partial => {}
    }
    outcome
}

/// The `handshake_request` target body.
pub fn handshake_request(data: &[u8]) {
    let [sel, seed, request @ ..] = data else {
        return;
    };
    let limits = if sel & 1 == 0 {
        HandshakeLimits::default()
    } else {
        small_limits()
    };
    let pieces = chunks(request, *seed);
    let whole = run_server(&limits, &[request]);
    let chunked = run_server(&limits, &pieces);
    assert_eq!(whole, chunked, "chunking changed the outcome");
    match &whole {
        ServerOutcome::Complete(req, consumed) => {
            assert!(*consumed <= limits.max_header_bytes);
            assert!(req.path.starts_with('/'), "path {:?}", req.path);
            assert!(is_valid_key(&req.key), "key {:?}", req.key);
            assert!(!req.host.is_empty());
            assert!(req.headers.len() <= limits.max_headers);
            for p in &req.subprotocols {
                assert!(is_token(p), "subprotocol {p:?} is not a token");
            }
            let mut out = Vec::new();
            let chosen = req.subprotocols.first().map(String::as_str);
            try_accept_response(req, chosen, &[("X-Fuzz".into(), "1".into())], &mut out).expect("valid answer refused");
            let text = String::from_utf8(out).expect("response is ASCII");
            assert!(text.starts_with("HTTP/1.1 101 "));
            assert!(text.contains(&format!("Sec-WebSocket-Accept: {}\r\n", accept_key(&req.key))));
            assert!(text.ends_with("\r\n\r\n"));
            let mut out = Vec::new();
            assert!(try_accept_response(req, Some("not offered, not a token"), &[], &mut out).is_err());
            assert!(try_accept_response(req, None, &[("Bad\r\nName".into(), "v".into())], &mut out).is_err());
            assert!(out.is_empty(), "a refused answer wrote bytes");
        }
        ServerOutcome::Failed(e) => {
            assert!(!e.is_local_misuse(), "peer input reported as local misuse: {e:?}");
            let mut out = Vec::new();
            reject_response(e.http_status(), e.to_string().as_bytes(), &mut out);
            assert!(out.starts_with(format!("HTTP/1.1 {} ", e.http_status()).as_bytes()));
        }
        ServerOutcome::Partial => {}
    }
    check_server_connection(&limits, &pieces, &whole);
}

/// A server `Connection` fed the same chunks reports the same request or error.
fn check_server_connection(limits: &HandshakeLimits, pieces: &[&[u8]], expected: &ServerOutcome) {
    let now = Instant::now();
    let mut conn = Connection::server(Config::default().handshake_limits(limits.clone()), [7; 32], now);
    let mut tx = Vec::new();
    let mut request = None;
    let mut closed = None;
    for piece in pieces {
        conn.handle_input(now, Input::Data(piece));
        while let Some(event) = conn.poll_event() {
            assert!(closed.is_none(), "event after Closed: {event:?}");
            match event {
                Event::Request(r) => {
                    assert!(request.is_none(), "two requests");
                    conn.accept(now, &r, r.subprotocols.first().map(String::as_str), &[]);
                    request = Some(r);
                }
                Event::Closed(info) => closed = Some(info),
                _ => {}
            }
        }
        while conn.poll_transmit(&mut tx).is_some() {}
        if request.is_some() || closed.is_some() {
            break;
        }
    }
    match expected {
        ServerOutcome::Complete(req, _) => {
            assert_eq!(request.as_ref(), Some(req), "connection saw a different request");
            assert!(tx.starts_with(b"HTTP/1.1 101 "));
        }
        ServerOutcome::Failed(e) => {
            let info = closed.expect("connection did not close on a bad request");
            assert_eq!(info.error, Some(ConnectionError::Handshake(e.clone())));
            assert!(tx.starts_with(format!("HTTP/1.1 {} ", e.http_status()).as_bytes()));
        }
        ServerOutcome::Partial => {
            assert!(request.is_none() && closed.is_none());
            assert!(tx.is_empty());
        }
    }
}
