//! Through a real proxy nobody here wrote: `pproxy` (PyPI, pinned, installed by
//! `scripts/interop-setup.sh`) on loopback, with credentials, in front of the Python
//! `websockets` peer serving `wss://` with a certificate for `localhost`. On every runtime: HTTP
//! `CONNECT`, SOCKS5 with the name resolved by the proxy (`socks5h://`) and here (`socks5://`),
//! `ws://` through `CONNECT`, `wss://` and `ws://` through an `https://` proxy (TLS to the
//! proxy, then TLS to the server inside it), and refused credentials (fatal, one attempt, no credentials in any
//! event). `pproxy -v` logs each tunnel, so every case also proves the traffic went through it.
//! The table goes to `$CARGO_TARGET_TMPDIR/proxy-matrix.md`.

use std::time::Duration;

use resock::ClientBuilder;
use resock::core::Message;
use resock::core::session::{ClosedReason, DisconnectReason, SessionEvent, SessionState, TransportErrorKind};
use resock_tests::interop::TlsFiles;
use resock_tests::peers::{Peer, PeerKind, PeerOptions};
use resock_tests::proxy::Pproxy;
use resock_tests::test_client::{LIMIT, Runtime, TestClient};

const USER: &str = "alice";
/// Needs percent-encoding in the URL: it proves the userinfo is decoded.
const PASSWORD: &str = "p@ss word:1";

/// Opens `url` through `proxy` on `runtime`, echoes one message, closes.
fn echo_through(runtime: Runtime, url: &str, proxy: &str, tls: Option<&TlsFiles>) -> Result<(), String> {
    echo_sized(runtime, url, proxy, tls, 0)
}

/// Like [`echo_through`], then echoes a text of `size` bytes too (when not 0).
fn echo_sized(runtime: Runtime, url: &str, proxy: &str, tls: Option<&TlsFiles>, size: usize) -> Result<(), String> {
    let mut builder = ClientBuilder::new(url)
        .unwrap()
        .proxy(proxy)
        .open_timeout(Duration::from_secs(10))
        .max_attempts(2);
    if let Some(tls) = tls {
        builder = builder.tls(tls.client_tls());
    }
    let mut client = TestClient::open(runtime, builder);
    if !client.wait_open(LIMIT) {
        return Err(format!("did not open; state {}", client.state()));
    }
    client.send_text("through the proxy");
    match client.recv_message(LIMIT) {
        Some(Message::Text(t)) if t.as_str() == "through the proxy" => {}
        other => return Err(format!("echo: {other:?}")),
    }
    if size > 0 {
        let big: String = (0..size).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        client.send_text(big.clone());
        match client.recv_message(LIMIT) {
            Some(Message::Text(t)) if t.as_str() == big => {}
            Some(other) => return Err(format!("a {size}-byte echo came back as {} bytes", other.len())),
            None => return Err(format!("no {size}-byte echo")),
        }
    }
    client.close(resock::CloseCode::NORMAL, "");
    client.finish(LIMIT);
    Ok(())
}

/// The reason the session closed for good, and every event's Debug text on the way.
fn until_closed(client: &mut TestClient) -> (Option<ClosedReason>, Vec<String>) {
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + LIMIT;
    while std::time::Instant::now() < deadline {
        let Some(event) = client.next_event(deadline - std::time::Instant::now()) else {
            break;
        };
        seen.push(format!("{event:?} / {}", display(&event)));
        if let SessionEvent::StateChanged(SessionState::Closed(reason)) = event {
            return (Some(reason), seen);
        }
    }
    (None, seen)
}

fn display(event: &SessionEvent) -> String {
    match event {
        SessionEvent::Disconnected { reason, .. } => reason.to_string(),
        SessionEvent::Error(e) => e.to_string(),
        SessionEvent::StateChanged(s) => s.to_string(),
        _ => String::new(),
    }
}

