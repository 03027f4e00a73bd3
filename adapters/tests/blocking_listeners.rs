//! Who sees what on a blocking client: subscriptions on other threads see every event in order
//! (a silent one is told how many it missed), `recv` loses nothing and pushes back on the
//! server once called, and before that keeps only the latest messages.
#![cfg(feature = "blocking")]

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use resock::core::session::{HeartbeatConfig, SessionEvent, SessionState};
use resock::{ClientBuilder, CloseCode, Lagged, Message};
use tungstenite::Message as WsMessage;

use support::ws_server::{Server, accept, echo};
use support::{PATIENCE, expect_event};

const MESSAGES: usize = 10_000;
const BATCH: usize = 100;
const EVENT_CAPACITY: usize = 256;

#[test]
fn every_subscriber_sees_every_message_in_order_and_a_silent_one_learns_what_it_missed() {
    // After the client's "go" the server sends a batch, then waits until both reading
    // subscribers have it all: then no reader can fall a whole buffer behind, however the
    // threads are scheduled.
    let (ack_tx, acks) = mpsc::channel::<()>();
    let server = Server::local(move |stream| {
        let Some(mut ws) = accept(stream) else { return };
        if !matches!(ws.read(), Ok(WsMessage::Text(_))) {
            return;
        }
        for batch in 0..MESSAGES / BATCH {
            for i in batch * BATCH..(batch + 1) * BATCH {
                ws.write(WsMessage::text(format!("m{i}"))).unwrap();
            }
            ws.flush().unwrap();
            for _ in 0..2 {
                if acks.recv_timeout(PATIENCE).is_err() {
                    return;
                }
            }
        }
        echo(&mut ws);
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .heartbeat(HeartbeatConfig::disabled())
        .event_capacity(EVENT_CAPACITY)
        .connect_blocking()
        .unwrap();
    client.connected().unwrap();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let subscription = client.subscribe();
            let ack = ack_tx.clone();
            thread::spawn(move || {
                let mut seen = 0;
                for event in subscription {
                    match event {
                        Ok(SessionEvent::Message(message)) => {
                            assert_eq!(message, Message::text(format!("m{seen}")));
                            seen += 1;
                            if seen % BATCH == 0 {
                                ack.send(()).unwrap();
                            }
                            if seen == MESSAGES {
                                break;
                            }
                        }
                        Ok(_) => {} // the `Sent` of "go"
                        Err(lagged) => panic!("after {seen} messages: {lagged}"),
                    }
                }
                seen
            })
        })
        .collect();
    let mut silent = client.subscribe();
    client.send_text("go").unwrap();

    for i in 0..MESSAGES {
        assert_eq!(client.recv(), Ok(Message::text(format!("m{i}"))));
    }
    for reader in readers {
        assert_eq!(reader.join().unwrap(), MESSAGES);
    }

    // It saw the `Sent` of "go" and the messages, and holds the last `EVENT_CAPACITY`.
    let missed = (1 + MESSAGES - EVENT_CAPACITY) as u64;
    match silent.next_timeout(Duration::ZERO) {
        Some(Err(Lagged(n))) => assert_eq!(n, missed),
        other => panic!("expected a lag report, got {other:?}"),
    }
    for i in MESSAGES - EVENT_CAPACITY..MESSAGES {
        match silent.next_timeout(Duration::ZERO) {
            Some(Ok(SessionEvent::Message(message))) => assert_eq!(message, Message::text(format!("m{i}"))),
            other => panic!("at m{i}: {other:?}"),
        }
    }
    assert!(silent.next_timeout(Duration::ZERO).is_none());
    assert!(!silent.is_ended());
    assert_eq!(client.metrics().events_skipped, missed);

    // Closing ends the subscription after the close's own events.
    assert!(client.close(CloseCode::NORMAL, ""));
    let rest: Vec<_> = silent.by_ref().collect();
    assert!(
        rest.iter()
            .any(|e| matches!(e, Ok(SessionEvent::StateChanged(SessionState::Closed(_))))),
        "{rest:?}"
    );
    assert!(silent.is_ended());
    assert!(client.subscribe().next().is_none(), "a late subscription ends at once");
    server.stop();
}

/// A server that waits for the client's "go", then sends `count` messages of 1 KiB, `m{i}`
/// padded with dots.
fn flood_server(count: usize) -> Server {
    Server::local(move |stream| {
        let Some(mut ws) = accept(stream) else { return };
        if !matches!(ws.read(), Ok(WsMessage::Text(_))) {
            return;
        }
        for i in 0..count {
            if ws.send(WsMessage::text(padded(i))).is_err() {
                return;
            }
        }
        echo(&mut ws);
    })
}

fn padded(i: usize) -> String {
    format!("m{i:.<1023}")
}

