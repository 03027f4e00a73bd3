//! Redirects of the opening handshake against loopback servers, on every session runtime (the
//! blocking client, smol, async-std, tokio on both flavours): a tungstenite server answering
//! 301, 302, 303, 307 and 308 by path, chains of relative locations, a loop, the
//! `max_redirects` limit and 0, a redirect to another origin (what that server received), a
//! `wss://` server redirecting to `ws://` (refused; the `ws://` server sees nothing), an
//! `https://` location over real TLS, and a slow chain inside one open timeout. The plain
//! `blocking::WebSocket` (one connection, no session) follows with the default policy.
#![cfg(feature = "blocking")]

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use resock::core::session::{ReconnectPolicy, RedirectErrorKind};
use resock::{ClientBuilder, DisconnectReason, HandshakeError, HeartbeatConfig};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http;

use support::runtimes::{Runtime, Transcript, echo_once, run};
use support::ws_server::{Seen, Server, echo};

/// What the redirect server does at a path: redirect with a status and a `Location` (after a
/// delay), or accept and echo.
#[derive(Clone)]
enum Route {
    Redirect(u16, String, Duration),
    Echo,
}

/// Every request a server saw, with when it arrived.
type Log = Arc<Mutex<Vec<(Instant, Seen)>>>;

/// Serves WebSocket handshakes on `stream`: `routes` by path (and query), anything else echoes.
#[allow(clippy::result_large_err)] // the callback's signature is tungstenite's
fn serve<S: std::io::Read + std::io::Write>(stream: S, routes: &BTreeMap<String, Route>, log: &Log) {
    let mut route = Route::Echo;
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let path = request.uri().to_string();
        let seen = Seen {
            path: path.clone(),
            headers: request
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
        };
        log.lock().unwrap().push((Instant::now(), seen));
        route = routes.get(&path).cloned().unwrap_or(Route::Echo);
        match &route {
            Route::Echo => Ok(response),
            Route::Redirect(status, location, delay) => {
                std::thread::sleep(*delay);
                Err(http::Response::builder()
                    .status(*status)
                    .header("Location", location.as_str())
                    .header("Content-Length", "0")
                    .body(None)
                    .unwrap())
            }
        }
    };
    if let Ok(mut ws) = tungstenite::accept_hdr(stream, callback) {
        echo(&mut ws);
    }
}

/// A plain `ws://` redirect server on 127.0.0.1; `routes` gets the server's own port.
fn redirect_server(routes: impl FnOnce(u16) -> Vec<(&'static str, Route)>) -> (Server, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let routes: BTreeMap<String, Route> = routes(port).into_iter().map(|(p, r)| (p.to_owned(), r)).collect();
    let log = Log::default();
    let log2 = Arc::clone(&log);
    let server = Server::spawn(listener, move |stream: TcpStream| serve(stream, &routes, &log2));
    (server, log)
}

fn redirect(status: u16, location: impl Into<String>) -> Route {
    Route::Redirect(status, location.into(), Duration::ZERO)
}

fn paths(log: &Log) -> Vec<String> {
    log.lock().unwrap().iter().map(|(_, s)| s.path.clone()).collect()
}

/// A builder for `url` with no heartbeat and quick retries (a retried failure shows at once).
fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .unwrap()
        .heartbeat(HeartbeatConfig::disabled())
        .reconnect(ReconnectPolicy::fixed(Duration::from_millis(10)))
}

/// Fails the test on a redirect error of the wrong kind; returns the error's text.
fn redirect_error(transcript: &Transcript, what: impl Fn(&RedirectErrorKind) -> bool) -> String {
    match transcript.fatal_reason() {
        DisconnectReason::Redirect(error) if what(&error.kind) => error.to_string(),
        other => panic!("{other:?}: {transcript:#?}"),
    }
}

/// The statuses followed, each at its own path (`/301`, ...) redirecting to `/echo`.
const FOLLOWED: [u16; 5] = [301, 302, 303, 307, 308];

fn every_status_to_echo() -> Vec<(&'static str, Route)> {
    let paths = ["/301", "/302", "/303", "/307", "/308"];
    paths
        .into_iter()
        .zip(FOLLOWED)
        .map(|(path, status)| (path, redirect(status, "/echo")))
        .collect()
}

