//! The opening handshake (RFC 6455 §4): the client's request and response validation,
//! the server's request validation and responses.
//!
//! Both parsers are incremental and bounded. Bytes may arrive in any chunking, down to
//! one byte per call. Received bytes are buffered up to
//! [`HandshakeLimits::max_header_bytes`]; only the newly added bytes are searched for the
//! blank line ending the head, and `httparse` runs once, on the complete head, so the
//! work is linear in the input size (compare CVE-2023-43669).
//!
//! When the head is complete, [`Progress::Complete`] reports how many bytes *of the
//! last call's input* belonged to it. The rest of that input is the start of the frame
//! stream and must be handed to the frame decoder.

use std::fmt;

pub mod client;
pub mod headers;
pub mod server;

pub use client::{Accepted, ClientHandshake, ClientOptions};
pub use headers::accept_key;
pub use server::{
    Request, ServerHandshake, accept_response, reject_response, reject_response_with_headers, try_accept_response,
};
pub(crate) use server::{accept_response_with_extensions, offered};

/// Bounds on handshake input.
///
/// Default: `max_header_bytes` 64 KiB, `max_headers` 128, `max_body_prefix` 4096.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Largest HTTP head (status or request line, headers and the blank line) accepted.
    pub max_header_bytes: usize,
    /// Largest number of header fields accepted in one head.
    pub max_headers: usize,
    /// How many bytes of a rejection's body the client keeps for [`HttpRejection::body`].
    pub max_body_prefix: usize,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            max_header_bytes: 64 * 1024,
            max_headers: 128,
            max_body_prefix: 4096,
        }
    }
}

/// Answer of an incremental parser.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<T> {
    /// More input is needed.
    Partial,
    /// The handshake is complete.
    Complete {
        /// What the handshake established.
        value: T,
        /// How many bytes of the last call's input belonged to the handshake; the rest
        /// belongs to the frame stream.
        consumed: usize,
    },
}

/// A non-101 answer from the server, with a bounded copy of its headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRejection {
    /// The HTTP status code.
    pub status: u16,
    /// The reason phrase, as sent (empty if none or not valid UTF-8).
    pub reason: String,
    /// All response headers, at most [`HandshakeLimits::max_headers`] of them.
    pub headers: Vec<(String, String)>,
    /// The `Retry-After` header, if any (for 429 and 503).
    pub retry_after: Option<String>,
    /// The `Location` header, if any (for 3xx redirects).
    pub location: Option<String>,
    /// The start of the body, at most [`HandshakeLimits::max_body_prefix`] bytes.
    pub body: Vec<u8>,
}

impl fmt::Display for HttpRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.reason.is_empty() {
            write!(f, " {}", self.reason)?;
        }
        Ok(())
    }
}

/// Why a handshake failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The server answered with a status other than 101.
    #[error("the server rejected the WebSocket upgrade with {0}")]
    Rejected(Box<HttpRejection>),
    /// No `Upgrade` header.
    #[error("the handshake has no Upgrade header")]
    MissingUpgrade,
    /// An `Upgrade` header that does not name `websocket`.
    #[error("the Upgrade header does not name websocket")]
    BadUpgrade,
    /// No `Connection` header with the `upgrade` token.
    #[error("the Connection header lacks the upgrade token")]
    MissingConnectionUpgrade,
    /// The response has no `Sec-WebSocket-Accept` header.
    #[error("the response has no Sec-WebSocket-Accept header")]
    MissingAccept,
    /// `Sec-WebSocket-Accept` does not match the key we sent.
    #[error("the Sec-WebSocket-Accept header does not match the key sent")]
    BadAccept,
    /// More than one `Sec-WebSocket-Accept` header.
    #[error("the response repeats the Sec-WebSocket-Accept header")]
    DuplicateAccept,
    /// The server chose a subprotocol we did not offer.
    #[error("the server chose the subprotocol {0:?}, which was not offered")]
    UnrequestedSubprotocol(String),
    /// The server named more than one subprotocol.
    #[error("the server chose more than one subprotocol")]
    MultipleSubprotocols,
    /// We offered subprotocols, the server chose none, and one is required.
    #[error("the server chose none of the offered subprotocols, and one is required")]
    SubprotocolRequired,
    /// The server named an extension that was not offered.
    #[error("the server named the extension {0:?}, which was not offered")]
    UnrequestedExtension(String),
    /// The server's `Sec-WebSocket-Extensions` answer cannot be read, or its
    /// permessage-deflate breaks RFC 7692 (an unknown or repeated parameter, a value out of
    /// range, a setting we asked for left out); the text says which.
    #[error("the server's Sec-WebSocket-Extensions answer is invalid: {0}")]
    InvalidExtension(String),
    /// The head grew past [`HandshakeLimits::max_header_bytes`] without ending.
    #[error("the handshake head exceeds the limit of {limit} bytes")]
    HeadersTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The head has more than [`HandshakeLimits::max_headers`] header fields.
    #[error("the handshake has more than {limit} headers")]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },
    /// The head is not acceptable HTTP/1.1: a parse error, a junk status line, HTTP/1.0,
    /// a duplicated header that must be unique, or a request with a body.
    #[error("the handshake is malformed: {0}")]
    Malformed(String),
    /// The transport closed before the handshake completed.
    #[error("the connection closed during the opening handshake")]
    UnexpectedEof,
    /// The request method is not GET.
    #[error("the request method is not GET")]
    BadMethod,
    /// `Sec-WebSocket-Version` is missing or not 13 (answer 426).
    #[error("the request's Sec-WebSocket-Version is missing or not 13")]
    BadVersion,
    /// No `Sec-WebSocket-Key` header.
    #[error("the request has no Sec-WebSocket-Key header")]
    MissingKey,
    /// `Sec-WebSocket-Key` is not base64 of 16 bytes.
    #[error("the request's Sec-WebSocket-Key is not base64 of 16 bytes")]
    BadKey,
    /// The request repeats a header that must appear at most once (`Sec-WebSocket-Key`,
    /// `Host`, `Origin`); the name is written as RFC 6455 spells it.
    #[error("the request repeats the {0} header")]
    RepeatedHeader(&'static str),
    /// No (or an empty) `Host` header.
    #[error("the request has no Host header")]
    MissingHost,
    /// Local misuse: a header, subprotocol or request target supplied by the caller
    /// cannot be written safely (CR/LF, not a token, a reserved header, …).
    #[error("the handshake options are invalid: {0}")]
    InvalidHeader(String),
    /// Local misuse: `feed` was called after the handshake completed.
    #[error("the handshake is already complete")]
    Finished,
}

