//! The owner of a blocking client waits on one poller for the socket, its deadlines and its
//! senders: a `Sender`'s message or close is taken at once while the owner blocks in `recv` with
//! no deadline, and an idle owner does not wake at all. Over `ws://` and `wss://`.
#![cfg(feature = "blocking")]

mod support;

use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use resock::blocking_client::Client;
use resock::core::session::{ClosedReason, HeartbeatConfig};
use resock::{ClientBuilder, CloseCode, Message};

use support::PATIENCE;
use support::ws_server::{Server, accept, echo};

/// How soon a sender's message must come back as an echo. Loopback takes well under a
/// millisecond; the bound is generous for a loaded machine, and far below "never".
const PROMPT: Duration = Duration::from_secs(2);

fn echo_server() -> Server {
    Server::local(|stream| {
        if let Some(mut ws) = accept(stream) {
            echo(&mut ws);
        }
    })
}

/// A client with no heartbeat: once open, nothing is due, so the owner has no deadline. Its
/// senders give up after [`PROMPT`], so an owner that does not wake fails the send.
fn open_client(builder: ClientBuilder) -> Client {
    let mut client = builder
        .heartbeat(HeartbeatConfig::disabled())
        .connect_blocking()
        .unwrap();
    client.set_send_timeout(PROMPT);
    client.connected().expect("open");
    client
}

/// The owner on its own thread, blocked in `recv`: its thread id (on Linux) and the outcome.
struct Owner {
    tid: Option<u32>,
    done: mpsc::Receiver<Result<Message, ClosedReason>>,
    thread: JoinHandle<Client>,
}

impl Owner {
    fn spawn(mut client: Client) -> Owner {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let thread = thread::spawn(move || {
            tid_tx.send(thread_id()).unwrap();
            done_tx.send(client.recv()).unwrap();
            client
        });
        let tid = tid_rx.recv_timeout(PATIENCE).unwrap();
        let owner = Owner { tid, done, thread };
        owner.wait_until_asleep();
        owner
    }

