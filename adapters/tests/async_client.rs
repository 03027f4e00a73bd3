//! The async client against an in-process tungstenite server on loopback, run on every async
//! runtime of the build (smol, async-std, tokio's current-thread and multi-thread runtimes):
//! the same test bodies, generic over [`Runtime`].
//!
//! Every wait is bounded by [`LIMIT`]; every server thread is stopped and joined when its
//! [`Server`] is dropped.
#![cfg(any(feature = "smol", feature = "async-std", feature = "tokio"))]

#[macro_use]
mod async_support;

use std::io::Read;
#[cfg(feature = "rustls")]
use std::io::Write;
use std::net::TcpListener;
#[cfg(feature = "rustls")]
use std::sync::Arc;
#[cfg(feature = "rustls")]
use std::sync::mpsc::SyncSender;
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use async_support::{
    LIMIT, Runtime, Seen, Server, accept, accept_hdr, builder, builder_for_url, channel, collect, echo, next_message,
    next_seen, opened, wait_for,
};
use futures_lite::{StreamExt, future};
use resock::{ClientBuilder, SendError};
use resock_core::session::{
    ClosedReason, DisconnectReason, HandBackReason, HeartbeatConfig, OverflowPolicy, QueueConfig, ReconnectPolicy,
    SessionEvent, SessionState,
};
use resock_core::{CloseCode, Initiator, Message};
use tungstenite::protocol::frame::CloseFrame;

fn text_of(size: usize) -> String {
    (0..size).map(|i| char::from(b'a' + (i % 26) as u8)).collect()
}

fn echo_text_and_binary_of_every_size<R: Runtime>() {
    let server = Server::start(|_, stream| echo(&mut accept(stream)));
    let mut queue = QueueConfig::default();
    queue.max_bytes = 64 << 20;
    let client = R::start(builder(&server).queue(queue));
    R::block_on(async {
        for size in [0, 1, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20] {
            let text = text_of(size);
            R::within("send text", client.send_text(text.clone())).await.unwrap();
            let back = R::within("text echo", client.recv()).await.expect("an echo");
            assert!(
                back.as_text() == Some(text.as_str()),
                "text of {size} bytes came back changed"
            );
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            R::within("send binary", client.send_binary(data.clone()))
                .await
                .unwrap();
            let back = R::within("binary echo", client.recv()).await.expect("an echo");
            assert!(
                !back.is_text() && back.as_bytes() == &data[..],
                "binary of {size} bytes came back changed"
            );
        }
        let closed = R::within("close", client.close(CloseCode::NORMAL, "done")).await;
        assert_eq!(closed, ClosedReason::User);
    });
}

fn heartbeat_pong_reports_rtt<R: Runtime>() {
    let server = Server::start(|_, stream| echo(&mut accept(stream)));
    let mut heartbeat = HeartbeatConfig::default();
    heartbeat.interval = Some(Duration::from_millis(20));
    heartbeat.timeout = LIMIT;
    let client = R::start(builder(&server).heartbeat(heartbeat));
    R::block_on(async {
        assert_eq!(client.rtt(), None);
        let mut events = client.subscribe();
        let pong = wait_for::<R>(&mut events, "a pong", |e| matches!(e, SessionEvent::Pong { .. })).await;
        let SessionEvent::Pong { rtt, .. } = pong else {
            unreachable!()
        };
        assert!(rtt < LIMIT);
        let measured = client.rtt().expect("an rtt after a pong");
        assert!(measured.latest < LIMIT && measured.smoothed < LIMIT);
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
    });
}