/// The wrong password: refused by the proxy, fatal at the first attempt, with a typed error
/// that says so and the credentials nowhere.
fn refused(runtime: Runtime, url: &str, proxy: &str, tls: &TlsFiles) -> Result<String, String> {
    let builder = ClientBuilder::new(url)
        .unwrap()
        .proxy(proxy)
        .tls(tls.client_tls())
        .max_attempts(5)
        .backoff(Duration::from_millis(10), Duration::from_millis(20));
    let mut client = TestClient::open(runtime, builder);
    let (reason, seen) = until_closed(&mut client);
    let Some(ClosedReason::Fatal(DisconnectReason::Transport(error))) = reason else {
        return Err(format!("not a fatal transport error: {reason:?}; {seen:?}"));
    };
    if error.kind != TransportErrorKind::Proxy || !error.proxy().is_some_and(|p| p.is_authentication()) {
        return Err(format!("not a proxy authentication error: {error:?}"));
    }
    let attempts = seen.iter().filter(|e| e.starts_with("Disconnected")).count();
    if attempts != 1 {
        return Err(format!("{attempts} attempts: {seen:?}"));
    }
    for text in seen.iter().chain([&error.to_string(), &format!("{error:?}")]) {
        if text.contains("wrong-password") || text.contains(USER) {
            return Err(format!("credentials in {text}"));
        }
    }
    Ok(error.to_string())
}

#[test]
fn wss_and_ws_through_pproxy_on_every_runtime() {
    if !Pproxy::require_or_skip() {
        return;
    }
    let tls = TlsFiles::generate();
    let options = PeerOptions {
        tls: Some((tls.cert.clone(), tls.key.clone())),
        ..PeerOptions::default()
    };
    let wss_peer = Peer::start(PeerKind::Python, options).unwrap();
    let ws_peer = Peer::start(PeerKind::Python, PeerOptions::default()).unwrap();
    let proxy = Pproxy::start(Some((USER, PASSWORD)));
    let https_proxy = Pproxy::start_tls(Some((USER, PASSWORD)), &tls);
    let https = https_proxy.https_url();
    let wss_url = format!("wss://localhost:{}/echo", wss_peer.port());
    let ws_url = format!("ws://localhost:{}/echo", ws_peer.port());
    let wrong = |scheme: &str| format!("{scheme}://{USER}:wrong-password@127.0.0.1:{}", proxy.port());

    let mut table = String::from("| case | runtime | proxy | result |\n|---|---|---|---|\n");
    let mut failures = Vec::new();
    let wss_by_name = format!("-> localhost:{}", wss_peer.port());
    let wss_by_address = format!("-> 127.0.0.1:{}", wss_peer.port());
    let ws_by_name = format!("-> localhost:{}", ws_peer.port());
    for runtime in Runtime::ALL {
        type Case<'a> = (
            &'a str,
            &'a str,
            Box<dyn Fn() -> Result<(), String> + 'a>,
            Option<(&'a str, &'a str)>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "wss:// through HTTP CONNECT with Basic credentials",
                "pproxy http",
                Box::new(|| echo_through(runtime, &wss_url, &proxy.url("http", true), Some(&tls))),
                Some(("http ", &wss_by_name)),
            ),
            (
                "wss:// through SOCKS5, name resolved by the proxy, user/password",
                "pproxy socks5h",
                Box::new(|| echo_through(runtime, &wss_url, &proxy.url("socks5h", true), Some(&tls))),
                Some(("socks5 ", &wss_by_name)),
            ),
            (
                "wss:// through SOCKS5, name resolved here, user/password",
                "pproxy socks5",
                Box::new(|| echo_through(runtime, &wss_url, &proxy.url("socks5", true), Some(&tls))),
                Some(("socks5 ", &wss_by_address)),
            ),
            (
                "ws:// through HTTP CONNECT with Basic credentials",
                "pproxy http",
                Box::new(|| echo_through(runtime, &ws_url, &proxy.url("http", true), None)),
                Some(("http ", &ws_by_name)),
            ),
            (
                "wss:// through an https:// proxy (TLS inside TLS), Basic credentials, 1 MiB echo",
                "pproxy http+ssl",
                Box::new(|| echo_sized(runtime, &wss_url, &https, Some(&tls), 1 << 20)),
                Some(("http ", &wss_by_name)),
            ),
            (
                "ws:// through an https:// proxy, Basic credentials",
                "pproxy http+ssl",
                Box::new(|| echo_through(runtime, &ws_url, &https, Some(&tls))),
                Some(("http ", &ws_by_name)),
            ),
            (
                "wrong password, HTTP: 407, fatal at once, no credentials in events",
                "pproxy http",
                Box::new(|| refused(runtime, &wss_url, &wrong("http"), &tls).map(|_| ())),
                None,
            ),
            (
                "wrong password, SOCKS5: refused, fatal at once, no credentials in events",
                "pproxy socks5h",
                Box::new(|| refused(runtime, &wss_url, &wrong("socks5h"), &tls).map(|_| ())),
                None,
            ),
        ];
        for (case, via, run, tunnel) in cases {
            let log_of = if via == "pproxy http+ssl" { &https_proxy } else { &proxy };
            let tunnels = |log: &str| match tunnel {
                Some((proto, target)) => log
                    .lines()
                    .filter(|l| l.starts_with(proto) && l.ends_with(target))
                    .count(),
                None => 0,
            };
            let before = tunnels(&log_of.log());
            let result = run().and_then(|()| match tunnel {
                Some(_) if tunnels(&log_of.log()) > before => Ok(()),
                Some(_) => Err(format!("pproxy logged no new tunnel {tunnel:?}: {}", log_of.log())),
                None => Ok(()),
            });
            let shown = match &result {
                Ok(()) => "pass".to_owned(),
                Err(e) => format!("FAIL: {e}"),
            };
            eprintln!("{case} | {runtime} | {via} | {shown}");
            table.push_str(&format!(
                "| {case} | {runtime} | {via} | {} |\n",
                shown.replace('|', "/")
            ));
            if result.is_err() {
                failures.push(format!("{case} on {runtime}: {shown}"));
            }
        }
    }
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("proxy-matrix.md");
    std::fs::write(&path, &table).ok();
    assert!(failures.is_empty(), "{failures:#?}\n{table}");
}

