//! What a failed TLS handshake means for the reconnect policy, and for the person reading the
//! error: certificate problems become a [`CertificateError`] (fatal), other TLS failures are
//! retried like transport errors.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use resock_core::session::{CertificateError, CertificateErrorKind, TransportError, TransportErrorKind};
use rustls::CertificateError as Rustls;
use rustls::pki_types::UnixTime;

/// Classifies a failed TLS handshake with `host`.
pub(crate) fn classify_handshake_error(host: &str, error: &io::Error) -> TransportError {
    let tls = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let kind = match tls {
        Some(rustls::Error::InvalidCertificate(refused)) => {
            return TransportError::from_certificate(CertificateError::new(host, certificate_kind(refused)));
        }
        Some(rustls::Error::NoCertificatesPresented) => {
            let kind = CertificateErrorKind::Other("the server sent no certificate".into());
            return TransportError::from_certificate(CertificateError::new(host, kind));
        }
        Some(_) => TransportErrorKind::Tls,
        None => match crate::io_error::kind(error) {
            TransportErrorKind::Io => TransportErrorKind::Tls,
            other => other,
        },
    };
    TransportError::new(kind, format!("TLS handshake failed: {}", crate::io_error::cause(error)))
}

/// The kind of a certificate rustls refused.
fn certificate_kind(refused: &Rustls) -> CertificateErrorKind {
    use CertificateErrorKind as Kind;
    let other = |why: &str| Kind::Other(why.to_owned());
    #[allow(deprecated)] // rustls still reports the context-free variants in some paths
    match refused {
        Rustls::UnknownIssuer => Kind::UnknownIssuer,
        Rustls::NotValidForName => Kind::NameMismatch { presented: Vec::new() },
        Rustls::NotValidForNameContext { presented, .. } => Kind::NameMismatch {
            presented: presented.iter().filter_map(|name| plain_name(name)).collect(),
        },
        Rustls::Expired => Kind::Expired {
            not_after: None,
            checked_at: None,
        },
        Rustls::ExpiredContext { time, not_after } => Kind::Expired {
            not_after: Some(system_time(*not_after)),
            checked_at: Some(system_time(*time)),
        },
        Rustls::NotValidYet => Kind::NotYetValid {
            not_before: None,
            checked_at: None,
        },
        Rustls::NotValidYetContext { time, not_before } => Kind::NotYetValid {
            not_before: Some(system_time(*not_before)),
            checked_at: Some(system_time(*time)),
        },
        Rustls::Other(inner) => match inner.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => Kind::CaUsedAsEndEntity,
            Some(webpki) => Kind::Other(webpki_reason(webpki).to_owned()),
            None => Kind::Other(inner.to_string()),
        },
        Rustls::BadEncoding => other("it is not a well-formed X.509 certificate"),
        Rustls::Revoked => other("it has been revoked"),
        Rustls::BadSignature => other("a signature in its chain does not verify"),
        Rustls::UnhandledCriticalExtension => other("it has a critical extension this client does not know"),
        Rustls::UnsupportedSignatureAlgorithm
        | Rustls::UnsupportedSignatureAlgorithmContext { .. }
        | Rustls::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            other("it is signed with an algorithm this client does not support")
        }
        Rustls::InvalidPurpose | Rustls::InvalidPurposeContext { .. } => {
            other("its extended key usage does not allow TLS servers")
        }
        Rustls::UnknownRevocationStatus
        | Rustls::ExpiredRevocationList
        | Rustls::ExpiredRevocationListContext { .. } => other("its revocation status is unknown"),
        Rustls::InvalidOcspResponse => other("its OCSP response is invalid"),
        Rustls::ApplicationVerificationFailure => other("the application's verifier refused it"),
        _ => Kind::Other(format!("{}", rustls::Error::InvalidCertificate(refused.clone()))),
    }
}

/// A name from rustls' list of the names a certificate carries, which webpki writes as
/// `DnsName("example.com")` or `IpAddress(127.0.0.1)`: the bare name, or `None` for kinds
/// of names that are never matched against a host (directory names, URIs, others).
fn plain_name(presented: &str) -> Option<String> {
    let unwrap = |prefix: &str| presented.strip_prefix(prefix)?.strip_suffix(')');
    if let Some(quoted) = unwrap("DnsName(") {
        return Some(quoted.trim_matches('"').to_owned());
    }
    if let Some(ip) = unwrap("IpAddress(") {
        // webpki writes IPv6 its own way (`0::1`); std writes the usual form (`::1`).
        return Some(
            ip.parse::<std::net::IpAddr>()
                .map_or_else(|_| ip.to_owned(), |ip| ip.to_string()),
        );
    }
    let bare = !presented.contains(['(', ')', '"', ' ']) && !presented.is_empty();
    (bare && presented != "DirectoryName").then(|| presented.to_owned())
}