fn client_closes_with_a_code<R: Runtime>() {
    let (tx, rx) = channel();
    let server = Server::start(move |_, stream| collect(&mut accept(stream), &tx, false));
    let client = R::start(builder(&server));
    R::block_on(async {
        R::within("open", client.connected()).await.unwrap();
        let mut events = client.subscribe();
        let closed = R::within("close", client.close(CloseCode(4000), "bye")).await;
        assert_eq!(closed, ClosedReason::User);
        let echo = wait_for::<R>(&mut events, "the close event", |e| {
            matches!(e, SessionEvent::Closed { .. })
        })
        .await;
        let SessionEvent::Closed { code, initiator, .. } = echo else {
            unreachable!()
        };
        assert_eq!((code, initiator), (CloseCode(4000), Initiator::Local));
    });
    assert_eq!(next_seen(&rx), Seen::Close(Some((4000, "bye".into()))));
    assert_eq!(next_seen(&rx), Seen::Ended);
}

fn server_closes_with_a_code<R: Runtime>() {
    let server = Server::start(|_, stream| {
        let mut ws = accept(stream);
        ws.close(Some(CloseFrame {
            code: 4001.into(),
            reason: "server says bye".into(),
        }))
        .unwrap();
        while ws.read().is_ok() {}
    });
    let (client, [mut events]) = R::start_subscribed::<1>(builder(&server));
    R::block_on(async {
        let closed = wait_for::<R>(&mut events, "the close event", |e| {
            matches!(e, SessionEvent::Closed { .. })
        })
        .await;
        let SessionEvent::Closed {
            code,
            reason,
            initiator,
        } = closed
        else {
            unreachable!()
        };
        assert_eq!(
            (code, reason.as_str(), initiator),
            (CloseCode(4001), "server says bye", Initiator::Remote)
        );
        let ended = R::within("recv after the end", client.recv()).await.unwrap_err();
        assert_eq!(client.state(), SessionState::Closed(ended), "recv ends with the reason");
        assert!(matches!(
            client.state(),
            SessionState::Closed(ClosedReason::Fatal(DisconnectReason::ServerClosed {
                code: CloseCode(4001),
                ..
            }))
        ));
    });
}

fn subprotocol_is_negotiated<R: Runtime>() {
    let (tx, rx) = channel();
    let server = Server::start(move |_, stream| {
        let mut ws = accept_hdr(stream, |request, mut response| {
            let offered = request.headers()["Sec-WebSocket-Protocol"].to_str().unwrap().to_owned();
            tx.send(Seen::Header(offered)).unwrap();
            let chosen = tungstenite::http::HeaderValue::from_static("v1.chat");
            response.headers_mut().insert("Sec-WebSocket-Protocol", chosen);
            response
        });
        echo(&mut ws);
    });
    let (client, [mut events]) =
        R::start_subscribed::<1>(builder(&server).subprotocol("v2.chat").subprotocol("v1.chat"));
    R::block_on(async {
        assert_eq!(opened::<R>(&mut events).await.as_deref(), Some("v1.chat"));
        R::within("connected", client.connected()).await.unwrap();
        assert_eq!(client.subprotocol().as_deref(), Some("v1.chat"));
        assert!(client.deflate().is_none(), "tungstenite agrees no compression");
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
    });
    assert_eq!(client.subprotocol(), None, "nothing agreed once closed");
    assert_eq!(next_seen(&rx), Seen::Header("v2.chat, v1.chat".into()));
}

fn custom_header_reaches_the_server<R: Runtime>() {
    let (tx, rx) = channel();
    let server = Server::start(move |_, stream| {
        let mut ws = accept_hdr(stream, |request, response| {
            let token = request.headers()["X-Resock-Token"].to_str().unwrap();
            tx.send(Seen::Header(format!("{} {token}", request.uri()))).unwrap();
            response
        });
        echo(&mut ws);
    });
    let url = format!("{}test?q=1", server.url());
    let client = R::start(builder_for_url(&url).header("X-Resock-Token", "s3cret"));
    R::block_on(async {
        R::within("open", client.connected()).await.unwrap();
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
    });
    assert_eq!(next_seen(&rx), Seen::Header("/test?q=1 s3cret".into()));
}

