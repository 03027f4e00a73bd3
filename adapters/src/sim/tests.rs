use std::time::{Duration, Instant};

use resock_core::session::TransportErrorKind;

use super::{Answer, Restart, Simulation, World};
use crate::{ClientBuilder, DisconnectReason, HeartbeatConfig, Message, SessionEvent, SessionState};

const SECOND: Duration = Duration::from_secs(1);

/// A run of an app that sends a message every connection, through restarts and a jittery,
/// lossy link: what the client wrote (relative time, bytes) and the events it saw.
fn transcript(seed: [u8; 32], start: Instant) -> (Vec<(Duration, Vec<u8>)>, Vec<String>) {
    let mut world = World::starting_at(seed, start);
    world.link.jitter = Duration::from_millis(30);
    world.link.loss = 0.01;
    let client = ClientBuilder::new("ws://app.test/")
        .unwrap()
        .start_sim(&mut world)
        .unwrap();
    let mut events = client.subscribe();
    let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    world.spawn({
        let (client, log) = (client.clone(), log.clone());
        async move {
            while let Some(Ok(event)) = events.next().await {
                if matches!(event, SessionEvent::Opened { .. }) {
                    client.send(Message::binary(vec![1, 2, 3])).await.ok();
                }
                log.borrow_mut().push(format!("{event:?}"));
            }
        }
    });
    world.restart_every(60 * SECOND, 3 * SECOND, Restart::Abrupt, 3600 * SECOND);
    let written = world
        .written
        .iter()
        .map(|(at, _, b)| (*at - start, b.clone()))
        .collect();
    let log = log.borrow().clone();
    (written, log)
}

#[test]
fn the_same_seed_gives_the_same_run_byte_for_byte_and_another_seed_another() {
    #[allow(clippy::disallowed_methods)] // any origin will do, the same for every run
    let start = Instant::now();
    let (written, events) = transcript([9; 32], start);
    assert!(written.len() > 100, "{} writes", written.len());
    let (again, events_again) = transcript([9; 32], start);
    assert_eq!(written, again, "same seed, same bytes at the same virtual times");
    assert_eq!(events, events_again);
    let (other, _) = transcript([10; 32], start);
    assert_ne!(written, other, "another seed: other mask keys and jitter");
}

