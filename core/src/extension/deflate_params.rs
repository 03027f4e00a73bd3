//! permessage-deflate (RFC 7692) settings and negotiation: what we offer or accept
//! ([`DeflateConfig`]), what both ends agreed ([`DeflateParams`]), the client's offer and
//! response check, and the server's choice among offers.

use std::fmt;

use super::header::{ExtensionOffer, parse_extensions};
use crate::session::ConfigError;

/// The extension's registered name.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The smallest and largest LZ77 window sizes (as a power of two) RFC 7692 allows.
pub const WINDOW_BITS: std::ops::RangeInclusive<u8> = 8..=15;

/// What this endpoint asks for or accepts with permessage-deflate (RFC 7692), and how it
/// compresses. The same settings serve both roles.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `threshold` | 256 bytes | shorter messages go out uncompressed (as Node ws does) |
/// | `level` | 6 | zlib level, 0 (store) to 9 (best) |
/// | `server_no_context_takeover` | false | the server resets its compressor after every message |
/// | `client_no_context_takeover` | false | the client resets its compressor after every message |
/// | `server_max_window_bits` | 15 | largest LZ77 window the server may use, 8-15 |
/// | `client_max_window_bits` | 15 | largest LZ77 window the client may use, 8-15 |
///
/// A client offers the parameters it sets (and always `client_max_window_bits`, so a server
/// may limit its window); a server accepts the first offer it can honour, adding its own
/// settings. Memory per connection (measured by `tests/tests/deflate_memory.rs`): nothing
/// until the first compressed message; then, with context takeover, the inflater keeps about
/// 46 KiB (a 32 KiB window, whatever the peer's) and the compressor, made by the first message
/// at or above the threshold, keeps 245 KiB at 9 window bits, 259 KiB at 12 and 371 KiB at 15.
/// With [`no_context_takeover`](Self::no_context_takeover) both are freed after every message,
/// so an idle connection holds none of it (each compressed message then sets them up anew).
/// A window of 8 bits is agreed like any other, but zlib cannot compress with it, so messages
/// in that direction go out uncompressed, which RFC 7692 allows for any message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Messages shorter than this many bytes are sent uncompressed.
    pub threshold: usize,
    /// The zlib compression level, 0 to 9.
    pub level: u32,
    /// Ask (client) or decide (server) that the server resets its context after each message.
    pub server_no_context_takeover: bool,
    /// Ask (server) or decide (client) that the client resets its context after each message.
    pub client_no_context_takeover: bool,
    /// The largest window the server may compress with, 8 to 15.
    pub server_max_window_bits: u8,
    /// The largest window the client may compress with, 8 to 15.
    pub client_max_window_bits: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            threshold: 256,
            level: 6,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

impl DeflateConfig {
    /// The defaults: see the table on [`DeflateConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the size below which messages go out uncompressed.
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// Sets the zlib compression level (0 to 9).
    pub fn level(mut self, level: u32) -> Self {
        self.level = level;
        self
    }

    /// Both ends reset their compression context after every message: each message is
    /// compressed alone (a lower ratio on small similar messages, no history between them).
    pub fn no_context_takeover(mut self) -> Self {
        self.server_no_context_takeover = true;
        self.client_no_context_takeover = true;
        self
    }

