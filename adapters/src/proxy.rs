//! The proxy step every driver shares, between TCP connect and TLS: which proxy a URL goes
//! through (the builder's setting or curl's environment), what to connect to, the target the
//! proxy is asked for, and how a failure reads. The protocols themselves are core's sans-IO
//! [`ProxyHandshake`]; the two pumps here ([`tunnel_blocking`] for std sockets, `tunnel_async`
//! for any `ByteStream` of the async driver) only move its bytes.
#![cfg_attr(not(any(feature = "blocking", feature = "async-driver")), allow(dead_code))]

use std::net::IpAddr;

use resock_core::WsUrl;
use resock_core::proxy::{ProxyEnv, ProxyHandshake, ProxyScheme, ProxyUrl, ProxyUrlError, Target};
use resock_core::session::{TransportError, TransportErrorKind};

/// Which proxy a client uses, as set on the builder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum ProxySetting {
    /// curl's environment variables, read when the client starts (the default).
    #[default]
    Environment,
    /// This proxy, for every URL (loopback included).
    Url(ProxyUrl),
    /// Always direct.
    Off,
    /// A proxy URL that did not parse; [`ClientBuilder::validate`](crate::ClientBuilder::validate)
    /// refuses it.
    Invalid(ProxyUrlError),
}

impl ProxySetting {
    /// What is wrong with the setting, for the builder's `validate`.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        let ProxySetting::Invalid(e) = self else {
            return None;
        };
        Some(match e {
            ProxyUrlError::UnsupportedScheme => "the proxy URL scheme must be http, https, socks5 or socks5h",
            ProxyUrlError::InvalidHost => "the proxy URL has no valid host",
            ProxyUrlError::InvalidPort => "the proxy URL port is not a number from 1 to 65535",
            ProxyUrlError::InvalidCredentials => {
                "the proxy URL credentials are not valid percent-encoded UTF-8 of at most 255 bytes each"
            }
            _ => "the proxy URL is not valid",
        })
    }
}

/// A client's proxy decision, made per URL from what was read when the client started.
#[derive(Debug, Clone)]
pub(crate) enum ProxyPlan {
    /// From the environment as it was when the client started.
    Environment(ProxyEnv),
    /// This proxy for every URL.
    Url(ProxyUrl),
    /// Direct.
    Off,
}

impl ProxyPlan {
    /// The plan for `setting`, reading the process environment when it says so and `env` is
    /// allowed (a simulated world never reads it).
    pub(crate) fn new(setting: &ProxySetting, env: bool) -> ProxyPlan {
        match setting {
            ProxySetting::Environment if env => {
                ProxyPlan::Environment(ProxyEnv::from_lookup(|name| std::env::var(name).ok()))
            }
            ProxySetting::Environment | ProxySetting::Off | ProxySetting::Invalid(_) => ProxyPlan::Off,
            ProxySetting::Url(url) => ProxyPlan::Url(url.clone()),
        }
    }

    /// The proxy for `url`, or `None` to go direct. A proxy variable that does not parse
    /// fails every attempt (fatal: a [`TransportErrorKind::Proxy`] without a proxy answer), and
    /// so does an `https://` proxy in a build without TLS.
    pub(crate) fn for_url(&self, url: &WsUrl) -> Result<Option<ProxyUrl>, TransportError> {
        let proxy = match self {
            ProxyPlan::Off => return Ok(None),
            ProxyPlan::Url(proxy) => proxy.clone(),
            ProxyPlan::Environment(env) => match env.proxy_for(url) {
                Ok(Some(proxy)) => proxy,
                Ok(None) => return Ok(None),
                Err(e) => {
                    let var = if url.secure { "https_proxy" } else { "http_proxy" };
                    return Err(TransportError::new(
                        TransportErrorKind::Proxy,
                        format!("the proxy environment ({var} or all_proxy) is not usable: {e}"),
                    ));
                }
            },
        };
        if proxy.scheme == ProxyScheme::Https && !cfg!(feature = "rustls") {
            return Err(TransportError::new(
                TransportErrorKind::Proxy,
                format!(
                    "through proxy {proxy}: an https:// proxy needs the rustls feature, which this build does not include"
                ),
            ));
        }
        Ok(Some(proxy))
    }

    /// Whether some URL may go through an `https://` proxy (so the client needs its TLS
    /// configuration even for `ws://`).
    #[cfg_attr(not(any(feature = "rustls", feature = "blocking")), allow(dead_code))]
    pub(crate) fn may_use_tls(&self) -> bool {
        let https = |value: &Option<String>| {
            value
                .as_deref()
                .is_some_and(|v| ProxyUrl::parse(v).is_ok_and(|p| p.scheme == ProxyScheme::Https))
        };
        match self {
            ProxyPlan::Url(proxy) => proxy.scheme == ProxyScheme::Https,
            ProxyPlan::Environment(env) => https(&env.http) || https(&env.https) || https(&env.all),
            ProxyPlan::Off => false,
        }
    }
}