#[test]
fn the_refusal_reads_as_a_sentence() {
    if !Pproxy::require_or_skip() {
        return;
    }
    let tls = TlsFiles::generate();
    let proxy = Pproxy::start(Some((USER, PASSWORD)));
    let url = "wss://localhost:9/echo";
    let wrong = format!("http://{USER}:wrong-password@127.0.0.1:{}", proxy.port());
    let text = refused(Runtime::Smol, url, &wrong, &tls).unwrap();
    assert_eq!(
        text,
        format!(
            "through proxy http://127.0.0.1:{}: the proxy refused: 407 proxy authentication required (the credentials were refused)",
            proxy.port()
        )
    );
}

#[test]
fn an_https_proxy_is_verified_against_its_own_name() {
    if !Pproxy::require_or_skip() {
        return;
    }
    let tls = TlsFiles::generate();
    let proxy = Pproxy::start_tls(None, &tls);
    for runtime in [Runtime::Blocking, Runtime::Smol, Runtime::Tokio] {
        // The proxy's certificate is signed by a CA this client does not trust.
        let builder = ClientBuilder::new("wss://localhost:9/")
            .unwrap()
            .proxy(&format!("https://localhost:{}", proxy.port()));
        let mut client = TestClient::open(runtime, builder);
        let (reason, seen) = until_closed(&mut client);
        let Some(ClosedReason::Fatal(DisconnectReason::Transport(error))) = reason else {
            panic!("{runtime}: {reason:?}; {seen:?}");
        };
        assert_eq!(error.kind, TransportErrorKind::TlsCertificate, "{runtime}: {error}");
        // The sentence says whose certificate it was: the proxy's, not the server's.
        assert!(
            error.message.starts_with(&format!(
                "through proxy https://localhost:{}: the proxy's certificate for localhost ",
                proxy.port()
            )),
            "{runtime}: {error}"
        );
        let certificate = error.certificate().expect("the certificate error");
        assert!(certificate.from_proxy, "{runtime}: {error:?}");
        assert_eq!(certificate.host, "localhost", "{runtime}: {error:?}");
    }
}
