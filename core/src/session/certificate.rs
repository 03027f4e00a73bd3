//! Why the server's (or an `https://` proxy's) TLS certificate was refused, as a kind a program
//! can match and a sentence a person can act on. The driver classifies what its TLS library reports; the session carries
//! the result in [`TransportError::certificate`](super::TransportError::certificate).

use std::fmt;
use std::time::{Duration, SystemTime};

/// The server's certificate was refused, or the `https://` proxy's.
///
/// `Display` is one sentence that says whose certificate it was, names the host and says what
/// to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateError {
    /// The name (or IP address) the client connected to and checked the certificate against.
    pub host: String,
    /// What was wrong with the certificate.
    pub kind: CertificateErrorKind,
    /// The certificate was the `https://` proxy's (`host` is the proxy's), not the server's.
    pub from_proxy: bool,
}

/// What was wrong with the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateErrorKind {
    /// The chain does not lead to a trusted root: the certificate is signed by an authority the
    /// client was not told to trust.
    UnknownIssuer,
    /// The certificate is valid, but for other names than the host.
    NameMismatch {
        /// The DNS names and IP addresses the certificate carries (empty when it carries none,
        /// or the TLS library did not say).
        presented: Vec<String>,
    },
    /// The certificate's validity period is over.
    Expired {
        /// Its `notAfter` time, when known.
        not_after: Option<SystemTime>,
        /// The time it was checked at, when known.
        checked_at: Option<SystemTime>,
    },
    /// The certificate's validity period has not started yet (often a wrong clock).
    NotYetValid {
        /// Its `notBefore` time, when known.
        not_before: Option<SystemTime>,
        /// The time it was checked at, when known.
        checked_at: Option<SystemTime>,
    },
    /// The server presented a CA certificate (`basicConstraints CA:TRUE`) as its own, and it is
    /// not one of the certificates the client was told to trust. A self-signed development
    /// certificate made by `openssl req -x509` is such a certificate; trusting that exact
    /// certificate makes it acceptable.
    CaUsedAsEndEntity,
    /// Any other reason, described in words.
    Other(String),
}

impl CertificateError {
    /// A certificate error for the server `host`.
    pub fn new(host: impl Into<String>, kind: CertificateErrorKind) -> Self {
        CertificateError {
            host: host.into(),
            kind,
            from_proxy: false,
        }
    }

    /// The same error, about the `https://` proxy's certificate (`host` being the proxy's).
    #[must_use]
    pub fn for_proxy(mut self) -> Self {
        self.from_proxy = true;
        self
    }
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.host;
        let whose = if self.from_proxy { "proxy" } else { "server" };
        match &self.kind {
            CertificateErrorKind::UnknownIssuer => write!(
                f,
                "the {whose}'s certificate for {host} is signed by an unknown authority; \
                 pass its CA with --cacert or TlsOptions::add_root_pem"
            ),
            CertificateErrorKind::NameMismatch { presented } if presented.is_empty() => write!(
                f,
                "the {whose}'s certificate is not valid for {host} and names no host; \
                 give the {whose} a certificate whose subjectAltName includes {host}"
            ),
            CertificateErrorKind::NameMismatch { presented } => write!(
                f,
                "the {whose}'s certificate is for {}, not {host}; connect with one of those names \
                 or give the {whose} a certificate for {host}",
                presented.join(", ")
            ),
            CertificateErrorKind::Expired { not_after, checked_at } => {
                match between(*not_after, *checked_at) {
                    Some(ago) => write!(f, "the {whose}'s certificate for {host} expired {ago} ago"),
                    None => write!(f, "the {whose}'s certificate for {host} has expired"),
                }?;
                f.write_str("; renew it, or check this computer's clock")
            }
            CertificateErrorKind::NotYetValid { not_before, checked_at } => {
                match between(*checked_at, *not_before) {
                    Some(wait) => write!(f, "the {whose}'s certificate for {host} becomes valid only in {wait}"),
                    None => write!(f, "the {whose}'s certificate for {host} is not valid yet"),
                }?;
                f.write_str("; check this computer's clock")
            }
            CertificateErrorKind::CaUsedAsEndEntity => write!(
                f,
                "the {whose}'s certificate for {host} is a CA certificate (CA:TRUE) that is not trusted; \
                 if it is a self-signed development certificate, pass that exact file with --cacert \
                 or TlsOptions::add_root_pem"
            ),
            CertificateErrorKind::Other(why) => {
                write!(f, "the {whose}'s certificate for {host} was refused: {why}")
            }
        }
    }
}

impl std::error::Error for CertificateError {}

/// `later - earlier` in words, when both are known and in that order.
fn between(earlier: Option<SystemTime>, later: Option<SystemTime>) -> Option<String> {
    let span = later?.duration_since(earlier?).ok()?;
    Some(in_words(span))
}

