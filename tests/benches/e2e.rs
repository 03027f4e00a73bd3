//! End to end over loopback: one tungstenite echo server (a thread per connection) on
//! 127.0.0.1, and each client in turn against it, the same messages in the same run.
//!
//! `cargo bench -p resock-tests --bench e2e` (`-- --quick` for a short run). Prints, per client,
//! the round-trip latency of 64 B messages sent one at a time (p50, p99) and the throughput of
//! 200 000 pipelined 64 B messages (at most `WINDOW` in flight), medians over rounds.
//! `-- --client resock-smol` measures one client only (the ratios then need the baseline run).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use resock::Message;

/// Payload size of every message.
const SIZE: usize = 64;
/// Messages in flight at most in the pipelined run.
const WINDOW: usize = 256;

/// A tungstenite echo server; stopped and joined on drop.
struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl EchoServer {
    fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let accept = std::thread::spawn(move || {
            let mut workers = Vec::new();
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                stream.set_nodelay(true).unwrap();
                workers.push(std::thread::spawn(move || echo(stream)));
            }
            for worker in workers {
                worker.join().ok();
            }
        });
        EchoServer {
            addr,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        TcpStream::connect(self.addr).ok(); // wakes the accept loop
        if let Some(accept) = self.accept.take() {
            accept.join().ok();
        }
    }
}

