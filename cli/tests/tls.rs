//! `resock wss://... --cacert FILE` against a local TLS echo server: the self-signed `CA:TRUE`
//! certificate a developer makes first (by rcgen here, and by the real `openssl req` when it is
//! installed) works on every runtime, and a certificate the client cannot trust ends the command
//! with a sentence that says what to pass.

mod common;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use common::{LIMIT, Proc};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate chain and key in PEM, as files a server and `--cacert` can read.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("resock-cli-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Pki { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes `c.pem` and `k.pem`: a self-signed certificate for localhost marked as a CA, like
    /// `openssl req -x509` makes.
    fn self_signed_ca(self) -> Pki {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(self.path("c.pem"), cert.pem()).unwrap();
        std::fs::write(self.path("k.pem"), key.serialize_pem()).unwrap();
        self
    }

    /// Writes `c.pem` (a leaf for localhost, then its CA), `k.pem`, and `ca.pem`.
    fn signed_by_a_ca(self) -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "resock test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        std::fs::write(self.path("c.pem"), format!("{}{}", leaf.pem(), ca.pem())).unwrap();
        std::fs::write(self.path("k.pem"), key.serialize_pem()).unwrap();
        std::fs::write(self.path("ca.pem"), ca.pem()).unwrap();
        self
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A TLS WebSocket echo server on 127.0.0.1, one connection at a time, stopped and joined
/// when dropped.
struct TlsEcho {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsEcho {
    fn start(cert: &Path, key: &Path) -> TlsEcho {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for tcp in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(tcp) = tcp else { continue };
                tcp.set_read_timeout(Some(LIMIT)).unwrap();
                tcp.set_write_timeout(Some(LIMIT)).unwrap();
                let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
                if let Ok(mut ws) = tungstenite::accept(rustls::StreamOwned::new(conn, tcp)) {
                    while let Ok(message) = ws.read() {
                        if (message.is_text() || message.is_binary()) && ws.send(message).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        TlsEcho {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("wss://localhost:{}/", self.addr.port())
    }
}

impl Drop for TlsEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        TcpStream::connect_timeout(&self.addr, LIMIT).ok();
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// `resock URL --cacert FILE` echoes a line on `runtime` and exits 0 at the end of stdin.
fn echo_with_cacert(server: &TlsEcho, cacert: &Path, runtime: &str) {
    let cacert = cacert.to_str().unwrap();
    let mut client = Proc::start(&[&server.url(), "--cacert", cacert, "--runtime", runtime]);
    client.write_stdin(b"hello over wss\n");
    client.wait_stdout("the echo", |out| out == "hello over wss\n");
    client.close_stdin();
    let status = client.wait_exit();
    assert!(status.success(), "{runtime}: {status}: {}", client.stderr());
}

#[test]
fn a_self_signed_ca_certificate_works_with_cacert_on_every_runtime() {
    let pki = Pki::new("self-signed").self_signed_ca();
    let server = TlsEcho::start(&pki.path("c.pem"), &pki.path("k.pem"));
    for runtime in ["smol", "async-std", "tokio", "blocking"] {
        echo_with_cacert(&server, &pki.path("c.pem"), runtime);
    }
}

/// The README's `openssl req` line, run for real; skipped without `openssl` unless
/// `RESOCK_REQUIRE_PEERS=1`.
#[test]
fn an_openssl_req_certificate_works_with_cacert() {
    match Command::new("openssl").arg("version").output() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            assert!(
                std::env::var("RESOCK_REQUIRE_PEERS").as_deref() != Ok("1"),
                "openssl is not installed and RESOCK_REQUIRE_PEERS=1"
            );
            eprintln!("skipped: openssl is not installed");
            return;
        }
        other => assert!(other.unwrap().status.success()),
    }
    let pki = Pki::new("openssl");
    let mut openssl = Command::new("openssl");
    openssl
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(pki.path("k.pem"))
        .arg("-out")
        .arg(pki.path("c.pem"))
        .args([
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ]);
    let mut req = Proc::spawn(openssl);
    req.close_stdin();
    let status = req.wait_exit();
    assert!(status.success(), "openssl req: {}", req.stderr());
    let server = TlsEcho::start(&pki.path("c.pem"), &pki.path("k.pem"));
    for runtime in ["smol", "tokio", "blocking"] {
        echo_with_cacert(&server, &pki.path("c.pem"), runtime);
    }
}

/// Runs `resock URL args...` against `server`, expecting it to fail after one attempt; returns
/// its stderr.
fn refused(server: &TlsEcho, args: &[&str]) -> String {
    let mut command = vec![server.url()];
    command.extend(args.iter().map(|a| a.to_string()));
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let mut client = Proc::start(&command);
    client.close_stdin();
    let status = client.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", client.stderr());
    client.stderr()
}

#[test]
fn an_untrusted_certificate_ends_with_a_sentence_naming_cacert() {
    let pki = Pki::new("untrusted").self_signed_ca();
    let server = TlsEcho::start(&pki.path("c.pem"), &pki.path("k.pem"));
    // tokio's TLS stream (tokio-rustls) reports the same sentence as smol's (futures-rustls).
    for runtime in ["smol", "tokio"] {
        let err = refused(&server, &["--runtime", runtime]);
        assert!(
            err.contains(
                "connection failed: the server's certificate for localhost is a CA certificate (CA:TRUE) \
                 that is not trusted; if it is a self-signed development certificate, pass that exact \
                 file with --cacert"
            ),
            "{runtime}: {err}"
        );
    }
    let other = Pki::new("other").signed_by_a_ca();
    let server = TlsEcho::start(&other.path("c.pem"), &other.path("k.pem"));
    let err = refused(&server, &["--cacert", pki.path("c.pem").to_str().unwrap()]);
    assert!(
        err.contains(
            "connection failed: the server's certificate for localhost is signed by an unknown \
             authority; pass its CA with --cacert"
        ),
        "{err}"
    );
    assert!(!err.contains("Other") && !err.contains("UnknownIssuer"), "{err}");
    // Its CA makes it work.
    echo_with_cacert(&server, &other.path("ca.pem"), "smol");
}

/// `resock serve --tls-cert --tls-key` serves wss:// on each runtime; the client trusts it
/// with `--cacert`.
#[test]
fn serve_with_a_certificate_serves_wss_on_every_runtime() {
    let pki = Pki::new("serve").self_signed_ca();
    let (cert, key) = (pki.path("c.pem"), pki.path("k.pem"));
    for runtime in ["smol", "tokio", "async-std"] {
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        let (server, port) = common::serve(&["--runtime", runtime, "--tls-cert", cert, "--tls-key", key]);
        assert!(
            server
                .stderr()
                .starts_with(&format!("listening on wss://127.0.0.1:{port} ")),
            "{runtime}: {}",
            server.stderr()
        );
        let url = format!("wss://localhost:{port}/");
        let mut client = Proc::start(&[&url, "--cacert", cert, "-q", "--runtime", runtime]);
        client.write_stdin(b"over tls\n");
        client.wait_stdout("the echo", |out| out == "over tls\n");
        client.close_stdin();
        assert!(client.wait_exit().success(), "{runtime}: {}", client.stderr());
    }
}

/// A certificate or key that cannot be read is a usage error naming the file.
#[test]
fn serve_names_the_tls_file_it_cannot_use() {
    let pki = Pki::new("serve-bad").self_signed_ca();
    let cert = pki.path("c.pem");
    let missing = pki.path("missing.pem");
    let mut server = Proc::start(&[
        "serve",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(server.wait_exit().code(), Some(2));
    let err = server.stderr();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    let mut server = Proc::start(&[
        "serve",
        "127.0.0.1:0",
        "--tls-cert",
        pki.path("k.pem").to_str().unwrap(),
        "--tls-key",
        pki.path("k.pem").to_str().unwrap(),
    ]);
    assert_eq!(server.wait_exit().code(), Some(2));
    let err = server.stderr();
    assert!(err.contains("no usable certificate in"), "{err}");
}

/// A plain `ws://` client on a `wss://` port gets no answer; the shutdown summary counts the
/// failed TLS handshake (JSON and status line).
#[test]
fn serve_counts_failed_tls_handshakes_in_its_summary() {
    let pki = Pki::new("serve-tls-failures").self_signed_ca();
    let (cert, key) = (pki.path("c.pem"), pki.path("k.pem"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let (mut server, port) = common::serve(&[
        "--runtime",
        "tokio",
        "--json-events",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ]);
    let mut plain = Proc::start(&[&format!("ws://127.0.0.1:{port}/"), "--no-reconnect", "-q"]);
    assert!(!plain.wait_exit().success(), "a plain client opened on a TLS port");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.wait_exit().success(), "{}", server.stderr());
    let all = common::json_lines(&server.stdout());
    let summary = common::events(&all, "shutdown")[0];
    assert_eq!(summary["tls_failures"], 1, "{summary}");
    assert_eq!(summary["refused"], 0, "{summary}");
    assert!(
        server.stderr().contains("; 1 TLS handshake(s) failed"),
        "{}",
        server.stderr()
    );
}
