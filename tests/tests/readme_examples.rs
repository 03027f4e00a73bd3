//! Every Rust code block of the README, built as a program and run against a real server on
//! loopback, as written: only the host of its URL is replaced (`wss://example.com` by a local
//! tungstenite server, `wss://localhost:8765` by the Python `websockets` peer serving the
//! self-signed certificate that the README's `openssl req` line makes). Each program must exit
//! with success within its time limit and do what its prose says: the server checks what it
//! received, the test checks what the program printed (a server example runs its own server
//! and client).

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use resock_tests::peers::{Peer, PeerKind, PeerOptions};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

/// How long one README program may run.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// The README's ```rust blocks, in order, with the line each starts on.
fn rust_blocks() -> Vec<(usize, String)> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in readme.lines().enumerate() {
        match &mut current {
            None if line.starts_with("```rust") => current = Some((n + 1, String::new())),
            Some(_) if line.starts_with("```") => blocks.push(current.take().unwrap()),
            Some((_, code)) => {
                code.push_str(line);
                code.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// A dependency line of the workspace's Cargo.toml, so the programs build with its versions.
fn workspace_dep(name: &str) -> String {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    manifest
        .lines()
        .find(|l| l.starts_with(&format!("{name} =")))
        .unwrap_or_else(|| panic!("{name} in the workspace dependencies"))
        .to_owned()
}

/// The workspace's tokio line with what `#[tokio::main]` needs added: its `macros` and the
/// multi-thread runtime it starts.
fn tokio_dep() -> String {
    let line = workspace_dep("tokio");
    let with = line.replacen("features = [", r#"features = ["macros", "rt-multi-thread", "#, 1);
    assert_ne!(with, line, "the workspace's tokio line lists features: {line}");
    with
}

/// Writes the blocks as the binaries of a throwaway package and builds them (offline, with the
/// workspace's lock file); returns each binary's path.
fn build(blocks: &[(usize, String)], urls: &[(&str, String)]) -> Vec<PathBuf> {
    let dir = repo().join("target").join("readme-examples");
    std::fs::create_dir_all(dir.join("src/bin")).unwrap();
    let manifest = format!(
        "[package]\nname = \"readme-examples\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\n\
         resock = {{ path = {:?}, features = [\"smol\", \"async-std\", \"tokio\", \"blocking\", \"json\", \"rustls\", \"sim\"] }}\n\
         resock-core = {{ path = {:?}, features = [\"sim\"] }}\n{}\n{}\n{}\n{}\n",
        repo().join("adapters"),
        repo().join("core"),
        workspace_dep("smol"),
        workspace_dep("async-std"),
        tokio_dep(),
        workspace_dep("serde"),
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(repo().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    for entry in std::fs::read_dir(dir.join("src/bin")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for (i, (_, code)) in blocks.iter().enumerate() {
        let mut code = code.clone();
        for (from, to) in urls {
            code = code.replace(from, to);
        }
        std::fs::write(dir.join(format!("src/bin/readme_{i}.rs")), code).unwrap();
    }
    let status = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "--bins", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", repo().join("target").join("readme-examples-target"))
        .status()
        .expect("running cargo");
    assert!(status.success(), "the README's programs do not build");
    let bin = repo().join("target/readme-examples-target/debug");
    (0..blocks.len()).map(|i| bin.join(format!("readme_{i}"))).collect()
}

/// What the local server saw: each connection's Authorization header and its text messages.
#[derive(Default, Debug, Clone)]
struct Seen {
    connections: Vec<(Option<String>, Vec<String>)>,
}

/// The README's server on loopback: echoes, answers a subscription with three prices, and
/// closes with 1008 (a close that ends a client for good) after "hello", a subscription, or a
/// typed `read` receipt, so that every program's loop ends.
fn serve(listener: TcpListener, seen: Arc<Mutex<Seen>>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || serve_one(stream, seen));
        }
    });
}

#[allow(clippy::result_large_err)] // tungstenite's callback type, not ours
fn serve_one(stream: TcpStream, seen: Arc<Mutex<Seen>>) {
    stream.set_read_timeout(Some(RUN_LIMIT)).ok();
    let mut auth = None;
    let accepted = tungstenite::accept_hdr(stream, |request: &Request, response: Response| {
        auth = request
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        Ok(response)
    });
    let Ok(mut ws) = accepted else { return };
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.connections.push((auth, Vec::new()));
        seen.connections.len() - 1
    };
    while let Ok(message) = ws.read() {
        let Message::Text(text) = message else {
            if message.is_binary() {
                ws.send(message).ok();
            }
            continue;
        };
        let text = text.to_string();
        seen.lock().unwrap().connections[index].1.push(text.clone());
        if text.starts_with(r#"{"subscribe""#) {
            for price in ["price 1", "price 2", "price 3"] {
                ws.send(Message::text(price)).ok();
            }
            close(&mut ws);
        } else if text.contains(r#""type":"read""#) {
            close(&mut ws);
        } else {
            ws.send(Message::text(text.clone())).ok();
            if text == "hello" {
                close(&mut ws);
            }
        }
    }
}

fn close(ws: &mut WebSocket<TcpStream>) {
    let frame = CloseFrame {
        code: CloseCode::Policy,
        reason: "the README example is done".into(),
    };
    ws.close(Some(frame)).ok();
}

/// Runs `program` in `dir` with two lines on stdin; kills it by PID past the limit.
fn run(program: &Path, dir: &Path) -> (bool, String, String) {
    let mut child = Command::new(program)
        .current_dir(dir)
        .env("FEED_TOKEN", "readme-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting a README program");
    child.stdin.take().unwrap().write_all(b"one\ntwo\n").unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > RUN_LIMIT {
            Command::new("kill").arg("-9").arg(child.id().to_string()).status().ok();
            child.wait().ok();
            panic!("{} ran longer than {RUN_LIMIT:?}", program.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_readme_program_runs_against_a_real_server() {
    if !PeerKind::Python.require_or_skip() {
        return;
    }
    let blocks = rust_blocks();
    assert_eq!(blocks.len(), 11, "the test knows what each README program should do");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = format!("ws://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    serve(listener, Arc::clone(&seen));

    // The development certificate exactly as the README makes it, served by Python websockets.
    let dir = std::env::temp_dir().join(format!("resock-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let openssl = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem",
        ])
        .args([
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .current_dir(&dir)
        .output()
        .expect("openssl");
    assert!(openssl.status.success(), "{}", String::from_utf8_lossy(&openssl.stderr));
    let options = PeerOptions {
        tls: Some((dir.join("c.pem"), dir.join("k.pem"))),
        ..PeerOptions::default()
    };
    let peer = Peer::start(PeerKind::Python, options).expect("the Python peer");

    let urls = [
        ("wss://example.com", local.clone()),
        ("wss://localhost:8765", format!("wss://localhost:{}", peer.port())),
    ];
    let programs = build(&blocks, &urls);
    for ((line, code), program) in blocks.iter().zip(&programs) {
        let before = seen.lock().unwrap().connections.len();
        let (ok, stdout, stderr) = run(program, &dir);
        let context = format!("README line {line}:\n--- stdout\n{stdout}--- stderr\n{stderr}");
        assert!(ok, "failed: {context}");
        let seen = seen.lock().unwrap().clone();
        let new = &seen.connections[before..];
        if code.contains("ServerBuilder") {
            // A server example serves its own client: the echo comes from resock's server.
            assert!(stdout.contains("echoed: ") && stdout.contains("hello"), "{context}");
            assert!(new.is_empty(), "a server example uses only its own server: {context}");
            if code.contains("on_refusal") {
                // What was agreed and the counts.
                assert!(stdout.contains("extensions: permessage-deflate"), "{context}");
                assert!(stdout.contains("accepted 1, refused 0"), "{context}");
            }
        } else if code.contains("resock::sim") {
            assert!(stdout.contains("144 joins in"), "{context}");
            assert!(new.is_empty(), "the simulator uses no network: {context}");
        } else if code.contains("/prices") {
            assert_eq!(stdout.matches("plot ").count(), 3, "{context}");
            assert!(stdout.contains("status: open"), "{context}");
            let (auth, texts) = &new[0];
            assert_eq!(auth.as_deref(), Some("Bearer readme-token"), "{context}");
            assert_eq!(texts[0], r#"{"subscribe":"BTC-USD"}"#, "{context}");
        } else if code.contains("AsyncRouter") {
            assert!(stdout.contains("me at Some("), "the handler ran: {context}");
            assert!(new[0].1.iter().any(|t| t.contains(r#""type":"read""#)), "{context}");
            assert!(stderr.contains("1008"), "the reason it closed: {context}");
        } else if code.contains("sender()") {
            assert_eq!(new[0].1, ["one", "two"], "stdin lines, in order: {context}");
        } else if code.contains("add_root_pem_file") {
            assert!(stdout.contains("hello"), "the echo over wss://: {context}");
        } else {
            assert!(stdout.contains("hello"), "the echo: {context}");
            assert_eq!(new[0].1[0], "hello", "{context}");
        }
    }
    drop(peer);
    std::fs::remove_dir_all(&dir).ok();
}
