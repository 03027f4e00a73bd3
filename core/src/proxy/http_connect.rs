//! HTTP `CONNECT` (RFC 9110 §9.3.6): ask the proxy for a tunnel to `host:port`, with Basic
//! credentials when the proxy URL has some, and read its answer.
//!
//! The answer is read incrementally and bounded ([`MAX_HEAD`] bytes, [`MAX_HEADERS`] fields):
//! the status line's start is checked as bytes arrive, so a peer that is not an HTTP proxy
//! fails at once; `httparse` runs once, on the complete head. A 2xx opens the tunnel. Neither a
//! TLS server nor a WebSocket server speaks first, so bytes after a 2xx head are a broken
//! proxy, not data.

use std::fmt;

use base64::Engine as _;

use super::error::{ProxyError, printable};
use super::{Credentials, Target};

/// The largest response head accepted from a proxy.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header fields accepted in a proxy's response head.
pub const MAX_HEADERS: usize = 64;

/// Where the exchange stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading the response head; `searched` bytes of it hold no `\r\n\r\n`.
    Head { searched: usize },
    /// The tunnel is open.
    Done,
    /// The proxy refused or broke the protocol.
    Failed(ProxyError),
}

/// The client side of one HTTP `CONNECT`: the request to write, then the proxy's answer.
///
/// Drain [`poll_transmit`](Self::poll_transmit) and write it, then feed what the proxy sends
/// to [`handle_data`](Self::handle_data) (and [`handle_eof`](Self::handle_eof) when it closes)
/// until [`result`](Self::result) is `Some`. `Debug` leaves out the request, which may hold
/// credentials.
pub struct HttpConnect {
    request: Option<Vec<u8>>,
    head: Vec<u8>,
    state: State,
    sent_credentials: bool,
}

impl fmt::Debug for HttpConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConnect")
            .field("state", &self.state)
            .field("head_bytes", &self.head.len())
            .field("sent_credentials", &self.sent_credentials)
            .finish_non_exhaustive()
    }
}

impl HttpConnect {
    /// A `CONNECT` to `target`, with `Proxy-Authorization: Basic` when `credentials` are given.
    pub fn new(target: &Target, credentials: Option<&Credentials>) -> HttpConnect {
        let authority = target.authority();
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(c) = credentials {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
            request.push_str("Proxy-Authorization: Basic ");
            request.push_str(&token);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        HttpConnect {
            request: Some(request.into_bytes()),
            head: Vec::new(),
            state: State::Head { searched: 0 },
            sent_credentials: credentials.is_some(),
        }
    }

    /// Appends the request to `buf` the first time; `None` afterwards.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        let request = self.request.take()?;
        buf.extend_from_slice(&request);
        Some(request.len())
    }

    /// What the exchange came to: `None` while it goes on.
    pub fn result(&self) -> Option<Result<(), &ProxyError>> {
        match &self.state {
            State::Head { .. } => None,
            State::Done => Some(Ok(())),
            State::Failed(e) => Some(Err(e)),
        }
    }

    /// Takes bytes from the proxy. Bytes after a 2xx head fail the exchange; input after a
    /// failure is ignored.
    pub fn handle_data(&mut self, data: &[u8]) {
        let searched = match self.state {
            State::Head { searched } => searched,
            State::Done if !data.is_empty() => {
                self.state = State::Failed(extra_bytes());
                return;
            }
            State::Done | State::Failed(_) => return,
        };
        let take = data.len().min(MAX_HEAD - self.head.len());
        self.head.extend_from_slice(&data[..take]);
        self.state = match check_start(&self.head) {
            Err(e) => State::Failed(e),
            Ok(()) => match find_end(&self.head, searched) {
                Some(end) if end == self.head.len() && take == data.len() => self.complete(end),
                Some(_) => self.complete_with_extra(),
                None if take < data.len() || self.head.len() == MAX_HEAD => {
                    State::Failed(ProxyError::HeadTooLarge { limit: MAX_HEAD })
                }
                None => State::Head {
                    searched: self.head.len().saturating_sub(3),
                },
            },
        };
    }

