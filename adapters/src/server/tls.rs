//! [`ServerTls`]: the certificate chain and private key a `wss://` server presents, as a
//! rustls server configuration (ALPN `http/1.1`, no client certificates).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS for the server: a certificate chain and its private key.
///
/// ```no_run
/// # fn main() -> Result<(), resock::ServerTlsError> {
/// let tls = resock::ServerTls::from_pem_files("cert.pem", "key.pem")?;
/// # let _ = tls; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerTls {
    pub(crate) config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

/// Why a [`ServerTls`] could not be made. Each message is a sentence naming the file (or
/// "the certificate PEM" / "the key PEM" for data given in memory).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerTlsError {
    /// A file could not be read.
    #[error("reading {path}: {}", crate::io_error::cause(source))]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate PEM held no certificate, or one that could not be parsed.
    #[error("no usable certificate in {source_name}: {reason}")]
    Certificate {
        /// The file, or "the certificate PEM".
        source_name: String,
        /// What was wrong.
        reason: String,
    },
    /// The key PEM held no private key, or one that could not be parsed.
    #[error("no usable private key in {source_name}: {reason}")]
    Key {
        /// The file, or "the key PEM".
        source_name: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the pair (the key does not match the certificate, say).
    #[error("the certificate and key cannot be used together: {0}")]
    Mismatch(String),
}

impl ServerTls {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
    /// SEC1) from two files.
    pub fn from_pem_files(cert_path: impl AsRef<Path>, key_path: impl AsRef<Path>) -> Result<Self, ServerTlsError> {
        let (cert_path, key_path) = (cert_path.as_ref(), key_path.as_ref());
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| ServerTlsError::File {
                path: path.display().to_string(),
                source,
            })
        };
        let cert = read(cert_path)?;
        let key = read(key_path)?;
        Self::build(
            &cert,
            &key,
            &cert_path.display().to_string(),
            &key_path.display().to_string(),
        )
    }

    /// A PEM certificate chain (leaf first) and a PEM private key, in memory.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Self, ServerTlsError> {
        Self::build(cert, key, "the certificate PEM", "the key PEM")
    }

    /// An existing rustls configuration, used as it is (set its ALPN to `http/1.1` yourself).
    pub fn from_config(config: Arc<rustls::ServerConfig>) -> Self {
        ServerTls { config }
    }

    /// The rustls configuration the server runs.
    pub fn config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }

    fn build(cert: &[u8], key: &[u8], cert_name: &str, key_name: &str) -> Result<Self, ServerTlsError> {
        let certificate_error = |reason: String| ServerTlsError::Certificate {
            source_name: cert_name.to_owned(),
            reason,
        };
        let chain = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| certificate_error(e.to_string()))?;
        if chain.is_empty() {
            return Err(certificate_error("no CERTIFICATE block".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| ServerTlsError::Key {
            source_name: key_name.to_owned(),
            reason: match e {
                rustls::pki_types::pem::Error::NoItemsFound => "no PRIVATE KEY block".into(),
                other => other.to_string(),
            },
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerTlsError::Mismatch(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| ServerTlsError::Mismatch(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (cert.cert.pem(), cert.signing_key.serialize_pem())
    }

    #[test]
    fn a_certificate_and_its_key_make_a_config_offering_only_http11() {
        let (cert, key) = pair();
        let tls = ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        assert_eq!(tls.config().alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn bad_input_is_a_sentence_naming_what_was_wrong() {
        let (cert, key) = pair();
        let error = ServerTls::from_pem(b"nothing", key.as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no usable certificate in the certificate PEM: no CERTIFICATE block"
        );
        let error = ServerTls::from_pem(cert.as_bytes(), b"nothing").unwrap_err();
        assert_eq!(
            error.to_string(),
            "no usable private key in the key PEM: no PRIVATE KEY block"
        );
        let (_, other_key) = pair();
        let error = ServerTls::from_pem(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
        assert!(matches!(error, ServerTlsError::Mismatch(_)), "{error}");

        let dir = std::env::temp_dir().join(format!("resock-server-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert_path = dir.join("cert.pem");
        std::fs::write(&cert_path, "not a certificate").unwrap();
        let missing = dir.join("missing.pem");
        let error = ServerTls::from_pem_files(&cert_path, &missing).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("reading {}: ", missing.display())),
            "{error}"
        );
        std::fs::write(&missing, key).unwrap();
        let error = ServerTls::from_pem_files(&cert_path, &missing).unwrap_err();
        assert!(error.to_string().contains(&cert_path.display().to_string()), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