fn each_status_is_followed(runtime: Runtime) {
    let (server, log) = redirect_server(|_| every_status_to_echo());
    for status in FOLLOWED {
        let transcript = echo_once(runtime, builder(&server.url(&format!("/{status}"))), "moved");
        assert_eq!(transcript.opened, 1, "{status}: {transcript:#?}");
        assert!(
            transcript
                .disconnects
                .iter()
                .all(|(r, _)| *r == DisconnectReason::UserClosed),
            "{transcript:#?}"
        );
    }
    server.stop();
    let seen = paths(&log);
    let want: Vec<String> = [301, 302, 303, 307, 308]
        .iter()
        .flat_map(|s| [format!("/{s}"), "/echo".to_owned()])
        .collect();
    assert_eq!(seen, want);
}

fn relative_locations_of_every_form_are_resolved(runtime: Runtime) {
    let (server, log) = redirect_server(|port| {
        vec![
            ("/dir/a", redirect(302, "b?x=1")),
            ("/dir/b?x=1", redirect(307, format!("//127.0.0.1:{port}/c"))),
            ("/c", redirect(301, format!("http://127.0.0.1:{port}/dir/sub/d"))),
            ("/dir/sub/d", redirect(308, "../../e?y=2")),
        ]
    });
    echo_once(runtime, builder(&server.url("/dir/a")), "relative");
    server.stop();
    assert_eq!(paths(&log), ["/dir/a", "/dir/b?x=1", "/c", "/dir/sub/d", "/e?y=2"]);
}

fn a_loop_stops_at_the_limit_with_the_chain(runtime: Runtime) {
    let (server, log) = redirect_server(|port| {
        vec![
            ("/a", redirect(302, "/b")),
            ("/b", redirect(302, format!("ws://127.0.0.1:{port}/a"))),
        ]
    });
    let transcript = run(runtime, builder(&server.url("/a")), None, |_| false);
    let text = redirect_error(&transcript, |k| {
        matches!(k, RedirectErrorKind::TooMany { limit: 5, .. })
    });
    let base = server.url("");
    let chain = ["/a", "/b", "/a", "/b", "/a", "/b"]
        .map(|p| format!("{base}{p}"))
        .join(" -> ");
    assert_eq!(
        text,
        format!("stopped after 5 redirects (max_redirects is 5): {chain} -> {base}/a (not followed)")
    );
    assert_eq!(transcript.disconnects.len(), 1, "fatal, not retried: {transcript:#?}");
    assert_eq!(transcript.opened, 0);
    server.stop();
    assert_eq!(paths(&log).len(), 6, "the original and 5 redirects");
}

fn the_limit_is_a_setting_and_zero_turns_following_off(runtime: Runtime) {
    let (server, log) = redirect_server(|_| vec![("/a", redirect(302, "/b")), ("/b", redirect(302, "/c"))]);
    let transcript = run(runtime, builder(&server.url("/a")).max_redirects(1), None, |_| false);
    redirect_error(&transcript, |k| {
        matches!(k, RedirectErrorKind::TooMany { limit: 1, .. })
    });
    let transcript = run(runtime, builder(&server.url("/a")).max_redirects(0), None, |_| false);
    assert!(
        matches!(transcript.fatal_reason(), DisconnectReason::Handshake(HandshakeError::Rejected(r)) if r.status == 302),
        "{transcript:#?}"
    );
    echo_once(runtime, builder(&server.url("/a")).max_redirects(2), "two");
    server.stop();
    assert_eq!(paths(&log), ["/a", "/b", "/a", "/a", "/b", "/c"]);
}

fn credentials_stay_with_the_configured_origin(runtime: Runtime) {
    let (other, other_log) = redirect_server(|_| Vec::new());
    let target = other.url("/final");
    let (origin, origin_log) = redirect_server(move |_| vec![("/start", redirect(307, target.as_str()))]);
    let b = builder(&origin.url("/start"))
        .header("Authorization", "Bearer secret")
        .header("Cookie", "session=1")
        .sensitive_header("X-Api-Key", "key")
        .header("X-Trace", "t");
    echo_once(runtime, b, "across");
    let other_host = other.addr().to_string();
    origin.stop();
    other.stop();
    let (_, first) = origin_log.lock().unwrap()[0].clone();
    let final_log = other_log.lock().unwrap();
    assert_eq!(final_log.len(), 1);
    let (_, last) = &final_log[0];
    for name in ["authorization", "cookie", "x-api-key", "x-trace"] {
        assert!(first.header(name).is_some(), "{name} reached the configured origin");
    }
    for name in ["authorization", "cookie", "x-api-key"] {
        assert_eq!(
            last.header(name),
            None,
            "{name} followed the redirect to another origin"
        );
    }
    assert_eq!(last.header("x-trace"), Some("t"));
    assert_eq!(last.header("host"), Some(other_host.as_str()));
}

