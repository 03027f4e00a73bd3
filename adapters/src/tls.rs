//! TLS for `wss://` with rustls: which roots to trust, the client configuration every driver
//! uses, and how a TLS failure is classified for the reconnect policy.
//!
//! Verification is always on: there is no option to skip certificate or hostname checks. A
//! certificate added with [`TlsOptions::add_root_pem`] is also accepted as the server's own
//! certificate when it is byte-identical (a self-signed development certificate), still checked
//! for the host name and validity period.
//! SNI is sent for host names and never for IP literals; ALPN offers exactly `http/1.1`
//! (offering `h2` breaks the upgrade on common proxies).

#[cfg_attr(not(any(feature = "async-driver", feature = "blocking")), allow(dead_code))] // used by the session drivers
mod classify;
#[cfg(feature = "blocking")]
mod nested;
mod verifier;
mod x509;

use std::io;
use std::sync::Arc;

#[cfg(feature = "blocking")]
pub use nested::TlsInTls;

use resock_core::session::{TransportError, TransportErrorKind};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// Where the trusted root certificates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RootSource {
    /// The Mozilla root program, compiled in (`webpki-roots`): the same everywhere.
    #[default]
    WebPki,
    /// The operating system's store (`rustls-native-certs`), read when the client starts.
    Platform,
    /// Only the certificates added with [`TlsOptions::add_root_pem`].
    None,
}

/// TLS settings of a client.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    roots: RootSource,
    extra_roots: Vec<CertificateDer<'static>>,
}

/// A TLS option could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The PEM text held no certificate, or one that could not be parsed.
    #[error("no usable certificate in the PEM data: {0}")]
    Pem(String),
    /// Reading a certificate file failed.
    #[error("reading {path}: {}", crate::io_error::cause(source))]
    File {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The root store ended up empty, so no server could be trusted.
    #[error("no trusted root certificates ({0})")]
    NoRoots(String),
}

impl TlsOptions {
    /// Trust the compiled-in Mozilla roots (the default).
    pub fn webpki_roots() -> Self {
        TlsOptions::default()
    }

    /// Trust the operating system's root store.
    pub fn platform_roots() -> Self {
        TlsOptions {
            roots: RootSource::Platform,
            extra_roots: Vec::new(),
        }
    }

    /// Trust only roots added with [`add_root_pem`](Self::add_root_pem).
    pub fn no_default_roots() -> Self {
        TlsOptions {
            roots: RootSource::None,
            extra_roots: Vec::new(),
        }
    }

    /// Where the base set of roots comes from.
    pub fn root_source(&self) -> RootSource {
        self.roots
    }

    /// Adds every certificate in `pem` as a trusted root, beside the base set.
    ///
    /// A certificate added here is also accepted when the server presents exactly this
    /// certificate as its own (pinning), even a self-signed one marked as a CA (`CA:TRUE`, what
    /// `openssl req -x509` makes): the host name, validity period and handshake signature are
    /// still checked.
    pub fn add_root_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsError::Pem(e.to_string()))?;
            self.extra_roots.push(cert);
            found += 1;
        }
        if found == 0 {
            return Err(TlsError::Pem("no CERTIFICATE block".into()));
        }
        Ok(self)
    }

    /// Adds every certificate of a PEM file as a trusted root.
    pub fn add_root_pem_file(self, path: impl AsRef<std::path::Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|source| TlsError::File {
            path: path.display().to_string(),
            source,
        })?;
        self.add_root_pem(&pem)
    }

    /// The rustls client configuration for these options.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let mut roots = RootCertStore::empty();
        match self.roots {
            RootSource::WebPki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            RootSource::Platform => {
                let loaded = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(loaded.certs);
                if roots.is_empty() && self.extra_roots.is_empty() {
                    let why = loaded.errors.first().map(|e| e.to_string()).unwrap_or_default();
                    return Err(TlsError::NoRoots(format!("the platform store is empty {why}")));
                }
            }
            RootSource::None => {}
        }
        let (added, _ignored) = roots.add_parsable_certificates(self.extra_roots.iter().cloned());
        if roots.is_empty() {
            return Err(TlsError::NoRoots(format!("{added} added")));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| TlsError::NoRoots(e.to_string()))?;
        let verifier = verifier::PinningVerifier::new(webpki, self.extra_roots.clone());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::NoRoots(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg_attr(not(any(feature = "async-driver", feature = "blocking")), allow(unused_imports))]
pub(crate) use classify::classify_handshake_error;

/// Turns rustls' `UnexpectedEof` after the handshake (the peer closed TCP without
/// `close_notify`) into an ordinary EOF, for the drivers' reads.
#[cfg_attr(not(any(feature = "async-driver", feature = "blocking")), allow(dead_code))] // used by the session drivers
pub(crate) fn eof_without_close_notify(read: io::Result<usize>) -> io::Result<usize> {
    match read {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        other => other,
    }
}

/// The name the certificate must match; an IP literal is matched against IP SANs and sent
/// without SNI.
#[cfg_attr(not(any(feature = "async-driver", feature = "blocking")), allow(dead_code))] // used by the session drivers
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, TransportError> {
    ServerName::try_from(host.to_owned()).map_err(|e| {
        TransportError::new(
            TransportErrorKind::TlsCertificate,
            format!("invalid TLS name {host}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_roots_build_a_config_offering_only_http11() {
        let config = TlsOptions::default().client_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(config.enable_sni);
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        assert!(matches!(
            TlsOptions::default().add_root_pem(b"not pem"),
            Err(TlsError::Pem(_))
        ));
        assert!(matches!(
            TlsOptions::no_default_roots().client_config(),
            Err(TlsError::NoRoots(_))
        ));
    }

    #[test]
    fn ip_literals_are_valid_names() {
        assert!(matches!(server_name("127.0.0.1").unwrap(), ServerName::IpAddress(_)));
        assert!(matches!(server_name("::1").unwrap(), ServerName::IpAddress(_)));
        assert!(matches!(server_name("example.com").unwrap(), ServerName::DnsName(_)));
    }
}
