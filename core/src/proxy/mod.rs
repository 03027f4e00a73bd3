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

#[cfg(test)]
mod chunking_tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` in pieces cut at `cuts`, draining writes between pieces; the result and
    /// everything written.
    fn run(proxy: &ProxyUrl, input: &[u8], cuts: &[usize], eof: bool) -> (Option<Result<(), ProxyError>>, Vec<u8>) {
        let mut handshake = ProxyHandshake::new(proxy, Target::name("example.com", 443));
        let mut written = Vec::new();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.push(0);
        cuts.push(input.len());
        cuts.sort_unstable();
        for pair in cuts.windows(2) {
            while handshake.poll_transmit(&mut written).is_some() {}
            handshake.handle_data(&input[pair[0]..pair[1]]);
        }
        if eof {
            handshake.handle_eof();
        }
        while handshake.poll_transmit(&mut written).is_some() {}
        (handshake.result().map(|r| r.map_err(Clone::clone)), written)
    }

    fn proxies() -> impl Strategy<Value = ProxyUrl> {
        prop_oneof![
            Just("http://p:1"),
            Just("http://u:pw@p:1"),
            Just("socks5h://p:1"),
            Just("socks5h://u:pw@p:1"),
        ]
        .prop_map(|s| s.parse().unwrap())
    }

    /// Answers a proxy might send: valid ones, broken ones, and arbitrary bytes after a valid
    /// prefix.
    fn answers() -> impl Strategy<Value = Vec<u8>> {
        let canned = prop_oneof![
            Just(b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec()),
            Just(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n".to_vec()),
            Just(b"HTTP/1.0 503 Busy\r\nA: b\r\n\r\nbody".to_vec()),
            Just(vec![5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 80]),
            Just(vec![5, 2, 1, 0, 5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 80]),
            Just(vec![5, 2, 1, 1]),
            Just(vec![5, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0]),
        ];
        (canned, prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(mut a, tail)| {
            a.extend_from_slice(&tail);
            a
        })
    }

    proptest! {
        #[test]
        fn the_result_does_not_depend_on_how_the_answer_is_cut(
            proxy in proxies(),
            input in prop_oneof![answers(), prop::collection::vec(any::<u8>(), 0..300)],
            cuts in prop::collection::vec(any::<usize>(), 0..12),
            eof: bool,
        ) {
            let whole = run(&proxy, &input, &[], eof);
            let cut = run(&proxy, &input, &cuts, eof);
            prop_assert_eq!(&whole, &cut);
            let mut bytes = Vec::new();
            let bytewise: Vec<usize> = (0..input.len()).collect();
            bytes.push(run(&proxy, &input, &bytewise, eof));
            prop_assert_eq!(&whole, &bytes[0]);
            // With no more input and an end of stream, it always comes to a result.
            if eof {
                prop_assert!(whole.0.is_some());
            }
        }
    }
}
