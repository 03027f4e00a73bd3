//! An echo server for the Autobahn `fuzzingclient`, on the async server (tokio):
//! `cargo run --release -p resock --features tokio --example autobahn_async_server -- 127.0.0.1:9003`.
//!
//! Every connection is a task echoing each message; runs until killed.

use resock::{Config, DeflateConfig, ServerBuilder, ServerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9003".to_owned());
    let connection = Config::default()
        .max_frame_size(32 << 20)
        .max_message_size(64 << 20)
        .max_fragments(1 << 20)
        // The 12.x and 13.x cases expect every echo compressed, down to 16 bytes: threshold 0.
        // Level 1: the cases judge the protocol, not the ratio.
        .deflate(Some(DeflateConfig::new().threshold(0).level(1)));
    let config = ServerConfig::default()
        .connection(connection)
        // Echoes of up to 16 MiB (9.x) must fit the outbound queue.
        .max_queued_bytes(128 << 20);
    let server = ServerBuilder::new()
        .config(config)
        .inbound_budget(1 << 30)
        .bind_tokio(addr.as_str())?;
    eprintln!("autobahn_async_server: listening on {}", server.local_addr());
    while let Some(peer) = server.accept().await {
        tokio::spawn(async move {
            while let Some(message) = peer.recv().await {
                // A send refused because the connection is closing is fine: recv ends next.
                let _ = peer.send(message);
            }
        });
    }
    Ok(())
}
