//! The plain blocking [`WebSocket::connect`](resock::blocking::WebSocket::connect) takes its
//! proxy from the environment as every resock client does (`http_proxy` for `ws://`,
//! `https_proxy` for `wss://`, else `all_proxy`; never for `no_proxy` hosts or loopback),
//! through the real `pproxy` (PyPI, pinned, installed by `scripts/interop-setup.sh`) in front of
//! the Python `websockets` peer: HTTP `CONNECT`, SOCKS5, an `https://` proxy (for `wss://`, the
//! server's TLS inside the proxy's), and refused credentials that never reach the error text.
//!
//! Proxy variables are the process's, so each case runs this test binary again as a child
//! with its own environment (the ignored test [`child_connects_and_echoes`]). The environment
//! never proxies loopback: the cases name the server `0.0.0.0`, which Linux connects to this
//! machine (pproxy does the connecting) and which the test certificate covers.

use std::process::Command;

use resock::blocking::WebSocket;
use resock::{ClientOptions, Config, Message};
use resock_tests::interop::TlsFiles;
use resock_tests::peers::{Peer, PeerKind, PeerOptions};
use resock_tests::proxy::Pproxy;

const USER: &str = "bob";
const PASSWORD: &str = "s3cret pass:2";
/// The proxy variables a case starts without (the parent's are not the case's).
const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];
/// What the child prints before its outcome.
const OUTCOME: &str = "child outcome: ";

/// Runs [`child_connects_and_echoes`] for `url` with `vars` as its only proxy variables; the
/// child's outcome line. With a CA (for `wss://` or an `https://` proxy) the child trusts it
/// alone, without one it calls the plain `WebSocket::connect`.
fn child(url: &str, vars: &[(&str, &str)], ca: &str) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_connects_and_echoes",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RESOCK_CHILD_URL", url)
        .env("RESOCK_CHILD_CA", ca);
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    for (var, value) in vars {
        command.env(var, value);
    }
    let output = command.output().expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.split_once(OUTCOME).map(|(_, outcome)| outcome))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "no outcome from the child: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

/// The child's side: `WebSocket::connect` (`connect_with_tls` trusting the test CA when the
/// parent gives one), one echo, a close.
#[test]
#[ignore = "run by the_plain_blocking_websocket_takes_its_proxy_from_the_environment, in a child with its own environment"]
fn child_connects_and_echoes() {
    let url = std::env::var("RESOCK_CHILD_URL").expect("run by the parent test");
    let ca = std::env::var("RESOCK_CHILD_CA").expect("run by the parent test");
    let opened = if !ca.is_empty() {
        let tls = resock::tls::TlsOptions::no_default_roots()
            .add_root_pem(ca.as_bytes())
            .unwrap();
        WebSocket::connect_with_tls(&url, &ClientOptions::default(), Config::default(), &tls)
    } else {
        WebSocket::connect(&url)
    };
    let outcome = match opened {
        Err(e) => format!("error: {e}"),
        Ok(mut ws) => {
            ws.send_text("through the environment's proxy").unwrap();
            match ws.recv() {
                Ok(Some(Message::Text(t))) if t.as_str() == "through the environment's proxy" => {
                    ws.close(resock::CloseCode::NORMAL, "").ok();
                    "echoed".to_owned()
                }
                other => format!("echo: {other:?}"),
            }
        }
    };
    println!("{OUTCOME}{outcome}");
}