fn headers_from_the_hook_stay_with_the_configured_origin_too(runtime: Runtime) {
    let (other, other_log) = redirect_server(|_| Vec::new());
    let target = other.url("/final");
    let (origin, origin_log) = redirect_server(move |_| vec![("/start", redirect(302, target.as_str()))]);
    let mut b = builder(&origin.url("/start")).headers_with(|attempt| {
        vec![
            ("Authorization".into(), format!("Bearer {attempt}")),
            ("X-Session".into(), "s".into()),
            ("X-Attempt".into(), attempt.to_string()),
        ]
    });
    b.config_mut().redirects.sensitive_headers.push("x-session".into());
    echo_once(runtime, b, "hook");
    origin.stop();
    other.stop();
    let (_, first) = origin_log.lock().unwrap()[0].clone();
    let (_, last) = other_log.lock().unwrap()[0].clone();
    assert_eq!(first.header("authorization"), Some("Bearer 1"));
    assert_eq!(first.header("x-session"), Some("s"));
    assert_eq!(last.header("authorization"), None);
    assert_eq!(last.header("x-session"), None);
    // The hook ran for the redirected transport too, with the same attempt number.
    assert_eq!(last.header("x-attempt"), Some("1"));
}

fn same_origin_redirects_keep_credentials(runtime: Runtime) {
    let (server, log) = redirect_server(|_| vec![("/start", redirect(302, "/final"))]);
    echo_once(
        runtime,
        builder(&server.url("/start")).header("Authorization", "Bearer secret"),
        "same",
    );
    server.stop();
    let log = log.lock().unwrap();
    assert!(
        log.iter()
            .all(|(_, s)| s.header("authorization") == Some("Bearer secret"))
    );
    assert_eq!(log.len(), 2);
}

fn a_slow_chain_fits_in_one_open_timeout_and_the_retry_starts_over(runtime: Runtime) {
    // Each hop answers after 150 ms: at most 5 requests fit in the 600 ms open timeout.
    let delay = Duration::from_millis(150);
    let (server, log) = redirect_server(|_| {
        let mut routes = vec![("/start", Route::Redirect(302, "/hop1".into(), delay))];
        for (n, path) in ["/hop1", "/hop2", "/hop3", "/hop4", "/hop5", "/hop6", "/hop7", "/hop8"]
            .into_iter()
            .enumerate()
        {
            routes.push((path, Route::Redirect(302, format!("/hop{}", n + 2), delay)));
        }
        routes
    });
    let b = builder(&server.url("/start"))
        .max_redirects(100)
        .open_timeout(Duration::from_millis(600));
    let transcript = run(runtime, b, None, |t| t.disconnects.len() >= 2);
    server.stop();
    for (reason, retried) in &transcript.disconnects[..2] {
        assert_eq!(*reason, DisconnectReason::OpenTimeout, "{transcript:#?}");
        assert!(retried);
    }
    let seen = paths(&log);
    let restarts: Vec<usize> = (0..seen.len()).filter(|&i| seen[i] == "/start").collect();
    assert!(restarts.len() >= 2, "{seen:?}");
    let first_attempt = &seen[..restarts[1]];
    assert!(
        (2..=5).contains(&first_attempt.len()),
        "the hops of one attempt share its timeout: {seen:?}"
    );
    let log = log.lock().unwrap();
    let span = log[restarts[1] - 1].0 - log[0].0;
    assert!(span < Duration::from_millis(600), "{span:?}");
}

on_every_session_runtime!(
    each_status_is_followed,
    relative_locations_of_every_form_are_resolved,
    a_loop_stops_at_the_limit_with_the_chain,
    the_limit_is_a_setting_and_zero_turns_following_off,
    credentials_stay_with_the_configured_origin,
    headers_from_the_hook_stay_with_the_configured_origin_too,
    same_origin_redirects_keep_credentials,
    a_slow_chain_fits_in_one_open_timeout_and_the_retry_starts_over,
);