#[test]
fn after_the_first_recv_a_full_buffer_pauses_reading_and_nothing_is_lost() {
    const FLOOD: usize = 2000;
    const CAPACITY: usize = 8;
    let server = flood_server(FLOOD);
    let mut heartbeat = HeartbeatConfig::default();
    heartbeat.interval = Some(Duration::from_millis(50));
    heartbeat.timeout = Duration::from_millis(50);
    heartbeat.any_frame_is_liveness = true;
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .heartbeat(heartbeat)
        .recv_capacity(CAPACITY)
        .connect_blocking()
        .unwrap();
    client.connected().unwrap();
    client.send_text("go").unwrap();
    assert_eq!(client.recv(), Ok(Message::text(padded(0))));

    // Drive the client (pings go out, deadlines run) for many heartbeat timeouts without
    // taking messages: reading stays paused, and the server, unheard, is not failed.
    let window = Instant::now() + Duration::from_millis(500);
    while let Some(left) = window.checked_duration_since(Instant::now()) {
        if let Some(event) = client.next_event_timeout(left) {
            assert!(
                !matches!(
                    event,
                    SessionEvent::Disconnected { .. } | SessionEvent::Error(_) | SessionEvent::Closed { .. }
                ),
                "{event:?}"
            );
        }
    }
    let metrics = client.metrics();
    // What reached the session: the buffer, what one 64 KiB read held past it, and one more
    // read when `recv` made room; far from the whole flood.
    assert!(
        metrics.messages_in <= (1 + CAPACITY + 2 * 64) as u64,
        "reading did not pause: {metrics:?}"
    );
    assert_eq!(client.state(), &SessionState::Open);

    for i in 1..FLOOD {
        assert_eq!(client.recv(), Ok(Message::text(padded(i))));
    }
    let metrics = client.metrics();
    assert_eq!(metrics.messages_dropped, 0, "{metrics:?}");
    assert_eq!(metrics.connections, 1, "{metrics:?}");
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

#[test]
fn before_the_first_recv_only_the_latest_messages_are_kept_and_the_rest_counted() {
    let server = Server::local(|stream| {
        let Some(mut ws) = accept(stream) else { return };
        for i in 0..50 {
            ws.send(WsMessage::text(format!("m{i}"))).unwrap();
        }
        echo(&mut ws);
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .recv_capacity(8)
        .connect_blocking()
        .unwrap();
    // Watch the messages go by as events, without calling `recv`.
    expect_event(
        &mut client,
        "the last message",
        |e| matches!(e, SessionEvent::Message(m) if *m == Message::text("m49")),
    );
    assert_eq!(client.metrics().messages_dropped, 42);
    for i in 42..50 {
        assert_eq!(client.recv(), Ok(Message::text(format!("m{i}"))));
    }
    assert_eq!(client.metrics().messages_dropped, 42);
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

#[test]
fn closing_with_a_full_buffer_reads_on_and_drops_what_does_not_fit() {
    const FLOOD: usize = 500;
    const CAPACITY: usize = 8;
    let server = flood_server(FLOOD);
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .recv_capacity(CAPACITY)
        .connect_blocking()
        .unwrap();
    client.connected().unwrap();
    client.send_text("go").unwrap();
    assert_eq!(client.recv(), Ok(Message::text(padded(0))));
    // Reading is paused now, with the server blocked behind it; the close must still finish.
    assert!(client.close(CloseCode::NORMAL, ""));
    let mut kept = 0;
    while let Ok(message) = client.recv() {
        kept += 1;
        assert_eq!(message, Message::text(padded(kept)), "in order");
    }
    let metrics = client.metrics();
    assert_eq!(metrics.messages_in, FLOOD as u64, "{metrics:?}");
    // The buffer was full; past it, only what one 64 KiB read held (a read ended by the
    // pause) was kept, and the rest of the flood was dropped.
    assert!((CAPACITY..=CAPACITY + 64).contains(&kept), "{kept} kept");
    assert_eq!(1 + kept as u64 + metrics.messages_dropped, FLOOD as u64, "{metrics:?}");
    server.stop();
}

/// CPU time the calling thread has used so far (Linux).
#[cfg(target_os = "linux")]
fn thread_cpu_time() -> Duration {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    let nanos: u64 = schedstat.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(nanos)
}

#[cfg(target_os = "linux")]
#[test]
fn a_paused_client_whose_server_resets_waits_without_spinning() {
    let (reset_tx, reset) = mpsc::channel::<()>();
    let server = Server::local(move |stream| {
        let Some(mut ws) = accept(stream) else { return };
        if !matches!(ws.read(), Ok(WsMessage::Text(_))) {
            return;
        }
        // 200 KiB: enough to pause the client, little enough for the socket buffers.
        for i in 0..200 {
            ws.send(WsMessage::text(padded(i))).unwrap();
        }
        if reset.recv_timeout(PATIENCE).is_ok() {
            socket2::SockRef::from(ws.get_ref())
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .heartbeat(HeartbeatConfig::disabled())
        .recv_capacity(8)
        .connect_blocking()
        .unwrap();
    client.connected().unwrap();
    client.send_text("go").unwrap();
    assert_eq!(client.recv(), Ok(Message::text(padded(0))));
    reset_tx.send(()).unwrap();
    // Paused, the client does not read, so the reset stays unseen; the hang-up the OS reports
    // for the socket must not turn the wait into a busy loop.
    let cpu = thread_cpu_time();
    let started = Instant::now();
    while let Some(left) = (started + Duration::from_millis(300)).checked_duration_since(Instant::now()) {
        client.next_event_timeout(left);
    }
    let used = thread_cpu_time() - cpu;
    assert!(used < Duration::from_millis(100), "waiting 300 ms took {used:?} of CPU");
    drop(client);
    server.stop();
}
