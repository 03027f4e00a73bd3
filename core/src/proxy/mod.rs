//! Proxies between the client and the server: HTTP `CONNECT` and SOCKS5, as sans-IO state
//! machines like the WebSocket handshake, plus proxy URLs and the curl-style environment.
//!
//! A driver that [`ProxyEnv::proxy_for`] (or its user) gave a [`ProxyUrl`] connects TCP to the
//! proxy, (for `https://` proxies, puts TLS on it), then runs a [`ProxyHandshake`] over the
//! stream, and only then TLS to the target (for `wss://`) and the WebSocket handshake: the
//! proxy sees an opaque tunnel. The whole exchange counts inside the session's open timeout.
//!
//! ```
//! use resock_core::proxy::{ProxyHandshake, ProxyUrl, Target};
//!
//! let proxy: ProxyUrl = "http://alice:s3cret@proxy.example:3128".parse().unwrap();
//! let mut handshake = ProxyHandshake::new(&proxy, Target::name("echo.example", 443));
//! let mut out = Vec::new();
//! while handshake.poll_transmit(&mut out).is_some() {} // write `out` to the proxy
//! handshake.handle_data(b"HTTP/1.1 200 Connection established\r\n\r\n");
//! assert_eq!(handshake.result(), Some(Ok(())));
//! // `format!("{proxy}")` is `http://proxy.example:3128`: credentials never show.
//! ```

mod env;
mod error;
mod http_connect;
mod socks5;
mod url;

use std::net::IpAddr;

pub use env::{NoProxy, ProxyEnv, is_loopback};
pub use error::{ProxyError, SocksReply};
pub use http_connect::{HttpConnect, MAX_HEAD, MAX_HEADERS};
pub use socks5::Socks5;
pub use url::{Credentials, ProxyScheme, ProxyUrl, ProxyUrlError};

/// The host the tunnel should reach.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetHost {
    /// A name (for HTTP `CONNECT` and `socks5h://`, resolved by the proxy).
    Name(String),
    /// An address (an IP literal URL, or a name resolved here for `socks5://`).
    Ip(IpAddr),
}

/// Where the tunnel should lead: the WebSocket server's host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The host.
    pub host: TargetHost,
    /// The port.
    pub port: u16,
}

impl Target {
    /// A target by name (an IP literal is recognised and kept as an address).
    pub fn name(host: &str, port: u16) -> Target {
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => TargetHost::Ip(ip),
            Err(_) => TargetHost::Name(host.to_owned()),
        };
        Target { host, port }
    }

    /// `host:port`, IPv6 in brackets.
    pub fn authority(&self) -> String {
        match &self.host {
            TargetHost::Name(name) => format!("{name}:{}", self.port),
            TargetHost::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            TargetHost::Ip(ip) => format!("{ip}:{}", self.port),
        }
    }
}

/// One proxy handshake, of the kind the proxy URL names. Every driver runs it the same way,
/// on a connected stream to the proxy:
///
/// 1. write everything [`poll_transmit`](Self::poll_transmit) gives;
/// 2. if [`result`](Self::result) is `Some`, stop: `Ok` means the stream is now a tunnel to
///    the target;
/// 3. read, and feed [`handle_data`](Self::handle_data) (or [`handle_eof`](Self::handle_eof)
///    on end of stream); go to 1.
///
/// `Debug` shows the state, never the credentials.
#[derive(Debug)]
pub enum ProxyHandshake {
    /// HTTP `CONNECT` (`http://` and `https://` proxies).
    Http(HttpConnect),
    /// SOCKS5 (`socks5://` and `socks5h://`).
    Socks5(Socks5),
}

impl ProxyHandshake {
    /// The handshake `proxy` speaks, to reach `target`. For `socks5://` the driver resolves the
    /// target's name first and passes an address ([`needs_local_resolution`]).
    ///
    /// [`needs_local_resolution`]: ProxyHandshake::needs_local_resolution
    pub fn new(proxy: &ProxyUrl, target: Target) -> ProxyHandshake {
        let credentials = proxy.credentials.as_ref();
        if proxy.scheme.is_socks() {
            ProxyHandshake::Socks5(Socks5::new(&target, credentials))
        } else {
            ProxyHandshake::Http(HttpConnect::new(&target, credentials))
        }
    }

    /// Whether the driver must resolve the target's name itself (`socks5://`); every other
    /// scheme sends the name to the proxy.
    pub fn needs_local_resolution(proxy: &ProxyUrl) -> bool {
        proxy.scheme == ProxyScheme::Socks5
    }

    /// Appends the bytes to write next to `buf`.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        match self {
            ProxyHandshake::Http(h) => h.poll_transmit(buf),
            ProxyHandshake::Socks5(s) => s.poll_transmit(buf),
        }
    }

    /// Takes bytes read from the proxy.
    pub fn handle_data(&mut self, data: &[u8]) {
        match self {
            ProxyHandshake::Http(h) => h.handle_data(data),
            ProxyHandshake::Socks5(s) => s.handle_data(data),
        }
    }

    /// The proxy closed the stream.
    pub fn handle_eof(&mut self) {
        match self {
            ProxyHandshake::Http(h) => h.handle_eof(),
            ProxyHandshake::Socks5(s) => s.handle_eof(),
        }
    }

    /// `None` while the handshake goes on; `Some(Ok(()))` once the tunnel is open.
    pub fn result(&self) -> Option<Result<(), &ProxyError>> {
        match self {
            ProxyHandshake::Http(h) => h.result(),
            ProxyHandshake::Socks5(s) => s.result(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_protocol() {
        let target = Target::name("example.com", 443);
        let http = ProxyHandshake::new(&"http://p:1".parse().unwrap(), target.clone());
        assert!(matches!(http, ProxyHandshake::Http(_)));
        let https = ProxyHandshake::new(&"https://p".parse().unwrap(), target.clone());
        assert!(matches!(https, ProxyHandshake::Http(_)));
        let mut socks = ProxyHandshake::new(&"socks5h://p".parse().unwrap(), target);
        assert!(matches!(socks, ProxyHandshake::Socks5(_)));
        let mut out = Vec::new();
        let _ = socks.poll_transmit(&mut out);
        assert_eq!(out, [5, 1, 0]);
        assert!(ProxyHandshake::needs_local_resolution(&"socks5://p".parse().unwrap()));
        assert!(!ProxyHandshake::needs_local_resolution(&"socks5h://p".parse().unwrap()));
        assert!(!ProxyHandshake::needs_local_resolution(&"http://p".parse().unwrap()));
    }

    #[test]
    fn targets_recognise_addresses() {
        assert_eq!(Target::name("::1", 9).authority(), "[::1]:9");
        assert_eq!(
            Target::name("10.0.0.1", 9).host,
            TargetHost::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(Target::name("a.example", 80).authority(), "a.example:80");
    }
}
