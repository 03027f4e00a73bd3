//! Typed JSON chat with the blocking client and a router:
//! `cargo run -p resock --example blocking_chat [ws://host/path]`.
//! Without a URL it starts a loopback server that greets, answers twice and says bye.
//! Needs the `json` feature (on by default).

#[cfg(not(feature = "json"))]
fn main() {
    eprintln!("this example needs the json feature");
}

#[cfg(feature = "json")]
fn main() {
    chat::main();
}

#[cfg(feature = "json")]
mod chat {
    use std::net::TcpListener;

    use resock::blocking_client::Client;
    use resock::core::typed::{JsonEnvelope, Router};
    use resock::{ClientBuilder, CloseCode};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Chat {
        from: String,
        text: String,
    }

    pub fn main() {
        let url = std::env::args().nth(1).unwrap_or_else(loopback_chat_server);
        let mut client = ClientBuilder::new(&url)
            .expect("a ws:// or wss:// URL")
            .connect_blocking()
            .unwrap();

        let mut router = Router::<Client>::new(JsonEnvelope::new());
        router
            .on("chat", |client: &mut Client, chat: Chat| {
                println!("{}: {}", chat.from, chat.text);
                if chat.from != "me" {
                    let reply = Chat {
                        from: "me".into(),
                        text: format!("hi {}", chat.from),
                    };
                    client.send_typed("chat", &reply).expect("queued");
                }
            })
            .on("bye", |client: &mut Client, reason: String| {
                println!("server says bye: {reason}");
                client.close(CloseCode::NORMAL, "bye");
            })
            .fallback(|_, unrouted| println!("unhandled {} message", unrouted.ty().unwrap_or("malformed")));

        client.send_typed("join", &"me").expect("queued");
        let closed = client.run_router(&mut router);
        println!("{closed}");
    }

    /// A server that greets, echoes each chat from the client once, and says bye after two.
    fn loopback_chat_server() -> String {
        use tungstenite::Message;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("ws://{}/chat", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut ws = tungstenite::accept(stream).expect("handshake");
            let mut chats = 0;
            while let Ok(message) = ws.read() {
                let Message::Text(text) = message else { continue };
                let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                let reply = match json["type"].as_str() {
                    Some("join") => r#"{"type":"chat","data":{"from":"ann","text":"welcome"}}"#.to_owned(),
                    Some("chat") if chats < 1 => {
                        chats += 1;
                        ws.send(Message::text(text.as_str())).ok();
                        r#"{"type":"chat","data":{"from":"bob","text":"hello too"}}"#.to_owned()
                    }
                    Some("chat") => r#"{"type":"bye","data":"that's all"}"#.to_owned(),
                    _ => continue,
                };
                ws.send(Message::text(reply)).ok();
            }
        });
        url
    }
}
