//! The server certificate verifier: rustls' webpki verifier, plus pinning of the certificates
//! the application added itself.
//!
//! A self-signed development certificate (`openssl req -x509 ...`) carries
//! `basicConstraints CA:TRUE`, so webpki refuses it as the server's own certificate
//! (`CaUsedAsEndEntity`) even when it is the trusted root. curl, Python and Node accept it. This
//! verifier accepts a server certificate that is byte-identical to one added with
//! [`TlsOptions::add_root_pem`](super::TlsOptions::add_root_pem), and only after webpki refused
//! it for being a CA or for its issuer; every other check stays on: the name must match the
//! host, the validity period must include now, an extended key usage must allow TLS servers,
//! and the handshake signatures are verified with the certificate's key by webpki as always.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

use super::x509;

/// webpki's verifier, with the application's own certificates pinned.
#[derive(Debug)]
pub(super) struct PinningVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    /// The certificates added by the application, accepted byte for byte.
    pinned: Vec<CertificateDer<'static>>,
}

impl PinningVerifier {
    pub(super) fn new(webpki: Arc<WebPkiServerVerifier>, pinned: Vec<CertificateDer<'static>>) -> Self {
        PinningVerifier { webpki, pinned }
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let refused = match self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Ok(verified) => return Ok(verified),
            Err(refused) => refused,
        };
        let pinned = self.pinned.iter().any(|cert| cert.as_ref() == end_entity.as_ref());
        if pinned && pinning_applies(&refused) {
            verify_pinned(end_entity, server_name, now)
        } else {
            Err(refused)
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.webpki.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.webpki.root_hint_subjects()
    }
}

/// Whether webpki refused the certificate only for what pinning answers: it is a CA used as the
/// server's own certificate, or its issuer is not a trusted root (a pinned leaf).
fn pinning_applies(refused: &Error) -> bool {
    match refused {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => true,
        Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<webpki::Error>() == Some(&webpki::Error::CaUsedAsEndEntity)
        }
        _ => false,
    }
}