/// The words that start every error of a proxied attempt: `through proxy http://p:3128`.
pub(crate) fn doing(proxy: &ProxyUrl) -> String {
    format!("through proxy {proxy}")
}

/// `error` of a step with the proxy, prefixed by which proxy, its kind and details kept; a
/// refused certificate is marked as the proxy's, and its sentence says so.
pub(crate) fn during(proxy: &ProxyUrl, mut error: TransportError) -> TransportError {
    if let Some(certificate) = error.certificate() {
        error = TransportError::from_certificate(certificate.clone().for_proxy());
    }
    error.message = format!("{}: {}", doing(proxy), error.message);
    error
}

/// The handshake that asks `proxy` for a tunnel to `url`'s host; `resolved` is the target's
/// address when the proxy wants one (`socks5://`).
pub(crate) fn handshake(proxy: &ProxyUrl, url: &WsUrl, resolved: Option<IpAddr>) -> ProxyHandshake {
    let target = match resolved {
        Some(ip) => Target {
            host: resock_core::proxy::TargetHost::Ip(ip),
            port: url.port,
        },
        None => Target::name(&url.host, url.port),
    };
    ProxyHandshake::new(proxy, target)
}

/// A failed handshake as the session sees it.
#[cfg(any(feature = "blocking", feature = "async-driver"))]
fn refused(proxy: &ProxyUrl, error: &resock_core::proxy::ProxyError) -> TransportError {
    TransportError::from_proxy(&doing(proxy), error.clone())
}

/// An IO error while talking to the proxy.
#[cfg(any(feature = "blocking", feature = "async-driver"))]
fn io_failed(proxy: &ProxyUrl, error: &std::io::Error) -> TransportError {
    crate::io_error::transport_error(&format!("{}: the proxy handshake", doing(proxy)), error)
}

/// The most read from the proxy at once: its answers are small, and nothing past them may be
/// taken from the stream.
#[cfg(any(feature = "blocking", feature = "async-driver"))]
const READ_CHUNK: usize = 512;

/// Runs `handshake` on a blocking stream (its timeouts set by the caller to the open
/// deadline).
#[cfg(feature = "blocking")]
pub(crate) fn tunnel_blocking<S: std::io::Read + std::io::Write>(
    stream: &mut S,
    proxy: &ProxyUrl,
    mut handshake: ProxyHandshake,
) -> Result<(), TransportError> {
    use std::io;
    let mut out = Vec::new();
    let mut buf = [0u8; READ_CHUNK];
    loop {
        while handshake.poll_transmit(&mut out).is_some() {}
        if !out.is_empty() {
            stream
                .write_all(&out)
                .and_then(|()| stream.flush())
                .map_err(|e| io_failed(proxy, &e))?;
            out.clear();
        }
        if let Some(result) = handshake.result() {
            return result.map_err(|e| refused(proxy, e));
        }
        match stream.read(&mut buf) {
            Ok(0) => handshake.handle_eof(),
            Ok(n) => handshake.handle_data(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let e = io::Error::new(io::ErrorKind::TimedOut, "the open timeout passed");
                return Err(io_failed(proxy, &e));
            }
            Err(e) => return Err(io_failed(proxy, &e)),
        }
    }
}

