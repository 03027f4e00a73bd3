//! Heap bytes held per open, idle connection: 1000 connections per client kind to a loopback
//! tungstenite server (on other threads), counted by a global allocator on the thread that
//! opens and holds the clients only.
//!
//! `cargo bench -p resock-tests --bench idle_memory` (`-- --quick` for 200 connections).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use resock_tests::alloc::{Counting, thread_live_bytes};

#[global_allocator]
static ALLOC: Counting = Counting;

/// Accepts connections and holds them open without reading until told to stop.
struct HoldingServer {
    addr: SocketAddr,
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl HoldingServer {
    fn start() -> HoldingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(300);
            while stopped.try_recv().is_err() && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        if let Ok(ws) = tungstenite::accept(stream) {
                            held.push(ws);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_micros(200)),
                }
            }
        });
        HoldingServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HoldingServer {
    fn drop(&mut self) {
        self.stop.send(()).ok();
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// Opens `count` clients with `open`, keeps them, and returns the heap growth per client.
fn per_connection<T>(count: usize, mut open: impl FnMut() -> T) -> f64 {
    // One client first, so one-time costs (thread-local buffers, lazy statics) are not counted.
    let warm = open();
    let before = thread_live_bytes();
    let clients: Vec<T> = (0..count).map(|_| open()).collect();
    let after = thread_live_bytes();
    drop(clients);
    drop(warm);
    (after - before) as f64 / count as f64
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let count = if quick { 200 } else { 1000 };
    let server = HoldingServer::start();
    let url = format!("ws://{}/", server.addr);
    println!("heap bytes per open idle connection, {count} connections each (plain ws:// over loopback)");

    let core = per_connection(count, || {
        let stream = TcpStream::connect(server.addr).unwrap();
        let ws = resock::blocking::WebSocket::client_on(
            stream,
            &resock::WsUrl::parse(&url).unwrap(),
            &resock::ClientOptions::default(),
            resock::Config::default(),
        )
        .unwrap();
        ws
    });
    println!("idle resock-blocking (WebSocket): {core:.0} B per connection");

    let session = per_connection(count, || {
        let mut client = resock::ClientBuilder::new(&url).unwrap().connect_blocking();
        while !matches!(client.state(), resock::core::session::SessionState::Open) {
            client.next_event_timeout(Duration::from_secs(5)).expect("the client opened");
        }
        while client.next_event_timeout(Duration::ZERO).is_some() {}
        client
    });
    println!("idle resock-blocking-session (blocking_client::Client): {session:.0} B per connection");

    let tung = per_connection(count, || {
        let stream = TcpStream::connect(server.addr).unwrap();
        let (ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
        ws
    });
    println!("idle tungstenite-blocking (WebSocket<TcpStream>): {tung:.0} B per connection");
    drop(server);
}