/// The checks webpki would make on a server's certificate besides the chain, in its order:
/// validity period, extended key usage, then the name.
fn verify_pinned(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, Error> {
    let facts = x509::facts(end_entity).ok_or(CertificateError::BadEncoding)?;
    if facts.not_before > facts.not_after {
        return Err(CertificateError::Expired.into());
    }
    if now < facts.not_before {
        return Err(CertificateError::NotValidYetContext {
            time: now,
            not_before: facts.not_before,
        }
        .into());
    }
    if now > facts.not_after {
        return Err(CertificateError::ExpiredContext {
            time: now,
            not_after: facts.not_after,
        }
        .into());
    }
    if !facts.server_auth {
        return Err(CertificateError::InvalidPurpose.into());
    }
    verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
    Ok(ServerCertVerified::assertion())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        date_time_ymd,
    };
    use rustls::RootCertStore;

    /// A self-signed certificate like `openssl req -x509` makes: `CA:TRUE`, for localhost.
    fn self_signed_ca(edit: impl FnOnce(&mut CertificateParams)) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2040, 1, 1);
        edit(&mut params);
        params.self_signed(&KeyPair::generate().unwrap()).unwrap().der().clone()
    }

    /// A verifier trusting `roots` (as `add_root_pem` would) and pinning them.
    fn verifier(roots: &[&CertificateDer<'static>]) -> PinningVerifier {
        let mut store = RootCertStore::empty();
        for root in roots {
            store.add((*root).clone()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
            .build()
            .unwrap();
        PinningVerifier::new(webpki, roots.iter().map(|c| (*c).clone()).collect())
    }

    /// 2030-01-01, inside the test certificates' validity.
    fn in_2030() -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000))
    }

    fn verify(verifier: &PinningVerifier, cert: &CertificateDer<'_>, host: &str, now: UnixTime) -> Result<(), Error> {
        let name = ServerName::try_from(host).unwrap();
        verifier.verify_server_cert(cert, &[], &name, &[], now).map(|_| ())
    }

    fn is_ca_used_as_end_entity(error: &Error) -> bool {
        matches!(error, Error::InvalidCertificate(CertificateError::Other(o))
            if o.0.downcast_ref::<webpki::Error>() == Some(&webpki::Error::CaUsedAsEndEntity))
    }

    #[test]
    fn a_pinned_self_signed_ca_is_accepted_for_its_names_only() {
        let cert = self_signed_ca(|_| {});
        let pinned = verifier(&[&cert]);
        assert_eq!(verify(&pinned, &cert, "localhost", in_2030()), Ok(()));
        assert_eq!(verify(&pinned, &cert, "127.0.0.1", in_2030()), Ok(()));
        match verify(&pinned, &cert, "example.com", in_2030()) {
            Err(Error::InvalidCertificate(CertificateError::NotValidForNameContext { presented, .. })) => {
                assert_eq!(presented.len(), 2, "{presented:?}");
            }
            other => panic!("expected a name mismatch, got {other:?}"),
        }
    }

    #[test]
    fn a_ca_certificate_that_is_not_pinned_is_still_refused() {
        let trusted = self_signed_ca(|_| {});
        let presented = self_signed_ca(|_| {});
        let error = verify(&verifier(&[&trusted]), &presented, "localhost", in_2030()).unwrap_err();
        assert!(is_ca_used_as_end_entity(&error), "{error:?}");
    }

    #[test]
    fn a_pinned_certificate_out_of_its_validity_is_refused() {
        let cert = self_signed_ca(|_| {});
        let pinned = verifier(&[&cert]);
        let late = UnixTime::since_unix_epoch(Duration::from_secs(2_300_000_000)); // 2042
        let early = UnixTime::since_unix_epoch(Duration::from_secs(1_500_000_000)); // 2017
        let name = ServerName::try_from("localhost").unwrap();
        for now in [late, early] {
            let error = verify(&pinned, &cert, "localhost", now).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::InvalidCertificate(
                        CertificateError::ExpiredContext { .. } | CertificateError::NotValidYetContext { .. }
                    )
                ),
                "{error:?}"
            );
            // The pinned path's own check, which webpki's order would otherwise hide.
            assert_eq!(verify_pinned(&cert, &name, now).unwrap_err(), error);
        }
    }

    #[test]
    fn a_pinned_certificate_must_allow_tls_servers() {
        let cert = self_signed_ca(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]);
        let error = verify(&verifier(&[&cert]), &cert, "localhost", in_2030()).unwrap_err();
        assert_eq!(error, Error::InvalidCertificate(CertificateError::InvalidPurpose));
    }

    #[test]
    fn a_pinned_leaf_of_an_unknown_ca_is_accepted() {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "an unknown CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let leaf = leaf_params
            .signed_by(&KeyPair::generate().unwrap(), &ca)
            .unwrap()
            .der()
            .clone();
        let unrelated = self_signed_ca(|_| {});
        assert_eq!(
            verify(&verifier(&[&unrelated]), &leaf, "localhost", in_2030()),
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
        );
        assert_eq!(verify(&verifier(&[&leaf]), &leaf, "localhost", in_2030()), Ok(()));
        assert!(verify(&verifier(&[&leaf]), &leaf, "example.com", in_2030()).is_err());
    }

    #[test]
    fn a_chain_to_a_trusted_ca_is_verified_by_webpki_alone() {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&KeyPair::generate().unwrap(), &ca)
            .unwrap()
            .der()
            .clone();
        let trusting = verifier(&[ca.der()]);
        assert_eq!(verify(&trusting, &leaf, "localhost", UnixTime::now()), Ok(()));
        // The CA itself is pinned, but only as what it is: presenting it for another name fails.
        assert!(verify(&trusting, ca.der(), "localhost", UnixTime::now()).is_err());
    }
}