    /// The proxy closed its side.
    pub fn handle_eof(&mut self) {
        if let State::Head { .. } = self.state {
            self.state = State::Failed(ProxyError::Closed);
        }
    }

    /// The head ends at `end`, the last byte received.
    fn complete(&mut self, end: usize) -> State {
        match parse_status(&self.head[..end]) {
            Ok((status, _)) if (200..300).contains(&status) => {
                self.head = Vec::new();
                State::Done
            }
            Ok((407, _)) => State::Failed(ProxyError::AuthenticationRequired {
                sent_credentials: self.sent_credentials,
            }),
            Ok((status, reason)) => State::Failed(ProxyError::Status { status, reason }),
            Err(e) => State::Failed(e),
        }
    }

    /// The head is complete and more bytes followed it: fine on a refusal (a body), broken on
    /// a 2xx (nobody else has spoken yet).
    fn complete_with_extra(&mut self) -> State {
        let end = find_end(&self.head, 0).unwrap_or(self.head.len());
        match self.complete(end) {
            State::Done => State::Failed(extra_bytes()),
            other => other,
        }
    }
}

fn extra_bytes() -> ProxyError {
    ProxyError::Malformed("bytes followed its 2xx answer before the tunnel was used".into())
}

/// The index just past the first `\r\n\r\n`, searching from `from`.
fn find_end(head: &[u8], from: usize) -> Option<usize> {
    head.get(from..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| from + i + 4)
}

/// Fails as soon as the bytes so far cannot start an HTTP/1.x status line.
fn check_start(head: &[u8]) -> Result<(), ProxyError> {
    const PREFIX: &[u8] = b"HTTP/1.";
    let n = head.len().min(PREFIX.len());
    if head[..n] != PREFIX[..n] {
        return Err(ProxyError::Malformed(
            "the answer does not start with an HTTP/1.x status line".into(),
        ));
    }
    Ok(())
}