/// The server drops the first connection (no close frame) after five messages and holds the
/// second one's handshake until the test has queued five more during the outage.
fn reconnect_delivers_a_numbered_stream_once_in_order<R: Runtime>() {
    const FIRST: usize = 5;
    const TOTAL: usize = 12;
    let (tx, rx) = channel();
    let (gate_tx, gate_rx) = sync_channel::<()>(1);
    let server = Server::start(move |index, stream| {
        if index == 0 {
            let mut ws = accept(stream);
            for _ in 0..FIRST {
                let message = ws.read().unwrap();
                tx.send(Seen::Text(message.to_text().unwrap().to_owned())).unwrap();
                ws.send(message).unwrap();
            }
            return;
        }
        gate_rx.recv_timeout(LIMIT).expect("the gate opens");
        collect(&mut accept(stream), &tx, true);
    });
    let policy = ReconnectPolicy::fixed(Duration::from_millis(10));
    let (client, [mut events]) = R::start_subscribed::<1>(builder(&server).reconnect(policy));
    R::block_on(async {
        let mut echoed = Vec::new();
        for n in 0..FIRST {
            R::within("send", client.send_text(n.to_string())).await.unwrap();
        }
        while echoed.len() < FIRST {
            echoed.push(next_message::<R>(&mut events).await);
        }
        wait_for::<R>(&mut events, "the drop", |e| {
            matches!(e, SessionEvent::Disconnected { retry_at: Some(_), .. })
        })
        .await;
        for n in FIRST..TOTAL {
            R::within("send during the outage", client.send_text(n.to_string()))
                .await
                .unwrap();
        }
        assert_eq!(client.queued_messages(), TOTAL - FIRST);
        gate_tx.send(()).unwrap();
        while echoed.len() < TOTAL {
            echoed.push(next_message::<R>(&mut events).await);
        }
        let expected: Vec<Message> = (0..TOTAL).map(|n| Message::text(n.to_string())).collect();
        assert_eq!(echoed, expected);
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
    });
    drop(server);
    let seen: Vec<Seen> = rx.try_iter().collect();
    let mut expected: Vec<Seen> = (0..TOTAL).map(|n| Seen::Text(n.to_string())).collect();
    expected.extend([Seen::Close(Some((1000, String::new()))), Seen::Ended]);
    assert_eq!(seen, expected);
}

fn cancelled_recv_loses_nothing<R: Runtime>() {
    const COUNT: usize = 200;
    let server = Server::start(|_, stream| {
        let mut ws = accept(stream);
        for n in 0..COUNT {
            ws.send(tungstenite::Message::text(n.to_string())).unwrap();
        }
        echo(&mut ws);
    });
    let client = R::start(builder(&server));
    R::block_on(async {
        let mut received = Vec::new();
        let mut cancelled = 0;
        while received.len() < COUNT {
            // Poll a recv once and drop it, whether or not it was ready.
            match future::poll_once(client.recv()).await {
                Some(Ok(message)) => received.push(message),
                Some(Err(reason)) => panic!("the session ended early: {reason}"),
                None => cancelled += 1,
            }
            // Drop one that lost a race against a ready future.
            let raced = future::or(async { Some(client.recv().await) }, future::ready(None)).await;
            if let Some(result) = raced {
                received.push(result.expect("the session is open"));
            }
            if received.len() < COUNT {
                received.push(R::within("recv", client.recv()).await.expect("a message"));
            }
        }
        let expected: Vec<Message> = (0..COUNT).map(|n| Message::text(n.to_string())).collect();
        assert_eq!(received, expected);
        assert!(cancelled > 0, "no recv future was dropped while pending");
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
    });
}

