//! Reconnecting with the blocking client, printing the state log:
//! `cargo run -p resock --example blocking_reconnect [ws://host/path]`.
//! Without a URL it starts a loopback server that drops the first two connections.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use resock::core::session::{ReconnectPolicy, SessionEvent};
use resock::{ClientBuilder, CloseCode};

fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(flaky_server);
    let mut client = ClientBuilder::new(&url)
        .expect("a ws:// or wss:// URL")
        .reconnect(ReconnectPolicy::exponential(
            Duration::from_millis(100),
            Duration::from_secs(2),
        ))
        .connect_blocking()
        .unwrap();
    let start = Instant::now();
    let mut n = 0;
    while let Some(event) = client.next_event() {
        let at = start.elapsed().as_millis();
        match event {
            SessionEvent::StateChanged(state) => println!("{at:>5} ms  {state}"),
            SessionEvent::Disconnected { reason, .. } => println!("{at:>5} ms  disconnected: {reason}"),
            SessionEvent::Opened { .. } => {
                n += 1;
                client.send_text(format!("hello #{n}")).expect("queued");
            }
            SessionEvent::Message(message) => {
                println!("{at:>5} ms  server: {}", message.as_text().unwrap_or("<binary>"));
                client.close(CloseCode::NORMAL, "done");
            }
            _ => {}
        }
    }
}

/// Drops the first two connections after one message each, then echoes.
fn flaky_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut ws) = tungstenite::accept(stream.expect("accept")) else {
                continue;
            };
            let Ok(message) = ws.read() else { continue };
            if i >= 2 {
                ws.send(message).ok();
                while ws.read().is_ok() {}
                return;
            }
        }
    });
    url
}
