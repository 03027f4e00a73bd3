//! Negotiated extensions (RFC 6455 §9): the `Sec-WebSocket-Extensions` grammar and
//! permessage-deflate (RFC 7692).
//!
//! The extension is a layer of the connection: negotiation runs with the opening handshake
//! (client offer and response check, server choice among offers), the frame layer carries
//! RSV1, and the transform sits between frames and messages with its own limits: inflating
//! happens as payload bytes arrive, the inflated size is checked against `max_message_size`
//! as it grows, and text is validated as UTF-8 on the inflated bytes. Compression needs the
//! `deflate` feature (on by default, flate2 with its pure-Rust zlib-rs backend); without it
//! nothing is offered or accepted.

#[cfg(feature = "deflate")]
pub(crate) mod compress;
mod deflate_params;
mod header;
#[cfg(feature = "deflate")]
pub(crate) mod inflate;

#[cfg(feature = "deflate")]
pub(crate) use deflate_params::choose_offer;
pub use deflate_params::{DeflateConfig, DeflateParams, PERMESSAGE_DEFLATE, WINDOW_BITS};
pub(crate) use deflate_params::{ResponseError, check_response};