/// The server holds the handshake until the test has filled the queue (two messages), been
/// refused by `try_send`, and dropped two pending `send` futures.
fn full_queue_hands_back_and_dropped_sends_are_not_accepted<R: Runtime>() {
    let (tx, rx) = channel();
    let (gate_tx, gate_rx) = sync_channel::<()>(1);
    let server = Server::start(move |_, stream| {
        gate_rx.recv_timeout(LIMIT).expect("the gate opens");
        collect(&mut accept(stream), &tx, false);
    });
    let mut queue = QueueConfig::default();
    queue.max_messages = 2;
    let client = R::start(builder(&server).queue(queue));
    R::block_on(async {
        client.try_send(Message::text("a")).unwrap();
        client.try_send(Message::text("b")).unwrap();
        match client.try_send(Message::text("c")) {
            Err(SendError::Full(message)) => assert_eq!(message, Message::text("c")),
            other => panic!("expected Full, got {other:?}"),
        }
        assert!(future::poll_once(client.send(Message::text("c"))).await.is_none());
        let raced = future::or(async { Some(client.send_text("d").await) }, future::ready(None)).await;
        assert!(raced.is_none(), "a send into a full queue completed");
        assert_eq!(client.queued_messages(), 2);
        gate_tx.send(()).unwrap();
        R::within("send after room", client.send_text("e")).await.unwrap();
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
    });
    drop(server);
    let seen: Vec<Seen> = rx.try_iter().collect();
    let text = |s: &str| Seen::Text(s.into());
    assert_eq!(
        seen,
        [
            text("a"),
            text("b"),
            text("e"),
            Seen::Close(Some((1000, String::new()))),
            Seen::Ended
        ]
    );
}

/// A subscription with room for one event that never reads slows nothing down: echoes flow,
/// sends are never refused, and the close ends by the server's answer. Read at the end, it
/// reports what it missed, then the newest event, then ends with the driver.
fn a_subscriber_that_never_reads_blocks_nothing<R: Runtime>() {
    const ROUNDS: usize = 50;
    let server = Server::start(|_, stream| echo(&mut accept(stream)));
    let (client, driver) = R::start_joinable(builder(&server).event_capacity(1).close_timeout(LIMIT));
    let mut idle = client.subscribe();
    R::block_on(async {
        for n in 0..ROUNDS {
            let text = n.to_string();
            client
                .try_send(Message::text(text.as_str()))
                .expect("room: nothing waits for the listener");
            assert_eq!(R::within("echo", client.recv()).await, Ok(Message::text(text)));
        }
        let closed = R::within("close", client.close(CloseCode::NORMAL, "")).await;
        assert_eq!(closed, ClosedReason::User);
        R::within("the driver task to end", driver).await;
        let missed = match R::within("the lag report", idle.next()).await {
            Some(Err(resock::Lagged(missed))) => missed,
            other => panic!("expected a lag report, got {other:?}"),
        };
        // Each round is at least a `Sent` and a `Message`.
        assert!(missed >= 2 * ROUNDS as u64, "missed only {missed}");
        assert_eq!(client.metrics().events_skipped, missed);
        let last = R::within("the newest event", idle.next()).await;
        assert!(matches!(last, Some(Ok(_))), "{last:?}");
        assert!(R::within("the end", idle.next()).await.is_none());
    });
}

fn dropping_the_last_handle_closes_with_1000<R: Runtime>() {
    let (tx, rx) = channel();
    let server = Server::start(move |_, stream| collect(&mut accept(stream), &tx, false));
    let (client, driver) = R::start_joinable(builder(&server));
    let second = client.clone();
    R::block_on(async {
        R::within("open", client.connected()).await.unwrap();
    });
    // A subscription is not a handle: it watches the close, then ends with the driver.
    let mut watcher = client.subscribe();
    drop(client);
    assert_eq!(second.state(), SessionState::Open);
    drop(second);
    // The driver ends by itself (on a current-thread runtime it runs while this waits for it).
    R::block_on(async {
        R::within("the driver task to end", driver).await;
        let mut closed = None;
        for _ in 0..100 {
            match R::within("the watcher's events", watcher.next()).await {
                Some(Ok(SessionEvent::StateChanged(SessionState::Closed(reason)))) => closed = Some(reason),
                Some(other) => assert!(other.is_ok(), "{other:?}"),
                None => break,
            }
        }
        assert_eq!(closed, Some(ClosedReason::User));
        assert!(R::within("the end", watcher.next()).await.is_none());
    });
    assert_eq!(next_seen(&rx), Seen::Close(Some((1000, String::new()))));
    assert_eq!(next_seen(&rx), Seen::Ended);
}

