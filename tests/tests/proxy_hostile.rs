//! What a real proxy will not do, from small scripted proxies on loopback, on every runtime: a bad
//! status line, a 200 with garbage after it, a 64 KiB response head, a SOCKS reply with a bad
//! version, a SOCKS proxy that accepts no offered method (all fatal at the first attempt); 503
//! and SOCKS "host unreachable" (retried like a server failure); a 407 to credentials, which
//! never appear in any event or error; and a proxy that says nothing (the open timeout ends it).

use std::time::{Duration, Instant};

use base64::Engine as _;
use resock::ClientBuilder;
use resock::core::proxy::{ProxyError, SocksReply};
use resock::core::session::{ClosedReason, DisconnectReason, SessionEvent, SessionState, TransportErrorKind};
use resock_tests::proxy::{Hostile, Script};
use resock_tests::test_client::{LIMIT, Runtime, TestClient};

const URL: &str = "wss://localhost:9/";
const ATTEMPTS: u32 = 3;

/// How the session ended, the number of attempts it made, and every event as text.
struct Ending {
    reason: ClosedReason,
    attempts: usize,
    texts: Vec<String>,
}

fn run(runtime: Runtime, proxy: &str, open_timeout: Duration) -> Ending {
    let builder = ClientBuilder::new(URL)
        .unwrap()
        .proxy(proxy)
        .max_attempts(ATTEMPTS)
        .backoff(Duration::from_millis(5), Duration::from_millis(10))
        .open_timeout(open_timeout);
    let mut client = TestClient::open(runtime, builder);
    let deadline = Instant::now() + LIMIT;
    let mut texts = Vec::new();
    let mut attempts = 0;
    while let Some(event) = client.next_event(deadline.saturating_duration_since(Instant::now())) {
        if matches!(event, SessionEvent::Disconnected { .. }) {
            attempts += 1;
        }
        texts.push(format!("{event:?}"));
        match &event {
            SessionEvent::Disconnected { reason, .. } => texts.push(reason.to_string()),
            SessionEvent::Error(e) => texts.push(e.to_string()),
            SessionEvent::StateChanged(s) => texts.push(s.to_string()),
            _ => {}
        }
        if let SessionEvent::StateChanged(SessionState::Closed(reason)) = event {
            return Ending {
                reason,
                attempts,
                texts,
            };
        }
    }
    panic!("{runtime}: the session did not close within {LIMIT:?}: {texts:#?}");
}

/// The proxy error of a transport failure, checking the kind.
fn proxy_error(reason: &DisconnectReason) -> ProxyError {
    match reason {
        DisconnectReason::Transport(e) if e.kind == TransportErrorKind::Proxy => e.proxy().cloned().unwrap(),
        other => panic!("not a proxy error: {other:?}"),
    }
}

fn fatal(script: Script, scheme: &str, check: impl Fn(&ProxyError) -> bool) {
    for runtime in Runtime::ALL {
        let proxy = Hostile::start(script.clone());
        let ending = run(runtime, &proxy.url(scheme, None), Duration::from_secs(10));
        let ClosedReason::Fatal(reason) = &ending.reason else {
            panic!("{runtime}: not fatal: {:?}", ending.reason);
        };
        let error = proxy_error(reason);
        assert!(check(&error), "{runtime}: {error:?}");
        assert!(!error.is_retryable(), "{runtime}: {error:?}");
        assert_eq!(
            (ending.attempts, proxy.accepted()),
            (1, 1),
            "{runtime}: {:#?}",
            ending.texts
        );
    }
}

fn retried(script: Script, scheme: &str, check: impl Fn(&ProxyError) -> bool) {
    for runtime in Runtime::ALL {
        let proxy = Hostile::start(script.clone());
        let ending = run(runtime, &proxy.url(scheme, None), Duration::from_secs(10));
        let ClosedReason::RetriesExhausted(reason) = &ending.reason else {
            panic!("{runtime}: not retried: {:?}", ending.reason);
        };
        let error = proxy_error(reason);
        assert!(check(&error), "{runtime}: {error:?}");
        assert_eq!(ending.attempts, ATTEMPTS as usize, "{runtime}: {:#?}", ending.texts);
        assert_eq!(proxy.accepted(), ATTEMPTS as usize, "{runtime}");
    }
}