    /// Sets `server_no_context_takeover`.
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Sets `client_no_context_takeover`.
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// Sets the largest window the server may use (8 to 15).
    pub fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = bits;
        self
    }

    /// Sets the largest window the client may use (8 to 15).
    pub fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = bits;
        self
    }

    /// Checks the settings: the level is 0 to 9 and both window sizes are 8 to 15. The error
    /// names the setting as it sits in a connection's [`Config`](crate::Config)
    /// (`connection.deflate.level`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.level > 9 {
            return Err(ConfigError::new(
                "connection.deflate.level",
                "must be 0 (store) to 9 (best), zlib's levels",
            ));
        }
        if !WINDOW_BITS.contains(&self.server_max_window_bits) {
            return Err(ConfigError::new(
                "connection.deflate.server_max_window_bits",
                "must be 8 to 15, the window sizes RFC 7692 allows",
            ));
        }
        if !WINDOW_BITS.contains(&self.client_max_window_bits) {
            return Err(ConfigError::new(
                "connection.deflate.client_max_window_bits",
                "must be 8 to 15, the window sizes RFC 7692 allows",
            ));
        }
        Ok(())
    }

    /// The client's offer: the `Sec-WebSocket-Extensions` value.
    pub fn client_offer(&self) -> String {
        let mut offer = String::from(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            offer.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            offer.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            offer.push_str(&format!("; server_max_window_bits={}", self.server_max_window_bits));
        }
        offer.push_str("; client_max_window_bits");
        if self.client_max_window_bits < 15 {
            offer.push_str(&format!("={}", self.client_max_window_bits));
        }
        offer
    }
}

/// What both ends agreed for permessage-deflate on one connection (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with (8 to 15).
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with (8 to 15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// The `Sec-WebSocket-Extensions` value naming these parameters, as a server answers them.
impl fmt::Display for DeflateParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PERMESSAGE_DEFLATE)?;
        if self.server_no_context_takeover {
            f.write_str("; server_no_context_takeover")?;
        }
        if self.client_no_context_takeover {
            f.write_str("; client_no_context_takeover")?;
        }
        if self.server_max_window_bits < 15 {
            write!(f, "; server_max_window_bits={}", self.server_max_window_bits)?;
        }
        if self.client_max_window_bits < 15 {
            write!(f, "; client_max_window_bits={}", self.client_max_window_bits)?;
        }
        Ok(())
    }
}

/// The four parameters of one offer or response, each at most once.
#[derive(Debug, Default)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: named without a value (allowed in an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Reads the parameters of one permessage-deflate element: RFC 7692 §7.1 names four, each
/// at most once; the `*_no_context_takeover` ones take no value; window sizes are 8 to 15
/// written as digits (quoted or not), and `client_max_window_bits` may go without a value
/// in an offer.
fn parse_params(ext: &ExtensionOffer, in_offer: bool) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in &ext.params {
        let name = name.to_ascii_lowercase();
        let known = match name.as_str() {
            "server_no_context_takeover" => "server_no_context_takeover",
            "client_no_context_takeover" => "client_no_context_takeover",
            "server_max_window_bits" => "server_max_window_bits",
            "client_max_window_bits" => "client_max_window_bits",
            _ => return Err(format!("unknown permessage-deflate parameter {name:?}")),
        };
        if seen.contains(&known) {
            return Err(format!("the permessage-deflate parameter {known} appears twice"));
        }
        seen.push(known);
        let bits = |v: &Option<String>| -> Result<Option<u8>, String> {
            match v {
                None => Ok(None),
                Some(v) => match v.parse::<u8>() {
                    Ok(b) if WINDOW_BITS.contains(&b) && v.bytes().all(|c| c.is_ascii_digit()) => Ok(Some(b)),
                    _ => Err(format!("{known}={v:?} is not a window size from 8 to 15")),
                },
            }
        };
        match known {
            "server_no_context_takeover" | "client_no_context_takeover" => {
                if value.is_some() {
                    return Err(format!("{known} takes no value"));
                }
                if known.starts_with("server") {
                    p.server_no_context_takeover = true;
                } else {
                    p.client_no_context_takeover = true;
                }
            }
            "server_max_window_bits" => match bits(value)? {
                Some(b) => p.server_max_window_bits = Some(b),
                None => return Err("server_max_window_bits needs a value".into()),
            },
            _ => {
                let b = bits(value)?;
                if b.is_none() && !in_offer {
                    return Err("client_max_window_bits needs a value in a response".into());
                }
                p.client_max_window_bits = Some(b);
            }
        }
    }
    Ok(p)
}

