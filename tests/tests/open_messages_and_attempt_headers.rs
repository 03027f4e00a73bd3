//! Per-connection setup through 20 server restarts, on virtual time:
//! * `open_messages` reach the server first on every connection, before anything queued while
//!   it was down, and are not the user's messages (no id, no `Sent`, never handed back);
//! * `set_attempt_headers` puts a value computed for that attempt on its handshake only, and a
//!   call naming another transport changes nothing;
//! * the metrics count connections, reconnects, and messages each way.

use std::time::Duration;

use resock_core::session::{ReconnectPolicy, TransportId};
use resock_core::{Message, SessionState};
use resock_tests::pair::{Pair, texts};

const RESTARTS: usize = 20;
const PATIENCE: Duration = Duration::from_secs(60);

fn subscriptions() -> Vec<Message> {
    vec![
        Message::text(r#"{"subscribe":"BTC-USD"}"#),
        Message::text(r#"{"subscribe":"ETH-USD"}"#),
    ]
}

/// Waits for the next `Connect`, then gives that attempt its token (before the transport is
/// reported up, as a driver does); returns the transport.
fn connect_with_token(pair: &mut Pair, n: usize) -> TransportId {
    let before = pair.connect_ids.len();
    assert!(
        pair.run_until_cond(PATIENCE, |p| p.connect_ids.len() > before),
        "no attempt"
    );
    let (_, id) = *pair.connect_ids.last().unwrap();
    pair.session
        .set_attempt_headers(id, vec![("x-token".into(), format!("token-{n}"))]);
    // A call naming another transport is ignored: it does not replace this attempt's values.
    pair.session
        .set_attempt_headers(TransportId(id.0 + 1000), vec![("x-token".into(), "stale".into())]);
    id
}

#[test]
fn open_messages_go_first_and_each_attempt_gets_its_own_headers() {
    let mut config = Pair::config();
    config.open_messages = subscriptions();
    config.reconnect = ReconnectPolicy::fixed(Duration::from_millis(100));
    config.client.headers.push(("x-static".into(), "always".into()));
    let mut pair = Pair::new(config);
    let now = pair.now();
    pair.session.connect(now);

    let mut queued_ids = Vec::new();
    let mut transports = Vec::new();
    for round in 0..=RESTARTS {
        let id = connect_with_token(&mut pair, round);
        assert!(pair.run_until_open(PATIENCE), "round {round}");
        transports.push(id);
        // Two messages of the user's while open, then the server goes away and two more are
        // queued while it is down.
        queued_ids.push(pair.send(Message::text(format!("open {round}"))));
        pair.run_for(Duration::from_millis(50));
        pair.server.up = false;
        pair.cut();
        assert!(pair.run_until_cond(PATIENCE, |p| !matches!(p.session.state(), SessionState::Open)));
        queued_ids.push(pair.send(Message::text(format!("down {round}"))));
        pair.run_for(Duration::from_millis(250)); // some refused attempts
        if round < RESTARTS {
            pair.server.up = true;
        }
    }

    // Every connection: the subscriptions first, then the queue in order.
    let subs = texts(&subscriptions());
    for (round, id) in transports.iter().enumerate() {
        let on_it: Vec<Message> = pair
            .server
            .received_on
            .iter()
            .filter(|(t, _)| t == id)
            .map(|(_, m)| m.clone())
            .collect();
        let on_it = texts(&on_it);
        assert_eq!(on_it[..2], subs[..], "round {round}: {on_it:?}");
        let mut expected = Vec::new();
        if round > 0 {
            expected.push(format!("down {}", round - 1));
        }
        expected.push(format!("open {round}"));
        assert_eq!(on_it[2..], expected[..], "round {round}");
    }

    // Each handshake carried its own token and the static header; the stale one never.
    let accepted: Vec<_> = pair
        .server
        .requests
        .iter()
        .filter(|(t, _)| transports.contains(t))
        .collect();
    assert_eq!(accepted.len(), RESTARTS + 1);
    for (round, (_, request)) in accepted.iter().enumerate() {
        assert_eq!(request.header("x-token"), Some(format!("token-{round}").as_str()));
        assert_eq!(request.header("x-static"), Some("always"));
        let tokens = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("x-token"))
            .count();
        assert_eq!(tokens, 1, "the token is set once");
    }

    // Only the user's messages have ids and `Sent` events.
    let written: Vec<_> = queued_ids.iter().filter(|id| pair.sent.contains(id)).collect();
    assert_eq!(
        written.len(),
        queued_ids.len() - 1,
        "all but the last, queued at the end"
    );
    assert_eq!(pair.sent.len(), written.len(), "no Sent for the subscriptions");
    assert!(pair.handed_back.is_empty());

    let metrics = pair.session.metrics();
    assert_eq!(metrics.connections, (RESTARTS + 1) as u64);
    assert_eq!(metrics.reconnects, RESTARTS as u64);
    assert_eq!(
        metrics.messages_out,
        (2 * (RESTARTS + 1) + pair.sent.len()) as u64,
        "subscriptions and the user's messages"
    );
    assert_eq!(metrics.messages_in, pair.received.len() as u64);
    assert_eq!(
        metrics.messages_in, metrics.messages_out,
        "the echo server returned each"
    );
    assert_eq!(metrics.queue_depth, 1, "the last message waits");
    assert!(metrics.bytes_out > 0 && metrics.bytes_in > 0);
}

#[test]
fn replaced_open_messages_apply_from_the_next_connection() {
    let mut config = Pair::config();
    config.open_messages = subscriptions();
    config.reconnect = ReconnectPolicy::fixed(Duration::from_millis(100));
    let mut pair = Pair::new(config);
    let now = pair.now();
    pair.session.connect(now);
    assert!(pair.run_until_open(PATIENCE));
    pair.session.set_open_messages(vec![Message::text("only this")]);
    pair.run_for(Duration::from_millis(50));
    assert_eq!(
        texts(&pair.server.received),
        texts(&subscriptions()),
        "the open one kept its own"
    );
    pair.cut();
    assert!(pair.run_until_cond(PATIENCE, |p| p.session.metrics().connections == 2));
    pair.run_for(Duration::from_millis(50));
    let all = texts(&pair.server.received);
    assert_eq!(all[2..], ["only this"]);
}