/// A server that accepts TCP and never answers the handshake, so messages stay queued.
fn silent_server() -> Server {
    Server::start(|_, mut stream| {
        let mut buf = [0u8; 1024];
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    })
}

fn closing_hands_queued_messages_back_to_subscribers<R: Runtime>() {
    let server = silent_server();
    let client = R::start(builder(&server));
    let events = client.subscribe();
    R::block_on(async {
        let a = client.try_send(Message::text("a")).unwrap();
        let b = client.try_send(Message::binary(vec![1, 2])).unwrap();
        let closed = R::within("close", client.close(CloseCode::NORMAL, "")).await;
        assert_eq!(closed, ClosedReason::User);
        assert_eq!(R::within("recv", client.recv()).await, Err(ClosedReason::User));
        let events: Vec<_> = R::within("every event", events.collect::<Vec<_>>()).await;
        let back: Vec<_> = events
            .into_iter()
            .filter_map(|e| match e.expect("a listener that keeps up") {
                SessionEvent::HandedBack { id, message, reason } => Some((id, message, reason)),
                _ => None,
            })
            .collect();
        assert_eq!(
            back,
            [
                (a, Message::text("a"), HandBackReason::Closed),
                (b, Message::binary(vec![1, 2]), HandBackReason::Closed)
            ]
        );
        assert!(matches!(client.send_text("late").await, Err(SendError::Closed(_))));
    });
}

/// A close issued before the driver's first poll stays a close: no connection is opened.
fn close_before_the_driver_runs<R: Runtime>() {
    let (tx, rx) = channel();
    let server = Server::start(move |_, _| tx.send(Seen::Ended).unwrap());
    let (client, driver) = R::build(builder(&server));
    let events = client.subscribe();
    R::block_on(async {
        client.try_send(Message::text("queued")).unwrap();
        let mut closing = std::pin::pin!(client.close(CloseCode::NORMAL, ""));
        assert!(
            future::poll_once(&mut closing).await.is_none(),
            "close waits for the driver"
        );
        let task = R::spawn(driver);
        assert_eq!(R::within("close", closing).await, ClosedReason::User);
        R::within("the driver task to end", task).await;
        let events: Vec<_> = R::within("the events", events.collect::<Vec<_>>()).await;
        assert!(events.iter().any(|e| matches!(
            e,
            Ok(SessionEvent::HandedBack { message, reason: HandBackReason::Closed, .. }) if *message == Message::text("queued")
        )));
    });
    drop(server);
    assert_eq!(rx.try_iter().count(), 0, "no connection was opened");
}

fn drop_oldest_hands_back_through_events<R: Runtime>() {
    let server = silent_server();
    let mut queue = QueueConfig::default();
    queue.max_messages = 1;
    queue.overflow = OverflowPolicy::DropOldest;
    let client = R::start(builder(&server).queue(queue));
    R::block_on(async {
        let mut events = client.subscribe();
        let first = client.try_send(Message::text("first")).unwrap();
        client.try_send(Message::text("second")).unwrap();
        let back = wait_for::<R>(&mut events, "the evicted message", |e| {
            matches!(e, SessionEvent::HandedBack { .. })
        })
        .await;
        let SessionEvent::HandedBack { id, message, reason } = back else {
            unreachable!()
        };
        assert_eq!(
            (id, message, reason),
            (first, Message::text("first"), HandBackReason::Dropped)
        );
        assert_eq!(client.queued_messages(), 1);
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
    });
}