#[cfg(feature = "rustls")]
mod tls {
    use super::*;
    use resock::tls::TlsOptions;
    use support::tls_server::{Leaf, spawn_tls};

    /// A `wss://` redirect server on 127.0.0.1 with a self-signed certificate for `localhost`
    /// and `127.0.0.1`, and the TLS options that trust it.
    fn tls_redirect_server(routes: impl FnOnce(u16) -> Vec<(&'static str, Route)>) -> (Server, Log, TlsOptions) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: BTreeMap<String, Route> = routes(port).into_iter().map(|(p, r)| (p.to_owned(), r)).collect();
        let leaf = Leaf::self_signed_ca(&["localhost", "127.0.0.1"]);
        let tls = TlsOptions::no_default_roots()
            .add_root_pem(leaf.pem.as_bytes())
            .unwrap();
        let log = Log::default();
        let log2 = Arc::clone(&log);
        let (server, _hellos) = spawn_tls(listener, leaf, move |stream| serve(stream, &routes, &log2));
        (server, log, tls)
    }

    fn wss_to_ws_is_refused(runtime: Runtime) {
        let (plain, plain_log) = redirect_server(|_| Vec::new());
        let target = plain.url("/plain");
        let (secure, secure_log, tls) = tls_redirect_server(move |_| vec![("/start", redirect(301, target.as_str()))]);
        let url = format!("wss://localhost:{}/start", secure.addr().port());
        let transcript = run(runtime, builder(&url).tls(tls), None, |_| false);
        let text = redirect_error(&transcript, |k| matches!(k, RedirectErrorKind::Downgrade { .. }));
        assert_eq!(
            text,
            format!(
                "refused a redirect (301) from wss:// to ws://: wss://localhost:{}/start -> {} (not followed)",
                secure.addr().port(),
                plain.url("/plain")
            )
        );
        assert_eq!(transcript.disconnects.len(), 1, "fatal: {transcript:#?}");
        secure.stop();
        plain.stop();
        assert_eq!(paths(&secure_log), ["/start"]);
        assert!(paths(&plain_log).is_empty(), "nothing went out in clear text");
    }

    fn an_https_location_stays_on_tls(runtime: Runtime) {
        let (server, log, tls) =
            tls_redirect_server(|port| vec![("/start", redirect(302, format!("https://localhost:{port}/final")))]);
        let port = server.addr().port();
        echo_once(
            runtime,
            builder(&format!("wss://127.0.0.1:{port}/start")).tls(tls),
            "tls",
        );
        server.stop();
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].1.header("host"), Some(format!("127.0.0.1:{port}").as_str()));
        assert_eq!(log[1].1.path, "/final");
        assert_eq!(log[1].1.header("host"), Some(format!("localhost:{port}").as_str()));
    }

    on_every_session_runtime!(wss_to_ws_is_refused, an_https_location_stays_on_tls);

    /// The plain blocking `WebSocket`: a downgrade is refused before anything goes out in
    /// clear text, and an `https://` location is followed over TLS.
    #[test]
    fn the_plain_blocking_websocket_refuses_a_downgrade_and_follows_tls() {
        use resock::blocking::{Error, WebSocket};
        use resock::core::{ClientOptions, Config};

        let (plain, plain_log) = redirect_server(|_| Vec::new());
        let target = plain.url("/plain");
        let (secure, secure_log, tls) = tls_redirect_server(move |port| {
            vec![
                ("/down", redirect(301, target.as_str())),
                ("/up", redirect(302, format!("https://localhost:{port}/final"))),
            ]
        });
        let port = secure.addr().port();
        let connect = |path: &str| {
            let url = format!("wss://127.0.0.1:{port}{path}");
            WebSocket::connect_with_tls(&url, &ClientOptions::default(), Config::default(), &tls)
        };
        match connect("/down") {
            Err(Error::Redirect(error)) => {
                assert!(matches!(error.kind, RedirectErrorKind::Downgrade { .. }), "{error}")
            }
            other => panic!("{other:?}"),
        }
        let mut ws = connect("/up").expect("followed over TLS");
        ws.send_text("tls").unwrap();
        assert_eq!(ws.recv().unwrap().expect("an echo").as_text(), Some("tls"));
        ws.close(resock::CloseCode::NORMAL, "").ok();
        secure.stop();
        plain.stop();
        assert!(paths(&plain_log).is_empty(), "nothing went out in clear text");
        assert_eq!(paths(&secure_log), ["/down", "/up", "/final"]);
    }
}

