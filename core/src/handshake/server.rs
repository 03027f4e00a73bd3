//! The server side: validating the client's opening request (RFC 6455 §4.2.1) and
//! writing the answer (§4.2.2).

use super::headers::{self, has_token, is_token, is_valid_value, tokens, trim_ows};
use super::{HandshakeError, HandshakeLimits, Head, HeadBuffer, Progress, header_slots, parse_error};

/// Headers [`accept_response`] writes itself (or must never carry); extra headers may
/// not use these names.
const RESERVED: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// A validated opening request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// The resource name: path and query, starting with `/` (taken from an absolute
    /// request target when the client sent one).
    pub path: String,
    /// The `Host` header, trimmed.
    pub host: String,
    /// The `Sec-WebSocket-Key` header, trimmed; base64 of 16 bytes.
    pub key: String,
    /// The offered subprotocols, in the client's order of preference.
    pub subprotocols: Vec<String>,
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// All request headers, values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header called `name` (ASCII case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where the request parser stands.
#[derive(Debug)]
enum State {
    Head(HeadBuffer),
    Done,
    Failed(HandshakeError),
}

/// The server's opening handshake: an incremental parser for the client's request.
///
/// Feed received bytes until [`Progress::Complete`]; then answer with
/// [`accept_response`], or with [`reject_response`] (after an error, use
/// [`HandshakeError::http_status`]).
#[derive(Debug)]
pub struct ServerHandshake {
    limits: HandshakeLimits,
    state: State,
}

impl ServerHandshake {
    /// A parser for one opening request, bounded by `limits` (`max_body_prefix` is not
    /// used on this side).
    pub fn new(limits: HandshakeLimits) -> Self {
        ServerHandshake {
            limits,
            state: State::Head(HeadBuffer::default()),
        }
    }

    /// Feeds received bytes, in any chunking.
    ///
    /// Returns [`Progress::Partial`] until the request head is complete, then
    /// [`Progress::Complete`] with the validated [`Request`]; `consumed` is how many bytes
    /// *of this call's `data`* belonged to the request, and `data[consumed..]` is the
    /// start of the frame stream.
    ///
    /// Fails unless the request is a GET over HTTP/1.1 with a `Host`, an `Upgrade`
    /// naming `websocket`, a `Connection` with the `upgrade` token,
    /// `Sec-WebSocket-Version: 13`, a `Sec-WebSocket-Key` that is base64 of 16 bytes,
    /// unique token subprotocols and no body. Errors are sticky; feeding after
    /// `Complete` returns [`HandshakeError::Finished`].
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress<Request>, HandshakeError> {
        let result = match &mut self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Done => return Err(HandshakeError::Finished),
            State::Head(hb) => match hb.push(data, self.limits.max_header_bytes) {
                Ok(Head::Partial) => return Ok(Progress::Partial),
                Ok(Head::Complete { consumed }) => {
                    let hb = std::mem::take(hb);
                    parse_request(hb.head(), &self.limits).map(|value| Progress::Complete { value, consumed })
                }
                Err(e) => Err(e),
            },
        };
        self.state = match &result {
            Ok(_) => State::Done,
            Err(e) => State::Failed(e.clone()),
        };
        result
    }
}

