//! An echo server for the Autobahn `fuzzingclient`, on the blocking driver:
//! `cargo run --release -p resock --example autobahn_server -- 127.0.0.1:9002`.
//!
//! One thread per connection; runs until killed.

use std::net::TcpListener;

use resock::blocking::WebSocket;
use resock::{Config, DeflateConfig};

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("autobahn_server: listening on {addr}");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let config = Config::default()
                .max_frame_size(32 << 20)
                .max_message_size(64 << 20)
                .max_fragments(1 << 20)
                // The 12.x and 13.x cases expect every echo compressed, down to 16 bytes
                // (kosoku cannot hash an uncompressed text echo): threshold 0. Level 1: the
                // cases judge the protocol, not the ratio.
                .deflate(Some(DeflateConfig::new().threshold(0).level(1)));
            let Ok(mut ws) = WebSocket::accept(stream, config) else {
                return;
            };
            while let Ok(Some(message)) = ws.recv() {
                // A send refused because the peer is closing is fine: the next recv sees the close.
                let _ = ws.send(&message);
            }
        });
    }
    Ok(())
}
