//! Why a proxy handshake failed, and whether trying again can help.

use std::fmt;

/// A SOCKS5 reply code other than success (RFC 1928 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocksReply {
    /// `0x01`: general SOCKS server failure.
    GeneralFailure,
    /// `0x02`: connection not allowed by ruleset.
    NotAllowed,
    /// `0x03`: network unreachable.
    NetworkUnreachable,
    /// `0x04`: host unreachable.
    HostUnreachable,
    /// `0x05`: connection refused by the target.
    ConnectionRefused,
    /// `0x06`: TTL expired.
    TtlExpired,
    /// `0x07`: command not supported.
    CommandNotSupported,
    /// `0x08`: address type not supported.
    AddressTypeNotSupported,
    /// `0x09`..=`0xff`: unassigned.
    Other(u8),
}

impl SocksReply {
    /// The reply for a non-zero code.
    pub fn from_code(code: u8) -> SocksReply {
        match code {
            0x01 => SocksReply::GeneralFailure,
            0x02 => SocksReply::NotAllowed,
            0x03 => SocksReply::NetworkUnreachable,
            0x04 => SocksReply::HostUnreachable,
            0x05 => SocksReply::ConnectionRefused,
            0x06 => SocksReply::TtlExpired,
            0x07 => SocksReply::CommandNotSupported,
            0x08 => SocksReply::AddressTypeNotSupported,
            other => SocksReply::Other(other),
        }
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            SocksReply::GeneralFailure => 0x01,
            SocksReply::NotAllowed => 0x02,
            SocksReply::NetworkUnreachable => 0x03,
            SocksReply::HostUnreachable => 0x04,
            SocksReply::ConnectionRefused => 0x05,
            SocksReply::TtlExpired => 0x06,
            SocksReply::CommandNotSupported => 0x07,
            SocksReply::AddressTypeNotSupported => 0x08,
            SocksReply::Other(code) => code,
        }
    }

    /// Whether the proxy might succeed later (the target was down or unreachable), as a
    /// server failure would be; a refusal by rule or an unsupported request is for good.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            SocksReply::GeneralFailure
                | SocksReply::NetworkUnreachable
                | SocksReply::HostUnreachable
                | SocksReply::ConnectionRefused
                | SocksReply::TtlExpired
        )
    }
}

impl fmt::Display for SocksReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksReply::GeneralFailure => f.write_str("general SOCKS server failure"),
            SocksReply::NotAllowed => f.write_str("connection not allowed by its rules"),
            SocksReply::NetworkUnreachable => f.write_str("network unreachable"),
            SocksReply::HostUnreachable => f.write_str("host unreachable"),
            SocksReply::ConnectionRefused => f.write_str("connection refused by the target"),
            SocksReply::TtlExpired => f.write_str("TTL expired"),
            SocksReply::CommandNotSupported => f.write_str("command not supported"),
            SocksReply::AddressTypeNotSupported => f.write_str("address type not supported"),
            SocksReply::Other(code) => write!(f, "unassigned reply code {code:#04x}"),
        }
    }
}

