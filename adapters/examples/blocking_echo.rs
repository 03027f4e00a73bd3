//! Echo with the blocking client: `cargo run -p resock --example blocking_echo [ws://host/path]`.
//! Without a URL it starts a loopback echo server (tungstenite) on a thread.

use std::net::TcpListener;

use resock::core::session::SessionEvent;
use resock::{ClientBuilder, CloseCode};

fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(loopback_echo_server);
    let mut client = ClientBuilder::new(&url)
        .expect("a ws:// or wss:// URL")
        .connect_blocking()
        .unwrap();
    for text in ["hello", "from", "resock"] {
        client.send_text(text).expect("queued");
    }
    let mut echoes = 0;
    while let Some(event) = client.next_event() {
        match event {
            SessionEvent::StateChanged(state) => println!("state: {state}"),
            SessionEvent::Message(message) => {
                println!("echo: {:?}", message.as_text().unwrap_or("<binary>"));
                echoes += 1;
                if echoes == 3 {
                    client.close(CloseCode::NORMAL, "done");
                }
            }
            _ => {}
        }
    }
}

/// A one-connection echo server on 127.0.0.1; returns its URL.
fn loopback_echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("ws://{}/echo", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut ws = tungstenite::accept(stream).expect("handshake");
        while let Ok(message) = ws.read() {
            if (message.is_text() || message.is_binary()) && ws.send(message).is_err() {
                break;
            }
        }
    });
    url
}