fn echo(stream: TcpStream) {
    let Ok(mut ws) = tungstenite::accept(stream) else {
        return;
    };
    loop {
        match ws.read() {
            Ok(message) if message.is_text() || message.is_binary() => {
                if ws.send(message).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// What the bench needs from a client.
trait Client {
    fn send(&mut self, payload: &[u8]);
    fn recv(&mut self) -> usize;
    fn close(self: Box<Self>);
}

struct ResockBlocking(resock::blocking::WebSocket);

impl Client for ResockBlocking {
    fn send(&mut self, payload: &[u8]) {
        self.0.send_binary(payload).unwrap();
    }

    fn recv(&mut self) -> usize {
        self.0.recv().unwrap().expect("open").len()
    }

    fn close(mut self: Box<Self>) {
        self.0.close(resock::CloseCode::NORMAL, "").ok();
    }
}

struct TungsteniteBlocking(tungstenite::WebSocket<TcpStream>);

impl Client for TungsteniteBlocking {
    fn send(&mut self, payload: &[u8]) {
        self.0
            .send(tungstenite::Message::Binary(payload.to_vec().into()))
            .unwrap();
    }

    fn recv(&mut self) -> usize {
        loop {
            let message = self.0.read().unwrap();
            if message.is_binary() {
                return message.len();
            }
        }
    }

    fn close(mut self: Box<Self>) {
        self.0.close(None).ok();
        while self.0.read().is_ok() {}
    }
}

/// The clients measured, by name. `resock-smol` runs its driver and the measuring loop on one
/// smol thread (`build_async` + `block_on`); the others are plain blocking loops.
const CLIENTS: [&str; 3] = ["resock-blocking", "resock-smol", "tungstenite-blocking"];

/// The smol client: latency and throughput measured inside one `smol::block_on`, with the
/// driver future polled on the same thread.
fn smol_round(url: &str, round_trips: usize, pipelined: usize) -> (Duration, Duration, f64) {
    use futures_lite::future;
    let heartbeat = resock::core::session::HeartbeatConfig::disabled();
    let (client, driver) = resock::ClientBuilder::new(url)
        .unwrap()
        .heartbeat(heartbeat)
        .build_async()
        .unwrap();
    // Both run to completion: the driver ends once the bench's close has finished.
    let ((), result) = smol::block_on(future::zip(driver, async {
        let payload = [0x5Au8; SIZE];
        let mut samples = Vec::with_capacity(round_trips);
        for _ in 0..round_trips {
            let start = Instant::now();
            client.send(Message::binary(payload.to_vec())).await.unwrap();
            assert_eq!(client.recv().await.expect("open").len(), SIZE);
            samples.push(start.elapsed());
        }
        samples.sort();
        let (p50, p99) = (samples[round_trips / 2], samples[round_trips * 99 / 100]);
        let start = Instant::now();
        let (mut sent, mut received) = (0, 0);
        while received < pipelined {
            while sent < pipelined && sent - received < WINDOW {
                client.send(Message::binary(payload.to_vec())).await.unwrap();
                sent += 1;
            }
            assert_eq!(client.recv().await.expect("open").len(), SIZE);
            received += 1;
        }
        let rate = pipelined as f64 / start.elapsed().as_secs_f64();
        client.close(resock::CloseCode::NORMAL, "").await;
        drop(client);
        (p50, p99, rate)
    }));
    result
}

fn connect(name: &str, url: &str) -> Box<dyn Client> {
    match name {
        "resock-blocking" => {
            let ws = resock::blocking::WebSocket::connect(url).unwrap();
            Box::new(ResockBlocking(ws))
        }
        "tungstenite-blocking" => {
            let stream = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).unwrap();
            stream.set_nodelay(true).unwrap();
            let (ws, _) = tungstenite::client(url, stream).unwrap();
            Box::new(TungsteniteBlocking(ws))
        }
        other => unreachable!("{other}"),
    }
}

/// Round trips one at a time; returns (p50, p99).
fn latency(client: &mut dyn Client, count: usize) -> (Duration, Duration) {
    let payload = [0x5Au8; SIZE];
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        client.send(&payload);
        assert_eq!(client.recv(), SIZE);
        samples.push(start.elapsed());
    }
    samples.sort();
    (samples[count / 2], samples[count * 99 / 100])
}

/// `count` messages with at most `WINDOW` in flight; messages per second.
fn throughput(client: &mut dyn Client, count: usize) -> f64 {
    let payload = [0xA5u8; SIZE];
    let start = Instant::now();
    let (mut sent, mut received) = (0, 0);
    while received < count {
        while sent < count && sent - received < WINDOW {
            client.send(&payload);
            sent += 1;
        }
        assert_eq!(client.recv(), SIZE);
        received += 1;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn median<T: Copy + PartialOrd>(values: &mut [T]) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--client NAME` measures one client only (for profiling).
    let only = args
        .iter()
        .position(|a| a == "--client")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let (rounds, round_trips, pipelined) = if quick {
        (3, 2_000, 50_000)
    } else {
        (5, 20_000, 200_000)
    };
    let server = EchoServer::start();
    let url = server.url();
    let names: Vec<&str> = CLIENTS
        .into_iter()
        .filter(|name| only.as_deref().is_none_or(|o| o == *name))
        .collect();
    // Rounds take the clients in turn, so a noisy moment hits every client alike.
    let mut samples: Vec<(Vec<Duration>, Vec<Duration>, Vec<f64>)> = vec![Default::default(); names.len()];
    for _ in 0..rounds {
        for (name, (p50s, p99s, rates)) in names.iter().zip(samples.iter_mut()) {
            let (p50, p99, rate) = if *name == "resock-smol" {
                smol_round(&url, round_trips, pipelined)
            } else {
                let mut client = connect(name, &url);
                let (p50, p99) = latency(client.as_mut(), round_trips);
                let rate = throughput(client.as_mut(), pipelined);
                client.close();
                (p50, p99, rate)
            };
            p50s.push(p50);
            p99s.push(p99);
            rates.push(rate);
        }
    }
    let results: Vec<_> = names
        .iter()
        .zip(samples.iter_mut())
        .map(|(name, (p50s, p99s, rates))| (*name, median(p50s), median(p99s), median(rates)))
        .collect();
    println!("e2e loopback, {SIZE} B binary messages, tungstenite echo server, medians of {rounds} rounds");
    let baseline = results
        .iter()
        .find(|r| r.0 == "tungstenite-blocking")
        .map_or((Duration::from_secs(1), 1.0), |r| (r.1, r.3));
    for (name, p50, p99, rate) in &results {
        println!(
            "e2e {name}: latency p50 {:.1} us, p99 {:.1} us ({round_trips} round trips); \
             pipelined {pipelined}: {:.0} msg/s; vs tungstenite-blocking: p50 x{:.2}, throughput x{:.2}",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            rate,
            p50.as_secs_f64() / baseline.0.as_secs_f64(),
            rate / baseline.1,
        );
    }
    drop(server);
}
