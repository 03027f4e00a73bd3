//! Typed JSON messages through a session: `send_typed` writes the envelope, received envelopes
//! arrive as `Typed` events, and a message that does not decode is an `Error::Decode` event
//! carrying the raw text, while the connection stays open.

use std::time::{Duration, UNIX_EPOCH};

use resock_core::session::{Error, SessionEvent};
use resock_core::typed::{DecodeErrorKind, JsonEnvelope, Router};
use resock_core::{Message, SessionState};
use resock_tests::pair::Pair;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Chat {
    user: String,
    text: String,
}

#[test]
fn typed_round_trip_and_decode_failures_leave_the_connection_alone() {
    let mut config = Pair::config();
    config.envelope = Some(JsonEnvelope::new());
    let mut pair = Pair::new(config);
    assert!(pair.run_until_open(Duration::from_secs(1)));
    let at = UNIX_EPOCH + Duration::from_millis(1_764_133_351_000);
    let chat = Chat {
        user: "ada".into(),
        text: "hello".into(),
    };
    pair.session.send_typed("chat", &chat, Some(at)).unwrap();
    pair.send(Message::text("{not json"));
    pair.send(Message::text(r#"{"type":"chat","data":{"user":1}}"#));
    pair.run_for(Duration::from_millis(100));

    assert_eq!(
        pair.server_texts()[0],
        r#"{"type":"chat","data":{"user":"ada","text":"hello"},"timestamp":"2025-11-26T05:02:31.000Z"}"#
    );
    let mut typed = Vec::new();
    let mut decode_errors = Vec::new();
    for (_, event) in &pair.events {
        match event {
            SessionEvent::Typed(envelope) => typed.push(envelope.clone()),
            SessionEvent::Error(Error::Decode(e)) => decode_errors.push((e.raw.clone(), format!("{:?}", e.kind))),
            _ => {}
        }
    }
    assert_eq!(typed.len(), 2, "the echo of the chat and of the badly shaped chat");
    assert_eq!(typed[0].ty, "chat");
    assert_eq!(typed[0].data::<Chat>().unwrap(), chat);
    assert!(typed[1].data::<Chat>().is_err());
    assert_eq!(decode_errors.len(), 1);
    assert_eq!(decode_errors[0].0, "{not json");
    assert!(decode_errors[0].1.starts_with("Json"));
    assert_eq!(
        *pair.session.state(),
        SessionState::Open,
        "decode failures never harm the connection"
    );

    let mut router: Router<Vec<Chat>> = Router::new(JsonEnvelope::new());
    router.on("chat", |chats: &mut Vec<Chat>, chat: Chat| chats.push(chat));
    let mut chats = Vec::new();
    let echoed = Message::text(pair.server_texts()[0].clone());
    router.dispatch(&mut chats, &echoed).unwrap();
    let bad = router.dispatch(&mut chats, &Message::text(r#"{"type":"chat","data":{"user":1}}"#));
    assert!(matches!(bad.unwrap_err().kind, DecodeErrorKind::Data { .. }));
    assert_eq!(chats.len(), 1);
}