impl HandshakeError {
    /// HTTP status a server should answer this request error with: 405 for
    /// [`BadMethod`](Self::BadMethod), 426 for [`BadVersion`](Self::BadVersion), 431 for the
    /// size limits, 500 for local misuse, 400 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            HandshakeError::BadMethod => 405,
            HandshakeError::BadVersion => 426,
            HandshakeError::HeadersTooLarge { .. } | HandshakeError::TooManyHeaders { .. } => 431,
            HandshakeError::InvalidHeader(_) | HandshakeError::Finished => 500,
            _ => 400,
        }
    }

    /// Whether the error comes from the caller's own configuration or misuse (not from
    /// the peer), so retrying the same handshake cannot succeed.
    pub fn is_local_misuse(&self) -> bool {
        matches!(self, HandshakeError::InvalidHeader(_) | HandshakeError::Finished)
    }
}

/// Where the head parser stands after a push.
pub(crate) enum Head {
    /// No blank line yet.
    Partial,
    /// The head is `buf[..head_len]`; `consumed` bytes of the pushed data belonged to it.
    Complete { consumed: usize },
}

/// Buffers a request or response head and finds its end in linear time.
#[derive(Debug, Default)]
pub(crate) struct HeadBuffer {
    buf: Vec<u8>,
    /// First index not yet ruled out as the start of an end-of-head pattern.
    scan_from: usize,
}

impl HeadBuffer {
    /// Appends `data` (at most up to `limit` buffered bytes) and looks for the blank line
    /// ending the head (`\r\n\r\n`, or the bare-LF forms `\n\n` and `\n\r\n`).
    pub(crate) fn push(&mut self, data: &[u8], limit: usize) -> Result<Head, HandshakeError> {
        let old_len = self.buf.len();
        let room = limit.saturating_sub(old_len);
        let take = data.len().min(room);
        self.buf.extend_from_slice(&data[..take]);
        if let Some(end) = find_head_end(&self.buf, self.scan_from) {
            self.buf.truncate(end);
            return Ok(Head::Complete {
                consumed: end.saturating_sub(old_len),
            });
        }
        // Patterns are at most 3 bytes long, starting with '\n'.
        self.scan_from = self.buf.len().saturating_sub(2);
        if self.buf.len() >= limit {
            return Err(HandshakeError::HeadersTooLarge { limit });
        }
        Ok(Head::Partial)
    }

    /// The complete head (after [`Head::Complete`]).
    pub(crate) fn head(&self) -> &[u8] {
        &self.buf
    }
}

/// The index just past the first blank line found at or after `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            match buf.get(i + 1..) {
                Some([b'\n', ..]) => return Some(i + 2),
                Some([b'\r', b'\n', ..]) => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// A header array for `httparse`, never larger than the head could fill (a header line
/// takes at least 3 bytes), so a huge `max_headers` cannot cause a huge allocation.
pub(crate) fn header_slots(max_headers: usize, head_len: usize) -> Vec<httparse::Header<'static>> {
    vec![httparse::EMPTY_HEADER; max_headers.min(head_len / 3 + 1)]
}

