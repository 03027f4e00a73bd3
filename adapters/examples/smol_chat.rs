//! A typed JSON chat on smol: lines from stdin go out as `{"type":"chat","data":{..}}`, and a
//! router prints incoming `chat` messages (an echo server sends yours back).
//!
//! `cargo run -p resock --features smol --example smol_chat -- [ws://127.0.0.1:9001] [name]`

use futures_lite::{AsyncBufReadExt, StreamExt, io::BufReader};
use resock::core::SessionEvent;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use resock::{AsyncRouter, ClientBuilder, CloseCode, Incoming};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Chat {
    from: String,
    text: String,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let name = args.next().unwrap_or_else(|| "guest".into());
    let client = ClientBuilder::new(&url)
        .expect("a ws:// or wss:// URL")
        .start_smol()
        .unwrap();
    smol::block_on(async {
        let count = Arc::new(AtomicU32::new(0));
        let mut router = AsyncRouter::new(client.envelope().clone());
        router
            .on("chat", |count: Arc<AtomicU32>, chat: Incoming<Chat>| async move {
                count.fetch_add(1, Ordering::Relaxed);
                println!("{}: {}", chat.from, chat.text);
            })
            .fallback(|_, unrouted| async move { println!("(a {} message)", unrouted.ty().unwrap_or("malformed")) });
        if let Err(reason) = client.connected().await {
            return eprintln!("closed before the connection opened: {reason}");
        }
        let reader = client.clone();
        let counted = Arc::clone(&count);
        let receiving = smol::spawn(async move { reader.run_router(&mut router, counted).await });
        let mut lines = BufReader::new(smol::Unblock::new(std::io::stdin())).lines();
        while let Some(Ok(text)) = lines.next().await {
            let chat = Chat {
                from: name.clone(),
                text,
            };
            client
                .send_typed("chat", &chat)
                .await
                .expect("the session is not closed");
        }
        // Listen from here on: closing hands back what was never sent.
        let mut closing = client.subscribe();
        println!("closed: {}", client.close(CloseCode::NORMAL, "bye").await);
        println!("router stopped: {}", receiving.await);
        println!("{} chat messages received", count.load(Ordering::Relaxed));
        while let Some(event) = closing.next().await {
            if let Ok(SessionEvent::HandedBack { message, .. }) = event {
                println!("not sent: {message:?}");
            }
        }
    });
}