#[test]
fn a_bad_status_line_is_fatal() {
    fatal(
        Script::Http(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
        "http",
        |e| matches!(e, ProxyError::Malformed(m) if m.contains("status line")),
    );
}

#[test]
fn garbage_after_a_200_is_fatal() {
    fatal(
        Script::Http(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01garbage".to_vec()),
        "http",
        |e| matches!(e, ProxyError::Malformed(m) if m.contains("followed its 2xx")),
    );
}

#[test]
fn a_64_kib_response_head_is_refused() {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    while head.len() < 64 * 1024 {
        head.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    head.extend_from_slice(b"\r\n");
    fatal(Script::Http(head), "http", |e| {
        matches!(e, ProxyError::HeadTooLarge { .. })
    });
}

#[test]
fn a_socks_reply_with_a_bad_version_is_fatal() {
    fatal(
        Script::Socks(vec![4, 0]),
        "socks5h",
        |e| matches!(e, ProxyError::Malformed(m) if m.contains("version")),
    );
    // The method was fine; the reply to CONNECT has the bad version.
    fatal(
        Script::Socks(vec![5, 0, 4, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
        "socks5h",
        |e| matches!(e, ProxyError::Malformed(m) if m.contains("version")),
    );
}

#[test]
fn a_socks_proxy_accepting_no_offered_method_is_fatal() {
    fatal(Script::Socks(vec![5, 0xff]), "socks5h", |e| {
        matches!(
            e,
            ProxyError::NoAcceptableMethod {
                offered_credentials: false
            }
        )
    });
}

#[test]
fn a_503_is_retried_like_a_server_failure() {
    retried(
        Script::Http(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec()),
        "http",
        |e| matches!(e, ProxyError::Status { status: 503, .. }),
    );
    retried(
        Script::Http(b"HTTP/1.1 502 Bad Gateway\r\n\r\n".to_vec()),
        "http",
        |e| matches!(e, ProxyError::Status { status: 502, .. }),
    );
}

#[test]
fn socks_host_unreachable_is_retried() {
    retried(Script::Socks(vec![5, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0]), "socks5", |e| {
        *e == ProxyError::Socks(SocksReply::HostUnreachable)
    });
}

#[test]
fn a_407_is_fatal_and_the_credentials_appear_nowhere() {
    let (user, password) = ("bob@corp", "hunter2 swordfish");
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    for runtime in Runtime::ALL {
        let proxy = Hostile::start(Script::Http(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n".to_vec(),
        ));
        let ending = run(
            runtime,
            &proxy.url("http", Some((user, password))),
            Duration::from_secs(10),
        );
        let ClosedReason::Fatal(reason) = &ending.reason else {
            panic!("{runtime}: not fatal: {:?}", ending.reason);
        };
        assert_eq!(
            proxy_error(reason),
            ProxyError::AuthenticationRequired { sent_credentials: true }
        );
        assert_eq!(ending.attempts, 1, "{runtime}");
        // The proxy got the percent-decoded credentials...
        let request = String::from_utf8(proxy.requests()[0].clone()).unwrap();
        assert!(
            request.contains(&format!("Proxy-Authorization: Basic {token}\r\n")),
            "{request}"
        );
        assert!(request.starts_with("CONNECT localhost:9 HTTP/1.1\r\n"), "{request}");
        // ...and nothing the application sees holds them, in any form.
        for text in &ending.texts {
            for secret in [user, password, "hunter2", "%40", &token, "bob"] {
                assert!(!text.contains(secret), "{runtime}: {secret:?} in {text}");
            }
        }
    }
}

#[test]
fn a_silent_proxy_is_bounded_by_the_open_timeout() {
    for runtime in Runtime::ALL {
        let proxy = Hostile::start(Script::Silent);
        let started = Instant::now();
        let open_timeout = Duration::from_millis(300);
        let builder = ClientBuilder::new(URL)
            .unwrap()
            .proxy(&proxy.url("http", None))
            .no_reconnect()
            .open_timeout(open_timeout);
        let mut client = TestClient::open(runtime, builder);
        let mut reason = None;
        while let Some(event) = client.next_event(LIMIT) {
            if let SessionEvent::StateChanged(SessionState::Closed(r)) = event {
                reason = Some(r);
                break;
            }
        }
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(3), "{runtime}: {elapsed:?}");
        assert!(elapsed >= open_timeout, "{runtime}: {elapsed:?}");
        let Some(ClosedReason::Fatal(reason) | ClosedReason::RetriesExhausted(reason)) = reason else {
            panic!("{runtime}: {reason:?}");
        };
        let timed_out = match &reason {
            DisconnectReason::OpenTimeout => true,
            DisconnectReason::Transport(e) => e.kind == TransportErrorKind::TimedOut,
            _ => false,
        };
        assert!(timed_out, "{runtime}: {reason:?}");
    }
}
