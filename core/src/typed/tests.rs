use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::*;
use crate::message::Message;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chat {
    room: String,
    text: String,
    mentions: Vec<User>,
    reply_to: Option<u64>,
    meta: BTreeMap<String, Vec<i32>>,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Kind {
    Plain,
    Quote { author: String },
}

fn chat() -> Chat {
    Chat {
        room: "lobby".into(),
        text: "hé \"quoted\" \n\u{1F600}".into(),
        mentions: vec![
            User {
                id: 1,
                name: "ann".into(),
            },
            User {
                id: u64::MAX,
                name: "bo".into(),
            },
        ],
        reply_to: None,
        meta: BTreeMap::from([("a".into(), vec![-1, 0, i32::MAX]), ("b".into(), vec![])]),
        kind: Kind::Quote { author: "cy".into() },
    }
}

fn custom_fields() -> EnvelopeFields {
    EnvelopeFields {
        type_field: "op".into(),
        data_field: "d".into(),
        timestamp_field: Some("ts".into()),
    }
}

const AT: u64 = 1_795_669_351_123; // 2026-11-26T05:02:31.123Z in milliseconds

fn at() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(AT)
}

#[test]
fn nested_data_round_trips() {
    let codec = JsonEnvelope::new();
    let message = codec.encode("chat", &chat(), Some(at())).unwrap();
    assert!(message.is_text());
    let envelope = codec.decode_envelope(&message).unwrap();
    assert_eq!(envelope.ty, "chat");
    assert_eq!(envelope.timestamp.as_deref(), Some("2026-11-26T05:02:31.123Z"));
    assert_eq!(envelope.data::<Chat>().unwrap(), chat());
}

