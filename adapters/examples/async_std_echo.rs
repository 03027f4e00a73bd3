//! Sends three messages and prints their echoes, on async-std (discontinued upstream; see
//! `smol_echo` for the same on smol).
//!
//! `cargo run -p resock --features async-std --example async_std_echo -- [ws://127.0.0.1:9001]`

use resock::{ClientBuilder, CloseCode};

fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let client = ClientBuilder::new(&url)
        .expect("a ws:// or wss:// URL")
        .start_async_std()
        .unwrap();
    async_std::task::block_on(async {
        for text in ["hello", "from", "resock"] {
            client.send_text(text).await.expect("the session is not closed");
            match client.recv().await {
                Ok(echo) => println!("echo: {echo:?}"),
                Err(reason) => return println!("closed: {reason}"),
            }
        }
        println!("closed: {}", client.close(CloseCode::NORMAL, "bye").await);
    });
}
