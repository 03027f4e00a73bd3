//! The client side: writing the opening request and validating the server's response
//! (RFC 6455 §4.1).

use super::headers::{self, has_token, is_token, is_valid_value, tokens, trim_ows};
use super::{HandshakeError, HandshakeLimits, Head, HeadBuffer, HttpRejection, Progress, header_slots, parse_error};
use crate::extension::{DeflateConfig, DeflateParams, ResponseError, check_response};
use crate::url::WsUrl;

/// Headers the handshake writes itself (or must never carry); extra headers may not use
/// these names.
const RESERVED: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-accept",
    "origin",
    "content-length",
    "transfer-encoding",
];

/// What the client asks for in its opening request.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`). Each must
    /// be an HTTP token, and they must be unique.
    pub subprotocols: Vec<String>,
    /// Extra headers, e.g. `Authorization` or `Cookie`. They may not repeat a header the
    /// handshake sets itself (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`,
    /// `Origin`, `Content-Length`, `Transfer-Encoding`).
    pub headers: Vec<(String, String)>,
    /// The `Origin` header, if any (browsers always send one).
    pub origin: Option<String>,
    /// Fail with [`HandshakeError::SubprotocolRequired`] when subprotocols were offered
    /// and the server chose none. RFC 6455 lets a server decline them all; applications
    /// whose framing depends on the subprotocol set this.
    pub require_subprotocol: bool,
    /// Bounds on the response.
    pub limits: HandshakeLimits,
}

/// What a successful opening handshake established.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// The subprotocol the server chose, if any (always one we offered).
    pub subprotocol: Option<String>,
    /// All headers of the other side's head (the client's response headers, e.g.
    /// `Set-Cookie`, or the server's request headers), values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    /// permessage-deflate as agreed, or `None` when messages go uncompressed.
    pub deflate: Option<DeflateParams>,
}

impl Accepted {
    /// The agreed extensions as a `Sec-WebSocket-Extensions` value (empty when none).
    pub fn extensions(&self) -> String {
        self.deflate.map(|d| d.to_string()).unwrap_or_default()
    }
}

/// Where the response parser stands.
#[derive(Debug)]
enum State {
    /// Reading the response head.
    Head(HeadBuffer),
    /// A non-101 head was read; collecting a bounded body prefix.
    Body {
        rejection: Box<HttpRejection>,
        /// How many body bytes to collect before reporting; `None` reads until EOF or
        /// the prefix limit.
        want: Option<usize>,
    },
    /// The 101 was accepted.
    Done,
    /// The handshake failed; the error is repeated on every later call.
    Failed(HandshakeError),
}

/// The client's opening handshake: the request to send and an incremental parser for
/// the server's answer.
///
/// Call [`write_request`](Self::write_request) once, then [`feed`](Self::feed) received
/// bytes until it returns [`Progress::Complete`] or an error, and
/// [`feed_eof`](Self::feed_eof) if the transport closes first.
#[derive(Debug)]
pub struct ClientHandshake {
    host: String,
    target: String,
    key: String,
    subprotocols: Vec<String>,
    origin: Option<String>,
    extra: Vec<(String, String)>,
    require_subprotocol: bool,
    limits: HandshakeLimits,
    /// The permessage-deflate offer, if any.
    deflate: Option<DeflateConfig>,
    state: State,
}

