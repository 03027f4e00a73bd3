//! WebSocket URIs (RFC 6455 §3): `ws://host[:port]/path?query` and `wss://…`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

mod resolve;

/// A parsed `ws://` or `wss://` URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WsUrl {
    /// `true` for `wss` (TLS).
    pub secure: bool,
    /// The host, lowercased; IPv6 literals without brackets.
    pub host: String,
    /// The port, explicit or the scheme's default (80 or 443).
    pub port: u16,
    /// The resource name: path and query, starting with `/` (`/` by default). Bytes
    /// outside visible ASCII are percent-encoded.
    pub path_and_query: String,
}

/// Why a string is not an acceptable WebSocket URL.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// The scheme is not `ws` or `wss` (or there is none).
    #[error("the URL scheme must be ws or wss")]
    UnsupportedScheme,
    /// No `//` after the scheme, or an empty host.
    #[error("the URL has no host")]
    MissingHost,
    /// The host has characters outside letters, digits, `-`, `.`, `_`, `~`, or is a
    /// malformed IPv6 literal.
    #[error("the URL host is invalid")]
    InvalidHost,
    /// The port is not a number in 1..=65535.
    #[error("the URL port is not a number from 1 to 65535")]
    InvalidPort,
    /// The URL has a `#fragment`, which RFC 6455 §3 forbids (escape `#` as `%23`).
    #[error("a WebSocket URL may not have a fragment (escape # as %23)")]
    Fragment,
    /// The URL has `user:pass@` credentials. They are never sent; pass an
    /// `Authorization` header in the handshake options instead.
    #[error("credentials in the URL are not supported; send an Authorization header")]
    UserInfo,
}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL. The scheme is case-insensitive, surrounding
    /// whitespace is ignored, the host is lowercased, an empty port (`host:`) means the
    /// default, and the path defaults to `/`. Fragments and `user:pass@` credentials are
    /// rejected. Internationalized host names must already be in punycode.
    pub fn parse(s: &str) -> Result<WsUrl, UrlError> {
        let s = s.trim();
        let (scheme, rest) = s.split_once(':').ok_or(UrlError::UnsupportedScheme)?;
        let secure = if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.eq_ignore_ascii_case("ws") {
            false
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let rest = rest.strip_prefix("//").ok_or(UrlError::MissingHost)?;
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            None | Some("") => default_port(secure),
            Some(p) => parse_port(p)?,
        };
        Ok(WsUrl {
            secure,
            host,
            port,
            path_and_query: resource_name(path),
        })
    }

    /// The `Host` header value: the host (IPv6 in brackets), with `:port` only when the
    /// port is not the scheme's default.
    pub fn host_header(&self) -> String {
        if self.port == default_port(self.secure) {
            self.bracketed_host()
        } else {
            self.authority()
        }
    }

    /// `host:port` to connect to, always with the port (IPv6 in brackets, e.g.
    /// `[::1]:9001`), in the form `ToSocketAddrs` accepts.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.bracketed_host(), self.port)
    }

    /// Whether the host is an IPv4 or IPv6 address rather than a name (so TLS cannot
    /// use it for SNI).
    pub fn is_ip_literal(&self) -> bool {
        self.host.parse::<Ipv4Addr>().is_ok() || self.host.parse::<Ipv6Addr>().is_ok()
    }

    /// `ws` or `wss`.
    pub fn scheme(&self) -> &'static str {
        if self.secure { "wss" } else { "ws" }
    }

    fn bracketed_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// The default port of the scheme: 443 for `wss`, 80 for `ws`.
pub fn default_port(secure: bool) -> u16 {
    if secure { 443 } else { 80 }
}

pub(crate) fn split_host_port(authority: &str) -> Result<(String, Option<&str>), UrlError> {
    if authority.is_empty() {
        return Err(UrlError::MissingHost);
    }
    if let Some(inner) = authority.strip_prefix('[') {
        let (literal, after) = inner.split_once(']').ok_or(UrlError::InvalidHost)?;
        let addr: Ipv6Addr = literal.parse().map_err(|_| UrlError::InvalidHost)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::InvalidHost)?),
        };
        return Ok((addr.to_string(), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if !host.bytes().all(valid) {
        return Err(UrlError::InvalidHost);
    }
    Ok((host.to_ascii_lowercase(), port))
}

pub(crate) fn parse_port(p: &str) -> Result<u16, UrlError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::InvalidPort);
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError::InvalidPort),
        Ok(n) => Ok(n),
    }
}

/// Path and query as sent in the request line: `/` when the path is empty, bytes
/// outside visible ASCII percent-encoded.
fn resource_name(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    if !path.starts_with('/') {
        out.push('/');
    }
    for b in path.bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme(), self.host_header(), self.path_and_query)
    }
}

