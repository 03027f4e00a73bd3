//! End to end over loopback: one tungstenite echo server (a thread per connection) on
//! 127.0.0.1, and each client in turn against it, the same messages in the same run.
//!
//! `cargo bench -p resock-tests --bench e2e` (`-- --quick` for a short run). Prints, per client,
//! the round-trip latency of 64 B messages sent one at a time (p50, p99) and the throughput of
//! 200 000 pipelined 64 B messages (at most `WINDOW` in flight), medians over rounds, and the
//! ratios of resock's tokio client to tokio-tungstenite (as configured by default, and with an
//! 8 KiB write buffer). Every client runs on the bench's own
//! thread, so the CPU time of that thread over the pipelined run is the client's cost per
//! message; the rest of the process's CPU time is the echo server's.
//! `-- --client resock-smol` measures one client only (the ratios then need the baseline run).
//! `-- --one-cpu` runs the whole bench (server and client threads) on one CPU: on a VM the
//! default run is bimodal, a round trip costing about 8 us while client and server threads
//! share a busy vCPU and about 70 us when each waits for an idle vCPU to wake, and the
//! scheduler does not pick the same for every client; on one CPU every client meets the same.
//! The echo server (see [`Echo`]) writes the echoes of one read together, so that the client,
//! not the server, sets the pace: a client bench that the server throttles measures the server.
//! `-- --server per-message` uses tungstenite's plain `read` + `send` loop instead, one `send`
//! syscall per echo; that server costs more CPU per message than either async client, so both
//! run at its pace and the ratio between them is about 1.0 whatever the clients do.

#[path = "e2e/echo.rs"]
mod echo;

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use echo::{Echo, EchoServer};
use resock::Message;

/// Payload size of every message.
const SIZE: usize = 64;
/// Messages in flight at most in the pipelined run.
const WINDOW: usize = 256;

/// One client's figures in one round.
#[derive(Debug, Clone, Copy)]
struct Round {
    p50: Duration,
    p99: Duration,
    pipelined: Pipelined,
}

/// The pipelined run: messages per second, and CPU microseconds per message spent by the
/// client (this thread; of that, in the kernel) and by everything else in the process (the
/// echo server's thread).
#[derive(Debug, Clone, Copy)]
struct Pipelined {
    rate: f64,
    client_us: f64,
    client_kernel_us: f64,
    server_us: f64,
}

