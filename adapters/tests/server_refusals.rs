//! Refusals reach the application, on every runtime: the hook of `ServerBuilder::on_refusal`
//! hears each refused connection once, with the client's address, the status sent and why
//! (a slowloris 408, a full server 503, the per-IP limit 429, the decision hook's rejection,
//! a request that is not an opening request), and `Server::stats` counts them. A panicking
//! decision hook answers 500 and a panicking refusal hook goes no further: the server keeps
//! accepting. The agreed extensions reach the `Peer`.
#![cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]

#[macro_use]
mod server_support;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resock::{Decision, Refusal, RefusalReason, Server, ServerBuilder, ServerConfig};
use server_support::{Rt, connect, eventually, raw_exchange, serve_echo, upgrade_request};

on_server_runtimes!(
    a_slowloris_is_heard_as_a_handshake_timeout_with_its_address,
    a_full_server_is_heard_as_full_and_the_per_ip_limit_as_per_ip,
    a_rejection_by_the_decision_hook_and_a_bad_request_are_heard,
    an_accepted_connection_is_counted_and_no_refusal_is_heard,
    the_peer_tells_the_agreed_extensions,
    panicking_hooks_end_neither_the_accept_loop_nor_the_server,
);

/// Every refusal the hook heard, in order.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<Refusal>>>);

impl Heard {
    fn builder(&self, builder: ServerBuilder) -> ServerBuilder {
        let heard = Arc::clone(&self.0);
        builder.on_refusal(move |refusal| heard.lock().unwrap().push(refusal.clone()))
    }

    fn all(&self) -> Vec<Refusal> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `count` refusals were heard, and returns them.
    fn wait_for(&self, count: usize) -> Vec<Refusal> {
        eventually(&format!("{count} refusal(s) heard"), || self.all().len() >= count);
        self.all()
    }
}

fn handshake_timeout(timeout: Duration) -> ServerConfig {
    let config = ServerConfig::default();
    let connection = config.connection.clone().handshake_timeout(timeout);
    config.connection(connection)
}

fn start<R: Rt>(rt: &Arc<R>, heard: &Heard, builder: ServerBuilder) -> Arc<Server> {
    let server = Arc::new(rt.bind(heard.builder(builder)));
    serve_echo(rt, Arc::clone(&server));
    server
}

fn a_slowloris_is_heard_as_a_handshake_timeout_with_its_address<R: Rt>() {
    let rt = Arc::new(R::new());
    let heard = Heard::default();
    let builder = ServerBuilder::new().config(handshake_timeout(Duration::from_millis(200)));
    let server = start(&rt, &heard, builder);
    let (mut stream, head) = raw_exchange(server.local_addr(), b"GET / HTTP/1.1\r\nHost: slow\r\n");
    assert!(head.starts_with("HTTP/1.1 408 "), "{head:?}");
    let client_addr = stream.local_addr().unwrap();
    let _ = stream.read_to_end(&mut Vec::new());
    let refusals = heard.wait_for(1);
    let expected = [(client_addr, 408, RefusalReason::HandshakeTimeout)];
    assert_eq!(summary(&refusals), expected);
    let stats = server.stats();
    assert_eq!(
        (stats.refused, stats.handshake_timeouts, stats.accepted),
        (1, 1, 0),
        "{stats:?}"
    );
}

fn a_full_server_is_heard_as_full_and_the_per_ip_limit_as_per_ip<R: Rt>() {
    let rt = Arc::new(R::new());
    let heard = Heard::default();
    let server = start(&rt, &heard, ServerBuilder::new().max_connections(1));
    let addr = server.local_addr();
    let (_held, _) = connect(addr, "/", &[]).unwrap();
    let (stream, head) = raw_exchange(addr, upgrade_request(addr).as_bytes());
    assert!(head.starts_with("HTTP/1.1 503 "), "{head:?}");
    let refusals = heard.wait_for(1);
    let full = [(stream.local_addr().unwrap(), 503, RefusalReason::Full)];
    assert_eq!(summary(&refusals), full);
    assert_eq!((server.stats().full, server.stats().refused), (1, 1));

    let heard = Heard::default();
    let server = start(&rt, &heard, ServerBuilder::new().max_connections_per_ip(1));
    let addr = server.local_addr();
    let (_held, _) = connect(addr, "/", &[]).unwrap();
    let (stream, head) = raw_exchange(addr, upgrade_request(addr).as_bytes());
    assert!(head.starts_with("HTTP/1.1 429 "), "{head:?}");
    let refusals = heard.wait_for(1);
    let per_ip = [(stream.local_addr().unwrap(), 429, RefusalReason::PerIpLimit)];
    assert_eq!(summary(&refusals), per_ip);
    assert_eq!((server.stats().per_ip_limit, server.stats().refused), (1, 1));
}