    /// Waits until the owner thread sleeps in the kernel (its only blocking call in `recv` is
    /// the poller's wait), so what follows must wake it. Without `/proc` it returns at once.
    fn wait_until_asleep(&self) {
        let Some(tid) = self.tid else { return };
        let deadline = Instant::now() + PATIENCE;
        while thread_state(tid) != Some('S') {
            assert!(Instant::now() < deadline, "the owner never went to sleep");
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn outcome(&self) -> Result<Message, ClosedReason> {
        self.done.recv_timeout(PATIENCE).expect("recv returned")
    }
}

/// This thread's id, from `/proc/thread-self` (Linux).
fn thread_id() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// A field of `/proc/self/task/<tid>/status`.
fn status_field(tid: u32, name: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(|value| value.trim().to_owned())
}

/// The scheduler state letter of thread `tid` (`S` while it sleeps in a syscall).
fn thread_state(tid: u32) -> Option<char> {
    status_field(tid, "State")?.chars().next()
}

/// How many times thread `tid` gave up the CPU of its own accord (each wake-up from a wait
/// ends with one).
fn voluntary_switches(tid: u32) -> Option<u64> {
    status_field(tid, "voluntary_ctxt_switches")?.parse().ok()
}

#[test]
fn a_senders_message_is_written_at_once_while_the_owner_waits_with_no_deadline() {
    let server = echo_server();
    let client = open_client(ClientBuilder::new(&server.url("/")).unwrap());
    let sender = client.sender();
    let owner = Owner::spawn(client);
    let sent = Instant::now();
    sender.send_text("from another thread").unwrap();
    assert_eq!(owner.outcome(), Ok(Message::text("from another thread")));
    let took = sent.elapsed();
    assert!(took < PROMPT, "the echo took {took:?}");
    let mut client = owner.thread.join().unwrap();
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

#[cfg(target_os = "linux")]
#[test]
fn an_idle_owner_sleeps_until_a_sender_wakes_it() {
    let server = echo_server();
    let client = open_client(ClientBuilder::new(&server.url("/")).unwrap());
    let sender = client.sender();
    let owner = Owner::spawn(client);
    let tid = owner.tid.expect("/proc/thread-self on Linux");
    let before = voluntary_switches(tid).unwrap();
    // A window in which an owner polling every 20 ms would wake 15 times; this one has
    // nothing to wait for but the socket and its sender.
    thread::sleep(Duration::from_millis(300));
    let woke = voluntary_switches(tid).unwrap() - before;
    assert!(woke <= 1, "the idle owner woke {woke} times");
    assert_eq!(thread_state(tid), Some('S'));
    sender.send_text("wake up").unwrap();
    assert_eq!(owner.outcome(), Ok(Message::text("wake up")));
    drop(owner.thread.join().unwrap());
    server.stop();
}

#[test]
fn a_senders_close_ends_the_owners_recv_and_the_server_sees_1000() {
    let (closes_tx, closes) = mpsc::channel();
    let server = Server::local(move |stream| {
        if let Some(mut ws) = accept(stream) {
            closes_tx.send(echo(&mut ws)).ok();
        }
    });
    let client = open_client(ClientBuilder::new(&server.url("/")).unwrap());
    let sender = client.sender();
    let owner = Owner::spawn(client);
    assert!(sender.close(CloseCode::NORMAL, "done here"), "the owner took the close");
    assert_eq!(owner.outcome(), Err(ClosedReason::User));
    let frame = closes.recv_timeout(PATIENCE).unwrap().expect("a close frame");
    assert_eq!(u16::from(frame.code), 1000);
    assert_eq!(frame.reason.as_str(), "done here");
    assert!(sender.is_closed());
    assert!(
        sender.close(CloseCode::NORMAL, ""),
        "closing a closed client is done at once"
    );
    let mut client = owner.thread.join().unwrap();
    assert_eq!(client.recv(), Err(ClosedReason::User));
    server.stop();
}

#[cfg(feature = "json")]
#[test]
fn a_senders_typed_message_is_the_builders_envelope() {
    use resock::core::typed::{EnvelopeFields, JsonEnvelope};

    let (texts_tx, texts) = mpsc::channel();
    let server = Server::local(move |stream| {
        if let Some(mut ws) = accept(stream) {
            while let Ok(message) = ws.read() {
                if let tungstenite::Message::Text(text) = message {
                    texts_tx.send(text.as_str().to_owned()).ok();
                    ws.send(tungstenite::Message::text("got it")).ok();
                }
            }
        }
    });
    let envelope = JsonEnvelope::with_fields(EnvelopeFields {
        type_field: "kind".into(),
        data_field: "body".into(),
        timestamp_field: Some("at".into()),
    });
    let client = open_client(ClientBuilder::new(&server.url("/")).unwrap().envelope(envelope));
    let sender = client.sender();
    let owner = Owner::spawn(client);
    let id = thread::spawn(move || sender.send_typed("greeting", &serde_json::json!({"name": "ada"})))
        .join()
        .unwrap()
        .expect("queued");
    assert_eq!(owner.outcome(), Ok(Message::text("got it")));
    let text = texts.recv_timeout(PATIENCE).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["kind"], "greeting", "{text}");
    assert_eq!(value["body"], serde_json::json!({"name": "ada"}), "{text}");
    assert!(value["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{text}");
    assert_eq!(value.as_object().map(|o| o.len()), Some(3), "{text}");
    let mut client = owner.thread.join().unwrap();
    // The owner's own typed send writes the same shape, with a later id.
    assert!(
        client
            .send_typed("greeting", &serde_json::json!({"name": "bob"}))
            .unwrap()
            > id
    );
    let own: serde_json::Value = serde_json::from_str(&texts.recv_timeout(PATIENCE).unwrap()).unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&own), keys(&value));
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}

#[cfg(feature = "rustls")]
#[test]
fn over_wss_senders_messages_small_and_large_pass_through_the_poller() {
    use resock::tls::TlsOptions;
    use support::tls_server::{TestCa, spawn_tls};

    let ca = TestCa::new("resock test CA");
    let (server, _hellos) = spawn_tls(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        ca.leaf(&["localhost"]),
        |tls| {
            if let Some(mut ws) = accept(tls) {
                echo(&mut ws);
            }
        },
    );
    let tls = TlsOptions::no_default_roots()
        .add_root_pem(ca.pem().as_bytes())
        .unwrap();
    let url = format!("wss://localhost:{}/", server.addr().port());
    let client = open_client(ClientBuilder::new(&url).unwrap().tls(tls));
    let sender = client.sender();

    let owner = Owner::spawn(client);
    let sent = Instant::now();
    sender.send_text("over TLS").unwrap();
    assert_eq!(owner.outcome(), Ok(Message::text("over TLS")));
    let took = sent.elapsed();
    assert!(took < PROMPT, "the echo took {took:?}");

    // 3 MiB (under the queue's byte bound): writes meet a full socket and reads see partial TLS records.
    let large: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let owner = Owner::spawn(owner.thread.join().unwrap());
    sender.send_binary(large.clone()).unwrap();
    let echoed = owner.outcome().unwrap();
    assert!(
        echoed.as_bytes() == large.as_slice(),
        "the large echo came back different"
    );
    let mut client = owner.thread.join().unwrap();
    assert!(client.close(CloseCode::NORMAL, ""));
    server.stop();
}
