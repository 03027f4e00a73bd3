//! wss:// interop: Python `websockets` and Node `ws` serving TLS with a certificate for
//! `localhost`/127.0.0.1 from a CA generated for the test (rcgen); the client trusts only that
//! CA (`TlsOptions::no_default_roots().add_root_pem(..)`). A reduced matrix (handshake, echo,
//! ping, closes both ways, headers, a graceful restart, and a client trusting another CA being
//! refused) on every runtime. Tables go to `$CARGO_TARGET_TMPDIR/interop-matrix-<peer>-tls.md`.
//!
//! And the certificate a developer makes first: each peer serves a self-signed certificate
//! marked as a CA (`CA:TRUE`, as `openssl req -x509` makes it), which the client trusts as it is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use resock::ClientBuilder;
use resock::core::session::{ClosedReason, HeartbeatConfig, ReconnectPolicy, SessionState};
use resock::core::{CloseCode, Message};
use resock::tls::TlsOptions;
use resock_tests::interop::{Runtime, ServerKind, TestClient, TlsFiles, run_matrix_on_all_runtimes};
use resock_tests::peers::{Peer, PeerKind, PeerOptions};

fn tls_matrix(kind: PeerKind) {
    if !kind.require_or_skip() {
        return;
    }
    let tls = TlsFiles::generate();
    run_matrix_on_all_runtimes(
        ServerKind::Peer(kind),
        Some(&tls),
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &format!("{}-tls", kind.name()),
    );
}

#[test]
fn python_tls_matrix() {
    tls_matrix(PeerKind::Python);
}

#[test]
fn node_tls_matrix() {
    tls_matrix(PeerKind::Node);
}

/// A self-signed `CA:TRUE` certificate for localhost and 127.0.0.1 and its key, as PEM files in
/// a directory removed when dropped.
struct SelfSigned {
    dir: PathBuf,
    pem: String,
}

impl SelfSigned {
    fn generate(name: &str) -> SelfSigned {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = std::env::temp_dir().join(format!("resock-interop-self-signed-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), key.serialize_pem()).unwrap();
        SelfSigned { dir, pem: cert.pem() }
    }
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn self_signed_echo(kind: PeerKind) {
    if !kind.require_or_skip() {
        return;
    }
    let files = SelfSigned::generate(kind.name());
    let options = PeerOptions {
        tls: Some((files.dir.join("c.pem"), files.dir.join("k.pem"))),
        ..PeerOptions::default()
    };
    let peer = Peer::start(kind, options).unwrap_or_else(|e| panic!("starting the {} peer: {e}", kind.name()));
    let tls = TlsOptions::no_default_roots()
        .add_root_pem(files.pem.as_bytes())
        .unwrap();
    let limit = Duration::from_secs(10);
    for runtime in Runtime::ALL {
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("wss://{host}:{}/echo", peer.port());
            let builder = ClientBuilder::new(&url)
                .unwrap()
                .tls(tls.clone())
                .heartbeat(HeartbeatConfig::disabled())
                .reconnect(ReconnectPolicy::disabled());
            let mut client = TestClient::open(runtime, builder);
            client.expect_opened(limit);
            client.send(Message::text("self-signed")).unwrap();
            assert_eq!(
                client.expect_message(limit, "the echo"),
                Message::text("self-signed"),
                "{} {host}",
                runtime.name()
            );
            assert_eq!(
                client.close(CloseCode::NORMAL, ""),
                SessionState::Closed(ClosedReason::User),
                "{} {host}",
                runtime.name()
            );
        }
    }
}

#[test]
fn python_serves_a_self_signed_ca_certificate() {
    self_signed_echo(PeerKind::Python);
}

#[test]
fn node_serves_a_self_signed_ca_certificate() {
    self_signed_echo(PeerKind::Node);
}
