//! Who hears what on the async client (issue 12): every subscription sees every event and a
//! lagging one skips ahead without slowing anything; an application that only sends never
//! stalls; `recv` keeps the latest messages until it is first called, and afterwards applies
//! backpressure without losing a message or failing the heartbeat; timers run whatever the
//! listeners do. Real loopback servers (tungstenite threads); every wait is bounded.
#![cfg(any(feature = "smol", feature = "async-std", feature = "tokio"))]

#[macro_use]
mod async_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{TryRecvError, sync_channel};
use std::time::Duration;

use async_support::{LIMIT, Runtime, Server, accept, builder, read_until_closed};
use futures_lite::future;
use resock::{Lagged, Subscription};
use resock_core::session::{ClosedReason, DisconnectReason, HeartbeatConfig, SessionEvent, SessionState};
use resock_core::{CloseCode, Message};

fn numbered(n: usize) -> String {
    format!("message {n:05}")
}

/// Two subscriptions read all of 10 000 messages in order while a third never reads. The
/// server sends them in batches of 500 and waits for both readers to finish each batch, so the
/// readers (ring of 1000) cannot fall behind however slow the machine, and the idle one must.
/// Read at the end, the idle one reports exactly how many it missed, then the newest 1000
/// events (the ring held no more), then waits.
fn every_subscriber_sees_every_event_and_a_laggard_skips_ahead<R: Runtime>() {
    const TOTAL: usize = 10_000;
    const BATCH: usize = 500;
    const CAPACITY: usize = 1000;
    let (gate_tx, gate_rx) = sync_channel::<()>(2 * TOTAL / BATCH);
    let server = Server::start(move |_, stream| {
        let mut ws = accept(stream);
        for n in 0..TOTAL {
            if n > 0 && n % BATCH == 0 {
                for _ in 0..2 {
                    gate_rx.recv_timeout(LIMIT).expect("both readers finish the batch");
                }
            }
            ws.send(tungstenite::Message::text(numbered(n))).unwrap();
        }
        read_until_closed(&mut ws);
    });
    let (client, [a, b, mut idle]) = R::start_subscribed::<3>(builder(&server).event_capacity(CAPACITY));
    R::block_on(async {
        let read_all = |mut events: Subscription, gate: std::sync::mpsc::SyncSender<()>| async move {
            let mut seen = Vec::new();
            let mut messages = 0;
            while messages < TOTAL {
                let event = R::within("the next event", events.next())
                    .await
                    .expect("the session is open")
                    .expect("a reader that keeps up never lags");
                if let SessionEvent::Message(message) = &event {
                    assert_eq!(message.as_text(), Some(numbered(messages).as_str()));
                    messages += 1;
                    if messages % BATCH == 0 {
                        gate.send(()).unwrap();
                    }
                }
                seen.push(format!("{event:?}"));
            }
            seen
        };
        let (seen_a, seen_b) = future::zip(read_all(a, gate_tx.clone()), read_all(b, gate_tx)).await;
        assert_eq!(seen_a, seen_b, "both readers saw the same events in the same order");
        let total = seen_a.len();
        assert!(total > TOTAL, "the state changes are events too");
        assert_eq!(client.metrics().events_skipped, 0);

        let missed = (total - CAPACITY) as u64;
        match R::within("the lag report", idle.next()).await {
            Some(Err(lagged)) => assert_eq!(lagged, Lagged(missed)),
            other => panic!("expected Lagged({missed}), got {other:?}"),
        }
        assert_eq!(client.metrics().events_skipped, missed);
        for expected in &seen_a[total - CAPACITY..] {
            let event = R::within("a held event", idle.next()).await.unwrap().unwrap();
            assert_eq!(&format!("{event:?}"), expected);
        }
        assert!(
            future::poll_once(idle.next()).await.is_none(),
            "the ring held exactly the newest {CAPACITY} events"
        );
        assert_eq!(client.metrics().messages_in, TOTAL as u64);

        // The idle one goes on with the close, then ends with the driver.
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
        let mut after = 0;
        while let Some(event) = R::within("the end of the events", idle.next()).await {
            event.expect("a few close events fit");
            after += 1;
            assert!(after < 100, "runaway events after the close");
        }
        assert!(after > 0, "the close was seen");
    });
}

