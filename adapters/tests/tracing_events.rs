//! The `tracing` feature: a span per connection attempt, events for state changes, reconnects
//! and failures, and never a credential (the URL's query, a header value) in any of them.
#![cfg(all(feature = "tracing", feature = "blocking"))]

mod support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resock::{ClientBuilder, CloseCode, SessionEvent};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use support::expect_event;
use support::ws_server::{Server, accept, echo};

/// Every span and event as one line of text: `span resock.connection transport=0 ...` or
/// `event INFO state changed state=open (in span 1)`.
#[derive(Default, Clone)]
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next_id: Arc<AtomicU64>,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        write!(self.0, " {}={:?}", field.name(), value).unwrap();
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        write!(self.0, " {}={}", field.name(), value).unwrap();
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(format!("span {}", span.metadata().name()));
        span.record(&mut fields);
        self.lines.lock().unwrap().push(fields.0);
        Id::from_u64(self.next_id.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(format!("event {}", event.metadata().level()));
        event.record(&mut fields);
        if let Some(parent) = event.parent() {
            write!(fields.0, " (in span {})", parent.into_u64()).unwrap();
        }
        self.lines.lock().unwrap().push(fields.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[test]
fn attempts_are_spans_and_state_changes_reconnects_and_failures_are_events() {
    let mut connections = 0;
    let server = Server::local(move |stream| {
        connections += 1;
        if let Some(mut ws) = accept(stream) {
            if connections > 1 {
                echo(&mut ws);
            }
            // The first connection is dropped without a close frame: the client reconnects.
        }
    });
    let capture = Capture::default();
    let url = format!("{}?token=query-secret", server.url("/feed"));
    tracing::subscriber::with_default(capture.clone(), || {
        let mut client = ClientBuilder::new(&url)
            .unwrap()
            .header("Authorization", "Bearer header-secret")
            .backoff(Duration::from_millis(10), Duration::from_millis(20))
            .connect_blocking()
            .unwrap();
        let opens = |e: &SessionEvent| matches!(e, SessionEvent::Opened { .. });
        expect_event(&mut client, "first open", opens);
        expect_event(&mut client, "second open", opens);
        assert!(client.close(CloseCode::NORMAL, "done"));
    });
    drop(server);

    let lines = capture.lines.lock().unwrap().clone();
    let text = lines.join("\n");
    let spans: Vec<&String> = lines.iter().filter(|l| l.starts_with("span ")).collect();
    assert_eq!(spans.len(), 2, "one span per attempt:\n{text}");
    assert!(
        spans[0].starts_with("span resock.connection transport=0 attempt=1 scheme=ws host=127.0.0.1"),
        "{text}"
    );
    assert!(spans[0].ends_with("path=/feed"), "the path without its query: {text}");
    assert!(spans[1].contains("transport=1"), "{text}");
    for wanted in [
        "event INFO message=state changed state=connecting (attempt 1) (in span 1)",
        "event INFO message=connecting (in span 1)",
        "event INFO message=connection open (in span 1)",
        "event INFO message=state changed state=open (in span 1)",
        "event WARN message=disconnected; reconnecting reason=the connection ended without a close frame retry_in=",
        "event INFO message=state changed state=waiting to retry (attempt 2 next) (in span 1)",
        "event INFO message=state changed state=reconnecting (attempt 2) (in span 2)",
        "event INFO message=connection open (in span 2)",
        "event INFO message=closed code=1000 reason=done",
        "event WARN message=disconnected for good reason=the application closed the connection (in span 2)",
        "event INFO message=state changed state=closed: closed by the application (in span 2)",
    ] {
        assert!(lines.iter().any(|l| l.starts_with(wanted)), "no `{wanted}` in:\n{text}");
    }
    assert!(!text.contains("secret"), "a credential was logged:\n{text}");
}

#[test]
#[allow(clippy::result_large_err)] // the callback's signature is tungstenite's
fn a_redirect_is_an_event_and_its_hop_a_span_without_the_query() {
    use tungstenite::handshake::server::{ErrorResponse, Request, Response};
    let server = Server::local(|stream| {
        let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
            if !request.uri().path().starts_with("/old") {
                return Ok(response);
            }
            Err(tungstenite::http::Response::builder()
                .status(307)
                .header("Location", "/new?token=location-secret")
                .header("Content-Length", "0")
                .body(None)
                .unwrap())
        };
        if let Ok(mut ws) = tungstenite::accept_hdr(stream, callback) {
            echo(&mut ws);
        }
    });
    let capture = Capture::default();
    let url = format!("{}?token=query-secret", server.url("/old"));
    tracing::subscriber::with_default(capture.clone(), || {
        let mut client = ClientBuilder::new(&url).unwrap().connect_blocking().unwrap();
        expect_event(&mut client, "open", |e| matches!(e, SessionEvent::Opened { .. }));
        assert!(client.close(CloseCode::NORMAL, "done"));
    });
    drop(server);

    let lines = capture.lines.lock().unwrap().clone();
    let text = lines.join("\n");
    let spans: Vec<&String> = lines.iter().filter(|l| l.starts_with("span ")).collect();
    assert_eq!(spans.len(), 2, "one span per transport:\n{text}");
    assert!(spans[0].ends_with("path=/old"), "{text}");
    assert!(spans[1].contains("transport=1 attempt=1 "), "the same attempt: {text}");
    assert!(spans[1].ends_with("path=/new"), "{text}");
    let redirected = "event INFO message=redirected status=307 scheme=ws host=127.0.0.1 port=";
    let line = lines.iter().find(|l| l.starts_with(redirected));
    assert!(
        line.is_some_and(|l| l.ends_with("path=/new (in span 1)")),
        "no `{redirected}` in:\n{text}"
    );
    assert!(!text.contains("secret"), "a credential was logged:\n{text}");
}

/// A proxy that refuses every credential with 407: the refusal is logged, the credentials
/// (user, password, their Basic token) never.
#[test]
fn a_proxy_refusal_is_logged_without_the_credentials() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let proxy = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            request.push(byte[0]);
        }
        stream
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            .unwrap();
        String::from_utf8(request).unwrap()
    });
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let mut client = ClientBuilder::new("wss://example.com/feed")
            .unwrap()
            .proxy(&format!("http://proxy-user:proxy%20secret@127.0.0.1:{port}"))
            .connect_blocking()
            .unwrap();
        let closed = |e: &SessionEvent| matches!(e, SessionEvent::StateChanged(resock::SessionState::Closed(_)));
        expect_event(&mut client, "closed for good", closed);
    });
    let request = proxy.join().unwrap();
    // The proxy did get them (percent-decoded, in the Basic token).
    assert!(
        request.contains("Proxy-Authorization: Basic cHJveHktdXNlcjpwcm94eSBzZWNyZXQ=\r\n"),
        "{request}"
    );
    let text = capture.lines.lock().unwrap().join("\n");
    assert!(
        text.contains("407 proxy authentication required"),
        "the refusal is logged:\n{text}"
    );
    for secret in ["proxy-user", "secret", "cHJveHktdXNlcjpwcm94eSBzZWNyZXQ"] {
        assert!(!text.contains(secret), "{secret} was logged:\n{text}");
    }
}
