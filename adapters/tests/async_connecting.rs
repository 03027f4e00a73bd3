//! Connecting on the async client (issue 12): `connected()` through retries and with a fatal
//! rejection, the per-connection hooks (recomputed headers, messages sent first on every
//! open, run with no lock held), and typed routing with an envelope configured. Real loopback
//! servers (tungstenite threads); every wait is bounded.
#![cfg(any(feature = "smol", feature = "async-std", feature = "tokio"))]

#[macro_use]
mod async_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_support::{Runtime, Server, accept, accept_hdr, builder, read_until_closed};
use futures_lite::future;
use resock::Client;
use resock_core::session::{ClosedReason, DisconnectReason, ReconnectPolicy, SessionEvent, SessionState};
use resock_core::{CloseCode, HandshakeError, Message};

/// Against a port nobody listens on, `connected()` stays pending through several failed
/// attempts, then resolves once a server starts on that port.
fn connected_waits_through_retries<R: Runtime>() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("ws://{addr}/");
    let settings = resock::ClientBuilder::new(&url)
        .unwrap()
        .heartbeat(resock_core::session::HeartbeatConfig::disabled())
        .reconnect(ReconnectPolicy::fixed(Duration::from_millis(20)));
    let (client, [mut events]) = R::start_subscribed::<1>(settings);
    let server = R::block_on(async {
        let mut connected = std::pin::pin!(client.connected());
        for _ in 0..3 {
            assert!(
                future::poll_once(&mut connected).await.is_none(),
                "resolved while refused"
            );
            loop {
                let event = R::within("a failed attempt", events.next()).await.unwrap().unwrap();
                if matches!(event, SessionEvent::Disconnected { retry_at: Some(_), .. }) {
                    break;
                }
            }
        }
        assert!(
            future::poll_once(&mut connected).await.is_none(),
            "resolved while refused"
        );
        let listener = TcpListener::bind(addr).expect("the port is still free");
        let server = Server::on(listener, |_, stream| read_until_closed(&mut accept(stream)));
        R::within("connected once the server is up", connected).await.unwrap();
        assert_eq!(client.state(), SessionState::Open);
        R::within("connected when open", client.connected()).await.unwrap();
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
        server
    });
    drop(server);
}

/// A 401 is fatal by the default policy: `connected()` resolves with that reason.
fn connected_reports_a_rejection<R: Runtime>() {
    let server = Server::start(|_, mut stream| {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        stream
            .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .ok();
    });
    let settings = builder(&server).reconnect(ReconnectPolicy::fixed(Duration::from_millis(10)));
    let (client, []) = R::start_subscribed::<0>(settings);
    R::block_on(async {
        match R::within("connected", client.connected()).await {
            Err(ClosedReason::Fatal(DisconnectReason::Handshake(HandshakeError::Rejected(rejection)))) => {
                assert_eq!(rejection.status, 401)
            }
            other => panic!("expected a fatal 401, got {other:?}"),
        }
        assert!(R::within("recv", client.recv()).await.is_err());
    });
}

/// What the server saw on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Visit {
    token: String,
    attempt: u32,
    first: String,
    second: String,
}