/// `resock::blocking::WebSocket::connect`, one connection without a session, follows the same
/// redirects with the default policy.
mod plain_blocking_websocket {
    use super::*;
    use resock::blocking::{Error, WebSocket};
    use resock::core::{ClientOptions, Config};

    fn echo_through(url: &str, options: &ClientOptions) -> String {
        let mut ws = WebSocket::connect_with(url, options, Config::default()).expect("opened after the redirects");
        ws.send_text("hop").unwrap();
        let echoed = ws.recv().unwrap().expect("an echo");
        ws.close(resock::CloseCode::NORMAL, "").ok();
        echoed.as_text().unwrap().to_owned()
    }

    #[test]
    fn every_status_and_a_relative_chain_are_followed() {
        let (server, log) = redirect_server(|_| {
            let mut routes = every_status_to_echo();
            routes.push(("/dir/a", redirect(302, "b?x=1")));
            routes.push(("/dir/b?x=1", redirect(307, "../echo")));
            routes
        });
        for status in FOLLOWED {
            assert_eq!(
                echo_through(&server.url(&format!("/{status}")), &ClientOptions::default()),
                "hop"
            );
        }
        assert_eq!(echo_through(&server.url("/dir/a"), &ClientOptions::default()), "hop");
        server.stop();
        let seen = paths(&log);
        assert_eq!(seen.iter().filter(|p| *p == "/echo").count(), 6, "{seen:?}");
        assert!(
            seen.ends_with(&["/dir/a".into(), "/dir/b?x=1".into(), "/echo".into()]),
            "{seen:?}"
        );
    }

    #[test]
    fn a_loop_stops_after_five_with_the_chain() {
        let (server, log) = redirect_server(|_| vec![("/a", redirect(302, "/b")), ("/b", redirect(302, "/a"))]);
        let error = WebSocket::connect(&server.url("/a")).expect_err("a loop never opens");
        match &error {
            Error::Redirect(redirect) => {
                assert!(
                    matches!(redirect.kind, RedirectErrorKind::TooMany { limit: 5, .. }),
                    "{redirect:?}"
                );
                assert_eq!(redirect.chain.len(), 6, "{redirect}");
            }
            other => panic!("{other:?}"),
        }
        assert!(error.to_string().starts_with("stopped after 5 redirects"), "{error}");
        server.stop();
        assert_eq!(paths(&log).len(), 6, "the original and 5 redirects");
    }

    #[test]
    fn credentials_stay_with_the_url_origin_and_a_plain_rejection_stays_a_rejection() {
        let (other, other_log) = redirect_server(|_| Vec::new());
        let target = other.url("/final");
        let (origin, origin_log) = redirect_server(move |_| vec![("/start", redirect(307, target.as_str()))]);
        let options = ClientOptions {
            headers: vec![
                ("Authorization".into(), "Bearer secret".into()),
                ("Cookie".into(), "session=1".into()),
                ("X-Trace".into(), "t".into()),
            ],
            ..ClientOptions::default()
        };
        assert_eq!(echo_through(&origin.url("/start"), &options), "hop");
        origin.stop();
        other.stop();
        let (_, first) = origin_log.lock().unwrap()[0].clone();
        assert_eq!(first.header("authorization"), Some("Bearer secret"));
        let (_, last) = other_log.lock().unwrap()[0].clone();
        assert_eq!(last.header("authorization"), None, "a credential left the origin");
        assert_eq!(last.header("cookie"), None, "a cookie left the origin");
        assert_eq!(last.header("x-trace"), Some("t"));

        // A 3xx that is not a redirect to follow (304) is the rejection it was.
        let (server, _) = redirect_server(|_| vec![("/not-modified", redirect(304, "/echo"))]);
        let error = WebSocket::connect(&server.url("/not-modified")).expect_err("304 is no redirect");
        assert!(
            matches!(&error, Error::Connection(resock::core::ConnectionError::Handshake(HandshakeError::Rejected(r))) if r.status == 304),
            "{error:?}"
        );
        server.stop();
    }
}