#[test]
fn a_server_that_stops_answering_pings_is_detected_on_virtual_time() {
    let mut world = World::new([4; 32]);
    let heartbeat = HeartbeatConfig::every(10 * SECOND, 3 * SECOND);
    let client = ClientBuilder::new("ws://app.test/")
        .unwrap()
        .heartbeat(heartbeat)
        .start_sim(&mut world)
        .unwrap();
    let mut events = client.subscribe();
    let reasons = world.spawn(async move {
        loop {
            match events.next().await {
                Some(Ok(SessionEvent::Disconnected { reason, .. })) => return reason,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    });
    assert!(world.run_until(5 * SECOND, |_| client.state() == SessionState::Open));
    world.run_for(60 * SECOND);
    assert!(!reasons.is_finished(), "pongs come back: no disconnect");
    let stopped = world.now();
    world.stop_answering_pings();
    assert!(world.run_until(60 * SECOND, |_| reasons.is_finished()));
    assert_eq!(reasons.take_output(), Some(DisconnectReason::PongTimeout));
    let detected = world.now() - stopped;
    assert!(detected <= 13 * SECOND + Duration::from_millis(20), "{detected:?}");
    assert!(detected >= 3 * SECOND, "{detected:?}");
}

#[test]
fn a_black_holed_connect_ends_at_the_open_timeout_and_a_certificate_refusal_is_fatal() {
    let mut world = World::new([5; 32]);
    world.link.up = false;
    let client = ClientBuilder::new("wss://app.test/")
        .unwrap()
        .open_timeout(7 * SECOND)
        .start_sim(&mut world)
        .unwrap();
    let mut events = client.subscribe();
    let first = world.spawn(async move {
        loop {
            if let Some(Ok(SessionEvent::Disconnected { reason, .. })) = events.next().await {
                return reason;
            }
        }
    });
    assert!(world.run_until(60 * SECOND, |_| first.is_finished()));
    assert_eq!(world.elapsed(), 7 * SECOND, "the open timeout, to the nanosecond");
    assert!(matches!(first.take_output(), Some(DisconnectReason::OpenTimeout)));

    // The link comes back, and the server's certificate is refused: fatal, no retry.
    world.link.up = true;
    world.stop_server();
    world.link.refusal = TransportErrorKind::TlsCertificate;
    assert!(world.run_until(600 * SECOND, |_| matches!(client.state(), SessionState::Closed(_))));
    let closed = world.block_on(SECOND, {
        let client = client.clone();
        async move { client.connected().await }
    });
    let reason = closed.unwrap().unwrap_err();
    assert!(format!("{reason:?}").contains("TlsCertificate"), "{reason:?}");
}

#[test]
fn a_rejection_with_retry_after_is_honoured_and_the_subprotocol_is_agreed() {
    let mut world = World::new([6; 32]);
    world.server.answer = Answer::too_many_requests(90);
    let client = ClientBuilder::new("ws://app.test/")
        .unwrap()
        .subprotocol("chat.v2")
        .start_sim(&mut world)
        .unwrap();
    world.run_for(SECOND);
    world.server.answer = Answer::Accept(Some("chat.v2".to_owned()));
    assert!(world.run_until(120 * SECOND, |_| client.state() == SessionState::Open));
    assert!(
        world.elapsed() >= 90 * SECOND,
        "not before Retry-After: {:?}",
        world.elapsed()
    );
    assert_eq!(world.server.requests.len(), 2);
}

#[test]
fn a_task_that_never_idles_fails_loudly() {
    let result = std::panic::catch_unwind(|| {
        let mut world = World::new([0; 32]);
        world.spawn(std::future::poll_fn(|cx| {
            cx.waker().wake_by_ref();
            std::task::Poll::<()>::Pending
        }));
        world.settle();
    });
    let panic = result.unwrap_err();
    let text = panic.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(text.contains("does not settle"), "{text}");
}

/// A duration from the whole range: zero, tiny, seconds, hours, and `Duration::MAX`.
fn any_duration() -> impl proptest::strategy::Strategy<Value = Duration> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Duration::ZERO),
        (1u64..1_000_000).prop_map(Duration::from_nanos),
        (1u64..120_000).prop_map(Duration::from_millis),
        (1u64..100_000).prop_map(Duration::from_secs),
        Just(Duration::MAX),
    ]
}

use proptest::strategy::Strategy as _;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the link's latency and jitter and the client's open timeout and heartbeat,
    /// a world runs an hour of virtual time to its end (no hang, no panic), and the client is
    /// open exactly when a round trip fits in the open timeout.
    #[test]
    fn any_latency_and_timer_settings_run_to_the_end(
        latency in any_duration(),
        jitter in any_duration(),
        open_timeout in any_duration(),
        // From 1 ms: below that, a heartbeat on a zero-latency link pings a million times a
        // virtual second (allowed, and covered for the session by the settings-space tests).
        ping_interval in any_duration().prop_map(|d| d.max(Duration::from_millis(1))),
        pong_timeout in any_duration(),
    ) {
        let mut world = World::new([8; 32]);
        world.link.latency = latency;
        world.link.jitter = jitter;
        let builder = ClientBuilder::new("ws://app.test/")
            .unwrap()
            .open_timeout(open_timeout)
            .ping_interval(ping_interval)
            .pong_timeout(pong_timeout);
        let Ok(client) = builder.start_sim(&mut world) else {
            // A setting that can never work is refused up front (a typed error), not run.
            return Ok(());
        };
        let span = 600 * SECOND;
        world.run_for(span);
        proptest::prop_assert_eq!(world.elapsed(), span);
        // Four one-way trips open a connection (TCP there and back, request, response).
        let opening = latency.saturating_add(jitter).saturating_mul(4);
        if opening <= Duration::from_secs(1) && open_timeout >= Duration::from_secs(2) {
            proptest::prop_assert!(client.metrics().connections >= 1, "a short link opens");
        }
        if latency.saturating_mul(2) >= span {
            proptest::prop_assert_eq!(client.metrics().connections, 0, "nothing arrives in time");
        }
    }
}