impl ClientHandshake {
    /// Prepares a handshake for `url`. `key` is 16 random bytes from the caller's
    /// CSPRNG; it becomes the `Sec-WebSocket-Key`.
    ///
    /// Fails with [`HandshakeError::InvalidHeader`] if anything would be unsafe to write:
    /// a header name that is not a token, a value with CR, LF or NUL, an extra header
    /// reusing a reserved name, a subprotocol that is not a token or is repeated, or a
    /// URL whose host or path contains characters outside visible ASCII.
    pub fn new(url: &WsUrl, options: &ClientOptions, key: [u8; 16]) -> Result<Self, HandshakeError> {
        let invalid = |what: String| Err(HandshakeError::InvalidHeader(what));
        let host = url.host_header();
        if url.host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
            return invalid("URL host".into());
        }
        let target = &url.path_and_query;
        if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
            return invalid("URL path".into());
        }
        let mut sorted: Vec<&str> = Vec::with_capacity(options.subprotocols.len());
        for p in &options.subprotocols {
            if !is_token(p) {
                return invalid(format!("subprotocol {p:?} is not a token"));
            }
            sorted.push(p);
        }
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return invalid("subprotocols are not unique".into());
        }
        if let Some(origin) = &options.origin
            && !is_valid_value(origin)
        {
            return invalid("Origin value".into());
        }
        for (name, value) in &options.headers {
            if !is_token(name) {
                return invalid(format!("header name {name:?}"));
            }
            if headers::name_in(name, RESERVED) {
                return invalid(format!("header {name} is set by the handshake"));
            }
            if !is_valid_value(value) {
                return invalid(format!("value of header {name}"));
            }
        }
        Ok(ClientHandshake {
            host,
            target: target.clone(),
            key: headers::encode_key(&key),
            subprotocols: options.subprotocols.clone(),
            origin: options.origin.clone(),
            extra: options.headers.clone(),
            require_subprotocol: options.require_subprotocol,
            limits: options.limits.clone(),
            deflate: None,
            state: State::Head(HeadBuffer::default()),
        })
    }

    /// Offers permessage-deflate with these settings (`Sec-WebSocket-Extensions`); the
    /// response is then checked against the offer (RFC 7692 §5, §7). Fails with
    /// [`HandshakeError::InvalidHeader`] naming the setting when the settings are out of range.
    pub fn offer_deflate(&mut self, config: &DeflateConfig) -> Result<(), HandshakeError> {
        config
            .validate()
            .map_err(|e| HandshakeError::InvalidHeader(e.to_string()))?;
        self.deflate = Some(config.clone());
        Ok(())
    }

    /// Appends the GET request bytes to `out`: `Host` (with the port only when not the
    /// scheme's default), `Upgrade`, `Connection`, `Sec-WebSocket-Key`,
    /// `Sec-WebSocket-Version: 13`, `Sec-WebSocket-Protocol` (only when subprotocols are
    /// offered), `Sec-WebSocket-Extensions` (only when deflate is offered), `Origin` (if
    /// set), then the extra headers.
    pub fn write_request(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        headers::write_header(out, "Host", &self.host);
        headers::write_header(out, "Upgrade", "websocket");
        headers::write_header(out, "Connection", "Upgrade");
        headers::write_header(out, "Sec-WebSocket-Key", &self.key);
        headers::write_header(out, "Sec-WebSocket-Version", "13");
        if !self.subprotocols.is_empty() {
            headers::write_header(out, "Sec-WebSocket-Protocol", &self.subprotocols.join(", "));
        }
        if let Some(deflate) = &self.deflate {
            headers::write_header(out, "Sec-WebSocket-Extensions", &deflate.client_offer());
        }
        if let Some(origin) = &self.origin {
            headers::write_header(out, "Origin", origin);
        }
        for (name, value) in &self.extra {
            headers::write_header(out, name, value);
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The base64 `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Feeds received bytes, in any chunking.
    ///
    /// Returns [`Progress::Partial`] until the response head is complete. On
    /// [`Progress::Complete`], `consumed` is how many bytes *of this call's `data`*
    /// belonged to the response; `data[consumed..]` is the start of the frame stream.
    ///
    /// On a non-101 status the parser collects a bounded body prefix before returning
    /// [`HandshakeError::Rejected`]: up to `Content-Length` bytes (capped at
    /// [`HandshakeLimits::max_body_prefix`]), or, without `Content-Length`, until the
    /// prefix limit or [`feed_eof`](Self::feed_eof). A chunked body is kept raw (chunk
    /// sizes included). So `feed` may keep returning `Partial` while the body arrives.
    ///
    /// Errors are sticky: after one, every call returns it again. Calling `feed` after
    /// `Complete` returns [`HandshakeError::Finished`].
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress<Accepted>, HandshakeError> {
        let result = self.step(data);
        if let Err(e) = &result
            && !matches!(self.state, State::Done)
        {
            self.state = State::Failed(e.clone());
        }
        result
    }

    /// The transport reached EOF. Returns the [`HandshakeError::Rejected`] error (with the
    /// body read so far) if a non-101 head had been read, the earlier error if the
    /// handshake had already failed, and [`HandshakeError::UnexpectedEof`] otherwise.
    pub fn feed_eof(&mut self) -> HandshakeError {
        let err = match std::mem::replace(&mut self.state, State::Done) {
            State::Body { rejection, .. } => HandshakeError::Rejected(rejection),
            State::Failed(e) => e,
            State::Head(_) | State::Done => HandshakeError::UnexpectedEof,
        };
        self.state = State::Failed(err.clone());
        err
    }

    fn step(&mut self, mut data: &[u8]) -> Result<Progress<Accepted>, HandshakeError> {
        if let State::Head(hb) = &mut self.state {
            let Head::Complete { consumed } = hb.push(data, self.limits.max_header_bytes)? else {
                return Ok(Progress::Partial);
            };
            let hb = std::mem::take(hb);
            match self.parse_head(hb.head())? {
                Parsed::Accepted(value) => {
                    self.state = State::Done;
                    return Ok(Progress::Complete { value, consumed });
                }
                Parsed::Rejected(rejection, want) => {
                    self.state = State::Body { rejection, want };
                    data = data.get(consumed..).unwrap_or_default();
                }
            }
        }
        match &mut self.state {
            State::Failed(e) => Err(e.clone()),
            State::Done => Err(HandshakeError::Finished),
            State::Head(_) => Ok(Progress::Partial),
            State::Body { rejection, want } => {
                let target = want.unwrap_or(usize::MAX).min(self.limits.max_body_prefix);
                let room = target.saturating_sub(rejection.body.len());
                let take = data.len().min(room);
                rejection.body.extend_from_slice(&data[..take]);
                if rejection.body.len() >= target {
                    return Err(HandshakeError::Rejected(rejection.clone()));
                }
                Ok(Progress::Partial)
            }
        }
    }

    /// Parses and validates a complete response head.
    fn parse_head(&self, head: &[u8]) -> Result<Parsed, HandshakeError> {
        let mut slots = header_slots(self.limits.max_headers, head.len());
        let mut resp = httparse::Response::new(&mut slots);
        match resp.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err(HandshakeError::Malformed("incomplete status line".into()));
            }
            Err(e) => return Err(parse_error(e, &self.limits)),
        }
        if resp.version != Some(1) {
            return Err(HandshakeError::Malformed("response is not HTTP/1.1".into()));
        }
        let status = resp.code.unwrap_or_default();
        let hs = resp.headers;
        if status != 101 {
            let first = |name| headers::values(hs, name).next().map(|v| v.into_owned());
            let rejection = HttpRejection {
                status,
                reason: resp.reason.unwrap_or_default().to_owned(),
                headers: headers::owned(hs),
                retry_after: first("retry-after"),
                location: first("location"),
                body: Vec::new(),
            };
            // A redirect is acted on at once: its body says nothing the `Location` does not,
            // and a server that keeps the connection open without a length would otherwise
            // hold the next hop until the open timeout.
            let want = if (300..400).contains(&status) && rejection.location.is_some() {
                Some(0)
            } else {
                body_length(status, hs)
            };
            return Ok(Parsed::Rejected(Box::new(rejection), want));
        }
        self.validate_101(hs).map(Parsed::Accepted)
    }

    /// RFC 6455 §4.1, steps 2–6 of validating the server's response.
    fn validate_101(&self, hs: &[httparse::Header<'_>]) -> Result<Accepted, HandshakeError> {
        let mut upgrades = headers::values(hs, "upgrade");
        match (upgrades.next(), upgrades.next()) {
            (None, _) => return Err(HandshakeError::MissingUpgrade),
            (Some(v), None) if trim_ows(&v).eq_ignore_ascii_case("websocket") => {}
            _ => return Err(HandshakeError::BadUpgrade),
        }
        if !headers::values(hs, "connection").any(|v| has_token(&v, "upgrade")) {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let mut accepts = headers::values(hs, "sec-websocket-accept");
        match (accepts.next(), accepts.next()) {
            (None, _) => return Err(HandshakeError::MissingAccept),
            (Some(_), Some(_)) => return Err(HandshakeError::DuplicateAccept),
            (Some(v), None) if trim_ows(&v) == headers::accept_key(&self.key) => {}
            (Some(_), None) => return Err(HandshakeError::BadAccept),
        }
        let extension_values: Vec<_> = headers::values(hs, "sec-websocket-extensions").collect();
        let deflate = check_response(self.deflate.as_ref(), extension_values.iter().map(|v| v.as_ref())).map_err(
            |e| match e {
                ResponseError::Unrequested(name) => HandshakeError::UnrequestedExtension(name),
                ResponseError::Malformed(why) => HandshakeError::InvalidExtension(why),
            },
        )?;
        let mut protocols = headers::values(hs, "sec-websocket-protocol");
        let subprotocol = match (protocols.next(), protocols.next()) {
            (None, _) => None,
            (Some(_), Some(_)) => return Err(HandshakeError::MultipleSubprotocols),
            (Some(v), None) => {
                let mut list = tokens(&v);
                let chosen = match (list.next(), list.next()) {
                    (_, Some(_)) => return Err(HandshakeError::MultipleSubprotocols),
                    (chosen, None) => chosen.unwrap_or_default(),
                };
                if !self.subprotocols.iter().any(|p| p == chosen) {
                    return Err(HandshakeError::UnrequestedSubprotocol(chosen.to_owned()));
                }
                Some(chosen.to_owned())
            }
        };
        if subprotocol.is_none() && self.require_subprotocol && !self.subprotocols.is_empty() {
            return Err(HandshakeError::SubprotocolRequired);
        }
        Ok(Accepted {
            subprotocol,
            headers: headers::owned(hs),
            deflate,
        })
    }
}

/// A parsed head: accepted, or a rejection whose body is still to be read.
enum Parsed {
    Accepted(Accepted),
    Rejected(Box<HttpRejection>, Option<usize>),
}

/// How many body bytes a rejection announces: `Some(0)` for statuses without a body,
/// `Some(n)` for a valid `Content-Length`, `None` (read until EOF or the prefix limit)
/// for chunked or undelimited bodies.
fn body_length(status: u16, hs: &[httparse::Header<'_>]) -> Option<usize> {
    if status < 200 || status == 204 || status == 304 {
        return Some(0);
    }
    if headers::values(hs, "transfer-encoding").any(|v| has_token(&v, "chunked")) {
        return None;
    }
    let v = headers::values(hs, "content-length").next()?;
    let v = trim_ows(&v);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Saturate: any length above the prefix limit behaves the same.
    Some(v.parse().unwrap_or(usize::MAX))
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
