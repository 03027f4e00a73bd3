//! Why a connection ended, whether to try again, and how long to wait.

use std::fmt;
use std::time::Duration;

use crate::close::CloseCode;
use crate::error::ProtocolError;
use crate::handshake::{HandshakeError, HttpRejection};
use crate::rng::Rng;

use super::certificate::CertificateError;
use super::config::ReconnectPolicy;
use super::redirect::RedirectError;
use crate::proxy::ProxyError;

/// What kind of transport failure the driver saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host name did not resolve.
    Dns,
    /// The connection was refused while connecting (nothing listens on the port).
    Refused,
    /// An established connection was reset, aborted or broken (the peer or a middlebox sent
    /// a TCP reset, or the peer closed while we were writing).
    Reset,
    /// Connecting or a read/write timed out.
    TimedOut,
    /// The TLS handshake failed for a reason other than the certificate.
    Tls,
    /// The server's (or the `https://` proxy's) certificate was not trusted or did not match
    /// the host (fatal by default).
    TlsCertificate,
    /// The proxy refused or failed the tunnel; [`TransportError::proxy`] says how, and
    /// [`ProxyError::is_retryable`] whether the default policy tries again. Without a proxy
    /// answer (an unusable proxy setting) it is fatal.
    Proxy,
    /// Any other IO error.
    Io,
}

/// A transport failure reported by the driver. It displays as its message; the kind is for
/// programs (and the retry decision), not part of the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    /// The kind, which drives the retry decision.
    pub kind: TransportErrorKind,
    /// One plain sentence, what was being done first and the cause last
    /// (`connecting to 127.0.0.1:1: connection refused`).
    pub message: String,
    /// Why the server's (or the `https://` proxy's) certificate was refused, for
    /// [`TransportErrorKind::TlsCertificate`].
    certificate: Option<Box<CertificateError>>,
    /// How the proxy failed, for [`TransportErrorKind::Proxy`].
    proxy: Option<Box<ProxyError>>,
}

impl TransportError {
    /// Builds a transport error.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
            certificate: None,
            proxy: None,
        }
    }

    /// A refused server certificate: kind [`TransportErrorKind::TlsCertificate`] (fatal to the
    /// default reconnect policy), the error's sentence as the message, and the error itself
    /// for [`certificate`](Self::certificate).
    pub fn from_certificate(error: CertificateError) -> Self {
        TransportError {
            kind: TransportErrorKind::TlsCertificate,
            message: error.to_string(),
            certificate: Some(Box::new(error)),
            proxy: None,
        }
    }

    /// A failed proxy handshake: kind [`TransportErrorKind::Proxy`], the message `doing` (what
    /// was being done, e.g. `through proxy http://p:3128`) then the error's sentence, and the
    /// error itself for [`proxy`](Self::proxy). A proxy that refused (407, SOCKS
    /// authentication) is fatal to the default policy; one that could not reach the target
    /// (502, 503, 504, SOCKS host unreachable) is retried.
    pub fn from_proxy(doing: &str, error: ProxyError) -> Self {
        TransportError {
            kind: TransportErrorKind::Proxy,
            message: format!("{doing}: {error}"),
            certificate: None,
            proxy: Some(Box::new(error)),
        }
    }

    /// How the proxy failed, when that is what failed.
    pub fn proxy(&self) -> Option<&ProxyError> {
        self.proxy.as_deref()
    }

    /// Why the server's (or the `https://` proxy's) certificate was refused, when that is what
    /// failed.
    pub fn certificate(&self) -> Option<&CertificateError> {
        self.certificate.as_deref()
    }
}