fn open_timeout_abandons_the_attempt<R: Runtime>() {
    let (tx, rx) = channel();
    let server = Server::start(move |_, mut stream| {
        // Accept TCP, never answer the handshake; report when the client lets go.
        let mut buf = [0u8; 1024];
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        tx.send(Seen::Ended).unwrap();
    });
    let client = R::start(builder(&server).open_timeout(Duration::from_millis(200)));
    R::block_on(async {
        let reason = R::within("closed for good", client.connected()).await.unwrap_err();
        assert_eq!(reason, ClosedReason::Fatal(DisconnectReason::OpenTimeout));
        assert_eq!(client.state(), SessionState::Closed(reason));
    });
    assert_eq!(next_seen(&rx), Seen::Ended);
}

/// A host name is resolved before connecting. `localhost` resolves to one address on most
/// machines (CI included), so trying every resolved address in turn is proven at the function
/// level: `async_driver::connect::tests::every_resolved_address_is_tried_in_turn`.
fn a_host_name_is_resolved<R: Runtime>() {
    let server = Server::start(|_, stream| echo(&mut accept(stream)));
    let url = format!("ws://localhost:{}/", server.addr.port());
    let client = R::start(
        ClientBuilder::new(&url)
            .unwrap()
            .heartbeat(HeartbeatConfig::disabled())
            .reconnect(ReconnectPolicy::disabled()),
    );
    R::block_on(async {
        R::within("send", client.send_text("via localhost")).await.unwrap();
        assert_eq!(
            R::within("echo", client.recv()).await,
            Ok(Message::text("via localhost"))
        );
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
    });
}

fn ipv6_loopback<R: Runtime>() {
    // Required, not skipped: CI and every supported machine have the IPv6 loopback.
    let listener = TcpListener::bind("[::1]:0").expect("the IPv6 loopback ::1 cannot be bound");
    let server = Server::on(listener, |_, stream| echo(&mut accept(stream)));
    assert!(server.url().starts_with("ws://[::1]:"));
    let client = R::start(builder(&server));
    R::block_on(async {
        R::within("send", client.send_text("over ::1")).await.unwrap();
        assert_eq!(R::within("echo", client.recv()).await, Ok(Message::text("over ::1")));
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
    });
}

/// A rustls server configuration for `localhost` with a fresh self-signed certificate, and
/// that certificate in PEM for the client to trust.
#[cfg(feature = "rustls")]
fn tls_server() -> (Arc<rustls::ServerConfig>, String) {
    use rustls::pki_types::PrivatePkcs8KeyDer;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key.into())
        .unwrap();
    (Arc::new(config), certified.cert.pem())
}

/// Serves WebSocket over TLS: echoes, then sends close_notify; reports each connection's end.
#[cfg(feature = "rustls")]
fn tls_echo_server(config: Arc<rustls::ServerConfig>, tx: SyncSender<Seen>) -> Server {
    Server::start(move |_, stream| {
        let tls = rustls::StreamOwned::new(rustls::ServerConnection::new(Arc::clone(&config)).unwrap(), stream);
        if let Ok(mut ws) = tungstenite::accept_with_config(tls, Some(async_support::server_config())) {
            echo(&mut ws);
            ws.get_mut().conn.send_close_notify();
            ws.get_mut().flush().ok();
        }
        tx.send(Seen::Ended).unwrap();
    })
}