/// Client role: checks the server's `Sec-WebSocket-Extensions` values against our offer
/// (`offered`, `None` when we offered nothing) and returns what was agreed, `None` when the
/// server declined. The errors are the failures RFC 7692 §5 and §7 require: an extension we
/// did not offer, permessage-deflate twice, an unknown or repeated parameter, a value out of
/// range, a window above what we asked for, a context takeover we asked to be off left on.
pub(crate) fn check_response<'a>(
    offered: Option<&DeflateConfig>,
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Option<DeflateParams>, ResponseError> {
    let extensions = parse_extensions(values).map_err(|e| ResponseError::Malformed(e.0.into()))?;
    let mut agreed = None;
    for ext in &extensions {
        let Some(ours) = offered.filter(|_| ext.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)) else {
            return Err(ResponseError::Unrequested(ext.name.clone()));
        };
        if agreed.is_some() {
            return Err(ResponseError::Malformed("permessage-deflate appears twice".into()));
        }
        let p = parse_params(ext, false).map_err(ResponseError::Malformed)?;
        if ours.server_no_context_takeover && !p.server_no_context_takeover {
            return Err(ResponseError::Malformed(
                "the server left out server_no_context_takeover, which was offered".into(),
            ));
        }
        let server_bits = match p.server_max_window_bits {
            Some(b) if b > ours.server_max_window_bits => {
                return Err(ResponseError::Malformed(format!(
                    "server_max_window_bits={b} is above the {} offered",
                    ours.server_max_window_bits
                )));
            }
            Some(b) => b,
            None if ours.server_max_window_bits < 15 => {
                return Err(ResponseError::Malformed(
                    "the server left out server_max_window_bits, which was offered".into(),
                ));
            }
            None => 15,
        };
        let client_bits = match p.client_max_window_bits.flatten() {
            Some(b) if ours.client_max_window_bits < 15 && b > ours.client_max_window_bits => {
                return Err(ResponseError::Malformed(format!(
                    "client_max_window_bits={b} is above the {} offered",
                    ours.client_max_window_bits
                )));
            }
            Some(b) => b.min(ours.client_max_window_bits),
            None => ours.client_max_window_bits,
        };
        agreed = Some(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover || ours.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        });
    }
    Ok(agreed)
}

/// Why a server's extension answer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResponseError {
    /// An extension that was not offered.
    Unrequested(String),
    /// permessage-deflate with parameters RFC 7692 forbids in this answer.
    Malformed(String),
}

/// Server role: the first permessage-deflate offer among the client's
/// `Sec-WebSocket-Extensions` values that can be honoured, with our settings applied, or
/// `None`. Offers with unknown, repeated or out-of-range parameters are declined (RFC 7692
/// §5), as is a header we cannot read at all.
#[cfg_attr(not(feature = "deflate"), allow(dead_code))]
pub(crate) fn choose_offer<'a>(
    ours: &DeflateConfig,
    values: impl IntoIterator<Item = &'a str>,
) -> Option<DeflateParams> {
    let extensions = parse_extensions(values).ok()?;
    extensions
        .iter()
        .filter(|ext| ext.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|ext| {
            let p = parse_params(ext, true).ok()?;
            let server_bits = p
                .server_max_window_bits
                .unwrap_or(15)
                .min(ours.server_max_window_bits.clamp(8, 15));
            let client_bits = match p.client_max_window_bits {
                // The client cannot be limited unless it said it can be.
                None => 15,
                Some(hint) => hint.unwrap_or(15).min(ours.client_max_window_bits.clamp(8, 15)),
            };
            Some(DeflateParams {
                server_no_context_takeover: p.server_no_context_takeover || ours.server_no_context_takeover,
                // Echoed when offered, so both ends describe the connection alike.
                client_no_context_takeover: p.client_no_context_takeover || ours.client_no_context_takeover,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits,
            })
        })
}

#[cfg(test)]
#[path = "deflate_params_tests.rs"]
mod tests;
