//! The subscribers: raw TCP sockets on a current-thread tokio runtime of their own thread, each
//! doing the opening handshake by hand (no extension offered) and then only reading server
//! frames, so the bench process spends as little as possible and the servers are what is
//! measured. Each binary frame's payload starts with its sequence number and publish time;
//! the receive time is read once per socket read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};

use super::servers::monotonic_nanos;

/// Handshakes in flight at once (the listen backlog is larger).
const CONNECTING_AT_ONCE: usize = 256;
/// Bytes asked of each read.
const READ_CHUNK: usize = 4096;
/// The bound on one handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);

/// A subscriber's progress in [`Progress::next_seq`] once it has ended.
pub const ENDED: u64 = u64::MAX;

/// What the bench's coordinating thread sees while the subscribers run.
pub struct Progress {
    /// Per subscriber: one past the last sequence number received ([`ENDED`] once the
    /// connection is over).
    pub next_seq: Vec<AtomicU64>,
    /// Subscribers whose handshake completed.
    pub connected: AtomicUsize,
    /// Subscribers whose connect or handshake failed.
    pub failed: AtomicUsize,
    /// Lets a stalled subscriber read again (see [`start`]).
    pub release: Notify,
}

impl Progress {
    /// Whether every subscriber has received everything before `seq`, or ended.
    pub fn all_reached(&self, seq: u64) -> bool {
        self.next_seq.iter().all(|next| next.load(Ordering::Acquire) >= seq)
    }
}

/// What one subscriber saw.
#[derive(Default)]
pub struct Received {
    /// Publish-to-receive latency of each message, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Whether the server sent a close frame, and its code.
    pub close_code: Option<u16>,
}

/// Starts `count` subscribers to `addr` on a thread of their own; the thread's result is every
/// subscriber's [`Received`], once each connection ended (the bench kills the server for that).
/// With `stalled`, subscriber 0 stops reading after its handshake (its progress reads
/// [`ENDED`] at once, so nobody waits for it) until [`Progress::release`] is notified; then it
/// reads what reached it, to see whether the server closed it.
pub fn start(addr: SocketAddr, count: usize, stalled: bool) -> (Arc<Progress>, std::thread::JoinHandle<Vec<Received>>) {
    let progress = Arc::new(Progress {
        next_seq: (0..count).map(|_| AtomicU64::new(0)).collect(),
        connected: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        release: Notify::new(),
    });
    let shared = Arc::clone(&progress);
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async move {
            let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
            let tasks: Vec<_> = (0..count)
                .map(|index| {
                    let (progress, gate) = (Arc::clone(&shared), Arc::clone(&gate));
                    let stall = stalled && index == 0;
                    tokio::spawn(async move { subscribe(addr, index, stall, &progress, &gate).await })
                })
                .collect();
            let mut all = Vec::with_capacity(count);
            for task in tasks {
                all.push(task.await.unwrap_or_default());
            }
            all
        })
    });
    (progress, thread)
}

async fn subscribe(addr: SocketAddr, index: usize, stall: bool, progress: &Progress, gate: &Semaphore) -> Received {
    let opened = {
        let _permit = gate.acquire().await;
        tokio::time::timeout(HANDSHAKE_LIMIT, open(addr)).await
    };
    let (stream, pending) = match opened {
        Ok(Ok(opened)) => opened,
        _ => {
            progress.next_seq[index].store(ENDED, Ordering::Release);
            progress.failed.fetch_add(1, Ordering::AcqRel);
            return Received::default();
        }
    };
    if stall {
        progress.next_seq[index].store(ENDED, Ordering::Release);
        progress.connected.fetch_add(1, Ordering::AcqRel);
        progress.release.notified().await;
        let unused = AtomicU64::new(0);
        return read_frames(stream, pending, &unused).await;
    }
    progress.connected.fetch_add(1, Ordering::AcqRel);
    let received = read_frames(stream, pending, &progress.next_seq[index]).await;
    progress.next_seq[index].store(ENDED, Ordering::Release);
    received
}

/// Connects and does the opening handshake; returns the stream and any bytes read past the
/// response.
async fn open(addr: SocketAddr) -> std::io::Result<(TcpStream, Vec<u8>)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut written = 0;
    while written < request.len() {
        stream.writable().await?;
        match stream.try_write(&request.as_bytes()[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    let mut pending = Vec::new();
    loop {
        if read_some(&stream, &mut pending).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            if !pending.starts_with(b"HTTP/1.1 101") {
                return Err(std::io::Error::other("the server refused the handshake"));
            }
            pending.drain(..end + 4);
            return Ok((stream, pending));
        }
    }
}

/// Appends what one read gives to `pending`; 0 at EOF.
async fn read_some(stream: &TcpStream, pending: &mut Vec<u8>) -> std::io::Result<usize> {
    loop {
        stream.readable().await?;
        let start = pending.len();
        pending.resize(start + READ_CHUNK, 0);
        let read = stream.try_read(&mut pending[start..]);
        pending.truncate(start + *read.as_ref().unwrap_or(&0));
        match read {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads server frames until the connection ends, recording each binary frame.
async fn read_frames(stream: TcpStream, mut pending: Vec<u8>, next_seq: &AtomicU64) -> Received {
    let mut received = Received::default();
    loop {
        let now = monotonic_nanos();
        let mut at = 0;
        while let Some((opcode, body, length)) = frame(&pending[at..]) {
            match opcode {
                0x2 if body.len() >= 16 => {
                    let seq = u64::from_le_bytes(body[..8].try_into().unwrap_or_default());
                    let sent = u64::from_le_bytes(body[8..16].try_into().unwrap_or_default());
                    let micros = now.saturating_sub(sent) / 1000;
                    received.latencies_us.push(u32::try_from(micros).unwrap_or(u32::MAX));
                    next_seq.store(seq + 1, Ordering::Release);
                }
                0x8 => {
                    received.close_code = Some(if body.len() >= 2 {
                        u16::from_be_bytes([body[0], body[1]])
                    } else {
                        1005
                    });
                    return received;
                }
                _ => {}
            }
            at += length;
        }
        pending.drain(..at);
        match read_some(&stream, &mut pending).await {
            Ok(n) if n > 0 => {}
            _ => return received,
        }
    }
}

/// The first whole unmasked frame of `bytes`: (opcode, payload, frame length).
fn frame(bytes: &[u8]) -> Option<(u8, &[u8], usize)> {
    let (&first, &second) = (bytes.first()?, bytes.get(1)?);
    let (length, header): (usize, usize) = match second & 0x7f {
        126 => (u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?) as usize, 4),
        127 => (u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize, 10),
        n => (n as usize, 2),
    };
    let body = bytes.get(header..header.checked_add(length)?)?;
    Some((first & 0x0f, body, header + length))
}
