//! `resock wss://...` through the real `pproxy` (PyPI, pinned, in `.venv-interop` made by
//! `scripts/interop-setup.sh`) with credentials, in front of the Python `websockets` peer
//! serving TLS: by `--proxy` on every runtime (HTTP `CONNECT` and `socks5h://`), and by the
//! environment (`HTTPS_PROXY`, `all_proxy`), which `--no-proxy` and `NO_PROXY` override.
//!
//! The environment never proxies loopback, so those cases name the server `0.0.0.0`, which
//! Linux connects to this machine (pproxy does the connecting) and which the certificate
//! covers. `pproxy -v` logs each tunnel: every proxied case checks that its tunnel is there.
//! Skipped without `.venv-interop` unless `RESOCK_REQUIRE_PEERS=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{LIMIT, Proc};

const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> Option<PathBuf> {
    let python = root().join(".venv-interop/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var_os("RESOCK_REQUIRE_PEERS").is_none_or(|v| v != "1"),
        "RESOCK_REQUIRE_PEERS=1 but {} is missing (run scripts/interop-setup.sh)",
        python.display()
    );
    eprintln!(
        "skipped: {} not found (run scripts/interop-setup.sh python)",
        python.display()
    );
    None
}

/// A self-signed CA:TRUE certificate for localhost, 127.0.0.1 and 0.0.0.0, as `c.pem`/`k.pem`.
struct Cert {
    dir: PathBuf,
}

