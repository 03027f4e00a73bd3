//! Redirects of the opening handshake, on virtual time:
//! * 301, 302, 303, 307 and 308 are followed at once (no backoff, no failed attempt), and every
//!   relative form of `Location` is resolved against the URL that answered;
//! * at most `max_redirects` per attempt (5 by default; a loop stops there) with a fatal
//!   `Redirect` error listing the chain; 0 turns following off (the 3xx is a fatal rejection);
//! * `wss` to `ws` is refused, and so are a missing or unusable `Location`, fatally;
//! * every hop of an attempt fits in its one open timeout, and each new attempt (a reconnect,
//!   a retry after the open timeout) starts again from the configured URL;
//! * `Authorization`, `Cookie` and headers marked sensitive reach only the configured origin.

use std::time::Duration;

use proptest::prelude::*;
use resock_core::session::{ConnectError, Error, ReconnectPolicy, RedirectErrorKind, RedirectPolicy, SessionEvent};
use resock_core::sim::Answer;
use resock_core::{
    ClosedReason, DisconnectReason, HandshakeError, Request, SessionConfig, SessionState, TransportId, WsUrl,
};
use resock_tests::pair::Pair;

const PATIENCE: Duration = Duration::from_secs(60);

fn config(url: &str) -> SessionConfig {
    SessionConfig::new(url.parse().unwrap())
}

fn url(s: &str) -> WsUrl {
    s.parse().unwrap()
}

/// The request paths the server saw, in order.
fn paths(pair: &Pair) -> Vec<String> {
    pair.server.requests.iter().map(|(_, r)| r.path.clone()).collect()
}

fn redirected(pair: &Pair) -> Vec<(u16, String)> {
    pair.events
        .iter()
        .filter_map(|(_, e)| match e {
            SessionEvent::Redirected { status, to } => Some((*status, to.to_string())),
            _ => None,
        })
        .collect()
}