#[test]
fn default_envelope_is_type_data_timestamp_in_order() {
    let codec = JsonEnvelope::new();
    let message = codec.encode("ping", &json!({"n": 1}), Some(at())).unwrap();
    assert_eq!(
        message,
        Message::text(r#"{"type":"ping","data":{"n":1},"timestamp":"2026-11-26T05:02:31.123Z"}"#)
    );
    let untimed = codec.encode("ping", &json!(null), None).unwrap();
    assert_eq!(untimed, Message::text(r#"{"type":"ping","data":null}"#));
}

#[test]
fn custom_field_names() {
    let codec = JsonEnvelope::with_fields(custom_fields());
    let message = codec.encode("hello", &[1, 2], Some(UNIX_EPOCH)).unwrap();
    assert_eq!(
        message,
        Message::text(r#"{"op":"hello","d":[1,2],"ts":"1970-01-01T00:00:00.000Z"}"#)
    );
    let envelope = codec.decode_envelope(&message).unwrap();
    assert_eq!(
        envelope,
        Envelope {
            ty: "hello".into(),
            data: json!([1, 2]),
            timestamp: Some("1970-01-01T00:00:00.000Z".into()),
        }
    );
    let default = JsonEnvelope::new().decode_envelope(&message).unwrap_err();
    assert!(matches!(default.kind, DecodeErrorKind::MissingType));
}

#[test]
fn no_timestamp_field_means_none_written_or_read() {
    let codec = JsonEnvelope::with_fields(EnvelopeFields {
        timestamp_field: None,
        ..EnvelopeFields::default()
    });
    let message = codec.encode("x", "y", Some(at())).unwrap();
    assert_eq!(message, Message::text(r#"{"type":"x","data":"y"}"#));
    let stamped = Message::text(r#"{"type":"x","data":"y","timestamp":"2026-11-26T05:02:31.123Z"}"#);
    assert_eq!(codec.decode_envelope(&stamped).unwrap().timestamp, None);
}

#[test]
fn duplicate_field_names_are_refused() {
    for (ty, data, ts) in [("a", "a", None), ("a", "b", Some("a")), ("a", "b", Some("b"))] {
        let codec = JsonEnvelope::with_fields(EnvelopeFields {
            type_field: ty.into(),
            data_field: data.into(),
            timestamp_field: ts.map(Into::into),
        });
        let error = codec.encode("t", &1, Some(at())).unwrap_err();
        assert!(matches!(error, EncodeError::DuplicateFieldName(_)), "{error}");
    }
}

#[test]
fn encode_errors() {
    let codec = JsonEnvelope::new();
    let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
    assert!(matches!(
        codec.encode("t", &1, Some(far)),
        Err(EncodeError::TimestampOutOfRange)
    ));
    assert!(
        codec.encode("t", &1, None).is_ok(),
        "the time is not formatted when not written"
    );
    let bad_keys = HashMap::from([(vec![1u8], 1)]);
    assert!(matches!(codec.encode("t", &bad_keys, None), Err(EncodeError::Json(_))));
}

#[test]
fn decode_lenient_parts() {
    let codec = JsonEnvelope::new();
    let bare = codec.decode_envelope(&Message::text(r#"{"type":"ping"}"#)).unwrap();
    assert_eq!(bare.data, Value::Null);
    assert_eq!(bare.timestamp, None);
    assert_eq!(bare.data::<()>().unwrap(), ());
    let extra = Message::text(r#"{"id":7,"timestamp":1700000000000,"data":true,"type":"t"}"#);
    let envelope = codec.decode_envelope(&extra).unwrap();
    assert_eq!(envelope.data, json!(true));
    assert_eq!(envelope.timestamp.as_deref(), Some("1700000000000"));
    let null_ts = Message::text(r#"{"type":"t","timestamp":null}"#);
    assert_eq!(codec.decode_envelope(&null_ts).unwrap().timestamp, None);
}

fn decode_error(text: &str) -> DecodeError {
    JsonEnvelope::new().decode_envelope(&Message::text(text)).unwrap_err()
}

#[test]
fn decode_failures_keep_the_raw_text() {
    type IsKind = fn(&DecodeErrorKind) -> bool;
    let cases: [(&str, IsKind); 6] = [
        (r#"{"type":"chat","data":"#, |k| matches!(k, DecodeErrorKind::Json(_))),
        ("not json", |k| matches!(k, DecodeErrorKind::Json(_))),
        (r#"["type","chat"]"#, |k| matches!(k, DecodeErrorKind::NotObject)),
        (r#"{"data":{}}"#, |k| matches!(k, DecodeErrorKind::MissingType)),
        (r#"{"type":7,"data":{}}"#, |k| {
            matches!(k, DecodeErrorKind::TypeNotString)
        }),
        (r#"{"type":null}"#, |k| matches!(k, DecodeErrorKind::TypeNotString)),
    ];
    for (text, is_kind) in cases {
        let error = decode_error(text);
        assert!(is_kind(&error.kind), "{text}: {error}");
        assert_eq!(error.raw, text);
        assert_eq!(error.ty(), None);
    }
    let invalid = decode_error("{");
    assert!(invalid.serde_error().is_some());
    assert!(
        invalid.to_string().starts_with("the message is not valid JSON: "),
        "{invalid}"
    );
}

#[test]
fn binary_messages_are_refused_unless_accepted() {
    let message = Message::binary(&br#"{"type":"t","data":1}"#[..]);
    let error = JsonEnvelope::new().decode_envelope(&message).unwrap_err();
    assert!(matches!(error.kind, DecodeErrorKind::Binary));
    assert_eq!(error.raw, r#"{"type":"t","data":1}"#);

    let not_utf8 = Message::binary(vec![b'{', 0xff, b'}']);
    assert_eq!(
        JsonEnvelope::new().decode_envelope(&not_utf8).unwrap_err().raw,
        "{\u{FFFD}}"
    );

    let lenient = JsonEnvelope {
        accept_binary: true,
        ..JsonEnvelope::new()
    };
    assert_eq!(lenient.decode_envelope(&message).unwrap().data, json!(1));
    let error = lenient.decode_envelope(&not_utf8).unwrap_err();
    assert!(matches!(error.kind, DecodeErrorKind::Json(_)));
}

#[test]
fn data_of_the_wrong_shape() {
    let envelope = JsonEnvelope::new()
        .decode_envelope(&Message::text(r#"{"type":"user","data":{"id":"x"}}"#))
        .unwrap();
    let error = envelope.data::<User>().unwrap_err();
    assert_eq!(error.ty(), Some("user"));
    assert_eq!(error.raw, r#"{"id":"x"}"#);
    assert!(error.serde_error().is_some());
}

#[test]
fn codec_trait_is_usable_generically() {
    fn round_trip<C: Codec>(codec: &C, value: &C::Outgoing) -> C::Incoming {
        codec.decode(&codec.encode(value, Some(UNIX_EPOCH)).unwrap()).unwrap()
    }
    let envelope = round_trip(&JsonEnvelope::new(), &OutgoingEnvelope::new("t", json!({"k": [1]})));
    assert_eq!(envelope.ty, "t");
    assert_eq!(envelope.data, json!({"k": [1]}));
    assert_eq!(envelope.timestamp.as_deref(), Some("1970-01-01T00:00:00.000Z"));

    assert_eq!(round_trip(&Json::<Chat>::new(), &chat()), chat());
    let unsized_out: Json<String, str> = Json::new();
    assert_eq!(round_trip(&unsized_out, "text"), "text");
}

#[test]
fn plain_json_codec() {
    let codec = Json::<User>::new();
    let message = codec
        .encode(
            &User {
                id: 3,
                name: "d".into(),
            },
            None,
        )
        .unwrap();
    assert_eq!(message, Message::text(r#"{"id":3,"name":"d"}"#));

    let wrong = Message::text(r#"{"id":3}"#);
    let error = codec.decode(&wrong).unwrap_err();
    assert!(matches!(error.kind, DecodeErrorKind::Json(_)));
    assert_eq!(error.raw, r#"{"id":3}"#);

    let binary = Message::binary(&br#"{"id":3,"name":"d"}"#[..]);
    assert!(matches!(
        codec.decode(&binary).unwrap_err().kind,
        DecodeErrorKind::Binary
    ));
    assert_eq!(codec.accept_binary(true).decode(&binary).unwrap().id, 3);
}

#[derive(Debug, Default)]
struct Seen {
    chats: Vec<Chat>,
    pings: u32,
    other: Vec<Envelope>,
    bad: Vec<DecodeError>,
}

fn fallback(seen: &mut Seen, unrouted: Unrouted) {
    match unrouted {
        Unrouted::UnknownType(envelope) => seen.other.push(envelope),
        Unrouted::Undecodable(error) => seen.bad.push(error),
    }
}

fn router() -> Router<Seen> {
    let mut router = Router::new(JsonEnvelope::new());
    router
        .on("chat", |seen: &mut Seen, chat: Chat| seen.chats.push(chat))
        .on("ping", |seen: &mut Seen, (): ()| seen.pings += 1);
    router
}

fn envelope(ty: &str, data: &impl Serialize) -> Message {
    JsonEnvelope::new().encode(ty, data, Some(at())).unwrap()
}

#[test]
fn router_dispatches_by_type() {
    let mut router = router();
    let mut seen = Seen::default();
    assert_eq!(
        router.dispatch(&mut seen, &envelope("chat", &chat())).unwrap(),
        Dispatched::Handled("chat".into())
    );
    assert_eq!(router.dispatch(&mut seen, &envelope("ping", &())).unwrap().ty(), "ping");
    assert_eq!(seen.chats, [chat()]);
    assert_eq!(seen.pings, 1);
    assert!(router.handles("chat") && !router.handles("pong"));
    assert_eq!(router.codec(), &JsonEnvelope::new());
}

#[test]
fn router_replaces_a_handler() {
    let mut router = router();
    router.on("ping", |seen: &mut Seen, n: u32| seen.pings += 100 * n);
    let mut seen = Seen::default();
    router.dispatch(&mut seen, &envelope("ping", &2)).unwrap();
    assert_eq!(seen.pings, 200);
}

#[test]
fn router_unhandled_then_fallback() {
    let mut router = router();
    let mut seen = Seen::default();
    let presence = envelope("presence", &json!({"online": true}));
    assert_eq!(
        router.dispatch(&mut seen, &presence).unwrap(),
        Dispatched::Unhandled("presence".into())
    );
    router.fallback(fallback);
    assert_eq!(
        router.dispatch(&mut seen, &presence).unwrap(),
        Dispatched::Fallback("presence".into())
    );
    assert_eq!(
        seen.other,
        [Envelope {
            ty: "presence".into(),
            data: json!({"online": true}),
            timestamp: Some("2026-11-26T05:02:31.123Z".into()),
        }]
    );
}

#[test]
fn router_data_of_the_wrong_shape_calls_no_handler() {
    let mut router = router();
    let mut seen = Seen::default();
    let text = r#"{"type":"chat","data":{"room":"lobby"}}"#;
    let error = router.dispatch(&mut seen, &Message::text(text)).unwrap_err();
    assert_eq!(error.raw, text, "the whole message text is kept");
    assert_eq!(error.ty(), Some("chat"));
    assert!(matches!(&error.kind, DecodeErrorKind::Data { ty, .. } if ty == "chat"));
    assert!(seen.chats.is_empty() && seen.other.is_empty());

    let error = router.dispatch(&mut seen, &Message::text("{oops")).unwrap_err();
    assert!(matches!(error.kind, DecodeErrorKind::Json(_)));
    assert_eq!(error.raw, "{oops");
    assert!(seen.other.is_empty());

    assert_eq!(router.dispatch(&mut seen, &envelope("ping", &())).unwrap().ty(), "ping");
    assert_eq!(seen.pings, 1, "the router keeps working after failures");
}

#[test]
fn with_a_fallback_no_message_disappears() {
    let mut router = router();
    router.fallback(fallback);
    let mut seen = Seen::default();
    let text = r#"{"type":"chat","data":{"room":"lobby"}}"#;
    assert_eq!(
        router.dispatch(&mut seen, &Message::text(text)).unwrap(),
        Dispatched::Undecodable("chat".into())
    );
    assert_eq!(
        router.dispatch(&mut seen, &Message::text("{oops")).unwrap(),
        Dispatched::Undecodable(String::new())
    );
    assert_eq!(
        router.dispatch(&mut seen, &Message::binary(&b"{}"[..])).unwrap(),
        Dispatched::Undecodable(String::new())
    );
    let raws: Vec<&str> = seen.bad.iter().map(|e| e.raw.as_str()).collect();
    assert_eq!(raws, [text, "{oops", "{}"]);
    assert!(matches!(&seen.bad[0].kind, DecodeErrorKind::Data { ty, .. } if ty == "chat"));
    assert!(matches!(seen.bad[1].kind, DecodeErrorKind::Json(_)));
    assert!(matches!(seen.bad[2].kind, DecodeErrorKind::Binary));
    assert!(seen.chats.is_empty() && seen.other.is_empty());
}

#[test]
fn a_handler_can_take_the_type_and_timestamp_too() {
    let mut router = Router::<Vec<(String, Option<String>, String)>>::new(JsonEnvelope::new());
    router.on("chat", |log: &mut Vec<_>, chat: Incoming<Chat>| {
        // Fields of the data read through the wrapper.
        let text = chat.text.clone();
        log.push((chat.ty, chat.timestamp, text));
    });
    let mut log = Vec::new();
    router.dispatch(&mut log, &envelope("chat", &chat())).unwrap();
    assert_eq!(
        log,
        [(
            "chat".to_owned(),
            Some("2026-11-26T05:02:31.123Z".to_owned()),
            chat().text
        )]
    );
    let untimed = JsonEnvelope::new().encode("chat", &chat(), None).unwrap();
    router.dispatch(&mut log, &untimed).unwrap();
    assert_eq!(log[1].1, None);
}

#[test]
fn router_is_send_and_takes_a_borrowing_context() {
    fn assert_send<T: Send>(_: &T) {}
    let router = router();
    assert_send(&router);
    assert!(format!("{router:?}").contains(r#"types: ["chat", "ping"]"#));

    let mut total = 0u64;
    {
        let mut borrowing: Router<&mut u64> = Router::default();
        borrowing.on("add", |sum: &mut &mut u64, n: u64| **sum += n);
        let mut ctx = &mut total;
        borrowing.dispatch(&mut ctx, &envelope("add", &5)).unwrap();
        borrowing.dispatch(&mut ctx, &envelope("add", &6)).unwrap();
    }
    assert_eq!(total, 11);
}

proptest! {
    #[test]
    fn envelope_round_trip_is_identity(
        ty in any::<String>(),
        text in any::<String>(),
        signed in any::<i64>(),
        unsigned in any::<u64>(),
        list in proptest::collection::vec(any::<String>(), 0..4),
        millis in 0u64..253_402_300_800_000,
    ) {
        let codec = JsonEnvelope::new();
        let data = (text, signed, unsigned, list);
        let at = UNIX_EPOCH + Duration::from_millis(millis);
        let envelope = codec.decode_envelope(&codec.encode(&ty, &data, Some(at)).unwrap()).unwrap();
        prop_assert_eq!(&envelope.ty, &ty);
        prop_assert_eq!(envelope.timestamp.clone(), format_rfc3339(at));
        prop_assert_eq!(envelope.data::<(String, i64, u64, Vec<String>)>().unwrap(), data);
    }

    #[test]
    fn plain_json_round_trip_is_identity(map in proptest::collection::btree_map(any::<String>(), any::<i64>(), 0..8)) {
        let codec = Json::<BTreeMap<String, i64>>::new();
        prop_assert_eq!(codec.decode(&codec.encode(&map, None).unwrap()).unwrap(), map);
    }
}