/// Why the session lost (or never got) its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The transport could not be opened, or failed later.
    Transport(TransportError),
    /// Transport plus handshake took longer than the open timeout.
    OpenTimeout,
    /// The opening handshake failed (HTTP status or validation).
    Handshake(HandshakeError),
    /// The server redirected the opening handshake and the redirect was not followed: too
    /// many, `wss://` to `ws://`, or no usable `Location`.
    Redirect(RedirectError),
    /// No pong (or frame) arrived within the heartbeat timeout; we sent 1011.
    PongTimeout,
    /// The server broke the protocol; we failed the connection with the code it carries.
    Protocol(ProtocolError),
    /// The server sent a message (or frame) larger than this client's own limit; we failed the
    /// connection with 1009. Fatal by default: a reconnect would fetch the same message again
    /// (raise the limit, or override with the `classify` hook).
    MessageTooLarge {
        /// Bytes the message (or the frame's declared length) had reached: at least this many.
        size: u64,
        /// The limit it crossed.
        limit: u64,
        /// The setting that holds the limit: `max_message_size` or `max_frame_size`.
        setting: &'static str,
    },
    /// The server closed with a close frame.
    ServerClosed {
        /// Its close code (1005 when it sent none).
        code: CloseCode,
        /// Its reason.
        reason: String,
    },
    /// The transport ended without a close frame (1006).
    Reset,
    /// The server did not complete the close handshake in time.
    CloseTimeout,
    /// The application asked to close.
    UserClosed,
}

/// A disconnect reason is an error a program can report or wrap.
impl std::error::Error for DisconnectReason {}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Transport(e) => write!(f, "{e}"),
            DisconnectReason::OpenTimeout => f.write_str("opening the connection timed out"),
            DisconnectReason::Handshake(e) => write!(f, "{e}"),
            DisconnectReason::Redirect(e) => write!(f, "{e}"),
            DisconnectReason::PongTimeout => f.write_str("no pong arrived within the heartbeat timeout"),
            DisconnectReason::Protocol(e) => write!(f, "the connection was closed with {} because {e}", e.close_code()),
            DisconnectReason::MessageTooLarge { size, limit, setting } => write!(
                f,
                "the server sent a message of at least {size} bytes, over this client's {setting} of {limit} bytes"
            ),
            DisconnectReason::ServerClosed { code, reason } if reason.is_empty() => {
                write!(f, "the server closed the connection with {code}")
            }
            // The reason is the server's text: quoted, with control characters escaped.
            DisconnectReason::ServerClosed { code, reason } => {
                write!(f, "the server closed the connection with {code}: {reason:?}")
            }
            DisconnectReason::Reset => f.write_str("the connection ended without a close frame"),
            DisconnectReason::CloseTimeout => f.write_str("the server did not finish the close handshake in time"),
            DisconnectReason::UserClosed => f.write_str("the application closed the connection"),
        }
    }
}

/// What to do after a disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again after the backoff delay.
    Retry,
    /// Try again, waiting at least this long (even above the backoff cap).
    RetryAfter(Duration),
    /// Give up for good.
    Stop,
}

