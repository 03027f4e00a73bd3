//! Typed JSON with the blocking client: `send_typed` in the builder's envelope, raw messages to
//! listeners and `recv`, and `run_router` dispatching by type with replies from the handlers.
#![cfg(all(feature = "blocking", feature = "json"))]

mod support;

use std::sync::mpsc;

use resock::core::session::{ReconnectPolicy, SessionEvent};
use resock::core::typed::{EnvelopeFields, JsonEnvelope, Router, Unrouted};
use resock::{ClientBuilder, CloseCode};
use serde::{Deserialize, Serialize};
use tungstenite::Message as WsMessage;

use support::ws_server::{Server, accept, echo};
use support::{PATIENCE, expect_event, expect_open};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chat {
    from: String,
    text: String,
}

fn echo_server() -> Server {
    Server::local(|stream| {
        if let Some(mut ws) = accept(stream) {
            echo(&mut ws);
        }
    })
}

#[test]
fn send_typed_writes_the_builders_envelope_and_listeners_get_the_raw_replies() {
    let server = echo_server();
    let fields = EnvelopeFields {
        type_field: "kind".into(),
        ..EnvelopeFields::default()
    };
    let envelope = JsonEnvelope::with_fields(fields);
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .envelope(envelope.clone())
        .connect_blocking()
        .unwrap();
    expect_open(&mut client);
    let chat = Chat {
        from: "ann".into(),
        text: "hi \"there\"".into(),
    };
    client.send_typed("chat", &chat).unwrap();
    // Listeners see the message as received; the builder's envelope decodes it.
    let event = expect_event(&mut client, "Message", |e| matches!(e, SessionEvent::Message(_)));
    let SessionEvent::Message(message) = event else {
        unreachable!()
    };
    let decoded = envelope.decode_envelope(&message).unwrap();
    assert_eq!(decoded.ty, "chat");
    assert_eq!(decoded.data::<Chat>().unwrap(), chat);
    assert!(
        decoded.timestamp.as_deref().is_some_and(|t| t.ends_with('Z')),
        "{:?}",
        decoded.timestamp
    );
    assert!(message.as_text().unwrap().contains(r#""kind":"chat""#));

    // Text that is not an envelope reaches recv untouched, and the connection stays up.
    client.send_text("not json").unwrap();
    let mut texts = Vec::new();
    while texts.len() < 2 {
        let message = client.recv().unwrap();
        texts.push(message.as_text().unwrap().to_owned());
    }
    assert!(texts[0].contains(r#""kind":"chat""#), "{texts:?}");
    assert_eq!(texts[1], "not json");
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

#[test]
fn run_router_dispatches_by_type_and_handlers_can_reply() {
    let (tx, from_client) = mpsc::channel::<String>();
    let server = Server::local(move |stream| {
        let Some(mut ws) = accept(stream) else { return };
        let script = [
            r#"{"type":"chat","data":{"from":"bob","text":"hello"}}"#,
            r#"{"type":"presence","data":"online"}"#,
            r#"{"type":"chat","data":{"wrong":"shape"}}"#,
            r#"{"type":"bye"}"#,
        ];
        for line in script {
            ws.send(WsMessage::text(line)).ok();
        }
        // The router's reply to the chat, then the client's close.
        while let Ok(message) = ws.read() {
            if let WsMessage::Text(text) = message {
                tx.send(text.to_string()).ok();
            }
        }
    });
    let mut client = ClientBuilder::new(&server.url("/"))
        .unwrap()
        .reconnect(ReconnectPolicy::disabled())
        .connect_blocking()
        .unwrap();
    let (log_tx, log) = mpsc::channel::<String>();
    let mut router = Router::new(JsonEnvelope::new());
    let chats = log_tx.clone();
    router
        .on(
            "chat",
            move |client: &mut resock::blocking_client::Client, chat: Chat| {
                chats.send(format!("chat from {}: {}", chat.from, chat.text)).unwrap();
                let reply = Chat {
                    from: "me".into(),
                    text: format!("hi {}", chat.from),
                };
                client.send_typed("chat", &reply).unwrap();
            },
        )
        .on("bye", |client: &mut resock::blocking_client::Client, _: ()| {
            client.close(CloseCode::NORMAL, "bye");
        });
    let others = log_tx.clone();
    router.fallback(move |_, unrouted| {
        let line = match unrouted {
            Unrouted::UnknownType(envelope) => format!("fallback {}", envelope.ty),
            Unrouted::Undecodable(error) => format!("undecodable {}", error.raw),
        };
        others.send(line).unwrap();
    });
    let closed = client.run_router(&mut router);
    assert_eq!(closed, resock::ClosedReason::User, "the bye handler closed");
    drop(log_tx);

    assert!(client.is_closed());
    let log: Vec<String> = log.try_iter().collect();
    assert_eq!(
        log,
        [
            "chat from bob: hello",
            "fallback presence",
            r#"undecodable {"type":"chat","data":{"wrong":"shape"}}"#
        ]
    );
    // With a fallback, nothing is published as an error event.
    while let Some(event) = client.next_event() {
        assert!(!matches!(event, SessionEvent::Error(_)), "{event:?}");
    }
    drop(client);
    server.stop();
    let reply = from_client.recv_timeout(PATIENCE).expect("the handler's reply");
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["type"], "chat");
    assert_eq!(reply["data"], serde_json::json!({"from": "me", "text": "hi bob"}));
}