/// Parses and validates a complete request head.
fn parse_request(head: &[u8], limits: &HandshakeLimits) -> Result<Request, HandshakeError> {
    let mut slots = header_slots(limits.max_headers, head.len());
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HandshakeError::Malformed("incomplete request line".into()));
        }
        Err(e) => return Err(parse_error(e, limits)),
    }
    if req.method != Some("GET") {
        return Err(HandshakeError::BadMethod);
    }
    if req.version != Some(1) {
        return Err(HandshakeError::Malformed("request is not HTTP/1.1".into()));
    }
    let path = resource_name(req.path.unwrap_or_default())
        .ok_or_else(|| HandshakeError::Malformed("bad request target".into()))?;
    let hs = req.headers;
    let malformed = |what: &str| Err(HandshakeError::Malformed(what.into()));

    let host = match only(hs, "Host")? {
        Some(h) if !trim_ows(&h).is_empty() => trim_ows(&h).to_owned(),
        _ => return Err(HandshakeError::MissingHost),
    };
    let mut upgrades = headers::values(hs, "upgrade").peekable();
    if upgrades.peek().is_none() {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !upgrades.any(|v| has_token(&v, "websocket")) {
        return Err(HandshakeError::BadUpgrade);
    }
    if !headers::values(hs, "connection").any(|v| has_token(&v, "upgrade")) {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    match only(hs, "Sec-WebSocket-Version") {
        Ok(Some(v)) if trim_ows(&v) == "13" => {}
        _ => return Err(HandshakeError::BadVersion),
    }
    let key = match only(hs, "Sec-WebSocket-Key")? {
        None => return Err(HandshakeError::MissingKey),
        Some(k) if headers::is_valid_key(trim_ows(&k)) => trim_ows(&k).to_owned(),
        Some(_) => return Err(HandshakeError::BadKey),
    };
    let mut subprotocols = Vec::new();
    for value in headers::values(hs, "sec-websocket-protocol") {
        for p in tokens(&value) {
            if !is_token(p) {
                return malformed("Sec-WebSocket-Protocol is not a token list");
            }
            subprotocols.push(p.to_owned());
        }
    }
    let mut sorted: Vec<&str> = subprotocols.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return malformed("repeated subprotocol");
    }
    let origin = only(hs, "Origin")?.map(|o| trim_ows(&o).to_owned());
    // Bytes after the head are frames: a request body would be read as frames.
    if headers::values(hs, "transfer-encoding").next().is_some()
        || headers::values(hs, "content-length").any(|v| trim_ows(&v) != "0")
    {
        return malformed("request has a body");
    }
    Ok(Request {
        path,
        host,
        key,
        subprotocols,
        origin,
        headers: headers::owned(hs),
    })
}

/// The value of a header that may appear at most once (`name` as RFC 6455 spells it; matched
/// case-insensitively); a repeat is [`HandshakeError::RepeatedHeader`].
fn only<'b>(
    hs: &[httparse::Header<'b>],
    name: &'static str,
) -> Result<Option<std::borrow::Cow<'b, str>>, HandshakeError> {
    let mut values = headers::values(hs, name);
    match (values.next(), values.next()) {
        (v, None) => Ok(v),
        _ => Err(HandshakeError::RepeatedHeader(name)),
    }
}

/// The resource name of a request target: origin-form as is, absolute-form
/// (`http`, `https`, `ws`, `wss`) reduced to its path and query.
fn resource_name(target: &str) -> Option<String> {
    if target.starts_with('/') {
        return Some(target.to_owned());
    }
    let (scheme, rest) = target.split_once("://")?;
    if !headers::name_in(scheme, &["http", "https", "ws", "wss"]) {
        return None;
    }
    Some(match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('?') => format!("/{}", &rest[i..]),
        Some(i) => rest[i..].to_owned(),
        None => "/".to_owned(),
    })
}

/// Appends a 101 response accepting `request`: `Upgrade`, `Connection`,
/// `Sec-WebSocket-Accept`, `Sec-WebSocket-Protocol` when `subprotocol` is `Some`, then
/// `extra_headers`.
///
/// This form never fails: a `subprotocol` the client did not offer and extra headers
/// that [`try_accept_response`] would refuse are left out. Use that function to learn
/// about such mistakes instead.
pub fn accept_response(
    request: &Request,
    subprotocol: Option<&str>,
    extra_headers: &[(String, String)],
    out: &mut Vec<u8>,
) {
    let subprotocol = subprotocol.filter(|p| offered(request, p));
    write_accept(request, subprotocol, None, extra_headers, out);
}

/// [`accept_response`] with a `Sec-WebSocket-Extensions` value (the agreed extensions).
pub(crate) fn accept_response_with_extensions(
    request: &Request,
    subprotocol: Option<&str>,
    extensions: Option<&str>,
    extra_headers: &[(String, String)],
    out: &mut Vec<u8>,
) {
    let subprotocol = subprotocol.filter(|p| offered(request, p));
    write_accept(request, subprotocol, extensions, extra_headers, out);
}