/// CPU seconds of this thread (`RUSAGE_THREAD`) or this process: (user, system).
fn cpu_seconds(who: libc::c_int) -> (f64, f64) {
    // SAFETY: `rusage` is plain data, and getrusage only writes it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(who, &mut usage), 0);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// Started before a pipelined run; `finish` turns it into [`Pipelined`].
struct PipelinedClock {
    start: Instant,
    thread: (f64, f64),
    process: (f64, f64),
}

impl PipelinedClock {
    fn start() -> Self {
        PipelinedClock {
            start: Instant::now(),
            thread: cpu_seconds(libc::RUSAGE_THREAD),
            process: cpu_seconds(libc::RUSAGE_SELF),
        }
    }

    fn finish(self, messages: usize) -> Pipelined {
        let elapsed = self.start.elapsed().as_secs_f64();
        let (thread_user, thread_system) = cpu_seconds(libc::RUSAGE_THREAD);
        let (process_user, process_system) = cpu_seconds(libc::RUSAGE_SELF);
        let thread_system = thread_system - self.thread.1;
        let thread = thread_user - self.thread.0 + thread_system;
        let process = process_user - self.process.0 + process_system - self.process.1;
        let per_message = |seconds: f64| seconds * 1e6 / messages as f64;
        Pipelined {
            rate: messages as f64 / elapsed,
            client_us: per_message(thread),
            client_kernel_us: per_message(thread_system),
            server_us: per_message(process - thread),
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
/// smol thread (`build_async` + `block_on`); `resock-tokio` and the tokio-tungstenites run on a
/// current-thread tokio runtime (one thread, like smol here); the others are plain blocking
/// loops. `tokio-tungstenite` is as its users get it; `tokio-tungstenite-8k` sets its write
/// buffer to 8 KiB, so that `feed` writes once 8 KiB wait, as resock's `send` does on tokio
/// (tungstenite's default waits for 128 KiB, more than the bench ever has in flight).
/// The tokio clients come one after the other, so each round's ratio compares moments
/// close in time.
const CLIENTS: [&str; 6] = [
    "resock-blocking",
    "tungstenite-blocking",
    "resock-smol",
    "resock-tokio",
    "tokio-tungstenite",
    "tokio-tungstenite-8k",
];

/// The measuring loops of a resock async client, on whatever runtime drives it: round trips
/// one at a time, then `pipelined` messages with at most `WINDOW` in flight, each
/// with `send` and `recv` as the docs show; then a close.
async fn measure_resock(client: resock::Client, round_trips: usize, pipelined: usize) -> Round {
    client.connected().await.expect("the client opened");
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
    let clock = PipelinedClock::start();
    let (mut sent, mut received) = (0, 0);
    while received < pipelined {
        while sent < pipelined && sent - received < WINDOW {
            client.send(Message::binary(payload.to_vec())).await.unwrap();
            sent += 1;
        }
        assert_eq!(client.recv().await.expect("open").len(), SIZE);
        received += 1;
    }
    let pipelined = clock.finish(pipelined);
    client.close(resock::CloseCode::NORMAL, "").await;
    Round { p50, p99, pipelined }
}

/// The smol client: latency and throughput measured inside one `smol::block_on`, with the
/// driver future polled on the same thread.
fn smol_round(url: &str, round_trips: usize, pipelined: usize) -> Round {
    use futures_lite::future;
    let (client, driver) = resock::ClientBuilder::new(url)
        .unwrap()
        .no_heartbeat()
        .build_async()
        .unwrap();
    // Both run to completion: the driver ends once the bench's close has finished.
    let ((), result) = smol::block_on(future::zip(driver, measure_resock(client, round_trips, pipelined)));
    result
}

/// A current-thread tokio runtime: the driver task and the measuring loop share one thread.
fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The tokio client as its docs show it: `start_tokio` spawns the driver task on the runtime,
/// and the measuring loop runs in `block_on` on the same thread.
fn resock_tokio_round(url: &str, round_trips: usize, pipelined: usize) -> Round {
    let runtime = tokio_runtime();
    runtime.block_on(async {
        let client = resock::ClientBuilder::new(url)
            .unwrap()
            .no_heartbeat()
            .start_tokio()
            .unwrap();
        measure_resock(client, round_trips, pipelined).await
    })
}

/// tokio-tungstenite written the fast way: `TCP_NODELAY` like resock; round trips with
/// `send` (feed and flush) and `next`; the pipelined run with the stream split, a writer task
/// that `feed`s while it holds credits and flushes only when it runs out (so one write carries
/// many frames), and the reader handing a credit back per echo. `write_buffer`: tungstenite's
/// `write_buffer_size` (`None`: its default, 128 KiB), the size at which `feed` writes to the
/// socket by itself.
fn tokio_tungstenite_round(url: &str, round_trips: usize, pipelined: usize, write_buffer: Option<usize>) -> Round {
    use futures_util::{SinkExt, StreamExt};
    use tokio::sync::Semaphore;
    use tokio_tungstenite::tungstenite::Message as TMessage;
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

    async fn next_binary<S>(stream: &mut S) -> usize
    where
        S: futures_util::Stream<Item = Result<TMessage, tokio_tungstenite::tungstenite::Error>> + Unpin,
    {
        loop {
            let message = stream.next().await.expect("open").unwrap();
            if message.is_binary() {
                return message.len();
            }
        }
    }

    let runtime = tokio_runtime();
    runtime.block_on(async {
        let config = write_buffer.map(|size| WebSocketConfig::default().write_buffer_size(size));
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, config, true)
            .await
            .unwrap();
        let payload = [0x5Au8; SIZE];
        let mut samples = Vec::with_capacity(round_trips);
        for _ in 0..round_trips {
            let start = Instant::now();
            ws.send(TMessage::Binary(payload.to_vec().into())).await.unwrap();
            assert_eq!(next_binary(&mut ws).await, SIZE);
            samples.push(start.elapsed());
        }
        samples.sort();
        let (p50, p99) = (samples[round_trips / 2], samples[round_trips * 99 / 100]);

        let clock = PipelinedClock::start();
        let (mut sink, mut stream) = ws.split();
        let credits = Arc::new(Semaphore::new(WINDOW));
        let writer = tokio::spawn({
            let credits = Arc::clone(&credits);
            async move {
                for _ in 0..pipelined {
                    let permit = match credits.try_acquire() {
                        Ok(permit) => permit,
                        Err(_) => {
                            sink.flush().await.unwrap();
                            credits.acquire().await.unwrap()
                        }
                    };
                    permit.forget();
                    sink.feed(TMessage::Binary(payload.to_vec().into())).await.unwrap();
                }
                sink.flush().await.unwrap();
                sink
            }
        });
        for _ in 0..pipelined {
            assert_eq!(next_binary(&mut stream).await, SIZE);
            credits.add_permits(1);
        }
        let measured = clock.finish(pipelined);
        let sink = writer.await.unwrap();
        let mut ws = sink.reunite(stream).unwrap();
        ws.close(None).await.ok();
        while let Some(Ok(_)) = ws.next().await {}
        Round {
            p50,
            p99,
            pipelined: measured,
        }
    })
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

/// `count` messages with at most `WINDOW` in flight.
fn throughput(client: &mut dyn Client, count: usize) -> Pipelined {
    let payload = [0xA5u8; SIZE];
    let clock = PipelinedClock::start();
    let (mut sent, mut received) = (0, 0);
    while received < count {
        while sent < count && sent - received < WINDOW {
            client.send(&payload);
            sent += 1;
        }
        assert_eq!(client.recv(), SIZE);
        received += 1;
    }
    clock.finish(count)
}

/// Restricts this process, and the threads it starts from now on, to its first allowed CPU.
fn pin_to_one_cpu() -> usize {
    // SAFETY: `cpu_set_t` is plain data; the calls only read and write the set given.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(libc::sched_getaffinity(0, size, &mut set), 0);
        let cpu = (0..libc::CPU_SETSIZE as usize)
            .find(|&cpu| libc::CPU_ISSET(cpu, &set))
            .expect("an allowed CPU");
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(libc::sched_setaffinity(0, size, &set), 0);
        cpu
    }
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
    let one_cpu = args.iter().any(|a| a == "--one-cpu").then(pin_to_one_cpu);
    // `--server per-message`: the per-message echo server instead of the batching one.
    let echo = match args.iter().position(|a| a == "--server").and_then(|i| args.get(i + 1)) {
        None => Echo::Batched,
        Some(kind) if kind == "batched" => Echo::Batched,
        Some(kind) if kind == "per-message" => Echo::PerMessage,
        Some(other) => panic!("--server {other}: expected per-message or batched"),
    };
    let server = EchoServer::start(echo);
    let url = server.url();
    let names: Vec<&str> = CLIENTS
        .into_iter()
        .filter(|name| only.as_deref().is_none_or(|o| o == *name))
        .collect();
    // Rounds take the clients in turn, so a noisy moment hits every client alike.
    let mut samples: Vec<Vec<Round>> = vec![Vec::new(); names.len()];
    for _ in 0..rounds {
        for (name, rounds) in names.iter().zip(samples.iter_mut()) {
            rounds.push(match *name {
                "resock-smol" => smol_round(&url, round_trips, pipelined),
                "resock-tokio" => resock_tokio_round(&url, round_trips, pipelined),
                "tokio-tungstenite" => tokio_tungstenite_round(&url, round_trips, pipelined, None),
                "tokio-tungstenite-8k" => tokio_tungstenite_round(&url, round_trips, pipelined, Some(8 * 1024)),
                _ => {
                    let mut client = connect(name, &url);
                    let (p50, p99) = latency(client.as_mut(), round_trips);
                    let measured = throughput(client.as_mut(), pipelined);
                    client.close();
                    Round {
                        p50,
                        p99,
                        pipelined: measured,
                    }
                }
            });
        }
    }
    // Each figure's own median over the rounds.
    let results: Vec<(&str, Round)> = names
        .iter()
        .zip(&samples)
        .map(|(name, rounds)| {
            let pick = |f: &dyn Fn(&Round) -> f64| median(&mut rounds.iter().map(f).collect::<Vec<_>>());
            let round = Round {
                p50: Duration::from_secs_f64(pick(&|r| r.p50.as_secs_f64())),
                p99: Duration::from_secs_f64(pick(&|r| r.p99.as_secs_f64())),
                pipelined: Pipelined {
                    rate: pick(&|r| r.pipelined.rate),
                    client_us: pick(&|r| r.pipelined.client_us),
                    client_kernel_us: pick(&|r| r.pipelined.client_kernel_us),
                    server_us: pick(&|r| r.pipelined.server_us),
                },
            };
            (*name, round)
        })
        .collect();
    let placement = one_cpu.map_or("threads placed by the scheduler".to_owned(), |cpu| {
        format!("every thread on CPU {cpu}")
    });
    println!(
        "e2e loopback, {SIZE} B binary messages, {}, medians of {rounds} rounds, {placement}",
        echo.describe()
    );
    let by_name = |name: &str| results.iter().find(|r| r.0 == name).map(|r| r.1);
    let baseline = by_name("tungstenite-blocking");
    for (name, round) in &results {
        let versus = baseline.map_or(String::new(), |base| {
            format!(
                "; vs tungstenite-blocking: p50 x{:.2}, throughput x{:.2}",
                round.p50.as_secs_f64() / base.p50.as_secs_f64(),
                round.pipelined.rate / base.pipelined.rate,
            )
        });
        println!(
            "e2e {name}: latency p50 {:.1} us, p99 {:.1} us ({round_trips} round trips); \
             pipelined {pipelined}: {:.0} msg/s, CPU per message {:.2} us client ({:.2} in the kernel), \
             {:.2} us server{versus}",
            round.p50.as_secs_f64() * 1e6,
            round.p99.as_secs_f64() * 1e6,
            round.pipelined.rate,
            round.pipelined.client_us,
            round.pipelined.client_kernel_us,
            round.pipelined.server_us,
        );
    }
    let index = |name: &str| names.iter().position(|n| *n == name);
    for rival in ["tokio-tungstenite", "tokio-tungstenite-8k"] {
        let (Some(ours), Some(theirs)) = (index("resock-tokio"), index(rival)) else {
            continue;
        };
        let (ours_median, theirs_median) = (results[ours].1, results[theirs].1);
        let per_round: Vec<String> = samples[ours]
            .iter()
            .zip(&samples[theirs])
            .map(|(a, b)| format!("{:.2}", a.pipelined.rate / b.pipelined.rate))
            .collect();
        println!(
            "e2e resock-tokio / {rival}: p50 x{:.2}, p99 x{:.2}, throughput x{:.2} (per round: {}), \
             client CPU per message x{:.2}",
            ours_median.p50.as_secs_f64() / theirs_median.p50.as_secs_f64(),
            ours_median.p99.as_secs_f64() / theirs_median.p99.as_secs_f64(),
            ours_median.pipelined.rate / theirs_median.pipelined.rate,
            per_round.join(" "),
            ours_median.pipelined.client_us / theirs_median.pipelined.client_us,
        );
    }
    drop(server);
}