/// The per-attempt hooks and the typed router run on the world as on any runtime: a token per
/// attempt in the request headers, a subscription first on every connection, and typed
/// messages routed to their handler.
#[cfg(feature = "json")]
#[test]
fn hooks_and_the_typed_router_run_in_the_world() {
    use crate::{AsyncRouter, Client, Incoming, JsonEnvelope};

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Price {
        symbol: String,
        cents: u64,
    }

    let mut world = World::new([11; 32]);
    world.server.echo = false;
    let client = ClientBuilder::new("wss://prices.example/ws")
        .unwrap()
        .envelope(JsonEnvelope::default())
        .headers_with(|attempt| vec![("Authorization".to_owned(), format!("Bearer token-{attempt}"))])
        .send_on_open_with(|| vec![Message::text("subscribe ACME")])
        .start_sim(&mut world)
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut router = AsyncRouter::new(client.envelope().clone());
    router.on("price", {
        let seen = std::sync::Arc::clone(&seen);
        move |_: Client, price: Incoming<Price>| {
            let seen = std::sync::Arc::clone(&seen);
            async move { seen.lock().unwrap().push((price.symbol.clone(), price.cents)) }
        }
    });
    world.spawn({
        let client = client.clone();
        async move {
            client.run_router(&mut router, client.clone()).await;
        }
    });
    assert!(world.run_until(5 * SECOND, |_| client.state() == SessionState::Open));
    world.broadcast(&Message::text(
        r#"{"type":"price","data":{"symbol":"ACME","cents":1234}}"#,
    ));
    world.run_for(SECOND);
    assert_eq!(*seen.lock().unwrap(), [("ACME".to_owned(), 1234)]);

    // After a restart: the subscription again, on a new connection, with the attempt's token.
    world.stop_server();
    world.run_for(2 * SECOND);
    world.start_server();
    assert!(world.run_until(60 * SECOND, |w| w.server.received.len() == 2));
    assert!(
        world
            .server
            .received
            .iter()
            .all(|m| m.as_text() == Some("subscribe ACME"))
    );
    let tokens: Vec<String> = world
        .server
        .requests
        .iter()
        .map(|(_, request)| request.header("Authorization").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(tokens.first().map(String::as_str), Some("Bearer token-1"));
    assert!(tokens.len() >= 2 && tokens[1..].iter().all(|t| t.starts_with("Bearer token-")));
}

/// The details a test relies on: an opening takes exactly four one-way trips, a refused
/// connect writes nothing, each client's mask keys come from its own seed, and the world counts
/// its tasks.
#[test]
fn openings_take_four_trips_refusals_write_nothing_seeds_differ_and_tasks_are_counted() {
    let mut world = World::new([12; 32]);
    world.link.latency = Duration::from_millis(25);
    let client = ClientBuilder::new("ws://app.test/")
        .unwrap()
        .start_sim(&mut world)
        .unwrap();
    let other = ClientBuilder::new("ws://app.test/")
        .unwrap()
        .start_sim(&mut world)
        .unwrap();
    assert_eq!(world.tasks(), 2, "two drivers");
    let mut events = client.subscribe();
    let opened = world.spawn(async move {
        while let Some(event) = events.next().await {
            if let Ok(SessionEvent::Opened { .. }) = event {
                return;
            }
        }
    });
    assert_eq!(world.tasks(), 3);
    assert!(world.run_until(SECOND, |_| opened.is_finished()));
    assert_eq!(
        world.elapsed(),
        Duration::from_millis(100),
        "TCP there and back, request, response"
    );
    assert_eq!(world.tasks(), 2, "the finished task is gone");

    // Both clients send the same message: the frames differ by their mask keys alone.
    world.spawn({
        let (client, other) = (client.clone(), other.clone());
        async move {
            client.send(Message::binary(vec![0; 8])).await.unwrap();
            other.send(Message::binary(vec![0; 8])).await.unwrap();
        }
    });
    world.run_for(SECOND);
    let frames: Vec<&Vec<u8>> = world.written.iter().rev().take(2).map(|(_, _, bytes)| bytes).collect();
    assert_eq!(frames[0].len(), frames[1].len());
    assert_ne!(frames[0], frames[1], "each client masks with keys from its own seed");

    // A server that is down refuses: the clients write nothing while it is down.
    world.stop_server();
    let written = world.written.len();
    world.run_for(30 * SECOND);
    assert_eq!(world.written.len(), written, "a refused connect carries no request");
    assert!(client.state() != SessionState::Open);
    assert!(world.client_connections() <= 2, "refused connects are let go of");
    world.start_server();
    assert!(world.run_until(60 * SECOND, |_| client.state() == SessionState::Open));
    assert!(world.run_until(60 * SECOND, |_| other.state() == SessionState::Open));
    assert_eq!(
        world.client_connections(),
        2,
        "one connection per client, the old ones let go of"
    );
}

/// A connect the client gives up on (its open timeout before the TCP handshake ends) is
/// closed: the server does not keep a connection per abandoned attempt.
#[test]
fn an_abandoned_connect_is_closed_at_the_server() {
    let mut world = World::new([13; 32]);
    world.link.latency = 10 * SECOND;
    let client = ClientBuilder::new("ws://app.test/")
        .unwrap()
        .open_timeout(5 * SECOND)
        .start_sim(&mut world)
        .unwrap();
    world.run_for(600 * SECOND);
    assert!(
        world.server.tcp_accepts >= 5,
        "{} attempts reached the server",
        world.server.tcp_accepts
    );
    assert!(
        world.server.connections() <= 1,
        "{} left open",
        world.server.connections()
    );
    assert!(
        world.client_connections() <= 1,
        "{} held by the client",
        world.client_connections()
    );
    assert_eq!(client.metrics().connections, 0);
}

/// Typed messages carry the world's virtual wall clock, so their bytes are the same on every
/// run: 2026-01-01T00:00:00Z at the start, plus the virtual time elapsed.
#[cfg(feature = "json")]
#[test]
fn typed_messages_are_stamped_with_the_virtual_wall_clock() {
    let mut world = World::new([14; 32]);
    let client = ClientBuilder::new("ws://app.test/")
        .unwrap()
        .start_sim(&mut world)
        .unwrap();
    world.run_for(90 * SECOND);
    world.block_on(SECOND, {
        let client = client.clone();
        async move { client.send_typed("note", "hi").await.unwrap() }
    });
    world.run_for(SECOND);
    let text = world.server.received[0].as_text().unwrap().to_owned();
    assert!(text.contains("2026-01-01T00:01:30"), "{text}");
}

/// Two clients whose timers fall on the same instants each get their own wake-ups: both detect
/// a server that stops answering pings, at the same virtual instant; and the errors the
/// simulated network gives say what happened (refused, reset).
#[test]
fn clients_with_the_same_deadlines_each_wake_and_failures_say_what_happened() {
    let mut world = World::new([15; 32]);
    let heartbeat = HeartbeatConfig::every(10 * SECOND, 3 * SECOND);
    let start = |world: &mut World| {
        ClientBuilder::new("ws://app.test/")
            .unwrap()
            .heartbeat(heartbeat.clone())
            .start_sim(world)
            .unwrap()
    };
    let clients = [start(&mut world), start(&mut world)];
    let detected: Vec<_> = clients
        .iter()
        .map(|client| {
            let mut events = client.subscribe();
            world.spawn(async move {
                loop {
                    match events.next().await {
                        Some(Ok(SessionEvent::Disconnected { reason, .. })) => return reason.to_string(),
                        Some(_) => {}
                        None => return String::new(),
                    }
                }
            })
        })
        .collect();
    assert!(world.run_until(5 * SECOND, |_| clients.iter().all(|c| c.state() == SessionState::Open)));
    world.stop_answering_pings();
    assert!(world.run_until(60 * SECOND, |_| detected.iter().all(|t| t.is_finished())));
    let at = world.elapsed();
    let texts: Vec<String> = detected.iter().map(|t| t.take_output().unwrap()).collect();
    assert!(texts.iter().all(|t| t.contains("pong")), "{texts:?}");
    assert!(at < 20 * SECOND, "both in time: {at:?}");

    // The errors the network gives: a refused connect, then a reset connection.
    let reasons = |world: &mut World, client: &crate::Client| {
        let mut events = client.subscribe();
        world.spawn(async move {
            loop {
                if let Some(Ok(SessionEvent::Disconnected { reason, .. })) = events.next().await {
                    return reason.to_string();
                }
            }
        })
    };
    world.server.answer_pings = true;
    assert!(world.run_until(120 * SECOND, |_| clients[0].state() == SessionState::Open));
    let reset = reasons(&mut world, &clients[0]);
    world.reset();
    assert!(world.run_until(SECOND, |_| reset.is_finished()));
    let reset = reset.take_output().unwrap();
    assert!(reset.contains("reset"), "{reset}");
    assert!(world.run_until(120 * SECOND, |_| clients[0].state() == SessionState::Open));
    world.stop_server();
    world.run_for(Duration::from_millis(1));
    let refused = reasons(&mut world, &clients[0]);
    assert!(world.run_until(120 * SECOND, |_| refused.is_finished()));
    let refused = refused.take_output().unwrap();
    assert!(refused.contains("refused"), "{refused}");
}

/// The outage scripts run on the world through the `Simulation` trait, and `advance` jumps the
/// clock as a suspended laptop does: the session sees the jump, pings at once, and keeps a
/// connection whose server still answers.
#[test]
fn the_outage_scripts_and_advance_run_on_the_world() {
    let mut world = World::new([16; 32]);
    let client = ClientBuilder::new("ws://app.test/")
        .unwrap()
        .heartbeat(HeartbeatConfig::every(10 * SECOND, 3 * SECOND))
        .start_sim(&mut world)
        .unwrap();
    assert!(world.run_until(5 * SECOND, |_| client.state() == SessionState::Open));
    Simulation::restart_every(&mut world, 60 * SECOND, 2 * SECOND, Restart::Abrupt, 600 * SECOND);
    assert_eq!(world.elapsed(), 600 * SECOND + Duration::from_millis(20));
    assert!(world.run_until(60 * SECOND, |_| client.state() == SessionState::Open));
    assert_eq!(world.server.requests.len(), 10, "the first opening and one per restart");

    world.network_outage(60 * SECOND);
    assert!(world.run_until(60 * SECOND, |_| client.state() == SessionState::Open));
    assert_eq!(client.metrics().reconnects, 10, "the outage outlived the heartbeat");

    // The machine sleeps for an hour: nothing runs meanwhile; on waking, the session pings at
    // once, the server answers, and the connection stays.
    let (before, written) = (world.now(), world.written.len());
    world.advance(3600 * SECOND);
    assert_eq!(world.now() - before, 3600 * SECOND);
    assert!(world.written.len() > written, "a ping on waking");
    world.run_for(30 * SECOND);
    assert_eq!(client.state(), SessionState::Open);
    assert_eq!(client.metrics().reconnects, 10);
}

/// A busy connection keeps its buffers between batches and frees them after a quiet second
/// (`async_driver/keep.rs`), on virtual time: small exchanges never count as busy, a burst
/// does, a burst while keeping extends it, and the release comes one to two seconds after the
/// last burst.
#[test]
fn a_busy_client_keeps_its_buffers_until_a_quiet_second_and_small_exchanges_keep_none() {
    let mut world = World::new([13; 32]);
    let client = ClientBuilder::new("ws://app.test/")
        .unwrap()
        .no_heartbeat()
        .start_sim(&mut world)
        .unwrap();
    assert!(world.run_until(SECOND, |_| client.state() == SessionState::Open));
    assert_eq!(client.kept_buffers(), (false, 0), "an opening is not busy");

    let exchange = |world: &mut World, count: usize, size: usize| {
        let client = client.clone();
        let done = world.spawn(async move {
            for n in 0..count {
                client.send(Message::binary(vec![n as u8; size])).await.unwrap();
            }
            for _ in 0..count {
                assert_eq!(client.recv().await.unwrap().len(), size);
            }
        });
        assert!(world.run_until(SECOND, |_| done.is_finished()));
    };
    for _ in 0..5 {
        exchange(&mut world, 1, 100);
    }
    assert_eq!(client.kept_buffers(), (false, 0), "single small messages are not busy");

    exchange(&mut world, 100, 100);
    let (kept, inbox) = client.kept_buffers();
    assert!(kept, "a burst of 10 KB is busy");
    assert!(inbox >= 100, "the drained inbox keeps its room: {inbox}");
    world.run_for(SECOND / 2);
    exchange(&mut world, 100, 100);
    let last_burst = world.now();
    world.run_for(SECOND * 7 / 10);
    assert!(client.kept_buffers().0, "busy again within the second: still kept");
    assert!(world.run_until(3 * SECOND, |_| !client.kept_buffers().0));
    let quiet = world.now() - last_burst;
    assert!(
        (SECOND..=2 * SECOND).contains(&quiet),
        "released {quiet:?} after the last burst"
    );
    assert_eq!(client.kept_buffers(), (false, 0), "the inbox is freed too");
}
