//! The server side of the async tests: tungstenite over a blocking stream, and what a handler
//! reports to the test through a channel.

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response};
use tungstenite::protocol::WebSocketConfig;

use super::LIMIT;

/// No frame size limit, messages up to 64 MiB.
pub fn server_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_frame_size(None)
        .max_message_size(Some(64 << 20))
}

/// Accepts a WebSocket with [`server_config`].
pub fn accept<S: Read + Write>(stream: S) -> tungstenite::WebSocket<S> {
    tungstenite::accept_with_config(stream, Some(server_config())).expect("server handshake")
}

/// A handshake callback that sees the request and may change the response.
struct Inspect<F>(F);

impl<F: FnOnce(&Request, Response) -> Response> Callback for Inspect<F> {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        Ok((self.0)(request, response))
    }
}

/// Accepts a WebSocket with [`server_config`], letting `inspect` see the request and change
/// the response (add headers).
pub fn accept_hdr<S: Read + Write>(
    stream: S,
    inspect: impl FnOnce(&Request, Response) -> Response,
) -> tungstenite::WebSocket<S> {
    tungstenite::accept_hdr_with_config(stream, Inspect(inspect), Some(server_config())).expect("server handshake")
}

/// Echoes data messages until the connection ends.
pub fn echo<S: Read + Write>(ws: &mut tungstenite::WebSocket<S>) {
    loop {
        match ws.read() {
            Ok(m) if m.is_text() || m.is_binary() => {
                if ws.send(m).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// Reads (answering pings, dropping data) until the connection ends.
pub fn read_until_closed<S: Read + Write>(ws: &mut tungstenite::WebSocket<S>) {
    while ws.read().is_ok() {}
}

/// What a server handler observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Text(String),
    Close(Option<(u16, String)>),
    Header(String),
    Ended,
}

/// A channel for what handlers observe, with room for every report of a test.
pub fn channel() -> (SyncSender<Seen>, Receiver<Seen>) {
    sync_channel(4096)
}

/// The next report, within [`LIMIT`].
pub fn next_seen(rx: &Receiver<Seen>) -> Seen {
    rx.recv_timeout(LIMIT).expect("the server reports within the limit")
}

/// Reads until the connection ends, reporting text messages (echoed when `echo` is set) and
/// the close frame.
pub fn collect<S: Read + Write>(ws: &mut tungstenite::WebSocket<S>, tx: &SyncSender<Seen>, echo: bool) {
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Text(text)) => {
                tx.send(Seen::Text(text.to_string())).unwrap();
                if echo && ws.send(tungstenite::Message::Text(text)).is_err() {
                    tx.send(Seen::Ended).unwrap();
                    return;
                }
            }
            Ok(tungstenite::Message::Close(frame)) => {
                let frame = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                tx.send(Seen::Close(frame)).unwrap();
            }
            Ok(_) => {}
            Err(_) => {
                tx.send(Seen::Ended).unwrap();
                return;
            }
        }
    }
}