impl DisconnectReason {
    /// The documented default classification:
    ///
    /// * retry: transport errors (except certificate errors and proxy refusals), timeouts, resets, protocol
    ///   violations by the server, HTTP 5xx, 408 and 429 (honouring `Retry-After`), close codes
    ///   1000, 1001, 1005, 1006, 1011, 1012, 1014 and 3000-4999; 1013 waits at least
    ///   `try_again_later_delay`;
    /// * stop: certificate errors, a proxy's refusal (407, SOCKS authentication, a proxy that
    ///   does not speak its protocol: see [`ProxyError::is_retryable`]), handshake validation
    ///   failures, redirects that were not followed (too many, `wss` to `ws`, no usable
    ///   `Location`: the server would answer the next attempt the same way), other HTTP statuses, close
    ///   codes 1002, 1003, 1007, 1008, 1009, 1010, a message over this client's own size limit,
    ///   and a close the application asked for.
    pub fn default_decision(&self, policy: &ReconnectPolicy) -> Decision {
        match self {
            DisconnectReason::Transport(e) if e.kind == TransportErrorKind::TlsCertificate => Decision::Stop,
            DisconnectReason::Transport(e)
                if e.kind == TransportErrorKind::Proxy && !e.proxy().is_some_and(ProxyError::is_retryable) =>
            {
                Decision::Stop
            }
            DisconnectReason::Transport(_)
            | DisconnectReason::OpenTimeout
            | DisconnectReason::PongTimeout
            | DisconnectReason::Protocol(_)
            | DisconnectReason::Reset
            | DisconnectReason::CloseTimeout => Decision::Retry,
            DisconnectReason::Handshake(HandshakeError::Rejected(rejection)) => http_decision(rejection),
            DisconnectReason::Handshake(HandshakeError::UnexpectedEof) => Decision::Retry,
            DisconnectReason::Handshake(_) => Decision::Stop,
            DisconnectReason::ServerClosed { code, .. } => match code.0 {
                1002 | 1003 | 1007 | 1008 | 1009 | 1010 => Decision::Stop,
                1013 => Decision::RetryAfter(policy.try_again_later_delay),
                _ => Decision::Retry,
            },
            DisconnectReason::Redirect(_) | DisconnectReason::MessageTooLarge { .. } | DisconnectReason::UserClosed => {
                Decision::Stop
            }
        }
    }
}

fn http_decision(rejection: &HttpRejection) -> Decision {
    let retryable = matches!(rejection.status, 408 | 429 | 500..=599);
    if !retryable {
        return Decision::Stop;
    }
    match retry_after(rejection) {
        Some(delay) => Decision::RetryAfter(delay),
        None => Decision::Retry,
    }
}

/// The `Retry-After` of a rejection: delay-seconds, or an HTTP-date measured against the
/// response's own `Date` header (core has no wall clock).
pub fn retry_after(rejection: &HttpRejection) -> Option<Duration> {
    let value = rejection.retry_after.as_deref()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(24 * 3600)));
    }
    let at = parse_http_date(value)?;
    let date = rejection
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("date"))
        .and_then(|(_, v)| parse_http_date(v.trim()))?;
    Some(Duration::from_secs(at.saturating_sub(date).min(24 * 3600)))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into seconds since 1970.