/// Why a proxy handshake failed. The text is a sentence about the proxy's answer; it never
/// holds the credentials (they are not known here beyond whether some were sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The HTTP proxy wants credentials (407): none were given or they were wrong.
    #[error("the proxy refused: 407 proxy authentication required ({})", if *.sent_credentials { "the credentials were refused" } else { "no credentials were given; put them in the proxy URL" })]
    AuthenticationRequired {
        /// Whether this client sent credentials.
        sent_credentials: bool,
    },
    /// The HTTP proxy answered `CONNECT` with a status other than 2xx and 407.
    #[error("the proxy answered CONNECT with {status} {reason}")]
    Status {
        /// The status code.
        status: u16,
        /// The reason phrase, printable ASCII only, at most 64 characters.
        reason: String,
    },
    /// The SOCKS5 proxy accepts none of the methods offered (no authentication, or
    /// user/password when credentials were given).
    #[error("the proxy refused: the SOCKS5 proxy accepts none of the offered authentication methods ({})", if *.offered_credentials { "none or user/password" } else { "no credentials were given; put them in the proxy URL" })]
    NoAcceptableMethod {
        /// Whether user/password was offered.
        offered_credentials: bool,
    },
    /// The SOCKS5 proxy refused the user name and password (RFC 1929 status not 0).
    #[error("the proxy refused: the SOCKS5 proxy rejected the user name and password")]
    AuthenticationFailed,
    /// The SOCKS5 proxy answered the connect request with a failure.
    #[error("the SOCKS5 proxy could not connect: {0}")]
    Socks(SocksReply),
    /// The proxy's answer was not the protocol (a bad status line or version byte, bytes
    /// after a complete answer, a malformed reply).
    #[error("the proxy's answer is malformed: {0}")]
    Malformed(String),
    /// The HTTP proxy's response head is larger than the bound.
    #[error("the proxy's response head exceeds {limit} bytes")]
    HeadTooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
    /// The proxy closed the connection before the handshake completed.
    #[error("the proxy closed the connection during its handshake")]
    Closed,
}

impl ProxyError {
    /// Whether trying again may help, by the reconnect policy's defaults: the proxy was up
    /// but could not reach the target (HTTP 502, 503, 504, other 5xx, 408, 429; SOCKS server
    /// failure, network or host unreachable, connection refused, TTL expired) or closed early.
    /// A refusal (407, 403, other statuses, SOCKS authentication or ruleset) and a proxy that
    /// does not speak the protocol are for good.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProxyError::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            ProxyError::Socks(reply) => reply.is_retryable(),
            ProxyError::Closed => true,
            ProxyError::AuthenticationRequired { .. }
            | ProxyError::NoAcceptableMethod { .. }
            | ProxyError::AuthenticationFailed
            | ProxyError::Malformed(_)
            | ProxyError::HeadTooLarge { .. } => false,
        }
    }

    /// Whether the proxy refused this client's credentials (or their absence).
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            ProxyError::AuthenticationRequired { .. }
                | ProxyError::NoAcceptableMethod { .. }
                | ProxyError::AuthenticationFailed
        )
    }
}

/// Keeps printable ASCII of a peer's text, at most 64 characters, for an error sentence.
pub(crate) fn printable(text: &[u8]) -> String {
    text.iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .take(64)
        .map(|&b| char::from(b))
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_code_maps_and_round_trips() {
        for code in 1..=255u8 {
            let reply = SocksReply::from_code(code);
            assert_eq!(reply.code(), code);
            assert!(!reply.to_string().is_empty());
        }
        let retryable: Vec<u8> = (1..=255u8)
            .filter(|c| SocksReply::from_code(*c).is_retryable())
            .collect();
        assert_eq!(retryable, [1, 3, 4, 5, 6]);
        assert_eq!(SocksReply::from_code(9), SocksReply::Other(9));
    }

    #[test]
    fn refusals_are_fatal_and_outages_retried() {
        let status = |status| ProxyError::Status {
            status,
            reason: String::new(),
        };
        for s in [502, 503, 504, 500, 429, 408] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [403, 400, 405, 301] {
            assert!(!status(s).is_retryable(), "{s}");
        }
        assert!(!ProxyError::AuthenticationRequired { sent_credentials: true }.is_retryable());
        assert!(!ProxyError::AuthenticationFailed.is_retryable());
        assert!(ProxyError::AuthenticationFailed.is_authentication());
        assert!(ProxyError::Socks(SocksReply::HostUnreachable).is_retryable());
        assert!(!ProxyError::Socks(SocksReply::NotAllowed).is_retryable());
        assert!(ProxyError::Closed.is_retryable());
        assert!(!ProxyError::Malformed("x".into()).is_retryable());
    }

    #[test]
    fn peer_text_is_cut_to_printable_ascii() {
        assert_eq!(printable(b" Bad\r\n\x1b[31mGateway "), "Bad[31mGateway");
        assert_eq!(printable(&[b'a'; 100]).len(), 64);
    }
}
