//! Small helpers for the handshake's HTTP header fields: token lists, case-insensitive
//! lookups, value validation and the `Sec-WebSocket-Accept` computation.
//!
//! Every function here runs in time linear in its input and never allocates more than
//! its input size; none uses regular expressions or backtracking.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

/// The GUID appended to `Sec-WebSocket-Key` before hashing (RFC 6455 §1.3, §4.2.2).
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key + [`WS_GUID`])). The key is used as sent, without decoding it.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// Base64 of 16 caller-supplied random bytes: a `Sec-WebSocket-Key` value.
pub fn encode_key(key: &[u8; 16]) -> String {
    STANDARD.encode(key)
}

/// Whether `value` is a valid `Sec-WebSocket-Key`: canonical base64 of exactly 16 bytes.
pub fn is_valid_key(value: &str) -> bool {
    // 16 bytes always encode to 24 characters; checking first keeps decoding bounded.
    value.len() == 24 && matches!(STANDARD.decode(value), Ok(bytes) if bytes.len() == 16)
}

/// Strips optional whitespace (SP and HTAB) from both ends, as HTTP's `OWS` rule allows.
pub fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Splits a comma-separated header value (`#token` lists) into its trimmed, non-empty
/// elements. Empty elements (`a,,b`, leading or trailing commas) are skipped, as RFC 7230
/// §7 requires of recipients.
pub fn tokens(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(trim_ows).filter(|t| !t.is_empty())
}

/// Whether the comma list `value` contains `token`, compared ASCII case-insensitively.
pub fn has_token(value: &str, token: &str) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

/// Whether `b` is a `tchar` (RFC 7230 §3.2.6): a character allowed in a token.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` is a non-empty HTTP token (RFC 7230 §3.2.6), the syntax of header names,
/// subprotocol names and extension names.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `value` can be written as a header value: visible characters, SP, HTAB and
/// obs-text only. In particular CR, LF and NUL are refused, so the value cannot end the
/// header line or inject another header.
pub fn is_valid_value(value: &str) -> bool {
    value.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Whether a header called `name` is among `names`, ASCII case-insensitively.
pub fn name_in(name: &str, names: &[&str]) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The values of every header named `name` (case-insensitive) among parsed headers,
/// decoded lossily as UTF-8 (no allocation when the value already is valid UTF-8).
pub(crate) fn values<'h, 'b: 'h>(
    headers: &'h [httparse::Header<'b>],
    name: &'h str,
) -> impl Iterator<Item = std::borrow::Cow<'b, str>> + 'h {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| String::from_utf8_lossy(h.value))
}

/// Parsed headers as owned `(name, value)` pairs, values decoded lossily as UTF-8.
pub(crate) fn owned(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
        .collect()
}

/// Appends one `name: value\r\n` line.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_sample_accept_key() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(encode_key(b"the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn key_validation() {
        assert!(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_key("AQIDBAUGBwgJCgsMDQ4PEA=="));
        // RFC 6455 §4.1's own example has non-zero trailing bits; it is not canonical.
        assert!(!is_valid_key("AQIDBAUGBwgJCgsMDQ4PEC=="));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZSE=")); // 17 bytes
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25j!!=="));
        assert!(!is_valid_key("AAAAAAAAAAAAAAAAAAAAAAAA")); // 18 bytes
    }

    #[test]
    fn token_lists() {
        let v: Vec<&str> = tokens(" a ,, b\t,c,").collect();
        assert_eq!(v, ["a", "b", "c"]);
        assert_eq!(tokens(" , ,\t").count(), 0);
        assert!(has_token("keep-alive, Upgrade", "upgrade"));
        assert!(has_token("UPGRADE", "upgrade"));
        assert!(!has_token("keep-alive", "upgrade"));
        assert!(!has_token("upgraded", "upgrade"));
    }

    #[test]
    fn token_and_value_syntax() {
        assert!(is_token("chat.v2"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a,b"));
        assert!(!is_token("é"));
        assert!(is_valid_value("Bearer abc\tdef é"));
        assert!(!is_valid_value("a\r\nX-Injected: 1"));
        assert!(!is_valid_value("a\nb"));
        assert!(!is_valid_value("a\0b"));
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // a timing guard, in a test
    fn long_lists_are_linear() {
        let mut s = String::from("b");
        s.push_str(&" ".repeat(100_000));
        s.push('x');
        s.push_str(&",".repeat(100_000));
        let start = std::time::Instant::now();
        assert_eq!(tokens(&s).count(), 1);
        assert!(!has_token(&s, "upgrade"));
        assert!(start.elapsed().as_millis() < 500);
    }
}