fn parse_http_date(s: &str) -> Option<u64> {
    let mut parts = s.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    // Four-digit years only (RFC 9110 §5.6.7), which also keeps the day arithmetic in range.
    if parts.next()? != "GMT"
        || !(1..=31).contains(&day)
        || !(1970..=9999).contains(&year)
        || h > 23
        || m > 59
        || sec > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    u64::try_from(days).ok().map(|d| d * 86400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The delay before retry number `failures` (0 for the first retry after a healthy period):
/// `random(0, min(cap, base * factor^failures))` with jitter, the bound itself without.
pub fn backoff_delay(policy: &ReconnectPolicy, failures: u32, rng: &mut Rng) -> Duration {
    let base = policy.initial_delay.as_secs_f64();
    let cap = policy.max_delay.as_secs_f64().max(0.0);
    let grown = base * policy.factor.max(1.0).powi(failures.min(1024) as i32);
    let bound = if grown.is_finite() { grown.min(cap) } else { cap };
    let bound = Duration::try_from_secs_f64(bound.max(0.0)).unwrap_or(Duration::MAX);
    if !policy.jitter {
        return bound;
    }
    let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.below_or_equal(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(status: u16, retry: Option<&str>, date: Option<&str>) -> HttpRejection {
        HttpRejection {
            status,
            reason: String::new(),
            headers: date
                .map(|d| vec![("Date".to_owned(), d.to_owned())])
                .unwrap_or_default(),
            retry_after: retry.map(str::to_owned),
            location: None,
            body: Vec::new(),
        }
    }

    #[test]
    fn http_statuses_classified() {
        let p = ReconnectPolicy::default();
        let decide =
            |r: HttpRejection| DisconnectReason::Handshake(HandshakeError::Rejected(Box::new(r))).default_decision(&p);
        assert_eq!(decide(rejection(503, None, None)), Decision::Retry);
        assert_eq!(decide(rejection(408, None, None)), Decision::Retry);
        assert_eq!(
            decide(rejection(429, Some("120"), None)),
            Decision::RetryAfter(Duration::from_secs(120))
        );
        assert_eq!(
            decide(rejection(
                503,
                Some("Wed, 21 Oct 2015 07:28:30 GMT"),
                Some("Wed, 21 Oct 2015 07:28:00 GMT")
            )),
            Decision::RetryAfter(Duration::from_secs(30))
        );
        assert_eq!(decide(rejection(403, Some("5"), None)), Decision::Stop);
        assert_eq!(decide(rejection(404, None, None)), Decision::Stop);
        assert_eq!(decide(rejection(301, None, None)), Decision::Stop);
    }

    #[test]
    fn close_codes_classified() {
        let p = ReconnectPolicy::default();
        let decide = |code: u16| {
            DisconnectReason::ServerClosed {
                code: CloseCode(code),
                reason: String::new(),
            }
            .default_decision(&p)
        };
        for code in [1000, 1001, 1005, 1011, 1012, 1014, 4000] {
            assert_eq!(decide(code), Decision::Retry, "{code}");
        }
        for code in [1002, 1003, 1007, 1008, 1009, 1010] {
            assert_eq!(decide(code), Decision::Stop, "{code}");
        }
        assert_eq!(decide(1013), Decision::RetryAfter(p.try_again_later_delay));
        assert_eq!(DisconnectReason::UserClosed.default_decision(&p), Decision::Stop);
        let cert = TransportError::new(TransportErrorKind::TlsCertificate, "unknown issuer");
        assert_eq!(DisconnectReason::Transport(cert).default_decision(&p), Decision::Stop);
        let refused = TransportError::new(TransportErrorKind::Refused, "refused");
        assert_eq!(
            DisconnectReason::Transport(refused).default_decision(&p),
            Decision::Retry
        );
        let reset = TransportError::new(TransportErrorKind::Reset, "reset");
        assert_eq!(DisconnectReason::Transport(reset).default_decision(&p), Decision::Retry);
        assert_eq!(
            DisconnectReason::Handshake(HandshakeError::BadAccept).default_decision(&p),
            Decision::Stop
        );
    }

    #[test]
    fn proxy_refusals_stop_and_proxy_outages_retry() {
        use crate::proxy::{ProxyError, SocksReply};
        let p = ReconnectPolicy::default();
        let decide = |error: ProxyError| {
            DisconnectReason::Transport(TransportError::from_proxy("through proxy http://p:1", error))
                .default_decision(&p)
        };
        assert_eq!(
            decide(ProxyError::AuthenticationRequired { sent_credentials: true }),
            Decision::Stop
        );
        assert_eq!(decide(ProxyError::AuthenticationFailed), Decision::Stop);
        assert_eq!(decide(ProxyError::Malformed("x".into())), Decision::Stop);
        let status = |status| ProxyError::Status {
            status,
            reason: String::new(),
        };
        for code in [502, 503, 504] {
            assert_eq!(decide(status(code)), Decision::Retry, "{code}");
        }
        assert_eq!(decide(status(403)), Decision::Stop);
        assert_eq!(decide(ProxyError::Socks(SocksReply::HostUnreachable)), Decision::Retry);
        assert_eq!(decide(ProxyError::Socks(SocksReply::NotAllowed)), Decision::Stop);
        assert_eq!(decide(ProxyError::Closed), Decision::Retry);
        // A proxy setting that cannot work (no answer from any proxy) is fatal.
        let setting = TransportError::new(TransportErrorKind::Proxy, "the proxy environment is not usable");
        assert_eq!(
            DisconnectReason::Transport(setting).default_decision(&p),
            Decision::Stop
        );
        let error = TransportError::from_proxy("through proxy http://p:1", ProxyError::AuthenticationFailed);
        assert_eq!(
            error.to_string(),
            "through proxy http://p:1: the proxy refused: the SOCKS5 proxy rejected the user name and password"
        );
        assert_eq!(error.proxy(), Some(&ProxyError::AuthenticationFailed));
    }

    #[test]
    fn http_dates_parse() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784111777));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("garbage"), None);
        // Found by fuzzing: huge years overflowed the day arithmetic.
        assert_eq!(parse_http_date("Sun, 06 Nov 9223372036854775807 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 99999999999 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"), Some(253402300799));
    }

    #[test]
    fn backoff_bounds() {
        let p = ReconnectPolicy::default();
        let mut rng = Rng::from_seed([3; 32]);
        for failures in 0..40 {
            let bound = (p.initial_delay.as_secs_f64() * 2f64.powi(failures as i32)).min(p.max_delay.as_secs_f64());
            for _ in 0..50 {
                let d = backoff_delay(&p, failures, &mut rng);
                assert!(d.as_secs_f64() <= bound + 1e-9, "{failures}: {d:?} > {bound}");
            }
        }
        let fixed = ReconnectPolicy::fixed(Duration::from_secs(5));
        assert_eq!(backoff_delay(&fixed, 0, &mut rng), Duration::from_secs(5));
        assert_eq!(backoff_delay(&fixed, 30, &mut rng), Duration::from_secs(5));
    }

    #[test]
    fn http_dates_of_every_month_and_the_edges_of_each_field() {
        let months = [
            ("Jan", 1_768_521_599),
            ("Feb", 1_771_199_999),
            ("Mar", 1_773_619_199),
            ("Apr", 1_776_297_599),
            ("May", 1_778_889_599),
            ("Jun", 1_781_567_999),
            ("Jul", 1_784_159_999),
            ("Aug", 1_786_838_399),
            ("Sep", 1_789_516_799),
            ("Oct", 1_792_108_799),
            ("Nov", 1_794_787_199),
            ("Dec", 1_797_379_199),
        ];
        for (month, epoch) in months {
            // Values from Python's calendar.timegm for the 15th of each month, 23:59:59.
            assert_eq!(
                parse_http_date(&format!("Sun, 15 {month} 2026 23:59:59 GMT")),
                Some(epoch),
                "{month}"
            );
        }
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"), Some(253_402_300_799));
        // A leap second is accepted; every field's first value past its range is not.
        assert_eq!(parse_http_date("Sun, 15 Mar 2026 23:59:60 GMT"), Some(1_773_619_200));
        for bad in [
            "Sun, 15 Mar 2026 24:00:00 GMT",
            "Sun, 15 Mar 2026 23:60:00 GMT",
            "Sun, 15 Mar 2026 23:59:61 GMT",
            "Sun, 32 Mar 2026 00:00:00 GMT",
            "Sun, 00 Mar 2026 00:00:00 GMT",
            "Sun, 15 Mar 1969 00:00:00 GMT",
            "Sun, 15 Mar 10000 00:00:00 GMT",
            "Sun, 15 Mar 2026 00:00:00 UTC",
            "Sun, 15 Foo 2026 00:00:00 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_is_capped_at_a_day_in_both_forms() {
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(retry_after(&rejection(503, Some("100000"), None)), Some(day));
        assert_eq!(
            retry_after(&rejection(503, Some("86399"), None)),
            Some(day - Duration::from_secs(1))
        );
        let date = "Sun, 15 Mar 2026 00:00:00 GMT";
        let far = rejection(503, Some("Tue, 17 Mar 2026 00:00:00 GMT"), Some(date));
        assert_eq!(retry_after(&far), Some(day));
        let near = rejection(503, Some("Sun, 15 Mar 2026 01:00:00 GMT"), Some(date));
        assert_eq!(retry_after(&near), Some(Duration::from_secs(3600)));
    }
}