/// Runs `handshake` on an async stream; the session's open timeout bounds it (the driver
/// drops the opening future).
#[cfg(feature = "async-driver")]
pub(crate) async fn tunnel_async<S: crate::async_driver::ByteStream>(
    stream: &mut S,
    proxy: &ProxyUrl,
    mut handshake: ProxyHandshake,
) -> Result<(), TransportError> {
    use std::future::poll_fn;
    use std::io;
    let mut out = Vec::new();
    let mut buf = [0u8; READ_CHUNK];
    loop {
        while handshake.poll_transmit(&mut out).is_some() {}
        let mut written = 0;
        while written < out.len() {
            match poll_fn(|cx| stream.poll_write(cx, &out[written..])).await {
                Ok(0) => return Err(io_failed(proxy, &io::ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_failed(proxy, &e)),
            }
        }
        if !out.is_empty() {
            poll_fn(|cx| stream.poll_flush(cx))
                .await
                .map_err(|e| io_failed(proxy, &e))?;
            out.clear();
        }
        if let Some(result) = handshake.result() {
            return result.map_err(|e| refused(proxy, e));
        }
        match poll_fn(|cx| stream.poll_read(cx, &mut buf)).await {
            Ok(0) => handshake.handle_eof(),
            Ok(n) => handshake.handle_data(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_failed(proxy, &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_decides_per_url() {
        let url = WsUrl::parse("ws://127.0.0.1:9/").unwrap();
        let proxy: ProxyUrl = "socks5h://u:p@127.0.0.1:1080".parse().unwrap();
        // An explicit proxy is used for loopback too.
        let plan = ProxyPlan::new(&ProxySetting::Url(proxy.clone()), true);
        assert_eq!(plan.for_url(&url).unwrap(), Some(proxy));
        assert_eq!(ProxyPlan::new(&ProxySetting::Off, true).for_url(&url).unwrap(), None);
        // The environment never proxies loopback, and a simulated world never reads it.
        assert_eq!(
            ProxyPlan::new(&ProxySetting::Environment, true).for_url(&url).unwrap(),
            None
        );
        let world = ProxyPlan::new(&ProxySetting::Environment, false);
        assert_eq!(world.for_url(&WsUrl::parse("ws://example.com").unwrap()).unwrap(), None);
    }

    #[test]
    fn a_bad_environment_is_a_fatal_error() {
        let env = ProxyEnv::from_lookup(|name| (name == "https_proxy").then(|| "ftp://user:pw@p".to_owned()));
        let error = ProxyPlan::Environment(env)
            .for_url(&WsUrl::parse("wss://example.com").unwrap())
            .unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Proxy);
        assert!(error.proxy().is_none());
        assert!(!error.message.contains("pw"), "{error}");
        let https = ProxyPlan::Url("https://u:pw@p:1".parse().unwrap());
        assert!(https.may_use_tls());
        assert!(!ProxyPlan::Url("http://p:1".parse().unwrap()).may_use_tls());
        assert!(!ProxyPlan::Off.may_use_tls());
        let env = ProxyEnv::from_lookup(|name| (name == "ALL_PROXY").then(|| "https://p".to_owned()));
        assert!(ProxyPlan::Environment(env).may_use_tls());
    }

    #[test]
    fn socks5_sends_the_resolved_address_and_socks5h_the_name() {
        let url = WsUrl::parse("wss://example.com:8443/").unwrap();
        let mut out = Vec::new();
        let mut h = handshake(&"socks5h://p".parse().unwrap(), &url, None);
        h.handle_data(&[5, 0]);
        while h.poll_transmit(&mut out).is_some() {}
        assert!(out.windows(11).any(|w| w == b"example.com"), "{out:?}");
        let mut out = Vec::new();
        let mut h = handshake(&"socks5://p".parse().unwrap(), &url, Some("10.0.0.7".parse().unwrap()));
        h.handle_data(&[5, 0]);
        while h.poll_transmit(&mut out).is_some() {}
        assert!(out.ends_with(&[5, 1, 0, 1, 10, 0, 0, 7, 0x20, 0xfb]), "{out:?}");
    }

    #[cfg(feature = "blocking")]
    #[test]
    fn the_blocking_pump_reports_refusals_without_credentials() {
        use resock_core::proxy::ProxyError;
        use std::io;
        struct Scripted {
            answer: &'static [u8],
            written: Vec<u8>,
        }
        impl io::Read for Scripted {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.answer.len());
                buf[..n].copy_from_slice(&self.answer[..n]);
                self.answer = &self.answer[n..];
                Ok(n)
            }
        }
        impl io::Write for Scripted {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.written.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let proxy: ProxyUrl = "http://alice:hunter2@127.0.0.1:3128".parse().unwrap();
        let url = WsUrl::parse("wss://example.com/").unwrap();
        let mut stream = Scripted {
            answer: b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
            written: Vec::new(),
        };
        let error = tunnel_blocking(&mut stream, &proxy, handshake(&proxy, &url, None)).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Proxy);
        assert!(matches!(
            error.proxy(),
            Some(ProxyError::AuthenticationRequired { sent_credentials: true })
        ));
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("hunter2") && !text.contains("alice"), "{text}");
        }
        assert_eq!(
            error.to_string(),
            "through proxy http://127.0.0.1:3128: the proxy refused: 407 proxy authentication required (the credentials were refused)"
        );
        assert!(stream.written.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
        let mut closed = Scripted {
            answer: b"",
            written: Vec::new(),
        };
        let error = tunnel_blocking(&mut closed, &proxy, handshake(&proxy, &url, None)).unwrap_err();
        assert!(error.proxy().unwrap().is_retryable(), "{error}");
    }
}
