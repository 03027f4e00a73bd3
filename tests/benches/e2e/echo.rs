//! The e2e bench's echo servers: tungstenite on 127.0.0.1, a thread per connection, writing
//! the echoes of each read together (the default) or each echo with its own `send`
//! (`--server per-message`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// How the echo server answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Echo {
    /// tungstenite's `read` then `send` (write and flush) per message: one `send` syscall,
    /// one TCP segment, per echo.
    PerMessage,
    /// tungstenite on a non-blocking socket: every message a read made available is echoed
    /// with `write` (buffered), and one `flush` writes them all when no complete message is
    /// left, so the server's cost per message stays well below either client's.
    Batched,
}

impl Echo {
    pub fn describe(self) -> &'static str {
        match self {
            Echo::PerMessage => "tungstenite echo server (a send per echo)",
            Echo::Batched => "batching tungstenite echo server (one write per batch of echoes)",
        }
    }
}

/// A tungstenite echo server; stopped and joined on drop.
pub struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl EchoServer {
    pub fn start(kind: Echo) -> EchoServer {
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
                workers.push(std::thread::spawn(move || match kind {
                    Echo::PerMessage => echo(stream),
                    Echo::Batched => echo_batched(stream),
                }));
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

    pub fn url(&self) -> String {
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

/// Echoes in batches: reads every complete message the socket has, buffers each echo, then
/// writes them with one flush, and waits (`poll`) for more to read, or for room to write what
/// a full socket buffer left.
fn echo_batched(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    use tungstenite::Error;
    let fd = stream.as_raw_fd();
    let Ok(mut ws) = tungstenite::accept(stream) else {
        return;
    };
    ws.get_mut().set_nonblocking(true).unwrap();
    let would_block = |e: &Error| matches!(e, Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock);
    loop {
        match ws.read() {
            Ok(message) if message.is_text() || message.is_binary() => match ws.write(message) {
                Ok(()) => {}
                Err(e) if would_block(&e) => {} // kept in the write buffer
                Err(_) => return,
            },
            Ok(_) => {}
            Err(e) if would_block(&e) => {
                let flushed = match ws.flush() {
                    Ok(()) => true,
                    Err(e) if would_block(&e) => false,
                    Err(_) => return,
                };
                let events = if flushed {
                    libc::POLLIN
                } else {
                    libc::POLLIN | libc::POLLOUT
                };
                let mut pollfd = libc::pollfd { fd, events, revents: 0 };
                // SAFETY: one valid pollfd; the socket outlives the call.
                if unsafe { libc::poll(&mut pollfd, 1, -1) } < 0 {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}