/// A client with no subscription and no `recv` sends a million messages through a server
/// that only counts them: nothing waits for a reader, and every message arrives once, in
/// order. Prints how long it took. Run on smol and on tokio's current-thread runtime only
/// (below).
#[cfg(any(feature = "smol", feature = "tokio"))]
fn a_send_only_client_sends_a_million_without_stalling<R: Runtime>() {
    const COUNT: u32 = 1_000_000;
    const HARD_LIMIT: Duration = Duration::from_secs(120);
    let (tx, rx) = sync_channel(1);
    let server = Server::start(move |_, stream| {
        let mut ws = accept(stream);
        let mut next = 0u32;
        while let Ok(message) = ws.read() {
            if let tungstenite::Message::Binary(data) = message {
                let n = u32::from_be_bytes(data[..].try_into().expect("four bytes"));
                assert_eq!(n, next, "the sink received {n} when {next} was due");
                next += 1;
            }
        }
        tx.send(next).unwrap();
    });
    let client = R::start_subscribed::<0>(builder(&server)).0;
    let started = std::time::Instant::now();
    R::block_on(R::within_for(HARD_LIMIT, "a million sends and the close", async {
        for n in 0..COUNT {
            client.send(Message::binary(n.to_be_bytes().to_vec())).await.unwrap();
        }
        assert_eq!(client.close(CloseCode::NORMAL, "").await, ClosedReason::User);
    }));
    let took = started.elapsed();
    assert_eq!(rx.recv_timeout(LIMIT).expect("the sink reports"), COUNT);
    assert_eq!(client.metrics().messages_out, u64::from(COUNT));
    eprintln!("{COUNT} messages sent through the sink in {took:?}");
}

/// Once `recv` was called, a full inbox stops the client reading: the server's writes block
/// (it cannot finish while the test does not read), the client holds at most the inbox plus
/// one socket read, and the heartbeat (50 ms interval, 50 ms timeout) does not fail the
/// connection during the pause, many timeouts long. Then every message arrives, in order.
fn recv_backpressure_loses_nothing_and_keeps_the_connection<R: Runtime>() {
    const COUNT: usize = 40_000;
    const SIZE: usize = 1024;
    const CAPACITY: usize = 16;
    // One socket read (64 KiB) holds at most this many whole frames, plus one begun before.
    const PER_READ: usize = 64 * 1024 / (SIZE + 4) + 1;
    let written = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = sync_channel(1);
    let counter = Arc::clone(&written);
    let server = Server::start(move |_, stream| {
        let mut ws = accept(stream);
        for n in 0..COUNT {
            let mut data = vec![(n % 251) as u8; SIZE];
            data[..4].copy_from_slice(&(n as u32).to_be_bytes());
            ws.send(tungstenite::Message::binary(data)).unwrap();
            counter.store(n + 1, Ordering::SeqCst);
        }
        done_tx.send(()).unwrap();
        read_until_closed(&mut ws);
    });
    let mut heartbeat = HeartbeatConfig::default();
    heartbeat.interval = Some(Duration::from_millis(50));
    heartbeat.timeout = Duration::from_millis(50);
    let (client, driver) = R::build(builder(&server).heartbeat(heartbeat).recv_capacity(CAPACITY));
    R::block_on(async {
        // `recv` is called before the driver runs, so no message can come before it.
        let mut first = std::pin::pin!(client.recv());
        assert!(future::poll_once(&mut first).await.is_none());
        R::detach(driver);
        let check = |n: usize, message: &Message| {
            let data = message.as_bytes();
            assert_eq!(data.len(), SIZE);
            assert_eq!(
                u32::from_be_bytes(data[..4].try_into().unwrap()) as usize,
                n,
                "out of order"
            );
            assert!(data[4..].iter().all(|&b| b == (n % 251) as u8), "message {n} changed");
        };
        check(0, &R::within("the first message", first).await.unwrap());

        // The test does not read now (the driver goes on running): the server must stay
        // blocked, far longer than the heartbeat's timeout.
        R::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            done_rx.try_recv(),
            Err(TryRecvError::Empty),
            "the server wrote everything: the client kept reading"
        );
        let held = client.metrics().messages_in as usize - 1;
        assert!(
            held <= CAPACITY + PER_READ,
            "the client holds {held} unread messages (inbox {CAPACITY})"
        );
        assert!(written.load(Ordering::SeqCst) < COUNT);
        assert_eq!(client.state(), SessionState::Open, "the paused connection is still up");

        for n in 1..COUNT {
            check(n, &R::within("the next message", client.recv()).await.unwrap());
        }
        done_rx.recv_timeout(LIMIT).expect("the server wrote everything");
        let metrics = client.metrics();
        assert_eq!((metrics.messages_dropped, metrics.connections), (0, 1));
        assert_eq!(client.state(), SessionState::Open);
        assert_eq!(
            R::within("close", client.close(CloseCode::NORMAL, "")).await,
            ClosedReason::User
        );
    });
}