/// Like [`accept_response`], but fails with [`HandshakeError::InvalidHeader`] (writing
/// nothing) if `subprotocol` was not offered by the client, or an extra header has a name
/// that is not a token or is set by the handshake, or a value with CR, LF or NUL.
pub fn try_accept_response(
    request: &Request,
    subprotocol: Option<&str>,
    extra_headers: &[(String, String)],
    out: &mut Vec<u8>,
) -> Result<(), HandshakeError> {
    if let Some(p) = subprotocol
        && !offered(request, p)
    {
        return Err(HandshakeError::InvalidHeader(format!(
            "subprotocol {p:?} was not offered"
        )));
    }
    if let Some((name, _)) = extra_headers.iter().find(|(n, v)| !writable(n, v)) {
        return Err(HandshakeError::InvalidHeader(format!("header {name:?}")));
    }
    write_accept(request, subprotocol, None, extra_headers, out);
    Ok(())
}

pub(crate) fn offered(request: &Request, p: &str) -> bool {
    request.subprotocols.iter().any(|o| o == p)
}

fn writable(name: &str, value: &str) -> bool {
    is_token(name) && !headers::name_in(name, RESERVED) && is_valid_value(value)
}

fn write_accept(
    request: &Request,
    subprotocol: Option<&str>,
    extensions: Option<&str>,
    extra_headers: &[(String, String)],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    headers::write_header(out, "Upgrade", "websocket");
    headers::write_header(out, "Connection", "Upgrade");
    headers::write_header(out, "Sec-WebSocket-Accept", &headers::accept_key(&request.key));
    if let Some(p) = subprotocol {
        headers::write_header(out, "Sec-WebSocket-Protocol", p);
    }
    if let Some(e) = extensions {
        headers::write_header(out, "Sec-WebSocket-Extensions", e);
    }
    for (name, value) in extra_headers.iter().filter(|(n, v)| writable(n, v)) {
        headers::write_header(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends an HTTP error response: status line with reason phrase, `Content-Length`,
/// `Connection: close`, then `body`. A 426 also carries `Sec-WebSocket-Version: 13` and
/// `Upgrade: websocket`; a 405 carries `Allow: GET`. A status outside 100..=999 is
/// written as 500.
pub fn reject_response(status: u16, body: &[u8], out: &mut Vec<u8>) {
    reject_response_with_headers(status, &[], body, out);
}

/// [`reject_response`] with `extra_headers` (such as `Retry-After` on a 503) written after
/// the status line; a header that is malformed or that the response writes itself
/// (`Content-Length`, `Connection`, ...) is left out.
pub fn reject_response_with_headers(status: u16, extra_headers: &[(String, String)], body: &[u8], out: &mut Vec<u8>) {
    let status = if (100..=999).contains(&status) { status } else { 500 };
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
    match status {
        426 => {
            headers::write_header(out, "Sec-WebSocket-Version", "13");
            headers::write_header(out, "Upgrade", "websocket");
        }
        405 => headers::write_header(out, "Allow", "GET"),
        _ => {}
    }
    for (name, value) in extra_headers.iter().filter(|(n, v)| writable(n, v)) {
        headers::write_header(out, name, value);
    }
    headers::write_header(out, "Content-Length", &body.len().to_string());
    headers::write_header(out, "Connection", "close");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// The standard reason phrase of a status code, or a generic one by class.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => match status / 100 {
            1 => "Informational",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    /// The RFC sample request with `from` replaced by `to`.
    fn sample(from: &str, to: &str) -> Vec<u8> {
        assert!(RFC_REQUEST.contains(from), "{from}");
        RFC_REQUEST.replacen(from, to, 1).into_bytes()
    }

    fn run(input: &[u8]) -> Result<(Request, usize), HandshakeError> {
        super::super::testing::run(|| ServerHandshake::new(HandshakeLimits::default()), input)
    }

    fn err(input: &[u8]) -> HandshakeError {
        run(input).unwrap_err()
    }

    #[test]
    fn rfc_sample_request_and_answer() {
        let mut input = RFC_REQUEST.as_bytes().to_vec();
        input.extend_from_slice(b"\x81\x82frame");
        let (req, consumed) = run(&input).unwrap();
        assert_eq!(&input[consumed..], b"\x81\x82frame");
        assert_eq!(req.path, "/chat");
        assert_eq!(req.host, "server.example.com");
        assert_eq!(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(req.subprotocols, ["chat", "superchat"]);
        assert_eq!(req.origin.as_deref(), Some("http://example.com"));
        assert_eq!(req.header("sec-websocket-version"), Some("13"));
        assert_eq!(req.header("X-Absent"), None);

        let mut out = Vec::new();
        accept_response(&req, Some("chat"), &[], &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Protocol: chat\r\n\r\n"
        );
        let mut s = ServerHandshake::new(HandshakeLimits::default());
        assert!(s.feed(RFC_REQUEST.as_bytes()).is_ok());
        assert_eq!(s.feed(b"x"), Err(HandshakeError::Finished));
    }

    #[test]
    fn request_errors() {
        use HandshakeError::*;
        let cases: [(Vec<u8>, HandshakeError, u16); 21] = [
            (sample("GET", "POST"), BadMethod, 405),
            (sample("Host: server.example.com\r\n", ""), MissingHost, 400),
            (sample("Host: server.example.com", "Host: "), MissingHost, 400),
            (sample("Upgrade: websocket\r\n", ""), MissingUpgrade, 400),
            (sample("Upgrade: websocket", "Upgrade: h2c"), BadUpgrade, 400),
            (
                sample("Connection: Upgrade", "Connection: keep-alive"),
                MissingConnectionUpgrade,
                400,
            ),
            (sample("Version: 13", "Version: 8"), BadVersion, 426),
            (sample("Version: 13", "Version: 13, 8"), BadVersion, 426),
            (sample("Sec-WebSocket-Version: 13\r\n", ""), BadVersion, 426),
            (
                sample("Version: 13", "Version: 13\r\nSec-WebSocket-Version: 13"),
                BadVersion,
                426,
            ),
            (
                sample("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
                MissingKey,
                400,
            ),
            (sample("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="), BadKey, 400),
            (
                sample("dGhlIHNhbXBsZSBub25jZQ==", "not base64 at all!!!!!!!"),
                BadKey,
                400,
            ),
            // A repeated key is reported as repeated, whatever the values and the spelling.
            (
                sample("Origin", "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nOrigin"),
                RepeatedHeader("Sec-WebSocket-Key"),
                400,
            ),
            (
                sample("Origin", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin"),
                RepeatedHeader("Sec-WebSocket-Key"),
                400,
            ),
            (
                sample("Origin", "Sec-WebSocket-Key: not base64\r\nOrigin"),
                RepeatedHeader("Sec-WebSocket-Key"),
                400,
            ),
            (
                sample("Host: server.example.com", "Host: a\r\nHost: b"),
                RepeatedHeader("Host"),
                400,
            ),
            (
                sample("Origin: http://example.com", "Origin: a\r\nOrigin: b"),
                RepeatedHeader("Origin"),
                400,
            ),
            (
                sample("Version: 13", "Version: 13\r\nX: 1\r\n".repeat(100).as_str()),
                TooManyHeaders { limit: 128 },
                431,
            ),
            (
                sample("Version: 13", &format!("Version: 13\r\nX: {}", "a".repeat(70_000))),
                HeadersTooLarge { limit: 65536 },
                431,
            ),
            (
                sample("GET /chat", "GET *"),
                Malformed("bad request target".into()),
                400,
            ),
        ];
        for (input, expected, status) in cases {
            let e = err(&input);
            assert_eq!(e, expected, "{}", String::from_utf8_lossy(&input[..60]));
            assert_eq!(e.http_status(), status);
        }
        let malformed = [
            sample("HTTP/1.1", "HTTP/1.0"),
            sample("chat, superchat", "chat, chat"),
            sample("chat, superchat", "chat, super chat"),
            sample("Version: 13", "Version: 13\r\nContent-Length: 4"),
            sample("Version: 13", "Version: 13\r\nTransfer-Encoding: chunked"),
            sample("GET /chat HTTP/1.1", "GET /chat HTTP/1.1 extra"),
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
        ];
        for input in malformed {
            let e = err(&input);
            assert!(
                matches!(e, Malformed(_)),
                "{e:?} for {}",
                String::from_utf8_lossy(&input)
            );
            assert_eq!(e.http_status(), 400);
        }
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: h\r\n"), UnexpectedEof);
    }

    #[test]
    fn lenient_where_the_rfc_is() {
        let (req, _) = run(&sample("GET /chat", "GET wss://server.example.com/chat?x=1")).unwrap();
        assert_eq!(req.path, "/chat?x=1");
        let (req, _) = run(&sample("GET /chat", "GET http://server.example.com")).unwrap();
        assert_eq!(req.path, "/");
        let (req, _) = run(&sample("GET /chat", "GET https://h?q")).unwrap();
        assert_eq!(req.path, "/?q");
        let relaxed = sample("Upgrade: websocket", "upgrade: h2c, WebSocket");
        let relaxed = String::from_utf8(relaxed).unwrap();
        let relaxed = relaxed
            .replace("Connection: Upgrade", "Connection: keep-alive, upgrade")
            .replace(
                "Sec-WebSocket-Protocol: chat, superchat",
                "Sec-WebSocket-Protocol: a,\r\nsec-websocket-protocol: ,b",
            )
            .replace("Version: 13", "Version: 13\r\nContent-Length: 0");
        let (req, _) = run(relaxed.as_bytes()).unwrap();
        assert_eq!(req.subprotocols, ["a", "b"]);
        let (req, _) = run(&sample("Sec-WebSocket-Protocol: chat, superchat\r\n", "")).unwrap();
        assert!(req.subprotocols.is_empty());
    }

    #[test]
    fn accept_response_sanitizes_and_try_reports() {
        let (req, _) = run(RFC_REQUEST.as_bytes()).unwrap();
        let good = vec![("Set-Cookie".to_string(), "a=b".to_string())];
        let mut bad = good.clone();
        bad.push(("X-Evil".into(), "1\r\nX-Injected: 2".into()));
        bad.push(("Sec-WebSocket-Extensions".into(), "permessage-deflate".into()));
        let mut out = Vec::new();
        accept_response(&req, Some("unoffered"), &bad, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("Set-Cookie: a=b\r\n"));
        assert!(!text.contains("Injected") && !text.contains("Sec-WebSocket-Protocol") && !text.contains("deflate"));

        let mut out2 = Vec::new();
        try_accept_response(&req, None, &good, &mut out2).unwrap();
        assert_eq!(out, out2);
        let mut out3 = Vec::new();
        assert!(matches!(
            try_accept_response(&req, Some("unoffered"), &good, &mut out3),
            Err(HandshakeError::InvalidHeader(_))
        ));
        assert!(try_accept_response(&req, None, &bad, &mut out3).is_err());
        assert!(out3.is_empty());
    }

    #[test]
    fn reject_responses() {
        let mut out = Vec::new();
        reject_response(426, b"", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let mut out = Vec::new();
        reject_response(405, b"GET only", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"));
        assert!(text.ends_with("Content-Length: 8\r\nConnection: close\r\n\r\nGET only"));
        let mut out = Vec::new();
        reject_response(0, b"", &mut out);
        assert!(out.starts_with(b"HTTP/1.1 500 Internal Server Error\r\n"));
        assert_eq!(reason_phrase(418), "Client Error");
        assert_eq!(reason_phrase(599), "Server Error");
    }

    #[test]
    fn reject_responses_carry_extra_headers_but_never_reserved_ones() {
        let mut out = Vec::new();
        let headers = [
            ("Retry-After".to_owned(), "5".to_owned()),
            ("Content-Length".to_owned(), "999".to_owned()),
            ("Bad Name".to_owned(), "x".to_owned()),
        ];
        reject_response_with_headers(503, &headers, b"full", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{text}");
        assert!(text.contains("\r\nRetry-After: 5\r\n"), "{text}");
        assert!(!text.contains("999") && !text.contains("Bad Name"), "{text}");
        assert!(
            text.ends_with("Content-Length: 4\r\nConnection: close\r\n\r\nfull"),
            "{text}"
        );
    }
}