/// Words for the webpki errors rustls passes on without a variant of its own.
fn webpki_reason(error: &webpki::Error) -> &'static str {
    use webpki::Error as E;
    match error {
        E::EndEntityUsedAsCa => "a certificate that is not a CA signed another one in its chain",
        E::PathLenConstraintViolated => "its chain is longer than one of its CAs allows",
        E::NameConstraintViolation => "it names a host its CA may not certify",
        E::CertDistrusted => "it or one of its CAs is distrusted",
        E::UnsupportedCertVersion => "it is not an X.509 version 3 certificate",
        E::UnsupportedCriticalExtension => "it has a critical extension this client does not know",
        E::EmptyEkuExtension => "its extended key usage is empty",
        E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumNameConstraintComparisonsExceeded => "its chain is too long or too complex to verify",
        _ => "it is malformed or uses a feature this client does not support",
    }
}

fn system_time(time: UnixTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(time.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn classify(error: rustls::Error) -> TransportError {
        classify_handshake_error("localhost", &io::Error::new(io::ErrorKind::InvalidData, error))
    }

    fn kind_of(refused: Rustls) -> CertificateErrorKind {
        let error = classify(rustls::Error::InvalidCertificate(refused));
        assert_eq!(error.kind, TransportErrorKind::TlsCertificate, "{error:?}");
        assert_eq!(error.message, error.certificate().unwrap().to_string());
        error.certificate().unwrap().kind.clone()
    }

    #[test]
    fn io_failures_during_the_handshake_keep_their_kind_in_plain_words() {
        let reset = classify_handshake_error("localhost", &io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(reset.kind, TransportErrorKind::Reset);
        assert_eq!(reset.to_string(), "TLS handshake failed: connection reset by the peer");
        let other = classify(rustls::Error::HandshakeNotComplete);
        assert_eq!(other.kind, TransportErrorKind::Tls);
    }

    #[test]
    fn certificate_problems_keep_their_kind_and_host() {
        assert_eq!(kind_of(Rustls::UnknownIssuer), CertificateErrorKind::UnknownIssuer);
        let names = vec!["example.com".to_owned(), "10.0.0.1".to_owned()];
        let mismatch = Rustls::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            presented: names.clone(),
        };
        assert_eq!(
            kind_of(mismatch),
            CertificateErrorKind::NameMismatch { presented: names }
        );
        let expired = Rustls::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(200)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(100)),
        };
        assert_eq!(
            kind_of(expired),
            CertificateErrorKind::Expired {
                not_after: Some(UNIX_EPOCH + Duration::from_secs(100)),
                checked_at: Some(UNIX_EPOCH + Duration::from_secs(200)),
            }
        );
        let early = Rustls::NotValidYetContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(100)),
            not_before: UnixTime::since_unix_epoch(Duration::from_secs(200)),
        };
        assert!(matches!(kind_of(early), CertificateErrorKind::NotYetValid { .. }));
        let ca = Rustls::Other(rustls::OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity)));
        assert_eq!(kind_of(ca), CertificateErrorKind::CaUsedAsEndEntity);
    }

    #[test]
    fn a_name_mismatch_lists_the_names_the_certificate_carries() {
        use rcgen::{CertificateParams, KeyPair};
        use rustls::client::WebPkiServerVerifier;
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::ServerName;
        let names = ["example.com", "*.example.net", "10.0.0.1", "::1"]
            .map(str::to_owned)
            .to_vec();
        let cert = CertificateParams::new(names.clone())
            .unwrap()
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let refused = webpki
            .verify_server_cert(cert.der(), &[], &name, &[], UnixTime::now())
            .unwrap_err();
        let rustls::Error::InvalidCertificate(refused) = refused else {
            panic!("{refused:?}");
        };
        let expected = ["example.com", "*.example.net", "10.0.0.1", "::1"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(
            kind_of(refused),
            CertificateErrorKind::NameMismatch { presented: expected }
        );
        assert_eq!(plain_name("DirectoryName"), None);
        assert_eq!(plain_name("UniformResourceIdentifier(\"https://x\")"), None);
        assert_eq!(plain_name("Unsupported(0x01)"), None);
        assert_eq!(plain_name("bare.example"), Some("bare.example".to_owned()));
    }

    #[test]
    fn other_problems_are_words_not_debug_names() {
        let cases = [
            Rustls::Revoked,
            Rustls::BadSignature,
            Rustls::InvalidPurpose,
            Rustls::Other(rustls::OtherError(Arc::new(webpki::Error::UnsupportedCertVersion))),
            Rustls::Other(rustls::OtherError(Arc::new(webpki::Error::MaximumPathDepthExceeded))),
        ];
        for refused in cases {
            let CertificateErrorKind::Other(why) = kind_of(refused.clone()) else {
                panic!("{refused:?} is not Other");
            };
            assert!(why.starts_with("it") || why.starts_with("a "), "{why}");
            assert!(!why.contains("Error") && !why.contains('('), "{why}");
        }
        let none = classify(rustls::Error::NoCertificatesPresented);
        assert_eq!(
            none.message,
            "the server's certificate for localhost was refused: the server sent no certificate"
        );
    }

    #[test]
    fn other_tls_failures_are_retryable_kinds() {
        let error = classify(rustls::Error::HandshakeNotComplete);
        assert_eq!((error.kind, error.certificate()), (TransportErrorKind::Tls, None));
        let slow = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(classify_handshake_error("h", &slow).kind, TransportErrorKind::TimedOut);
    }
}