/// Over 20 connections that the server drops after two messages: `headers_with` runs for
/// every attempt (a fresh token each time, with the attempt number) and `send_on_open_with`
/// for every open; its message is the first on each connection, before the queued one, and is
/// never reported as `Sent`. The hooks call the client, which would deadlock if they ran under
/// its lock.
fn hooks_run_for_every_connection_unlocked<R: Runtime>() {
    const DROPS: usize = 20;
    let (tx, rx) = sync_channel(DROPS + 1);
    let server = Server::start(move |index, stream| {
        let seen = Arc::new(Mutex::new(None));
        let record = Arc::clone(&seen);
        let mut ws = accept_hdr(stream, move |request, response| {
            let header = |name: &str| request.headers()[name].to_str().unwrap().to_owned();
            *record.lock().unwrap() = Some((header("x-token"), header("x-attempt").parse().unwrap()));
            response
        });
        if index >= DROPS {
            return read_until_closed(&mut ws);
        }
        let mut text = || ws.read().unwrap().into_text().unwrap().to_string();
        let (first, second) = (text(), text());
        let (token, attempt) = seen.lock().unwrap().take().unwrap();
        tx.send(Visit {
            token,
            attempt,
            first,
            second,
        })
        .unwrap();
        // Dropping the socket without a close frame: the client reconnects.
    });
    let client_slot: Arc<OnceLock<Client>> = Arc::new(OnceLock::new());
    let (tokens, opens) = (Arc::new(Mutex::new(0u32)), Arc::new(Mutex::new(0u32)));
    let settings = {
        let (slot, tokens) = (Arc::clone(&client_slot), Arc::clone(&tokens));
        let (slot2, opens) = (Arc::clone(&client_slot), Arc::clone(&opens));
        builder(&server)
            .reconnect(ReconnectPolicy::fixed(Duration::from_millis(5)))
            .headers_with(move |attempt| {
                // Takes the client's lock: a hook run under it would never return.
                let state = slot.get().map(|client| client.state());
                assert!(matches!(state, Some(SessionState::Connecting { .. })), "{state:?}");
                let mut n = tokens.lock().unwrap();
                *n += 1;
                vec![
                    ("X-Token".into(), format!("token-{n}")),
                    ("X-Attempt".into(), attempt.to_string()),
                ]
            })
            .send_on_open_with(move || {
                slot2.get().map(|client| client.metrics());
                let mut n = opens.lock().unwrap();
                *n += 1;
                vec![Message::text(format!("hello-{n}"))]
            })
    };
    let (client, driver) = R::build(settings);
    let mut events = client.subscribe();
    client_slot.set(client).ok();
    let client = client_slot.get().unwrap();
    R::detach(driver);
    let queued = R::block_on(async {
        let (mut queued, mut sent) = (Vec::new(), Vec::new());
        for n in 1..=DROPS {
            queued.push(
                R::within("send", client.send_text(format!("queued-{n}")))
                    .await
                    .unwrap(),
            );
            loop {
                match R::within("the drop", events.next()).await.unwrap().unwrap() {
                    SessionEvent::Sent(id) => sent.push(id),
                    SessionEvent::Disconnected { retry_at: Some(_), .. } => break,
                    _ => {}
                }
            }
        }
        R::within("open again", client.connected()).await.unwrap();
        R::within("close", client.close(CloseCode::NORMAL, "")).await;
        while let Some(event) = R::within("the rest of the events", events.next()).await {
            if let SessionEvent::Sent(id) = event.unwrap() {
                sent.push(id);
            }
        }
        (queued, sent)
    });
    drop(server);
    let (queued, sent) = queued;
    let visits: Vec<Visit> = rx.try_iter().collect();
    let expected: Vec<Visit> = (1..=DROPS)
        .map(|n| Visit {
            token: format!("token-{n}"),
            attempt: n as u32,
            first: format!("hello-{n}"),
            second: format!("queued-{n}"),
        })
        .collect();
    assert_eq!(visits, expected);
    assert_eq!(sent, queued, "only queued messages are reported as Sent");
    assert_eq!(*tokens.lock().unwrap() as usize, DROPS + 1);
}

on_async_runtimes!(
    connected_waits_through_retries,
    connected_reports_a_rejection,
    hooks_run_for_every_connection_unlocked,
);

/// Typed messages (feature `json`).
#[cfg(feature = "json")]
mod typed {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Chat {
        from: String,
        text: String,
    }

    /// With an envelope configured, `run_router` receives every message and its handlers run
    /// (the session used to decode them into events `recv` skipped, so a router heard nothing).
    fn the_router_runs_with_an_envelope<R: Runtime>() {
        use std::sync::{Arc, Mutex};

        use resock::AsyncRouter;
        use resock_core::session::{ClosedReason, Error, SessionEvent};
        use resock_core::typed::JsonEnvelope;
        const CHATS: usize = 3;
        let server = Server::start(|_, stream| {
            let mut ws = accept(stream);
            for n in 0..CHATS {
                let chat = Chat {
                    from: "server".into(),
                    text: format!("hi {n}"),
                };
                let message = JsonEnvelope::new().encode("chat", &chat, None).unwrap();
                ws.send(tungstenite::Message::text(message.as_text().unwrap())).unwrap();
            }
            ws.send(tungstenite::Message::text("not json")).unwrap();
            ws.close(None).unwrap();
            read_until_closed(&mut ws);
        });
        let (client, []) = R::start_subscribed::<0>(builder(&server).envelope(JsonEnvelope::new()));
        let mut errors = client.subscribe();
        R::block_on(async {
            type Texts = Arc<Mutex<Vec<String>>>;
            let texts = Texts::default();
            let mut router = AsyncRouter::new(client.envelope().clone());
            router.on("chat", |texts: Texts, chat: Chat| async move {
                futures_lite::future::yield_now().await; // an async handler
                texts.lock().unwrap().push(chat.text);
            });
            let routing = client.run_router(&mut router, Arc::clone(&texts));
            let closed = R::within("the router to end with the session", routing).await;
            assert!(
                matches!(closed, ClosedReason::Fatal(_) | ClosedReason::User),
                "{closed}"
            );
            assert_eq!(*texts.lock().unwrap(), ["hi 0", "hi 1", "hi 2"]);
            // Without a fallback, the text that is not JSON reaches subscribers as an error.
            let mut raws = Vec::new();
            while let Some(event) = errors.next().await {
                if let Ok(SessionEvent::Error(Error::Decode(error))) = event {
                    raws.push(error.raw);
                }
            }
            assert_eq!(raws, ["not json"]);
        });
    }

    on_async_runtimes!(the_router_runs_with_an_envelope);
}
