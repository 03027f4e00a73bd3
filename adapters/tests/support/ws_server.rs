//! A WebSocket server on a thread: tungstenite over `std::net`, one connection at a time,
//! stopped (and joined) when the handle drops.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::HeaderValue;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

/// Socket timeouts on accepted connections, so a stuck test cannot hang its server thread.
pub const SERVER_IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server thread; dropping it stops the accept loop and joins the thread.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves connections on `listener`, one after another, with `handle`.
    pub fn spawn(listener: TcpListener, mut handle: impl FnMut(TcpStream) + Send + 'static) -> Server {
        let addr = listener.local_addr().expect("listener address");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                stream.set_read_timeout(Some(SERVER_IO_TIMEOUT)).ok();
                stream.set_write_timeout(Some(SERVER_IO_TIMEOUT)).ok();
                handle(stream);
            }
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Binds 127.0.0.1 on a free port and serves with `handle`.
    pub fn local(handle: impl FnMut(TcpStream) + Send + 'static) -> Server {
        Server::spawn(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"), handle)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://<ip>:<port><path>` for this server (IPv6 in brackets).
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Stops the server and joins its thread, re-raising a panic of the handler.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept call; the loop sees the flag and ends.
        TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).ok();
        if let Some(thread) = self.thread.take() {
            if let Err(panic) = thread.join() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// What the server saw of an opening handshake.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The request path and query.
    pub path: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Accepts a WebSocket on `stream`, selecting the subprotocol `choose` returns from the offered
/// list; returns the socket and what the request held.
#[allow(clippy::result_large_err)] // the callback's signature is tungstenite's
pub fn accept_with<S: Read + Write>(
    stream: S,
    choose: impl FnOnce(&[String]) -> Option<String>,
) -> Option<(WebSocket<S>, Seen)> {
    let mut seen = Seen::default();
    let seen_ref = &mut seen;
    let callback = |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
        seen_ref.path = request.uri().to_string();
        for (name, value) in request.headers() {
            seen_ref
                .headers
                .push((name.as_str().to_owned(), value.to_str().unwrap_or("").to_owned()));
        }
        let offered: Vec<String> = request
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|p| p.trim().to_owned()))
            .collect();
        if let Some(protocol) = choose(&offered) {
            response
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_str(&protocol).unwrap());
        }
        Ok(response)
    };
    let ws = tungstenite::accept_hdr(stream, callback).ok()?;
    Some((ws, seen))
}

/// Accepts a WebSocket with no subprotocol.
pub fn accept<S: Read + Write>(stream: S) -> Option<WebSocket<S>> {
    accept_with(stream, |_| None).map(|(ws, _)| ws)
}

/// Echoes data messages until the connection ends; returns the close frame the client sent.
/// Pings are answered by tungstenite itself.
pub fn echo<S: Read + Write>(ws: &mut WebSocket<S>) -> Option<CloseFrame> {
    let mut close = None;
    loop {
        match ws.read() {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(message).is_err() {
                    return close;
                }
            }
            Ok(Message::Close(frame)) => close = frame,
            Ok(_) => {}
            Err(_) => return close,
        }
    }
}