impl Cert {
    fn new() -> Cert {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let names = ["localhost", "127.0.0.1", "0.0.0.0"].map(str::to_owned).to_vec();
        let mut params = CertificateParams::new(names).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = std::env::temp_dir().join(format!("resock-cli-proxy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), key.serialize_pem()).unwrap();
        Cert { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl Drop for Cert {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// The Python peer serving `wss://` with `cert`, and its port.
fn wss_server(python: &Path, cert: &Cert) -> (Proc, u16) {
    let mut command = Command::new(python);
    command
        .arg("-u")
        .arg(root().join("interop/python/server.py"))
        .args(["--port", "0", "--tls-cert"])
        .arg(cert.path("c.pem"))
        .arg("--tls-key")
        .arg(cert.path("k.pem"));
    let server = Proc::spawn(command);
    let out = server.wait_stdout("LISTENING <port>", |out| {
        out.contains("LISTENING ") && out.ends_with('\n')
    });
    let port = out
        .lines()
        .find_map(|l| l.strip_prefix("LISTENING "))
        .and_then(|p| p.trim().parse().ok())
        .expect("a port after LISTENING");
    (server, port)
}

/// `pproxy` with credentials `alice` / `s3cret pw`, HTTP and SOCKS5 on one port.
fn pproxy(python: &Path) -> (Proc, u16) {
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(python);
        command.args(["-u", "-m", "pproxy", "-v", "--auth", "0", "-l"]);
        command.arg(format!("http+socks5://127.0.0.1:{port}/#alice:s3cret pw"));
        let proxy = Proc::spawn(command);
        let deadline = Instant::now() + LIMIT;
        while Instant::now() < deadline {
            let out = format!("{}{}", proxy.stdout(), proxy.stderr());
            if out.contains("Serving on") {
                return (proxy, port);
            }
            if out.contains("rror") {
                break; // the port was taken meanwhile: another one
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("pproxy did not start");
}

/// `resock URL args` with the proxy variables of the test's own environment removed and `env`
/// set; echoes a line and exits 0. Returns its stderr.
fn echo(url: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let mut command = vec![url];
    command.extend_from_slice(args);
    let mut client = Proc::start_with(&command, |c| {
        for var in PROXY_VARS {
            c.env_remove(var);
        }
        for (name, value) in env {
            c.env(name, value);
        }
    });
    client.write_stdin(b"through the proxy\n");
    client.wait_stdout("the echo", |out| out == "through the proxy\n");
    client.close_stdin();
    let status = client.wait_exit();
    assert!(status.success(), "{url} {args:?}: {status}: {}", client.stderr());
    client.stderr()
}

/// Counts `pproxy -v` tunnel lines `proto 127.0.0.1:x -> target`.
fn tunnels(proxy: &Proc, proto: &str, target: &str) -> usize {
    format!("{}{}", proxy.stdout(), proxy.stderr())
        .lines()
        .filter(|l| l.starts_with(proto) && l.ends_with(target))
        .count()
}

/// Waits (bounded) until more than `before` such tunnels were logged.
fn expect_tunnel(proxy: &Proc, proto: &str, target: &str, before: usize) {
    let deadline = Instant::now() + LIMIT;
    while tunnels(proxy, proto, target) <= before {
        assert!(
            Instant::now() < deadline,
            "no new {proto} tunnel to {target}: {}{}",
            proxy.stdout(),
            proxy.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn wss_through_pproxy_by_flag_and_by_environment() {
    let Some(python) = python() else {
        return;
    };
    let cert = Cert::new();
    let (_server, port) = wss_server(&python, &cert);
    let (proxy, proxy_port) = pproxy(&python);
    let cacert = cert.path("c.pem");
    let cacert = cacert.to_str().unwrap();
    let http = format!("http://alice:s3cret%20pw@127.0.0.1:{proxy_port}");
    let socks = format!("socks5h://alice:s3cret%20pw@127.0.0.1:{proxy_port}");
    let by_name = format!("-> localhost:{port}");
    let by_any = format!("-> 0.0.0.0:{port}");

    // By flag, on every runtime, both protocols.
    let url = format!("wss://localhost:{port}/echo");
    for runtime in ["smol", "async-std", "tokio", "blocking"] {
        for (proxy_url, proto) in [(&http, "http "), (&socks, "socks5 ")] {
            let before = tunnels(&proxy, proto, &by_name);
            let args = ["--proxy", proxy_url.as_str(), "--cacert", cacert, "--runtime", runtime];
            let stderr = echo(&url, &args, &[]);
            expect_tunnel(&proxy, proto, &by_name, before);
            assert!(!stderr.contains("s3cret"), "{stderr}");
            eprintln!("wss:// by --proxy {} | {runtime} | pass", proto.trim());
        }
    }

    // By the environment: HTTPS_PROXY for wss://, then all_proxy.
    let url = format!("wss://0.0.0.0:{port}/echo");
    for runtime in ["smol", "blocking"] {
        for (var, value, proto) in [("HTTPS_PROXY", &http, "http "), ("all_proxy", &socks, "socks5 ")] {
            let before = tunnels(&proxy, proto, &by_any);
            let stderr = echo(
                &url,
                &["--cacert", cacert, "--runtime", runtime],
                &[(var, value.clone())],
            );
            expect_tunnel(&proxy, proto, &by_any, before);
            assert!(!stderr.contains("s3cret"), "{stderr}");
            eprintln!("wss:// by {var} ({}) | {runtime} | pass", proto.trim());
        }
    }

    // --no-proxy and NO_PROXY win over a proxy that does not exist.
    let dead = format!("http://127.0.0.1:{}", common::closed_port());
    let before = tunnels(&proxy, "", &by_any);
    echo(
        &url,
        &["--cacert", cacert, "--no-proxy"],
        &[("HTTPS_PROXY", dead.clone())],
    );
    echo(
        &url,
        &["--cacert", cacert],
        &[("HTTPS_PROXY", dead), ("NO_PROXY", "example.com, 0.0.0.0".into())],
    );
    assert_eq!(tunnels(&proxy, "", &by_any), before, "a bypass went through the proxy");
}

#[test]
fn a_refusing_proxy_ends_the_command_with_a_sentence_and_no_credentials() {
    let Some(python) = python() else {
        return;
    };
    let (_proxy, proxy_port) = pproxy(&python);
    let wrong = format!("http://alice:not-the-pw@127.0.0.1:{proxy_port}");
    for runtime in ["smol", "blocking"] {
        let mut client = Proc::start(&["wss://localhost:9/", "--proxy", &wrong, "--runtime", runtime]);
        client.close_stdin();
        let status = client.wait_exit();
        assert_eq!(status.code(), Some(1), "{runtime}: {}", client.stderr());
        let stderr = client.stderr();
        assert!(
            stderr.contains(&format!(
                "through proxy http://127.0.0.1:{proxy_port}: the proxy refused: 407 proxy authentication required"
            )),
            "{runtime}: {stderr}"
        );
        assert!(
            !stderr.contains("not-the-pw") && !stderr.contains("alice"),
            "{runtime}: {stderr}"
        );
    }
}