/// The reason the session closed for good with, after running until it did.
fn closed_for_good(pair: &mut Pair) -> DisconnectReason {
    assert!(
        pair.run_until_cond(PATIENCE, |p| matches!(p.session.state(), SessionState::Closed(_))),
        "still {:?}",
        pair.session.state()
    );
    match pair.session.state() {
        SessionState::Closed(ClosedReason::Fatal(reason)) => reason.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_redirect_status_is_followed_at_once_within_the_attempt() {
    for status in [301, 302, 303, 307, 308] {
        let mut pair = Pair::new(config("ws://server.test/old"));
        pair.server
            .routes
            .insert("/old".into(), Answer::redirect(status, "/new"));
        assert!(pair.run_until_open(PATIENCE), "{status}");
        assert_eq!(paths(&pair), ["/old", "/new"], "{status}");
        assert_eq!(
            pair.connect_urls,
            [url("ws://server.test/old"), url("ws://server.test/new")]
        );
        assert_eq!(redirected(&pair), [(status, "ws://server.test/new".to_owned())]);
        // No backoff: the second Connect comes as soon as the 3xx arrived (one link latency,
        // 5 ms, after the request), and no attempt failed.
        let gap = pair.connects[1] - pair.connects[0];
        assert!(gap < Duration::from_millis(50), "{status}: {gap:?}");
        assert!(pair.disconnects().is_empty(), "{status}: {:?}", pair.disconnects());
        assert_eq!(pair.attempts(), [1], "{status}");
        assert_eq!(pair.session.failures(), 0);
        // The old transport was let go before the new one was asked for.
        assert_eq!(pair.disconnect_ids[0].1, pair.connect_ids[0].1);
    }
}

#[test]
fn statuses_that_are_not_followed_stay_fatal_rejections() {
    for status in [300, 304, 305, 306] {
        let mut pair = Pair::new(config("ws://server.test/old"));
        pair.server
            .routes
            .insert("/old".into(), Answer::redirect(status, "/new"));
        let reason = closed_for_good(&mut pair);
        assert!(
            matches!(&reason, DisconnectReason::Handshake(HandshakeError::Rejected(r)) if r.status == status),
            "{reason:?}"
        );
        assert_eq!(paths(&pair), ["/old"]);
    }
}

#[test]
fn every_location_form_resolves_against_the_url_that_answered() {
    let cases = [
        (
            "ws://server.test/a/b",
            "ws://other.test:9000/x?y=1",
            "ws://other.test:9000/x?y=1",
        ),
        ("ws://server.test/a/b", "http://other.test/x", "ws://other.test/x"),
        ("wss://server.test/a/b", "https://other.test/x", "wss://other.test/x"),
        ("wss://server.test/a/b", "//other.test/x?q", "wss://other.test/x?q"),
        ("ws://server.test/a/b", "/x?q=1", "ws://server.test/x?q=1"),
        ("ws://server.test/a/b", "c", "ws://server.test/a/c"),
        ("ws://server.test/a/b", "../c?d", "ws://server.test/c?d"),
        ("ws://server.test/a/b?old", "?new", "ws://server.test/a/b?new"),
    ];
    for (from, location, want) in cases {
        let mut pair = Pair::new(config(from));
        let from_path = url(from).path_and_query;
        pair.server.routes.insert(from_path, Answer::redirect(302, location));
        assert!(pair.run_until_open(PATIENCE), "{location}");
        assert_eq!(pair.connect_urls[1], url(want), "{location}");
        let (_, last) = pair.server.requests.last().unwrap();
        assert_eq!(last.path, url(want).path_and_query, "{location}");
        assert_eq!(last.host, url(want).host_header(), "{location}");
    }
}

#[test]
fn a_chain_of_five_is_followed_and_a_sixth_redirect_is_refused_with_the_chain() {
    let mut pair = Pair::new(config("ws://server.test/0"));
    for n in 0..5 {
        pair.server
            .routes
            .insert(format!("/{n}"), Answer::redirect(307, &format!("/{}", n + 1)));
    }
    assert!(pair.run_until_open(PATIENCE));
    assert_eq!(paths(&pair), ["/0", "/1", "/2", "/3", "/4", "/5"]);

    let mut pair = Pair::new(config("ws://server.test/0?token=secret"));
    pair.server
        .routes
        .insert("/0?token=secret".into(), Answer::redirect(307, "/1"));
    for n in 1..6 {
        pair.server
            .routes
            .insert(format!("/{n}"), Answer::redirect(307, &format!("/{}", n + 1)));
    }
    let reason = closed_for_good(&mut pair);
    let DisconnectReason::Redirect(error) = &reason else {
        panic!("{reason:?}")
    };
    assert_eq!(
        error.kind,
        RedirectErrorKind::TooMany {
            limit: 5,
            next: url("ws://server.test/6")
        }
    );
    assert_eq!(error.chain.len(), 6);
    assert_eq!(error.chain[0], url("ws://server.test/0?token=secret"));
    assert_eq!(
        reason.to_string(),
        "stopped after 5 redirects (max_redirects is 5): ws://server.test/0?… -> ws://server.test/1 -> \
         ws://server.test/2 -> ws://server.test/3 -> ws://server.test/4 -> ws://server.test/5 -> \
         ws://server.test/6 (not followed)"
    );
    assert_eq!(paths(&pair).len(), 6, "the refused target is never asked");
    assert_eq!(pair.connect_urls.len(), 6, "fatal: no retry");
    let errors = pair
        .events
        .iter()
        .filter(|(_, e)| matches!(e, SessionEvent::Error(Error::Connect(ConnectError::Redirect(_)))))
        .count();
    assert_eq!(errors, 1);
}

#[test]
fn a_loop_stops_at_the_limit() {
    let mut c = config("ws://server.test/a");
    c.redirects = RedirectPolicy::default().max_redirects(3);
    let mut pair = Pair::new(c);
    pair.server.routes.insert("/a".into(), Answer::redirect(302, "/b"));
    pair.server
        .routes
        .insert("/b".into(), Answer::redirect(301, "ws://server.test/a"));
    let reason = closed_for_good(&mut pair);
    assert_eq!(paths(&pair), ["/a", "/b", "/a", "/b"]);
    assert_eq!(
        reason.to_string(),
        "stopped after 3 redirects (max_redirects is 3): ws://server.test/a -> ws://server.test/b -> \
         ws://server.test/a -> ws://server.test/b -> ws://server.test/a (not followed)"
    );
    assert_eq!(
        reason.default_decision(&ReconnectPolicy::default()),
        resock_core::session::Decision::Stop
    );
}

#[test]
fn zero_turns_following_off() {
    let mut c = config("ws://server.test/old");
    c.redirects = RedirectPolicy::none();
    let mut pair = Pair::new(c);
    pair.server.routes.insert("/old".into(), Answer::redirect(302, "/new"));
    let reason = closed_for_good(&mut pair);
    assert!(
        matches!(&reason, DisconnectReason::Handshake(HandshakeError::Rejected(r))
            if r.status == 302 && r.location.as_deref() == Some("/new")),
        "{reason:?}"
    );
    assert_eq!(paths(&pair), ["/old"]);
}

#[test]
fn wss_to_ws_is_refused_and_https_maps_to_wss() {
    let mut pair = Pair::new(config("wss://server.test/old"));
    pair.server
        .routes
        .insert("/old".into(), Answer::redirect(301, "ws://server.test/new"));
    let reason = closed_for_good(&mut pair);
    let DisconnectReason::Redirect(error) = &reason else {
        panic!("{reason:?}")
    };
    assert_eq!(
        error.kind,
        RedirectErrorKind::Downgrade {
            to: url("ws://server.test/new")
        }
    );
    assert_eq!(
        reason.to_string(),
        "refused a redirect (301) from wss:// to ws://: wss://server.test/old -> ws://server.test/new (not followed)"
    );
    assert_eq!(paths(&pair), ["/old"]);
    assert_eq!(pair.connect_urls.len(), 1);

    // Relative and http locations from wss stay on wss, and ws to wss is an upgrade.
    for (from, location) in [
        ("wss://server.test/old", "http://server.test/new"),
        ("ws://server.test/old", "wss://server.test/new"),
    ] {
        let mut pair = Pair::new(config(from));
        pair.server
            .routes
            .insert("/old".into(), Answer::redirect(302, location));
        if from.starts_with("wss") {
            let reason = closed_for_good(&mut pair);
            assert!(
                matches!(&reason, DisconnectReason::Redirect(e) if matches!(e.kind, RedirectErrorKind::Downgrade { .. })),
                "{location}: {reason:?}"
            );
        } else {
            assert!(pair.run_until_open(PATIENCE), "{location}");
            assert_eq!(pair.connect_urls[1], url("wss://server.test/new"));
        }
    }
    let mut pair = Pair::new(config("wss://server.test/old"));
    pair.server
        .routes
        .insert("/old".into(), Answer::redirect(302, "https://server.test/new"));
    assert!(pair.run_until_open(PATIENCE));
    assert_eq!(pair.connect_urls[1], url("wss://server.test/new"));
}

#[test]
fn a_missing_or_unusable_location_is_fatal() {
    let cases: [(Answer, &str); 4] = [
        (
            Answer::reject(302),
            "the server answered 302 (a redirect) without a Location header: ws://server.test/old",
        ),
        (
            Answer::redirect(307, "ftp://server.test/x"),
            "the server answered 307 with an unusable Location \"ftp://server.test/x\" (the URL scheme must be ws or wss): ws://server.test/old",
        ),
        (
            Answer::redirect(308, "https://user:hunter2@server.test/x?k=v"),
            "the server answered 308 with an unusable Location \"https://…@server.test/x?…\" (credentials in the URL are not supported; send an Authorization header): ws://server.test/old",
        ),
        (
            Answer::redirect(301, "http://server.test:99999/"),
            "the server answered 301 with an unusable Location \"http://server.test:99999/\" (the URL port is not a number from 1 to 65535): ws://server.test/old",
        ),
    ];
    for (answer, text) in cases {
        let mut pair = Pair::new(config("ws://server.test/old"));
        pair.server.routes.insert("/old".into(), answer);
        let reason = closed_for_good(&mut pair);
        assert_eq!(reason.to_string(), text);
        assert!(!reason.to_string().contains("hunter2"));
        assert_eq!(paths(&pair), ["/old"]);
    }
}

#[test]
fn all_hops_share_one_open_timeout_and_the_retry_starts_from_the_configured_url() {
    let mut c = config("ws://server.test/a");
    c.redirects = RedirectPolicy::default().max_redirects(u32::MAX);
    c.open_timeout = Duration::from_secs(1);
    c.reconnect = ReconnectPolicy::fixed(Duration::from_millis(500));
    let mut pair = Pair::new(c);
    pair.server.routes.insert("/a".into(), Answer::redirect(302, "/b"));
    pair.server.routes.insert("/b".into(), Answer::redirect(302, "/a"));
    assert!(pair.run_until_cond(PATIENCE, |p| !p.disconnects().is_empty()));
    let (at, reason, retry_at) = pair.disconnects()[0].clone();
    assert_eq!(reason, DisconnectReason::OpenTimeout);
    assert_eq!(
        at - pair.connects[0],
        Duration::from_secs(1),
        "one timeout for every hop"
    );
    let hops = pair.connect_urls.len();
    assert!(hops > 10, "{hops} hops in a second of 5 ms latency");
    // The retry is a new attempt, after the backoff, at the configured URL again.
    assert!(pair.run_until_cond(PATIENCE, |p| p.connect_urls.len() > hops));
    assert_eq!(pair.connects[hops], retry_at.unwrap());
    assert_eq!(pair.connect_urls[hops], url("ws://server.test/a"));
    assert_eq!(pair.attempts(), [1, 2]);
}

#[test]
fn a_slow_chain_times_out_at_the_attempts_deadline_not_per_hop() {
    // Each hop takes about 400 ms of latency (connect, request, answer); three hops cannot fit
    // in 1 s although each one alone would.
    let mut c = config("ws://server.test/0");
    c.open_timeout = Duration::from_secs(1);
    let mut pair = Pair::new(c);
    pair.link.latency = Duration::from_millis(130);
    for n in 0..3 {
        pair.server
            .routes
            .insert(format!("/{n}"), Answer::redirect(302, &format!("/{}", n + 1)));
    }
    assert!(pair.run_until_cond(PATIENCE, |p| !p.disconnects().is_empty()));
    let (at, reason, _) = pair.disconnects()[0].clone();
    assert_eq!(reason, DisconnectReason::OpenTimeout);
    assert_eq!(at - pair.connects[0], Duration::from_secs(1));
    assert!(pair.server.requests.len() >= 2, "{:?}", paths(&pair));
}

#[test]
fn a_reconnect_after_a_healthy_connection_starts_again_from_the_configured_url() {
    let mut c = config("ws://server.test/old");
    c.reconnect = ReconnectPolicy::fixed(Duration::from_millis(100));
    let mut pair = Pair::new(c);
    pair.server.routes.insert("/old".into(), Answer::redirect(308, "/new"));
    for round in 0..3 {
        assert!(pair.run_until_open(PATIENCE), "round {round}");
        pair.run_for(Duration::from_secs(1));
        pair.cut();
        assert!(pair.run_until_cond(PATIENCE, |p| !matches!(p.session.state(), SessionState::Open)));
    }
    assert!(pair.run_until_open(PATIENCE));
    assert_eq!(
        paths(&pair),
        ["/old", "/new", "/old", "/new", "/old", "/new", "/old", "/new"]
    );
}

/// Headers of the requests the server saw, by name: whether each carried it.
fn carried(requests: &[(TransportId, Request)], name: &str) -> Vec<bool> {
    requests.iter().map(|(_, r)| r.header(name).is_some()).collect()
}

#[test]
fn sensitive_headers_stay_with_the_configured_origin() {
    let mut c = config("ws://server.test/a");
    c.client.headers = vec![
        ("Authorization".into(), "Bearer t".into()),
        ("Cookie".into(), "s=1".into()),
        ("X-Api-Key".into(), "k".into()),
        ("X-Trace".into(), "1".into()),
    ];
    c.redirects = RedirectPolicy::default().sensitive_header("x-api-key");
    let mut pair = Pair::new(c);
    // Same origin, another host, another port, another scheme, then back to the origin.
    pair.server.routes.insert("/a".into(), Answer::redirect(302, "/b"));
    pair.server
        .routes
        .insert("/b".into(), Answer::redirect(302, "ws://other.test/c"));
    pair.server
        .routes
        .insert("/c".into(), Answer::redirect(302, "ws://server.test:8080/d"));
    pair.server
        .routes
        .insert("/d".into(), Answer::redirect(302, "wss://server.test/e"));
    pair.server
        .routes
        .insert("/e".into(), Answer::redirect(302, "ws://server.test/f"));
    // wss -> ws is refused, so the last hop is checked in a second run below.
    let reason = closed_for_good(&mut pair);
    assert!(matches!(reason, DisconnectReason::Redirect(_)), "{reason:?}");
    let requests = &pair.server.requests;
    assert_eq!(paths(&pair), ["/a", "/b", "/c", "/d", "/e"]);
    let hosts: Vec<&str> = requests.iter().map(|(_, r)| r.host.as_str()).collect();
    assert_eq!(
        hosts,
        [
            "server.test",
            "server.test",
            "other.test",
            "server.test:8080",
            "server.test"
        ]
    );
    for name in ["authorization", "cookie", "x-api-key"] {
        assert_eq!(carried(requests, name), [true, true, false, false, false], "{name}");
    }
    assert_eq!(carried(requests, "x-trace"), [true; 5]);

    // Back at the configured origin after a detour, credentials are sent again (to the origin
    // the application gave them for), as curl does.
    let mut c = config("ws://server.test/a");
    c.client.headers = vec![("Authorization".into(), "Bearer t".into())];
    let mut pair = Pair::new(c);
    pair.server
        .routes
        .insert("/a".into(), Answer::redirect(302, "ws://other.test/b"));
    pair.server
        .routes
        .insert("/b".into(), Answer::redirect(302, "ws://server.test/c"));
    assert!(pair.run_until_open(PATIENCE));
    assert_eq!(carried(&pair.server.requests, "authorization"), [true, false, true]);
}

#[test]
fn per_attempt_headers_are_stripped_on_another_origin_too() {
    let mut pair = Pair::new(config("ws://server.test/a"));
    pair.server
        .routes
        .insert("/a".into(), Answer::redirect(302, "ws://other.test/b"));
    let token = |id: TransportId| {
        vec![
            ("Authorization".into(), format!("Bearer {}", id.0)),
            ("X-N".into(), "1".into()),
        ]
    };
    for hop in 1..=2 {
        assert!(pair.run_until_cond(PATIENCE, |p| p.connect_ids.len() == hop));
        let (_, id) = *pair.connect_ids.last().unwrap();
        pair.session.set_attempt_headers(id, token(id));
    }
    assert!(pair.run_until_open(PATIENCE));
    let requests = &pair.server.requests;
    assert_eq!(carried(requests, "authorization"), [true, false]);
    assert_eq!(carried(requests, "x-n"), [true, true]);
}

/// How a hop's `Location` is written.
#[derive(Debug, Clone, Copy)]
enum Form {
    Absolute,
    Http,
    SchemeRelative,
    AbsolutePath,
    RelativePath,
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        Just(Form::Absolute),
        Just(Form::Http),
        Just(Form::SchemeRelative),
        Just(Form::AbsolutePath),
        Just(Form::RelativePath),
    ]
}

/// A hop: the form of its `Location`, whether it goes to the other host (forms that can name
/// one), and whether its target has a query.
fn hop() -> impl Strategy<Value = (Form, bool, bool)> {
    (form(), any::<bool>(), any::<bool>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A chain of `hops` redirects of every form, under `max_redirects` of 0, 1, 5 or a large
    /// number: it opens exactly when the chain fits; every hop reaches the URL its `Location`
    /// names; `Authorization` reaches exactly the requests to the configured origin; and the
    /// chain of a refusal lists the URLs asked.
    #[test]
    fn chains_of_every_form_under_any_limit(
        max in prop_oneof![Just(0u32), Just(1), Just(5), Just(1000)],
        hops in proptest::collection::vec(hop(), 0..9),
    ) {
        let mut c = config("ws://server.test/h0");
        c.redirects = RedirectPolicy::default().max_redirects(max);
        c.client.headers = vec![("Authorization".into(), "Bearer t".into())];
        c.reconnect = ReconnectPolicy::disabled();
        let mut pair = Pair::new(c);
        let mut expected = vec![url("ws://server.test/h0")];
        for (k, (form, other, query)) in hops.iter().enumerate() {
            let n = k + 1;
            let host = if *other { "other.test" } else { "server.test" };
            let target = if *query { format!("/h{n}?q={n}") } else { format!("/h{n}") };
            let from = expected.last().unwrap().clone();
            // Relative forms stay on the host that answered.
            let host = match form {
                Form::AbsolutePath | Form::RelativePath => from.host.clone(),
                _ => host.to_owned(),
            };
            let location = match form {
                Form::Absolute => format!("ws://{host}{target}"),
                Form::Http => format!("http://{host}{target}"),
                Form::SchemeRelative => format!("//{host}{target}"),
                Form::AbsolutePath => target.clone(),
                Form::RelativePath => target[1..].to_owned(),
            };
            pair.server.routes.insert(from.path_and_query.clone(), Answer::redirect(303, &location));
            expected.push(url(&format!("ws://{host}{target}")));
        }
        let fits = hops.len() as u32 <= max || hops.is_empty();
        let opened = pair.run_until_open(PATIENCE);
        prop_assert_eq!(opened, fits);
        let asked = if fits { hops.len() + 1 } else { max as usize + 1 };
        prop_assert_eq!(&pair.connect_urls[..], &expected[..asked]);
        for ((_, request), want) in pair.server.requests.iter().zip(&expected) {
            prop_assert_eq!(&request.path, &want.path_and_query);
            prop_assert_eq!(&request.host, &want.host_header());
            prop_assert_eq!(request.header("authorization").is_some(), want.host == "server.test");
        }
        if !fits {
            let reason = closed_for_good(&mut pair);
            if max == 0 {
                let rejected = matches!(&reason, DisconnectReason::Handshake(HandshakeError::Rejected(r)) if r.status == 303);
                prop_assert!(rejected, "{:?}", reason);
            } else {
                let DisconnectReason::Redirect(error) = &reason else {
                    return Err(TestCaseError::fail(format!("{reason:?}")));
                };
                prop_assert_eq!(&error.chain[..], &expected[..asked]);
                prop_assert_eq!(&error.kind, &RedirectErrorKind::TooMany { limit: max, next: expected[asked].clone() });
            }
        }
    }
}
