//! A TLS WebSocket server for tests: a throwaway PKI made with rcgen at test time (a CA and
//! leaves it signs), and a [`Server`] whose connections run rustls, report what the client
//! offered in its ClientHello (SNI, ALPN) and the handshake outcome, then speak WebSocket.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::Acceptor;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::ws_server::Server;

/// The TLS stream a server handler gets.
pub type TlsStream = StreamOwned<ServerConnection, TcpStream>;

/// A certificate authority that exists for one test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate chain and its key.
pub struct Leaf {
    /// The leaf, then the CA.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8).
    pub key: PrivateKeyDer<'static>,
    /// The leaf certificate alone, as PEM (to pin it with `TlsOptions::add_root_pem`).
    pub pem: String,
}

impl Leaf {
    /// A self-signed certificate for `names` like the one `openssl req -x509` makes for a
    /// developer: marked as a CA (`basicConstraints CA:TRUE`), no extended key usage.
    pub fn self_signed_ca(names: &[&str]) -> Leaf {
        Leaf::self_signed_ca_with(names, |_| {})
    }

    /// [`self_signed_ca`](Self::self_signed_ca) with its parameters edited by `edit`.
    pub fn self_signed_ca_with(names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, names[0].as_str());
        edit(&mut params);
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("self-signed certificate");
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            pem: cert.pem(),
        }
    }

    /// A certificate and key read from PEM files (what `openssl req -x509 -keyout -out` writes).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Leaf {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .expect("open the certificate")
            .collect::<Result<_, _>>()
            .expect("parse the certificate");
        Leaf {
            key: PrivateKeyDer::from_pem_file(key).expect("parse the key"),
            pem: std::fs::read_to_string(cert).expect("read the certificate"),
            chain,
        }
    }
}

impl TestCa {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA certificate as PEM, to trust it with `TlsOptions::add_root_pem`.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `names` (DNS names or IP addresses) signed by this CA.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, |_| {})
    }

    /// [`leaf`](Self::leaf) with its parameters edited by `edit` (validity dates, for one).
    pub fn leaf_with(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, names[0].as_str());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        edit(&mut params);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf certificate");
        Leaf {
            chain: vec![cert.der().clone(), self.issuer.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            pem: cert.pem(),
        }
    }
}

/// What the server saw of one TLS connection.
#[derive(Debug, Clone)]
pub struct Hello {
    /// The SNI name the client sent, if any.
    pub sni: Option<String>,
    /// The ALPN protocols the client offered, in order (empty when it sent no ALPN).
    pub alpn: Vec<Vec<u8>>,
    /// `Ok` when the TLS handshake completed, else the server's error.
    pub handshake: Result<(), String>,
}

fn server_config(leaf: Leaf) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .expect("server certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Runs the server side of TLS on `tcp`, reporting the ClientHello and the outcome.
fn tls_accept(config: &Arc<ServerConfig>, mut tcp: TcpStream, hellos: &mpsc::Sender<Hello>) -> Option<TlsStream> {
    let mut acceptor = Acceptor::default();
    let accepted = loop {
        if acceptor.read_tls(&mut tcp).ok()? == 0 {
            return None;
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => break accepted,
            Ok(None) => {}
            Err(_) => return None,
        }
    };
    let hello = accepted.client_hello();
    let sni = hello.server_name().map(str::to_owned);
    let alpn = hello
        .alpn()
        .map(|protocols| protocols.map(<[u8]>::to_vec).collect())
        .unwrap_or_default();
    let mut conn = match accepted.into_connection(Arc::clone(config)) {
        Ok(conn) => conn,
        Err((error, _)) => {
            hellos
                .send(Hello {
                    sni,
                    alpn,
                    handshake: Err(error.to_string()),
                })
                .ok();
            return None;
        }
    };
    let mut outcome = Ok(());
    while conn.is_handshaking() {
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) => {
                outcome = Err("the client closed during the handshake".to_owned());
                break;
            }
            Ok(_) => {}
            Err(error) => {
                outcome = Err(error.to_string());
                break;
            }
        }
    }
    let ok = outcome.is_ok();
    hellos
        .send(Hello {
            sni,
            alpn,
            handshake: outcome,
        })
        .ok();
    ok.then(|| StreamOwned::new(conn, tcp))
}

/// Serves TLS connections on `listener` with `leaf`, one after another: each one's
/// [`Hello`] goes to the returned receiver, and an established stream to `handle`.
pub fn spawn_tls(
    listener: TcpListener,
    leaf: Leaf,
    mut handle: impl FnMut(TlsStream) + Send + 'static,
) -> (Server, mpsc::Receiver<Hello>) {
    let config = server_config(leaf);
    let (hellos, seen) = mpsc::channel();
    let server = Server::spawn(listener, move |tcp| {
        if let Some(tls) = tls_accept(&config, tcp, &hellos) {
            handle(tls);
        }
    });
    (server, seen)
}