/// A duration rounded down to its largest unit: `3 days`, `5 hours`, `1 minute`, `40 seconds`.
fn in_words(span: Duration) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second")];
    let secs = span.as_secs();
    let (size, name) = UNITS
        .iter()
        .copied()
        .find(|&(size, _)| secs >= size)
        .unwrap_or((1, "second"));
    let count = secs / size;
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {name}{plural}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn sentence(kind: CertificateErrorKind) -> String {
        CertificateError::new("localhost", kind).to_string()
    }

    fn at(secs: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn every_kind_names_the_host_and_what_to_do() {
        assert_eq!(
            sentence(CertificateErrorKind::UnknownIssuer),
            "the server's certificate for localhost is signed by an unknown authority; \
             pass its CA with --cacert or TlsOptions::add_root_pem"
        );
        assert_eq!(
            sentence(CertificateErrorKind::NameMismatch {
                presented: vec!["example.com".into(), "10.0.0.1".into()]
            }),
            "the server's certificate is for example.com, 10.0.0.1, not localhost; connect with one \
             of those names or give the server a certificate for localhost"
        );
        assert!(sentence(CertificateErrorKind::NameMismatch { presented: vec![] }).contains("names no host"));
        assert!(sentence(CertificateErrorKind::CaUsedAsEndEntity).contains("pass that exact file with --cacert"));
        assert_eq!(
            sentence(CertificateErrorKind::Other("it has been revoked".into())),
            "the server's certificate for localhost was refused: it has been revoked"
        );
    }

    #[test]
    fn a_proxys_certificate_says_it_is_the_proxys() {
        let proxy = |kind| CertificateError::new("proxy.lan", kind).for_proxy().to_string();
        assert_eq!(
            proxy(CertificateErrorKind::UnknownIssuer),
            "the proxy's certificate for proxy.lan is signed by an unknown authority; \
             pass its CA with --cacert or TlsOptions::add_root_pem"
        );
        assert_eq!(
            proxy(CertificateErrorKind::NameMismatch { presented: vec![] }),
            "the proxy's certificate is not valid for proxy.lan and names no host; \
             give the proxy a certificate whose subjectAltName includes proxy.lan"
        );
        for kind in [
            CertificateErrorKind::NameMismatch {
                presented: vec!["other.lan".into()],
            },
            CertificateErrorKind::Expired {
                not_after: None,
                checked_at: None,
            },
            CertificateErrorKind::NotYetValid {
                not_before: None,
                checked_at: None,
            },
            CertificateErrorKind::CaUsedAsEndEntity,
            CertificateErrorKind::Other("revoked".into()),
        ] {
            let text = proxy(kind.clone());
            assert!(text.starts_with("the proxy's certificate"), "{text}");
            assert!(!text.contains("server"), "{text}");
            assert!(sentence(kind).starts_with("the server's certificate"));
        }
        assert!(
            CertificateError::new("h", CertificateErrorKind::UnknownIssuer)
                .for_proxy()
                .from_proxy
        );
        assert!(!CertificateError::new("h", CertificateErrorKind::UnknownIssuer).from_proxy);
    }

    #[test]
    fn validity_problems_say_how_far_off_the_clock_is() {
        let expired = CertificateErrorKind::Expired {
            not_after: at(1_000_000),
            checked_at: at(1_000_000 + 3 * 86_400 + 5),
        };
        assert_eq!(
            sentence(expired),
            "the server's certificate for localhost expired 3 days ago; renew it, or check this \
             computer's clock"
        );
        let early = CertificateErrorKind::NotYetValid {
            not_before: at(7_200 + 59),
            checked_at: at(0),
        };
        assert_eq!(
            sentence(early),
            "the server's certificate for localhost becomes valid only in 2 hours; check this \
             computer's clock"
        );
        let unknown = CertificateErrorKind::Expired {
            not_after: None,
            checked_at: at(0),
        };
        assert!(sentence(unknown).contains("has expired; renew it"));
    }

    #[test]
    fn a_certificate_error_is_a_fatal_transport_error_that_keeps_its_kind() {
        use crate::session::{Decision, DisconnectReason, ReconnectPolicy, TransportError, TransportErrorKind};
        let error = CertificateError::new("localhost", CertificateErrorKind::CaUsedAsEndEntity);
        let transport = TransportError::from_certificate(error.clone());
        assert_eq!(transport.kind, TransportErrorKind::TlsCertificate);
        assert_eq!(transport.message, error.to_string());
        assert_eq!(transport.certificate(), Some(&error));
        assert_eq!(TransportError::new(TransportErrorKind::Tls, "x").certificate(), None);
        let reason = DisconnectReason::Transport(transport);
        assert_eq!(reason.default_decision(&ReconnectPolicy::default()), Decision::Stop);
    }

    #[test]
    fn durations_read_in_their_largest_unit() {
        assert_eq!(in_words(Duration::from_secs(0)), "0 seconds");
        assert_eq!(in_words(Duration::from_secs(1)), "1 second");
        assert_eq!(in_words(Duration::from_secs(119)), "1 minute");
        assert_eq!(in_words(Duration::from_secs(3_600)), "1 hour");
        assert_eq!(in_words(Duration::from_secs(86_400 * 400)), "400 days");
        assert_eq!(in_words(Duration::MAX), format!("{} days", u64::MAX / 86_400));
    }
}