#[cfg(feature = "rustls")]
fn wss_with_a_custom_root<R: Runtime>() {
    let (config, pem) = tls_server();
    let (tx, rx) = channel();
    let server = tls_echo_server(config, tx);
    let url = format!("wss://localhost:{}/", server.addr.port());
    let tls = resock::tls::TlsOptions::no_default_roots()
        .add_root_pem(pem.as_bytes())
        .unwrap();
    let client = R::start(
        ClientBuilder::new(&url)
            .unwrap()
            .heartbeat(HeartbeatConfig::disabled())
            .reconnect(ReconnectPolicy::disabled())
            .tls(tls),
    );
    R::block_on(async {
        R::within("send", client.send_text("over TLS")).await.unwrap();
        assert_eq!(R::within("echo", client.recv()).await, Ok(Message::text("over TLS")));
        let closed = R::within("close", client.close(CloseCode::NORMAL, "")).await;
        assert_eq!(closed, ClosedReason::User);
    });
    assert_eq!(next_seen(&rx), Seen::Ended);
}

/// Connects to a TLS echo server whose certificate is for `localhost`, at `host`, trusting
/// `trusted_pem`, with fast retries; the session must end fatally with a certificate error
/// after exactly one attempt.
#[cfg(feature = "rustls")]
fn expect_fatal_certificate_error<R: Runtime>(host: &str, config: Arc<rustls::ServerConfig>, trusted_pem: &str) {
    let (tx, rx) = channel();
    let server = tls_echo_server(config, tx);
    let url = format!("wss://{host}:{}/", server.addr.port());
    let tls = resock::tls::TlsOptions::no_default_roots()
        .add_root_pem(trusted_pem.as_bytes())
        .unwrap();
    let client = R::start(
        ClientBuilder::new(&url)
            .unwrap()
            .heartbeat(HeartbeatConfig::disabled())
            .reconnect(ReconnectPolicy::fixed(Duration::from_millis(10)))
            .tls(tls),
    );
    R::block_on(async {
        let reason = R::within("the end", client.recv()).await.unwrap_err();
        assert_eq!(client.state(), SessionState::Closed(reason.clone()));
        match reason {
            ClosedReason::Fatal(DisconnectReason::Transport(error)) => {
                assert_eq!(error.kind, resock_core::TransportErrorKind::TlsCertificate, "{error}");
            }
            other => panic!("expected a fatal certificate error, got {other}"),
        }
    });
    drop(server);
    assert_eq!(
        rx.try_iter().collect::<Vec<_>>(),
        [Seen::Ended],
        "one attempt, not retried"
    );
}

/// A certificate signed by a root the client does not trust.
#[cfg(feature = "rustls")]
fn wss_untrusted_certificate_is_fatal<R: Runtime>() {
    let (config, _) = tls_server();
    let (_, other_pem) = tls_server();
    expect_fatal_certificate_error::<R>("localhost", config, &other_pem);
}

/// The certificate is for `localhost`; asking for `127.0.0.1` (trusted root, wrong name) must
/// fail the name check, fatally.
#[cfg(feature = "rustls")]
fn wss_wrong_hostname_is_fatal<R: Runtime>() {
    let (config, pem) = tls_server();
    expect_fatal_certificate_error::<R>("127.0.0.1", config, &pem);
}

on_async_runtimes!(
    echo_text_and_binary_of_every_size,
    heartbeat_pong_reports_rtt,
    client_closes_with_a_code,
    server_closes_with_a_code,
    subprotocol_is_negotiated,
    custom_header_reaches_the_server,
    reconnect_delivers_a_numbered_stream_once_in_order,
    cancelled_recv_loses_nothing,
    full_queue_hands_back_and_dropped_sends_are_not_accepted,
    a_subscriber_that_never_reads_blocks_nothing,
    dropping_the_last_handle_closes_with_1000,
    closing_hands_queued_messages_back_to_subscribers,
    close_before_the_driver_runs,
    drop_oldest_hands_back_through_events,
    open_timeout_abandons_the_attempt,
    a_host_name_is_resolved,
    ipv6_loopback,
);

#[cfg(feature = "rustls")]
on_async_runtimes!(
    wss_with_a_custom_root,
    wss_untrusted_certificate_is_fatal,
    wss_wrong_hostname_is_fatal,
);
