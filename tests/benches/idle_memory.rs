//! Heap bytes held per open, idle connection: 1000 connections per client kind to a loopback
//! tungstenite server, counted by a global allocator in this process while the server runs
//! in a child process (this same binary with `--hold-server`), so its buffers never count.
//!
//! `cargo bench -p resock-tests --bench idle_memory` (`-- --quick` for 200 connections).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use resock_tests::alloc::{Counting, live_bytes};

#[global_allocator]
static ALLOC: Counting = Counting;

/// The child: accepts connections on 127.0.0.1 and answers each on a small thread (echo and
/// the close handshake) until its stdin closes.
fn hold_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("LISTENING {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    if let Ok(mut ws) = tungstenite::accept(stream) {
                        while let Ok(message) = ws.read() {
                            if message.is_text() || message.is_binary() {
                                ws.send(message).ok();
                            }
                        }
                    }
                })
                .ok();
        }
    });
    // Until the parent closes our stdin (or dies).
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink).ok();
}

/// The server child process; killed by PID and reaped on drop.
struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    fn start() -> ServerProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--hold-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .expect("the server's port")
            .parse()
            .unwrap();
        ServerProcess { child, port }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Opens `count` clients with `open`, keeps them, and returns the heap growth per client.
fn per_connection<T>(count: usize, mut open: impl FnMut() -> T) -> f64 {
    // One client first, so one-time costs (thread-local buffers, executors) are not counted.
    let warm = open();
    let before = live_bytes();
    let clients: Vec<T> = (0..count).map(|_| open()).collect();
    let after = live_bytes();
    drop(clients);
    drop(warm);
    (after - before) as f64 / count as f64
}

fn main() {
    if std::env::args().any(|a| a == "--hold-server") {
        return hold_server();
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let count = if quick { 200 } else { 1000 };
    let server = ServerProcess::start();
    let addr = format!("127.0.0.1:{}", server.port);
    let url = format!("ws://{addr}/");
    println!("heap bytes per open idle connection, {count} connections each (plain ws:// over loopback)");

    let bare = per_connection(count, || {
        let stream = std::net::TcpStream::connect(&addr).unwrap();
        resock::blocking::WebSocket::client_on(
            stream,
            &resock::WsUrl::parse(&url).unwrap(),
            &resock::ClientOptions::default(),
            resock::Config::default(),
        )
        .unwrap()
    });
    println!("idle resock-blocking (blocking::WebSocket, no session): {bare:.0} B per connection");

    let session = per_connection(count, || {
        let mut client = resock::ClientBuilder::new(&url).unwrap().connect_blocking().unwrap();
        while !matches!(client.state(), resock::core::session::SessionState::Open) {
            client
                .next_event_timeout(Duration::from_secs(5))
                .expect("the client opened");
        }
        while client.next_event_timeout(Duration::ZERO).is_some() {}
        client
    });
    println!("idle resock-blocking (blocking_client::Client, session): {session:.0} B per connection");

    let smol = per_connection(count, || {
        let client = resock::ClientBuilder::new(&url).unwrap().start_smol().unwrap();
        smol::block_on(client.connected()).expect("the client opened");
        client
    });
    println!("idle resock-smol (Client + driver task, session): {smol:.0} B per connection");

    let tung = per_connection(count, || {
        let stream = std::net::TcpStream::connect(&addr).unwrap();
        let (ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
        ws
    });
    println!("idle tungstenite-blocking (WebSocket<TcpStream>): {tung:.0} B per connection");

    // One tokio worker thread runs every driver task, as smol's one executor thread does above;
    // the bench's thread only waits in `block_on`.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let resock_tokio = per_connection(count, || {
        runtime.block_on(async {
            let client = resock::ClientBuilder::new(&url).unwrap().start_tokio().unwrap();
            client.connected().await.expect("the client opened");
            client
        })
    });
    println!("idle resock-tokio (Client + driver task, session): {resock_tokio:.0} B per connection");

    let tokio_tung = per_connection(count, || {
        runtime.block_on(async {
            let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
            ws
        })
    });
    println!("idle tokio-tungstenite (WebSocketStream<MaybeTlsStream<TcpStream>>): {tokio_tung:.0} B per connection");
    drop(runtime);
    drop(server);
}
