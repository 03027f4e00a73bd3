//! resock's blocking driver against tungstenite over loopback, both ways: our client against a
//! tungstenite echo server thread, and a tungstenite client against our server role.

use std::net::TcpListener;
use std::thread;

use resock::blocking::WebSocket;
use resock::{ClientOptions, CloseCode, Config, Message};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode as TCloseCode;

/// A tungstenite echo server for one connection; returns its address and join handle.
fn tungstenite_echo_server() -> (String, thread::JoinHandle<Option<u16>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        ws.set_config(|c| {
            c.max_message_size = Some(64 << 20);
            c.max_frame_size = Some(64 << 20);
        });
        loop {
            match ws.read() {
                Ok(m @ (tungstenite::Message::Text(_) | tungstenite::Message::Binary(_))) => ws.send(m).unwrap(),
                Ok(tungstenite::Message::Close(frame)) => {
                    let code = frame.map(|f| u16::from(f.code));
                    while ws.flush().is_ok() {}
                    return code;
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    });
    (format!("ws://{addr}/echo"), handle)
}

#[test]
fn resock_client_echoes_through_tungstenite_server() {
    let (url, server) = tungstenite_echo_server();
    let mut ws = WebSocket::connect_with(&url, &ClientOptions::default(), Config::default()).unwrap();
    let payloads = [
        Message::text(""),
        Message::text("hello"),
        Message::text("κόσμε ".repeat(3000)),
        Message::binary(vec![]),
        Message::binary((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()),
        Message::binary(vec![42u8; 3 << 20]),
    ];
    for message in &payloads {
        ws.send(message).unwrap();
        assert_eq!(ws.recv().unwrap().as_ref(), Some(message));
    }
    let info = ws.close(CloseCode(4000), "done").unwrap();
    assert!(info.clean, "{info:?}");
    assert_eq!(info.code, CloseCode(4000));
    assert_eq!(server.join().unwrap(), Some(4000));
}

#[test]
fn tungstenite_client_echoes_through_resock_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = WebSocket::accept_on(stream, Config::default(), |request| {
            assert_eq!(request.path, "/chat?room=1");
            Ok(Some("chat.v2".to_owned()))
        })
        .unwrap();
        let mut count = 0;
        while let Some(message) = ws.recv().unwrap() {
            ws.send(&message).unwrap();
            count += 1;
        }
        (count, ws.close_info().cloned())
    });
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/chat?room=1")).unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "chat.v1, chat.v2".parse().unwrap());
    let (mut client, response) = tungstenite::connect(request).unwrap();
    assert_eq!(
        response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap()),
        Some("chat.v2")
    );
    for i in 0..50 {
        let text = format!("message {i}");
        client.send(tungstenite::Message::text(text.clone())).unwrap();
        assert_eq!(client.read().unwrap(), tungstenite::Message::text(text));
    }
    client.send(tungstenite::Message::binary(vec![1u8; 200_000])).unwrap();
    assert_eq!(client.read().unwrap(), tungstenite::Message::binary(vec![1u8; 200_000]));
    client
        .close(Some(CloseFrame {
            code: TCloseCode::Normal,
            reason: "bye".into(),
        }))
        .unwrap();
    while client.read().is_ok() {}
    let (count, info) = server.join().unwrap();
    assert_eq!(count, 51);
    let info = info.unwrap();
    assert!(info.clean);
    assert_eq!((info.code, info.reason.as_str()), (CloseCode::NORMAL, "bye"));
}