impl FromStr for WsUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WsUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> WsUrl {
        WsUrl::parse(s).unwrap()
    }

    #[test]
    fn basic_and_defaults() {
        let u = url("ws://example.com");
        assert_eq!(
            u,
            WsUrl {
                secure: false,
                host: "example.com".into(),
                port: 80,
                path_and_query: "/".into()
            }
        );
        assert_eq!(u.host_header(), "example.com");
        assert_eq!(u.authority(), "example.com:80");
        assert_eq!(u.to_string(), "ws://example.com/");
        let u = url("WSS://Example.COM/chat?x=1&y=2");
        assert!(u.secure);
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 443);
        assert_eq!(u.path_and_query, "/chat?x=1&y=2");
        assert_eq!(u.to_string(), "wss://example.com/chat?x=1&y=2");
        assert_eq!(url("ws://h?q").path_and_query, "/?q");
        assert_eq!(url("  ws://h/p  ").path_and_query, "/p");
    }

    #[test]
    fn ports() {
        let u = url("ws://h:9001/x");
        assert_eq!(u.port, 9001);
        assert_eq!(u.host_header(), "h:9001");
        assert_eq!(u.to_string(), "ws://h:9001/x");
        // An explicit default port is normalized away in Host and Display.
        assert_eq!(url("wss://h:443").host_header(), "h");
        assert_eq!(url("wss://h:443").to_string(), "wss://h/");
        assert_eq!(url("ws://h:443").host_header(), "h:443");
        assert_eq!(url("ws://h:").port, 80);
        assert_eq!(url("ws://h:65535").port, 65535);
        for bad in [
            "ws://h:0",
            "ws://h:65536",
            "ws://h:123456",
            "ws://h:x",
            "ws://h:+80",
            "ws://h:8 0",
        ] {
            assert_eq!(WsUrl::parse(bad), Err(UrlError::InvalidPort), "{bad}");
        }
    }

    #[test]
    fn ipv6_and_ip_literals() {
        let u = url("ws://[::1]:9001/p");
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 9001);
        assert_eq!(u.host_header(), "[::1]:9001");
        assert_eq!(u.authority(), "[::1]:9001");
        assert_eq!(u.to_string(), "ws://[::1]:9001/p");
        assert!(u.is_ip_literal());
        let u = url("wss://[2001:DB8:0:0::1]");
        assert_eq!(u.host, "2001:db8::1");
        assert_eq!(u.host_header(), "[2001:db8::1]");
        assert_eq!(u.authority(), "[2001:db8::1]:443");
        assert!(url("ws://127.0.0.1:8080").is_ip_literal());
        assert!(!url("ws://localhost").is_ip_literal());
        for bad in ["ws://[::1", "ws://[zz::1]/", "ws://[::1]x", "ws://[fe80::1%25eth0]/"] {
            assert_eq!(WsUrl::parse(bad), Err(UrlError::InvalidHost), "{bad}");
        }
    }

    #[test]
    fn rejections() {
        assert_eq!(WsUrl::parse("http://h/"), Err(UrlError::UnsupportedScheme));
        assert_eq!(WsUrl::parse("h/"), Err(UrlError::UnsupportedScheme));
        assert_eq!(WsUrl::parse(""), Err(UrlError::UnsupportedScheme));
        assert_eq!(WsUrl::parse("ws:h"), Err(UrlError::MissingHost));
        assert_eq!(WsUrl::parse("ws://"), Err(UrlError::MissingHost));
        assert_eq!(WsUrl::parse("ws:///p"), Err(UrlError::MissingHost));
        assert_eq!(WsUrl::parse("ws://:80/"), Err(UrlError::MissingHost));
        assert_eq!(WsUrl::parse("ws://h/p#frag"), Err(UrlError::Fragment));
        assert_eq!(WsUrl::parse("ws://h#"), Err(UrlError::Fragment));
        assert_eq!(WsUrl::parse("ws://u:p@h/"), Err(UrlError::UserInfo));
        for bad in ["ws://h h/", "ws://h\r\nX: y/", "ws://hé/", "ws://a,b/", "ws://a%20b/"] {
            assert_eq!(WsUrl::parse(bad), Err(UrlError::InvalidHost), "{bad:?}");
        }
    }

    #[test]
    fn path_is_escaped() {
        assert_eq!(url("ws://h/a b/é").path_and_query, "/a%20b/%C3%A9");
        assert_eq!(url("ws://h/a%23b").path_and_query, "/a%23b");
        assert_eq!(url("ws://h/x\r\n").path_and_query, "/x");
        assert_eq!(url("ws://h/x\ty").path_and_query, "/x%09y");
    }

    #[test]
    fn from_str_and_round_trip() {
        let u: WsUrl = "wss://h:8443/a?b".parse().unwrap();
        assert_eq!(u.scheme(), "wss");
        assert_eq!(url(&u.to_string()), u);
        assert_eq!("ftp://h".parse::<WsUrl>(), Err(UrlError::UnsupportedScheme));
    }
}