fn a_rejection_by_the_decision_hook_and_a_bad_request_are_heard<R: Rt>() {
    let rt = Arc::new(R::new());
    let heard = Heard::default();
    let builder = ServerBuilder::new().decide(|request| match request.path() {
        "/private" => Decision::reject(403).body("no"),
        _ => Decision::accept(),
    });
    let server = start(&rt, &heard, builder);
    let addr = server.local_addr();
    let request = upgrade_request(addr).replacen("GET / ", "GET /private ", 1);
    let (rejected, head) = raw_exchange(addr, request.as_bytes());
    assert!(head.starts_with("HTTP/1.1 403 "), "{head:?}");
    let refusals = heard.wait_for(1);
    let expected = (rejected.local_addr().unwrap(), 403, RefusalReason::Rejected);
    assert_eq!(summary(&refusals), [expected]);
    let request = refusals[0].request.as_ref().expect("a rejection carries its request");
    assert_eq!(request.path, "/private");

    let not_websocket = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let (bad, head) = raw_exchange(addr, not_websocket.as_bytes());
    assert!(head.starts_with("HTTP/1.1 400 "), "{head:?}");
    let refusals = heard.wait_for(2);
    assert_eq!(refusals[1].peer_addr, bad.local_addr().unwrap());
    assert_eq!(refusals[1].status, 400);
    assert!(
        matches!(&refusals[1].reason, RefusalReason::BadRequest(problem) if !problem.is_empty()),
        "{:?}",
        refusals[1]
    );
    assert_eq!(refusals[1].reason.name(), "bad-request");
    let stats = server.stats();
    assert_eq!(
        (stats.rejected, stats.bad_requests, stats.refused),
        (1, 1, 2),
        "{stats:?}"
    );
}

fn panicking_hooks_end_neither_the_accept_loop_nor_the_server<R: Rt>() {
    let rt = Arc::new(R::new());
    let heard = Heard::default();
    let recorder = Arc::clone(&heard.0);
    let builder = ServerBuilder::new()
        .max_connections(1)
        .decide(|request| match request.path() {
            "/bug" => panic!("a decision hook with a bug"),
            _ => Decision::accept(),
        })
        .on_refusal(move |refusal| {
            recorder.lock().unwrap().push(refusal.clone());
            panic!("a refusal hook with a bug");
        });
    let server = Arc::new(rt.bind(builder));
    serve_echo(&rt, Arc::clone(&server));
    let addr = server.local_addr();

    // The decision hook panics on the connection's task: that request is answered 500.
    let request = upgrade_request(addr).replacen("GET / ", "GET /bug ", 1);
    let (bugged, head) = raw_exchange(addr, request.as_bytes());
    assert!(head.starts_with("HTTP/1.1 500 "), "{head:?}");
    let refusals = heard.wait_for(1);
    let expected = (bugged.local_addr().unwrap(), 500, RefusalReason::DecisionPanicked);
    assert_eq!(summary(&refusals), [expected]);
    assert_eq!(refusals[0].reason.name(), "decision-panicked");

    // The refusal hook panics on the accept loop (the server is full), which goes on.
    let (held, _) = connect(addr, "/", &[]).unwrap();
    let (full, head) = raw_exchange(addr, upgrade_request(addr).as_bytes());
    assert!(head.starts_with("HTTP/1.1 503 "), "{head:?}");
    let refusals = heard.wait_for(2);
    assert_eq!(
        summary(&refusals[1..]),
        [(full.local_addr().unwrap(), 503, RefusalReason::Full)]
    );
    drop(held);
    // The held place frees once the server has seen the close, so a first try may be refused
    // full again (the hook panics again, on the accept loop again).
    eventually("a connection accepted after both panics", || {
        connect(addr, "/", &[]).is_ok()
    });
    let stats = server.stats();
    assert_eq!(stats.decision_panics, 1, "{stats:?}");
    assert!(stats.full >= 1, "{stats:?}");
    assert_eq!(stats.refused, stats.decision_panics + stats.full, "{stats:?}");
    assert!(stats.accepted >= 2, "{stats:?}");
}

fn an_accepted_connection_is_counted_and_no_refusal_is_heard<R: Rt>() {
    let rt = Arc::new(R::new());
    let heard = Heard::default();
    let server = start(&rt, &heard, ServerBuilder::new());
    let (mut client, _) = connect(server.local_addr(), "/", &[]).unwrap();
    client.send(tungstenite::Message::text("hi")).unwrap();
    assert_eq!(client.read().unwrap(), tungstenite::Message::text("hi"));
    client.close(None).unwrap();
    while client.read().is_ok() {}
    eventually("the connection to end", || server.connections() == 0);
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.refused, stats.dropped), (1, 0, 0), "{stats:?}");
    assert!(heard.all().is_empty(), "{:?}", heard.all());
}

fn the_peer_tells_the_agreed_extensions<R: Rt>() {
    let rt = Arc::new(R::new());
    let server = Arc::new(rt.bind(ServerBuilder::new()));
    let addr = server.local_addr();
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    let with_offer = upgrade_request(addr).replacen("\r\n\r\n", &format!("\r\n{offer}"), 1);
    for (request, agreed) in [(with_offer, Some("permessage-deflate")), (upgrade_request(addr), None)] {
        let (_stream, head) = raw_exchange(addr, request.as_bytes());
        assert!(head.starts_with("HTTP/1.1 101 "), "{head:?}");
        let peer = rt.block_on(server.accept()).expect("the connection is accepted");
        assert_eq!(peer.extensions(), agreed, "{head}");
        assert_eq!(peer.deflate().is_some(), agreed.is_some());
        if let Some(value) = agreed {
            assert!(
                head.contains(&format!("\r\nSec-WebSocket-Extensions: {value}\r\n")),
                "{head}"
            );
        }
    }
}

fn summary(refusals: &[Refusal]) -> Vec<(SocketAddr, u16, RefusalReason)> {
    refusals
        .iter()
        .map(|r| (r.peer_addr, r.status, r.reason.clone()))
        .collect()
}