#[test]
fn the_plain_blocking_websocket_takes_its_proxy_from_the_environment() {
    if !Pproxy::require_or_skip() {
        return;
    }
    let tls = TlsFiles::generate();
    let wss_peer = Peer::start(
        PeerKind::Python,
        PeerOptions {
            tls: Some((tls.cert.clone(), tls.key.clone())),
            ..PeerOptions::default()
        },
    )
    .unwrap();
    let ws_peer = Peer::start(PeerKind::Python, PeerOptions::default()).unwrap();
    let proxy = Pproxy::start(Some((USER, PASSWORD)));
    let https_proxy = Pproxy::start_tls(Some((USER, PASSWORD)), &tls);
    let https = https_proxy.https_url();
    let dead = format!("http://127.0.0.1:{}", {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    });
    let wss = format!("wss://0.0.0.0:{}/echo", wss_peer.port());
    let ws = format!("ws://0.0.0.0:{}/echo", ws_peer.port());
    let ws_loopback = format!("ws://127.0.0.1:{}/echo", ws_peer.port());
    let to_wss = format!("-> 0.0.0.0:{}", wss_peer.port());
    let to_ws = format!("-> 0.0.0.0:{}", ws_peer.port());
    let http = proxy.url("http", true);
    let socks = proxy.url("socks5h", true);

    // (what, variables, URL, the proxy whose log must gain a tunnel to the target)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a str,
        Option<(&'a Pproxy, &'a str, &'a str)>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "ws:// by http_proxy (CONNECT)",
            vec![("http_proxy", &http)],
            &ws,
            Some((&proxy, "http ", &to_ws)),
        ),
        (
            "ws:// by HTTP_PROXY",
            vec![("HTTP_PROXY", &http)],
            &ws,
            Some((&proxy, "http ", &to_ws)),
        ),
        (
            "wss:// by https_proxy (CONNECT)",
            vec![("https_proxy", &http)],
            &wss,
            Some((&proxy, "http ", &to_wss)),
        ),
        (
            "wss:// by all_proxy (socks5h)",
            vec![("all_proxy", &socks)],
            &wss,
            Some((&proxy, "socks5 ", &to_wss)),
        ),
        (
            "wss:// by HTTPS_PROXY, an https:// proxy (TLS inside TLS)",
            vec![("HTTPS_PROXY", &https)],
            &wss,
            Some((&https_proxy, "http ", &to_wss)),
        ),
        (
            "ws:// by http_proxy, an https:// proxy",
            vec![("http_proxy", &https)],
            &ws,
            Some((&https_proxy, "http ", &to_ws)),
        ),
        (
            "wss:// with no_proxy naming the host: direct",
            vec![("https_proxy", &dead), ("no_proxy", "example.com,0.0.0.0")],
            &wss,
            None,
        ),
        (
            "ws:// to loopback: direct",
            vec![("http_proxy", &dead)],
            &ws_loopback,
            None,
        ),
        (
            "wss:// with only http_proxy set: direct",
            vec![("http_proxy", &dead)],
            &wss,
            None,
        ),
    ];
    let mut failures = Vec::new();
    for (what, vars, url, tunnel) in &cases {
        let count = |(log_of, proto, target): (&Pproxy, &str, &str)| {
            log_of
                .log()
                .lines()
                .filter(|l| l.starts_with(proto) && l.ends_with(target))
                .count()
        };
        let before = tunnel.map(count);
        let https_proxy_used = vars.iter().any(|(_, value)| value.starts_with("https://"));
        let ca = if url.starts_with("wss://") || https_proxy_used {
            tls.ca_pem.as_str()
        } else {
            ""
        };
        let outcome = child(url, vars, ca);
        let through = match (tunnel, before) {
            (Some(tunnel), Some(before)) => count(*tunnel) > before,
            _ => true,
        };
        eprintln!("{what}: {outcome}, tunnel seen: {through}");
        if outcome != "echoed" || !through {
            failures.push(format!("{what}: {outcome}, tunnel seen: {through}"));
        }
    }
    // The direct cases name a proxy that is not there: their echo proves they went around it.
    assert!(failures.is_empty(), "{failures:#?}");

    // Refused credentials: a proxy error that names the proxy, never the password.
    let wrong = format!("http://{USER}:wrong-password@127.0.0.1:{}", proxy.port());
    let outcome = child(&wss, &[("https_proxy", &wrong)], &tls.ca_pem);
    assert!(
        outcome.starts_with(&format!("error: through proxy http://127.0.0.1:{}: ", proxy.port())),
        "{outcome}"
    );
    assert!(outcome.contains("407"), "{outcome}");
    assert!(
        !outcome.contains("wrong-password") && !outcome.contains(USER),
        "{outcome}"
    );
    // A variable that does not parse fails the connect with a sentence, not a direct attempt.
    let outcome = child(&ws, &[("http_proxy", "ftp://p:21")], "");
    assert!(
        outcome.starts_with("error: ") && outcome.contains("http_proxy"),
        "{outcome}"
    );
}