/// Maps an `httparse` outcome on a complete head to our errors.
pub(crate) fn parse_error(e: httparse::Error, limits: &HandshakeLimits) -> HandshakeError {
    match e {
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders {
            limit: limits.max_headers,
        },
        other => HandshakeError::Malformed(other.to_string()),
    }
}

/// Test helpers shared by the client and server tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{ClientHandshake, HandshakeError, Progress, ServerHandshake};

    /// The incremental parsers, seen alike.
    pub(crate) trait Parser {
        type Out;
        fn feed(&mut self, data: &[u8]) -> Result<Progress<Self::Out>, HandshakeError>;
        fn eof(&mut self) -> HandshakeError;
    }

    impl Parser for ClientHandshake {
        type Out = super::Accepted;
        fn feed(&mut self, data: &[u8]) -> Result<Progress<Self::Out>, HandshakeError> {
            ClientHandshake::feed(self, data)
        }
        fn eof(&mut self) -> HandshakeError {
            self.feed_eof()
        }
    }

    impl Parser for ServerHandshake {
        type Out = super::Request;
        fn feed(&mut self, data: &[u8]) -> Result<Progress<Self::Out>, HandshakeError> {
            ServerHandshake::feed(self, data)
        }
        fn eof(&mut self) -> HandshakeError {
            HandshakeError::UnexpectedEof
        }
    }

    /// Feeds `input` to fresh parsers whole, then one byte at a time (then EOF if still
    /// partial), asserts both agree, and returns the outcome with the head length.
    pub(crate) fn run<P: Parser>(new: impl Fn() -> P, input: &[u8]) -> Result<(P::Out, usize), HandshakeError>
    where
        P::Out: PartialEq + std::fmt::Debug,
    {
        let mut p = new();
        let whole = match p.feed(input) {
            Ok(Progress::Complete { value, consumed }) => Ok((value, consumed)),
            Ok(Progress::Partial) => Err(p.eof()),
            Err(e) => Err(e),
        };
        let mut p = new();
        let mut bytewise = None;
        for (i, b) in input.iter().enumerate() {
            match p.feed(std::slice::from_ref(b)) {
                Ok(Progress::Partial) => continue,
                Ok(Progress::Complete { value, consumed }) => {
                    assert_eq!(consumed, 1);
                    bytewise = Some(Ok((value, i + 1)));
                }
                Err(e) => bytewise = Some(Err(e)),
            }
            break;
        }
        assert_eq!(whole, bytewise.unwrap_or_else(|| Err(p.eof())));
        whole
    }

    /// A xorshift generator: deterministic pseudo-random test input.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// A value in `0..n` (`n > 0`).
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Feeds `base` with a few random bytes overwritten, in random chunks, until the
    /// parser stops asking for more; returns what it answered last.
    pub(crate) fn feed_mutated<P: Parser>(
        p: &mut P,
        base: &[u8],
        rng: &mut Rng,
    ) -> Result<Progress<P::Out>, HandshakeError> {
        let mut input = base.to_vec();
        for _ in 0..rng.below(4) {
            let i = rng.below(input.len());
            input[i] = rng.next() as u8;
        }
        let mut rest = &input[..];
        while !rest.is_empty() {
            let (now, later) = rest.split_at(1 + rng.below(rest.len()));
            match p.feed(now) {
                Ok(Progress::Partial) => rest = later,
                done => return done,
            }
        }
        Err(p.eof())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Rng, feed_mutated};
    use super::*;
    use crate::url::WsUrl;

    #[test]
    fn head_end_forms() {
        assert_eq!(find_head_end(b"a\r\n\r\nxyz", 0), Some(5));
        assert_eq!(find_head_end(b"a\n\nxyz", 0), Some(3));
        assert_eq!(find_head_end(b"a\n\r\nxyz", 0), Some(4));
        assert_eq!(find_head_end(b"a\r\nb\r\n", 0), None);
        assert_eq!(find_head_end(b"\n", 0), None);
    }

    #[test]
    fn head_buffer_split_terminator() {
        let input = b"HTTP/1.1 101 OK\r\nA: b\r\n\r\nFRAME";
        for split in 0..input.len() {
            let mut hb = HeadBuffer::default();
            let (a, b) = input.split_at(split);
            let mut total = 0;
            let mut done = false;
            for part in [a, b] {
                match hb.push(part, 1024).unwrap() {
                    Head::Partial => total += part.len(),
                    Head::Complete { consumed } => {
                        total += consumed;
                        done = true;
                        break;
                    }
                }
            }
            assert!(done);
            assert_eq!(total, input.len() - 5, "split at {split}");
            assert_eq!(hb.head(), &input[..input.len() - 5]);
        }
    }

    #[test]
    fn head_buffer_limit() {
        let mut hb = HeadBuffer::default();
        assert!(matches!(hb.push(b"abc", 4), Ok(Head::Partial)));
        assert_eq!(
            hb.push(b"defg", 4).err(),
            Some(HandshakeError::HeadersTooLarge { limit: 4 })
        );
        // A head that fits exactly is fine.
        let mut hb = HeadBuffer::default();
        assert!(matches!(
            hb.push(b"a\r\n\r\nrest", 5),
            Ok(Head::Complete { consumed: 5 })
        ));
        // A zero limit fails at once.
        let mut hb = HeadBuffer::default();
        assert!(hb.push(b"", 0).is_err());
    }

    #[test]
    fn statuses_and_display() {
        assert_eq!(HandshakeError::BadMethod.http_status(), 405);
        assert_eq!(HandshakeError::BadVersion.http_status(), 426);
        assert_eq!(HandshakeError::TooManyHeaders { limit: 1 }.http_status(), 431);
        assert_eq!(HandshakeError::MissingKey.http_status(), 400);
        assert!(HandshakeError::Finished.is_local_misuse());
        assert!(!HandshakeError::BadAccept.is_local_misuse());
        let r = HttpRejection {
            status: 503,
            reason: "Service Unavailable".into(),
            headers: vec![],
            retry_after: Some("5".into()),
            location: None,
            body: vec![],
        };
        let e = HandshakeError::Rejected(Box::new(r));
        assert_eq!(
            e.to_string(),
            "the server rejected the WebSocket upgrade with HTTP 503 Service Unavailable"
        );
        assert_eq!(HandshakeLimits::default().max_header_bytes, 65536);
    }

    #[test]
    fn client_and_server_agree() {
        let url = WsUrl::parse("ws://[::1]:9001/room?id=7").unwrap();
        let opts = ClientOptions {
            subprotocols: vec!["v2.json".into(), "v1.json".into()],
            require_subprotocol: true,
            ..ClientOptions::default()
        };
        let mut client = ClientHandshake::new(&url, &opts, [7; 16]).unwrap();
        let mut wire = Vec::new();
        client.write_request(&mut wire);
        let mut server = ServerHandshake::new(HandshakeLimits::default());
        let Ok(Progress::Complete { value: req, consumed }) = server.feed(&wire) else {
            panic!("server refused the client's request");
        };
        assert_eq!(consumed, wire.len());
        assert_eq!((&*req.path, &*req.host), ("/room?id=7", "[::1]:9001"));
        let mut answer = Vec::new();
        accept_response(&req, Some("v1.json"), &[], &mut answer);
        let Ok(Progress::Complete { value, .. }) = client.feed(&answer) else {
            panic!("client refused the server's answer");
        };
        assert_eq!(value.subprotocol.as_deref(), Some("v1.json"));

        // An error response reads back as a rejection.
        let mut client = ClientHandshake::new(&url, &opts, [7; 16]).unwrap();
        let mut answer = Vec::new();
        reject_response(HandshakeError::BadVersion.http_status(), b"v13", &mut answer);
        let Err(HandshakeError::Rejected(r)) = client.feed(&answer) else {
            panic!("expected a rejection");
        };
        assert_eq!((r.status, &r.body[..]), (426, &b"v13"[..]));
    }

    #[test]
    fn mutated_heads_never_panic() {
        let url = WsUrl::parse("ws://example.com/chat").unwrap();
        let opts = ClientOptions {
            subprotocols: vec!["chat".into()],
            ..ClientOptions::default()
        };
        let client = ClientHandshake::new(&url, &opts, *b"the sample nonce").unwrap();
        let mut request = Vec::new();
        client.write_request(&mut request);
        let mut server = ServerHandshake::new(HandshakeLimits::default());
        let Ok(Progress::Complete { value: req, .. }) = server.feed(&request) else {
            panic!("server refused the client's request");
        };
        let mut response = Vec::new();
        accept_response(&req, Some("chat"), &[], &mut response);
        response.extend_from_slice(b"\x81\x00");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let mut client = ClientHandshake::new(&url, &opts, *b"the sample nonce").unwrap();
            let _ = feed_mutated(&mut client, &response, &mut rng);
            let _ = client.feed_eof();
            let mut server = ServerHandshake::new(HandshakeLimits::default());
            let mut out = Vec::new();
            match feed_mutated(&mut server, &request, &mut rng) {
                Ok(Progress::Complete { value, .. }) => {
                    let chosen = value.subprotocols.first().map(String::as_str);
                    accept_response(&value, chosen, &[], &mut out);
                }
                Ok(Progress::Partial) => {}
                Err(e) => reject_response(e.http_status(), e.to_string().as_bytes(), &mut out),
            }
        }
    }
}
