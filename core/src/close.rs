//! Close codes (§7.4) and the close frame body (§5.5.1).

use std::fmt;

/// A WebSocket close status code.
///
/// Any `u16` can be held; [`CloseCode::is_sendable`] tells which may appear on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: closed without a close frame (never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type, such as invalid UTF-8 in text.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition; also used for a missed pong deadline.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: TLS handshake failure (never sent on the wire).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may be sent in a close frame (§7.4.1, §7.4.2, and the IANA registry).
    ///
    /// 1000-1003 and 1007-1014 are defined; 3000-4999 belong to libraries and applications.
    /// 1004, 1005, 1006, 1015, the rest of 1000-2999 and everything else are refused.
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure",
            _ => return write!(f, "{}", self.0),
        };
        write!(f, "{} ({name})", self.0)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

/// Why a received close frame body is invalid; every variant fails the connection with 1002.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseFrameError {
    /// A one-byte body cannot hold the two-byte code (§5.5.1).
    #[error("close frame body of one byte")]
    OneByteBody,
    /// A code that must not appear on the wire (§7.4).
    #[error("invalid close code {0}")]
    InvalidCode(u16),
    /// The reason is not valid UTF-8 (§5.5.1, §8.1).
    #[error("close reason is not valid UTF-8")]
    InvalidReason,
}

/// Parses a received close body into (code, reason). An empty body gives 1005 and no reason.
pub fn parse_close_body(body: &[u8]) -> Result<(CloseCode, &str), CloseFrameError> {
    match body {
        [] => Ok((CloseCode::NO_STATUS, "")),
        [_] => Err(CloseFrameError::OneByteBody),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_sendable() {
                return Err(CloseFrameError::InvalidCode(code.0));
            }
            let reason = simdutf8::basic::from_utf8(reason).map_err(|_| CloseFrameError::InvalidReason)?;
            Ok((code, reason))
        }
    }
}

/// The longest close reason that fits a control frame: 125 bytes less the 2-byte code.
pub const MAX_CLOSE_REASON: usize = 123;

/// `reason` shortened to fit a close frame ([`MAX_CLOSE_REASON`] bytes): cut after the last
/// whole word that fits, never inside a word, a number or a character, and without the
/// punctuation left dangling at the cut. A single word too long to fit leaves no reason.
pub fn fit_close_reason(reason: &str) -> &str {
    if reason.len() <= MAX_CLOSE_REASON {
        return reason;
    }
    // The byte after the cut must start a new word, so whatever precedes it is whole.
    let cut = reason.as_bytes()[..=MAX_CLOSE_REASON]
        .iter()
        .rposition(|b| b.is_ascii_whitespace())
        .unwrap_or(0);
    reason[..cut].trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-' | '('))
}

/// Writes a close body (code then reason) into `out`; the caller has checked both.
pub fn write_close_body(out: &mut Vec<u8>, code: CloseCode, reason: &str) {
    out.extend_from_slice(&code.0.to_be_bytes());
    out.extend_from_slice(reason.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_between_words() {
        assert_eq!(fit_close_reason("short"), "short");
        let exact = "x".repeat(MAX_CLOSE_REASON);
        assert_eq!(fit_close_reason(&exact), exact);
        // The limit falls inside the number 1234567890: the number goes whole.
        let text = format!("{} limit: 1234567890 bytes", "word ".repeat(22));
        assert!(text.len() > MAX_CLOSE_REASON);
        let fitted = fit_close_reason(&text);
        assert_eq!(fitted, format!("{} limit", "word ".repeat(22)));
        // The limit falls right after a word: that word stays.
        let text = format!("{} tail", "a".repeat(MAX_CLOSE_REASON));
        assert_eq!(fit_close_reason(&text), "a".repeat(MAX_CLOSE_REASON));
        // Multibyte characters are never split, and one giant word leaves nothing.
        assert_eq!(fit_close_reason(&"é".repeat(100)), "");
        let mixed = format!("{} {}", "é".repeat(60), "ü".repeat(10));
        assert_eq!(fit_close_reason(&mixed), "é".repeat(60));
    }

    #[test]
    fn autobahn_valid_and_invalid_codes() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
        ] {
            assert!(CloseCode(code).is_sendable(), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assert!(!CloseCode(code).is_sendable(), "{code}");
        }
    }

    #[test]
    fn parses_bodies() {
        assert_eq!(parse_close_body(&[]), Ok((CloseCode::NO_STATUS, "")));
        assert_eq!(parse_close_body(&[0x03]), Err(CloseFrameError::OneByteBody));
        assert_eq!(
            parse_close_body(&[0x03, 0xE8, b'o', b'k']),
            Ok((CloseCode::NORMAL, "ok"))
        );
        assert_eq!(parse_close_body(&[0x03, 0xED]), Err(CloseFrameError::InvalidCode(1005)));
        assert_eq!(
            parse_close_body(&[
                0x03, 0xE8, 0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80
            ]),
            Err(CloseFrameError::InvalidReason)
        );
    }

    #[test]
    fn display_names_codes() {
        assert_eq!(CloseCode::MESSAGE_TOO_BIG.to_string(), "1009 (message too big)");
        assert_eq!(CloseCode(4001).to_string(), "4001");
    }
}
