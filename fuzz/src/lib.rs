//! Fuzz target bodies for resock-core.
//!
//! Each public function is one libFuzzer target (`fuzz_targets/<name>.rs` only calls it) and is
//! also what the stable test `tests/replay_corpus.rs` runs on every file of `corpus/<name>/`, so a
//! crash found on nightly stays a regression test on stable. Every function takes arbitrary
//! bytes and panics only when resock breaks an invariant.
//!
//! | target | what reads network bytes | input layout |
//! |---|---|---|
//! | [`frame_decode`] | `frame::decode_header` (both roles), encoder, masking | [`frame`] |
//! | [`handshake_response`] | `ClientHandshake::feed` / `feed_eof`, `retry_after` | [`handshake`] |
//! | [`handshake_request`] | `ServerHandshake::feed`, `Connection::server` | [`handshake`] |
//! | [`message_stream`] | `Connection::handle_input` after the handshake, both roles | [`stream`] |
//! | [`json_envelope`] | `JsonEnvelope::decode_envelope`, `Json`, `Router`, RFC 3339 | [`json`] |
//! | [`session_script`] | `Session` as a sequence of steps | [`session`] |
//! | [`proxy_handshake`] | `ProxyHandshake` (HTTP `CONNECT`, SOCKS5) reading a proxy's answer | [`proxy`] |
//! | [`differential`] | resock vs tungstenite on one stream | [`differential`](mod@differential) |
//! | [`deflate_stream`] | a client with permessage-deflate agreed: inflating, RSV1, limits | [`deflate`] |
//! | [`deflate_roundtrip`] | resock's compressor against its inflater and bare flate2 | [`deflate_roundtrip`](mod@deflate_roundtrip) |
//! | [`url_join`] | `WsUrl::parse`, and `WsUrl::join` of a redirect's `Location` | [`url`] |

pub mod deflate;
pub mod deflate_roundtrip;
pub mod deflate_seeds;
pub mod differential;
pub mod frame;
pub mod handshake;
pub mod json;
pub mod proxy;
pub mod seeds;
pub mod session;
pub mod stream;
pub mod url;
pub mod util;

pub use deflate::deflate_stream;
pub use deflate_roundtrip::deflate_roundtrip;
pub use differential::differential;
pub use frame::frame_decode;
pub use handshake::{handshake_request, handshake_response};
pub use json::json_envelope;
pub use proxy::proxy_handshake;
pub use session::session_script;
pub use stream::message_stream;
pub use url::url_join;

/// A target body.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus replay and the seed writer.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame_decode", frame_decode),
    ("handshake_response", handshake_response),
    ("handshake_request", handshake_request),
    ("message_stream", message_stream),
    ("json_envelope", json_envelope),
    ("session_script", session_script),
    ("differential", differential),
    ("proxy_handshake", proxy_handshake),
    ("deflate_stream", deflate_stream),
    ("deflate_roundtrip", deflate_roundtrip),
    ("url_join", url_join),
];