/// The status and printable reason of a complete head.
fn parse_status(head: &[u8]) -> Result<(u16, String), ProxyError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ProxyError::Malformed("the head is incomplete".into())),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ProxyError::Malformed(format!("more than {MAX_HEADERS} header fields")));
        }
        Err(e) => return Err(ProxyError::Malformed(format!("invalid HTTP response ({e})"))),
    }
    let status = response.code.unwrap_or(0);
    let reason = printable(response.reason.unwrap_or("").as_bytes());
    Ok((status, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::TargetHost;

    fn target() -> Target {
        Target {
            host: TargetHost::Name("example.com".into()),
            port: 443,
        }
    }

    /// Feeds `input` whole and one byte at a time; both must end the same.
    fn run(input: &[u8], eof: bool) -> Option<Result<(), ProxyError>> {
        let mut results = Vec::new();
        for bytewise in [false, true] {
            let mut c = HttpConnect::new(&target(), None);
            let mut out = Vec::new();
            assert!(c.poll_transmit(&mut out).is_some());
            if bytewise {
                for b in input {
                    c.handle_data(std::slice::from_ref(b));
                }
            } else {
                c.handle_data(input);
            }
            if eof {
                c.handle_eof();
            }
            results.push(c.result().map(|r| r.map_err(Clone::clone)));
        }
        assert_eq!(results[0], results[1], "whole vs one byte at a time");
        results.pop().unwrap()
    }

    #[test]
    fn the_request_names_the_target_and_carries_basic_credentials() {
        let creds = Credentials {
            username: "alice".into(),
            password: "s3cret:x".into(),
        };
        let mut c = HttpConnect::new(&target(), Some(&creds));
        let mut out = Vec::new();
        assert!(c.poll_transmit(&mut out).is_some());
        assert!(c.poll_transmit(&mut out).is_none(), "written once");
        let text = String::from_utf8(out).unwrap();
        let token = base64::engine::general_purpose::STANDARD.encode("alice:s3cret:x");
        assert_eq!(
            text,
            format!(
                "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic {token}\r\n\r\n"
            )
        );
        assert!(!format!("{c:?}").contains(&token), "{c:?}");
        let v6 = Target {
            host: TargetHost::Ip("::1".parse().unwrap()),
            port: 9,
        };
        let mut out = Vec::new();
        let _ = HttpConnect::new(&v6, None).poll_transmit(&mut out);
        assert!(out.starts_with(b"CONNECT [::1]:9 HTTP/1.1\r\n"));
    }

    #[test]
    fn a_2xx_opens_the_tunnel() {
        assert_eq!(run(b"HTTP/1.1 200 Connection established\r\n\r\n", false), Some(Ok(())));
        assert_eq!(run(b"HTTP/1.0 200 OK\r\nProxy-Agent: x\r\n\r\n", false), Some(Ok(())));
        assert_eq!(run(b"HTTP/1.1 200 OK\r\n", false), None, "head not complete yet");
    }

    #[test]
    fn refusals_carry_the_status() {
        assert_eq!(
            run(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
                false
            ),
            Some(Err(ProxyError::AuthenticationRequired {
                sent_credentials: false
            }))
        );
        assert_eq!(
            run(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy!",
                false
            ),
            Some(Err(ProxyError::Status {
                status: 503,
                reason: "Service Unavailable".into()
            }))
        );
    }

    #[test]
    fn bytes_after_a_200_are_a_broken_proxy() {
        let r = run(b"HTTP/1.1 200 OK\r\n\r\ngarbage", false);
        assert!(
            matches!(r, Some(Err(ProxyError::Malformed(ref m))) if m.contains("followed its 2xx")),
            "{r:?}"
        );
    }

    #[test]
    fn a_bad_status_line_fails_at_once() {
        let r = run(b"SSH-2.0-OpenSSH", false);
        assert!(matches!(r, Some(Err(ProxyError::Malformed(_)))), "{r:?}");
        let r = run(b"HTTP/1.1 2x0 OK\r\n\r\n", false);
        assert!(matches!(r, Some(Err(ProxyError::Malformed(_)))), "{r:?}");
    }

    #[test]
    fn eof_before_the_head_is_a_close() {
        assert_eq!(run(b"HTTP/1.1 200", true), Some(Err(ProxyError::Closed)));
        assert_eq!(run(b"", true), Some(Err(ProxyError::Closed)));
    }

    #[test]
    fn the_head_is_bounded() {
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        while big.len() < 64 * 1024 {
            big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        big.extend_from_slice(b"\r\n");
        assert_eq!(
            run(&big, false),
            Some(Err(ProxyError::HeadTooLarge { limit: MAX_HEAD }))
        );
        // Exactly at the bound is fine.
        let mut exact = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        exact.resize(MAX_HEAD - 4, b'a');
        exact.extend_from_slice(b"\r\n\r\n");
        assert_eq!(run(&exact, false), Some(Ok(())));
    }

    #[test]
    fn too_many_headers_are_refused() {
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            head.extend_from_slice(b"A: b\r\n");
        }
        head.extend_from_slice(b"\r\n");
        assert!(matches!(run(&head, false), Some(Err(ProxyError::Malformed(_)))));
    }

    #[test]
    fn input_after_the_end() {
        let mut c = HttpConnect::new(&target(), None);
        c.handle_data(b"HTTP/1.1 200 OK\r\n\r\n");
        c.handle_data(b"");
        c.handle_eof();
        assert_eq!(
            c.result(),
            Some(Ok(())),
            "EOF after the tunnel opened is the tunnel's business"
        );
        c.handle_data(b"more");
        assert!(matches!(c.result(), Some(Err(ProxyError::Malformed(_)))));
        let mut refused = HttpConnect::new(&target(), None);
        refused.handle_data(b"HTTP/1.1 403 Forbidden\r\n\r\n");
        refused.handle_data(b"body");
        assert!(matches!(
            refused.result(),
            Some(Err(ProxyError::Status { status: 403, .. }))
        ));
    }
}
