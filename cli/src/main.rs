//! `resock`: with no arguments, a self-contained demo. An embedded WebSocket server (resock's
//! own server role) listens on 127.0.0.1, a client connects, exchanges text and binary
//! messages and a ping, and closes cleanly; then the summary is printed.

use std::net::TcpListener;
use std::process::ExitCode;
use std::thread;
use std::time::Instant;

use resock::blocking::WebSocket;
use resock::{CloseCode, Config, Event, Message};

fn main() -> ExitCode {
    match demo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resock demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("server: listening on ws://{addr}/demo (resock server role, echo)");
    let server = thread::spawn(move || -> Result<u32, resock::blocking::Error> {
        let (stream, peer) = listener
            .accept()
            .map_err(|e| resock::blocking::Error::Refused(e.to_string()))?;
        let mut ws = WebSocket::accept_on(stream, Config::default(), |request| {
            println!(
                "server: {peer} asks for {} with subprotocols {:?}",
                request.path, request.subprotocols
            );
            Ok(request.subprotocols.first().cloned())
        })?;
        let mut echoed = 0;
        while let Some(message) = ws.recv()? {
            ws.send(&message)?;
            echoed += 1;
        }
        Ok(echoed)
    });

    let options = resock::ClientOptions {
        subprotocols: vec!["demo.v1".into()],
        ..Default::default()
    };
    let started = Instant::now();
    let mut client = WebSocket::connect_with(&format!("ws://{addr}/demo"), &options, Config::default())?;
    println!("client: connected in {:.1} ms", started.elapsed().as_secs_f64() * 1e3);

    let outgoing = [
        Message::text(r#"{"type":"hello","data":{"name":"resock"}}"#),
        Message::text("κόσμε: UTF-8 survives the round trip"),
        Message::binary(vec![0xde, 0xad, 0xbe, 0xef]),
        Message::binary(vec![7u8; 256 * 1024]),
    ];
    let mut received = 0;
    for message in &outgoing {
        client.send(message)?;
        let echo = client.recv()?.ok_or("the server closed early")?;
        if &echo != message {
            return Err("the echo differs from what was sent".into());
        }
        received += 1;
        match &echo {
            Message::Text(t) => println!("client: echo text   {:>7} B  {}", t.len(), t),
            Message::Binary(b) => println!("client: echo binary {:>7} B", b.len()),
        }
    }

    let ping_sent = Instant::now();
    client.ping(b"rtt")?;
    loop {
        match client.next_event()? {
            Some(Event::Pong(_)) => {
                println!("client: pong after {:.3} ms", ping_sent.elapsed().as_secs_f64() * 1e3);
                break;
            }
            Some(_) => {}
            None => return Err("closed while waiting for the pong".into()),
        }
    }

    let info = client.close(CloseCode::NORMAL, "demo done")?;
    println!("client: closed, code {}, clean {}", info.code, info.clean);
    let echoed = server.join().map_err(|_| "the server thread panicked")??;
    println!(
        "summary: sent {}, received {received}, echoed by the server {echoed}, total {:.1} ms",
        outgoing.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
