//! `proxy_handshake`: the HTTP `CONNECT` and SOCKS5 client handshakes reading a proxy's answer.
//!
//! Input: a selector byte (bits 0-1: `http`, `http` with credentials, `socks5h`, `socks5h` with
//! credentials; bit 2: end of stream after the input; bit 3: an IPv6 target), a chunking seed
//! byte (see [`chunks`](crate::util::chunks)), then the proxy's bytes. The handshake runs
//! whole and chunked (writes drained between pieces); both must agree on the result and on what
//! was written; a result never changes back to "in progress"; the credentials appear in no
//! `Debug` or error text; an end of stream always brings a result.

use resock_core::proxy::{ProxyError, ProxyHandshake, ProxyUrl, Target};
use resock_core::session::{DisconnectReason, ReconnectPolicy, TransportError};

use crate::util::chunks;

/// The password of the fuzzed proxy URLs (checked absent from every text).
pub const PASSWORD: &str = "fuzz-secret";

/// The proxy URL of selector `sel`.
pub fn proxy_url(sel: u8) -> ProxyUrl {
    let url = match sel & 3 {
        0 => "http://proxy.example:3128".to_owned(),
        1 => format!("http://fuzz-user:{PASSWORD}@proxy.example:3128"),
        2 => "socks5h://proxy.example:1080".to_owned(),
        _ => format!("socks5h://fuzz-user:{PASSWORD}@proxy.example:1080"),
    };
    url.parse().expect("fixed proxy URL")
}

/// The target of selector `sel`.
pub fn target(sel: u8) -> Target {
    if sel & 8 != 0 {
        Target::name("::1", 9001)
    } else {
        Target::name("echo.example", 443)
    }
}

fn run(sel: u8, pieces: &[&[u8]]) -> (Option<Result<(), ProxyError>>, Vec<u8>) {
    let proxy = proxy_url(sel);
    let mut handshake = ProxyHandshake::new(&proxy, target(sel));
    let mut written = Vec::new();
    let mut settled: Option<Option<Result<(), ProxyError>>> = None;
    for piece in pieces {
        while handshake.poll_transmit(&mut written).is_some() {}
        handshake.handle_data(piece);
        let now = handshake.result().map(|r| r.map_err(Clone::clone));
        if let Some(Some(Err(before))) = &settled {
            assert_eq!(now.as_ref(), Some(&Err(before.clone())), "a failure changed");
        }
        if now.is_some() {
            settled = Some(now);
        }
    }
    if sel & 4 != 0 {
        handshake.handle_eof();
        assert!(handshake.result().is_some(), "no result after the end of stream");
    }
    while handshake.poll_transmit(&mut written).is_some() {}
    let debug = format!("{handshake:?}");
    assert!(!debug.contains(PASSWORD), "credentials in {debug}");
    (handshake.result().map(|r| r.map_err(Clone::clone)), written)
}

/// The `proxy_handshake` target body.
pub fn proxy_handshake(data: &[u8]) {
    let [sel, seed, answer @ ..] = data else {
        return;
    };
    let whole = run(*sel, &[answer]);
    let chunked = run(*sel, &chunks(answer, *seed));
    assert_eq!(whole, chunked, "chunking changed the outcome");
    if let (Some(Err(error)), _) = &whole {
        let text = error.to_string();
        assert!(!text.contains(PASSWORD), "credentials in {text}");
        let transport = TransportError::from_proxy("through proxy", error.clone());
        let _ = DisconnectReason::Transport(transport).default_decision(&ReconnectPolicy::default());
    }
}