/// Until `recv` is first called, the inbox keeps the latest messages and counts the rest.
fn before_the_first_recv_only_the_latest_are_kept<R: Runtime>() {
    const COUNT: usize = 100;
    const CAPACITY: usize = 10;
    let server = Server::start(|_, stream| {
        let mut ws = accept(stream);
        for n in 0..COUNT {
            ws.send(tungstenite::Message::text(numbered(n))).unwrap();
        }
        read_until_closed(&mut ws);
    });
    let (client, [mut events]) = R::start_subscribed::<1>(builder(&server).recv_capacity(CAPACITY));
    R::block_on(async {
        // Wait until every message has arrived, through a subscription.
        let mut seen = 0;
        while seen < COUNT {
            let event = R::within("the messages", events.next()).await.unwrap().unwrap();
            seen += usize::from(matches!(event, SessionEvent::Message(_)));
        }
        assert_eq!(client.metrics().messages_dropped, (COUNT - CAPACITY) as u64);
        for n in COUNT - CAPACITY..COUNT {
            let message = R::within("recv", client.recv()).await.unwrap();
            assert_eq!(message.as_text(), Some(numbered(n).as_str()));
        }
        assert!(
            future::poll_once(client.recv()).await.is_none(),
            "nothing else was kept"
        );
        assert_eq!(
            R::within("close", client.close(CloseCode::NORMAL, "")).await,
            ClosedReason::User
        );
        assert_eq!(
            R::within("recv after the close", client.recv()).await,
            Err(ClosedReason::User)
        );
    });
}

/// A server that completes the handshake and then never reads (so never answers a ping) is
/// failed by the pong timeout, although a subscription never reads and nobody calls `recv`.
fn the_heartbeat_runs_whatever_the_listeners_do<R: Runtime>() {
    let (release_tx, release_rx) = sync_channel::<()>(1);
    let server = Server::start(move |_, stream| {
        let _ws = accept(stream);
        // Holds the connection open, silent, until the test is done.
        release_rx.recv_timeout(LIMIT).ok();
    });
    let mut heartbeat = HeartbeatConfig::default();
    heartbeat.interval = Some(Duration::from_millis(50));
    heartbeat.timeout = Duration::from_millis(100);
    let (client, driver) = R::build(builder(&server).heartbeat(heartbeat).event_capacity(1));
    let _never_read = client.subscribe();
    let driver = R::spawn(driver);
    R::block_on(async {
        R::within("open", client.connected()).await.unwrap();
        R::within("the driver to end after the pong timeout", driver).await;
    });
    assert_eq!(
        client.state(),
        SessionState::Closed(ClosedReason::Fatal(DisconnectReason::PongTimeout))
    );
    drop(release_tx);
}

on_async_runtimes!(
    every_subscriber_sees_every_event_and_a_laggard_skips_ahead,
    recv_backpressure_loses_nothing_and_keeps_the_connection,
    before_the_first_recv_only_the_latest_are_kept,
    the_heartbeat_runs_whatever_the_listeners_do,
);

/// On smol and tokio only: async-std runs the same async-io streams as smol, and a million
/// messages take a while. On tokio's current-thread runtime, the sending loop and the driver
/// share one thread, so a send that never yields would stall it.
#[cfg(feature = "smol")]
#[test]
fn a_send_only_client_sends_a_million_without_stalling_on_smol() {
    use async_support::Smol;
    Smol::run_test(a_send_only_client_sends_a_million_without_stalling::<Smol>);
}

#[cfg(feature = "tokio")]
#[test]
fn a_send_only_client_sends_a_million_without_stalling_on_tokio_current_thread() {
    use async_support::TokioCurrentThread;
    TokioCurrentThread::run_test(a_send_only_client_sends_a_million_without_stalling::<TokioCurrentThread>);
}
