//! `json_envelope`: the typed-message decoder, the plain JSON codec, the router, and the RFC 3339
//! formatter.
//!
//! Input: a selector byte (field names, binary handling), 12 bytes of timestamp (i64 seconds
//! from the epoch, u32 nanoseconds), then the message payload.

use std::time::{Duration, UNIX_EPOCH};

use resock_core::Message;
use resock_core::typed::{
    Codec, DecodeErrorKind, Dispatched, EncodeError, EnvelopeFields, Json, JsonEnvelope, Router, format_rfc3339,
};
use serde_json::Value;

/// Field names by selector: default, short without timestamp, renamed, and a duplicate (which
/// `encode` must refuse).
pub fn fields(sel: u8) -> EnvelopeFields {
    let make = |t: &str, d: &str, ts: Option<&str>| EnvelopeFields {
        type_field: t.into(),
        data_field: d.into(),
        timestamp_field: ts.map(Into::into),
    };
    match sel & 3 {
        0 => EnvelopeFields::default(),
        1 => make("t", "d", None),
        2 => make("kind", "payload", Some("ts")),
        _ => make("x", "x", None),
    }
}

#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
struct Chat {
    text: String,
    #[serde(default)]
    room: Option<u32>,
}

/// The target body.
pub fn json_envelope(data: &[u8]) {
    let [sel, t @ ..] = data else { return };
    if t.len() < 12 {
        return;
    }
    let (time, payload) = t.split_at(12);
    check_time(time);
    let mut codec = JsonEnvelope::with_fields(fields(*sel));
    codec.accept_binary = sel & 4 != 0;
    let message = match (sel & 8 != 0, std::str::from_utf8(payload)) {
        (false, Ok(text)) => Message::text(text),
        _ => Message::binary(payload.to_vec()),
    };
    let duplicate = sel & 3 == 3;

    let decoded = codec.decode_envelope(&message);
    match &decoded {
        Ok(envelope) => {
            assert!(
                message.is_text() || codec.accept_binary,
                "binary decoded without accept_binary"
            );
            // What decodes re-encodes, and decodes to the same envelope again.
            match codec.encode(&envelope.ty, &envelope.data, None) {
                Ok(again) => {
                    let back = codec
                        .decode_envelope(&again)
                        .expect("re-encoded envelope did not decode");
                    assert_eq!(back.ty, envelope.ty);
                    assert!(
                        json_eq(&back.data, &envelope.data),
                        "data changed: {:?} vs {:?}",
                        back.data,
                        envelope.data
                    );
                    assert_eq!(back.timestamp, None);
                }
                Err(EncodeError::DuplicateFieldName(_)) => assert!(duplicate),
                Err(e) => panic!("encode failed: {e}"),
            }
            let _ = envelope.data::<Chat>();
            let _ = envelope.data::<Vec<i64>>();
        }
        Err(e) => {
            let raw = match &message {
                Message::Text(t) => t.as_str().to_owned(),
                Message::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            };
            assert_eq!(e.raw, raw, "DecodeError::raw is not the message");
            if matches!(e.kind, DecodeErrorKind::Binary) {
                assert!(!message.is_text() && !codec.accept_binary);
            }
            let _ = e.to_string();
        }
    }
    // The trait method is the inherent one.
    assert_eq!(Codec::decode(&codec, &message).is_ok(), decoded.is_ok());

    // The router decodes the same way and runs at most one handler.
    let mut router = Router::<Vec<&'static str>>::new(codec.clone());
    router
        .on("chat", |log: &mut Vec<&'static str>, _chat: Chat| log.push("chat"))
        .on("n", |log: &mut Vec<&'static str>, _n: u64| log.push("n"));
    if sel & 16 != 0 {
        router.fallback(|log, _unrouted| log.push("fallback"));
    }
    let mut log = Vec::new();
    match (router.dispatch(&mut log, &message), &decoded) {
        (Ok(Dispatched::Undecodable(ty)), decoded) => {
            // Only with a fallback, which got the error and nothing else ran.
            assert!(sel & 16 != 0);
            assert_eq!(log, ["fallback"]);
            if let Ok(envelope) = decoded {
                assert_eq!(ty, envelope.ty, "the data of a registered type failed");
            }
        }
        (Ok(dispatched), Ok(envelope)) => {
            assert_eq!(dispatched.ty(), envelope.ty);
            match dispatched {
                Dispatched::Handled(_) => assert_eq!(log.len(), 1),
                Dispatched::Fallback(_) => assert_eq!(log, ["fallback"]),
                Dispatched::Unhandled(_) => assert!(log.is_empty() && sel & 16 == 0),
                _ => {}
            }
        }
        (Err(e), Ok(envelope)) => {
            // Only the data of a registered type can fail after the envelope decoded, and only
            // without a fallback does the error come back.
            assert!(sel & 16 == 0);
            assert!(matches!(e.kind, DecodeErrorKind::Data { .. }), "{e}");
            assert_eq!(e.ty(), Some(envelope.ty.as_str()));
            assert!(log.is_empty());
        }
        (Ok(d), Err(_)) => panic!("router dispatched {d:?} a message the codec refused"),
        (Err(_), Err(_)) => assert!(log.is_empty() && sel & 16 == 0),
    }

    // The plain codec never panics either.
    let _ = Json::<Value>::new().accept_binary(codec.accept_binary).decode(&message);
    let _ = Json::<Vec<Chat>, Value>::new().decode(&message);
}

/// JSON equality where numbers compare as numbers (a float may not print and parse back to the
/// same bits without serde_json's `float_roundtrip`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => x == y || ((x - y) / x.abs().max(y.abs())).abs() < 1e-12,
                    _ => false,
                }
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// `format_rfc3339` never panics, and what it writes has the RFC 3339 shape.
fn check_time(bytes: &[u8]) {
    let secs = i64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let nanos = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) % 1_000_000_000;
    let offset = Duration::new(secs.unsigned_abs(), nanos);
    let at = if secs >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    };
    let Some(at) = at else { return };
    if let Some(text) = format_rfc3339(at) {
        let b = text.as_bytes();
        assert_eq!(b.len(), 24, "{text}");
        for (i, c) in b.iter().enumerate() {
            let ok = match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'.',
                23 => *c == b'Z',
                _ => c.is_ascii_digit(),
            };
            assert!(ok, "{text}");
        }
        let field = |r: std::ops::Range<usize>| text[r].parse::<u32>().expect("digits");
        assert!(
            (1..=12).contains(&field(5..7)) && (1..=31).contains(&field(8..10)),
            "{text}"
        );
        assert!(field(11..13) < 24 && field(14..16) < 60 && field(17..19) < 60, "{text}");
    }
    // A time a whole day later formats too (unless it leaves the range) and differs.
    let _ = at.checked_add(Duration::from_secs(86_400)).map(format_rfc3339);
}
