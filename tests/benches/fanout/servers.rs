//! The two broadcast servers, each run as a child process of the bench (this same binary with
//! `--serve resock|tokio-tungstenite`), on a multi-thread tokio runtime.
//!
//! Both speak the same line protocol with the bench: they print `LISTENING <port>` once bound;
//! then each `publish <count> <size>` line on stdin publishes `count` binary messages of `size`
//! bytes as fast as the server takes them (each carries its sequence number and the publish
//! time, see [`payload`]), and answers `published` when the last one was handed over; `stats`
//! answers one `stats ...` line; the process exits when stdin closes (or the bench kills it).
//!
//! - resock: `ServerBuilder::bind_tokio`, every accepted [`resock::Peer`] kept, and
//!   [`resock::Broadcast::send`] per message: encoded once, appended to the server's broadcast
//!   log, taken by each connection's task into its queue; a subscriber whose queue (1024
//!   messages / 4 MiB, the defaults) is full is closed with 1008.
//! - tokio-tungstenite: `accept_async` per connection and a writer task per connection reading a
//!   `tokio::sync::broadcast` channel of the same capacity (1024): the idiomatic shape. A
//!   lagging receiver skips the oldest messages (`Lagged`). Each message is framed per
//!   connection; the writer feeds what is ready and flushes once (`feed` + `flush`), so it gets
//!   the same write batching resock's `poll_transmit` does.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures_util::SinkExt;
use tokio::sync::{broadcast, mpsc};

/// The broadcast channel capacity of the tokio-tungstenite server, equal to resock's default
/// `max_queued_messages`.
pub const CHANNEL_CAPACITY: usize = 1024;

/// Nanoseconds of `CLOCK_MONOTONIC`: one clock for every process of the machine, so the publish
/// time written by the server child and the receive time read by the bench compare.
pub fn monotonic_nanos() -> u64 {
    // SAFETY: clock_gettime only writes the `timespec` given.
    let time = unsafe {
        let mut time: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut time);
        time
    };
    time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64
}

/// A message of `size` bytes (at least 16): sequence number, then publish time, little endian.
pub fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; size.max(16)];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    bytes[8..16].copy_from_slice(&monotonic_nanos().to_le_bytes());
    bytes
}

/// Commands read from stdin by a thread of their own; `None` when stdin closed.
fn commands() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").ok();
    out.flush().ok();
}

/// `publish <count> <size>` parsed.
fn parse_publish(line: &str) -> Option<(u64, usize)> {
    let mut words = line.split_whitespace();
    (words.next()? == "publish").then_some(())?;
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The resock server child.
pub fn serve_resock() {
    runtime().block_on(async {
        let config = resock::ServerConfig::default()
            // The subscribers are raw sockets that answer nothing: no heartbeat, no idle close
            // (tokio-tungstenite has neither).
            .ping_interval(None)
            .idle_timeout(None);
        let server = resock::ServerBuilder::new()
            .config(config)
            .max_connections(20_000)
            .bind_tokio("127.0.0.1:0")
            .expect("binding the resock server");
        say(&format!("LISTENING {}", server.local_addr().port()));
        let hub = server.broadcast();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            // Every handle is kept: dropping a connection's last `Peer` closes it.
            let mut peers = Vec::new();
            while let Some(peer) = server.accept().await {
                peers.push(peer);
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let (mut dropped_slow, mut skipped, mut seq) = (0usize, 0usize, 0u64);
        let mut commands = commands();
        while let Some(line) = commands.recv().await {
            if let Some((count, size)) = parse_publish(&line) {
                for _ in 0..count {
                    let report = hub.send(resock::Message::binary(payload(seq, size)));
                    dropped_slow += report.dropped_slow;
                    skipped += report.skipped;
                    seq += 1;
                }
                say("published");
            } else if line == "stats" {
                let accepted = accepted.load(Ordering::Relaxed);
                say(&format!(
                    "stats accepted={accepted} closed_slow={dropped_slow} skipped={skipped}"
                ));
            }
        }
    });
}

/// The tokio-tungstenite server child.
pub fn serve_tokio_tungstenite() {
    runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the tokio-tungstenite server");
        say(&format!(
            "LISTENING {}",
            listener.local_addr().expect("its address").port()
        ));
        let (tx, _) = broadcast::channel::<tungstenite::Message>(CHANNEL_CAPACITY);
        let accepted = Arc::new(AtomicUsize::new(0));
        let lagged = Arc::new(AtomicU64::new(0));
        let (subscribe, counter, lag) = (tx.clone(), Arc::clone(&accepted), Arc::clone(&lagged));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).ok();
                // Subscribed at accept, as an application would on its connection event.
                let rx = subscribe.subscribe();
                let (counter, lag) = (Arc::clone(&counter), Arc::clone(&lag));
                tokio::spawn(async move {
                    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    write_broadcasts(ws, rx, &lag).await;
                });
            }
        });
        let mut seq = 0u64;
        let mut commands = commands();
        while let Some(line) = commands.recv().await {
            if let Some((count, size)) = parse_publish(&line) {
                for _ in 0..count {
                    // No receiver yet is not an error for a broadcast.
                    let _ = tx.send(tungstenite::Message::binary(payload(seq, size)));
                    seq += 1;
                }
                say("published");
            } else if line == "stats" {
                let accepted = accepted.load(Ordering::Relaxed);
                let lagged = lagged.load(Ordering::Relaxed);
                say(&format!("stats accepted={accepted} lagged={lagged}"));
            }
        }
    });
}

/// One connection's writer: every message of the channel, those ready at once fed together and
/// flushed once.
async fn write_broadcasts(
    mut ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    mut rx: broadcast::Receiver<tungstenite::Message>,
    lagged: &AtomicU64,
) {
    loop {
        let first = match rx.recv().await {
            Ok(message) => message,
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                lagged.fetch_add(skipped, Ordering::Relaxed);
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if ws.feed(first).await.is_err() {
            return;
        }
        loop {
            match rx.try_recv() {
                Ok(message) => {
                    if ws.feed(message).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(skipped)) => {
                    lagged.fetch_add(skipped, Ordering::Relaxed);
                }
                Err(_) => break,
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}
