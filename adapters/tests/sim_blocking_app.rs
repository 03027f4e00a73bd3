//! A blocking app tested on the simulator: the `app` module is ordinary code on
//! `resock::blocking_client::Client`; only the test knows the client runs in a [`SharedWorld`],
//! where every call that would wait runs the world on virtual time instead.

use std::time::Duration;

use resock::blocking_client::Client;
use resock::sim::{SharedWorld, World};
use resock::{ClientBuilder, DisconnectReason, HeartbeatConfig, SessionEvent};

const SECOND: Duration = Duration::from_secs(1);

/// The application under test: nothing in it knows it runs on a simulator. Its configuration
/// (the builder) joins the room on every connection; its code reads with `recv`.
mod app {
    use resock::ClientBuilder;
    use resock::blocking_client::Client;
    use resock::core::session::ClosedReason;

    /// The app's client configuration: the room is joined again on every connection.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder::new(url).unwrap().send_on_open("join lobby")
    }

    /// Reads the next `count` lines.
    pub fn read_lines(client: &mut Client, count: usize) -> Result<Vec<String>, ClosedReason> {
        (0..count)
            .map(|_| client.recv().map(|m| m.as_text().unwrap_or_default().to_owned()))
            .collect()
    }

    /// Asks the server (an echo) a question and reads the answer.
    pub fn ask(client: &mut Client, question: &str) -> Result<String, ClosedReason> {
        client.send_text(question).ok();
        Ok(read_lines(client, 1)?.remove(0))
    }
}

fn start(world: &SharedWorld, builder: ClientBuilder) -> Client {
    builder.connect_blocking_sim(world).unwrap()
}

#[test]
fn the_recv_loop_sees_the_reconnect_after_a_server_restart_and_gets_the_next_message() {
    let world = World::new([3; 32]).shared();
    let mut client = start(&world, app::builder("wss://chat.example/ws"));

    // The server echoes: the first connection's join comes back.
    assert_eq!(app::read_lines(&mut client, 1).unwrap(), ["join lobby"]);
    let asked_at = world.now();
    assert_eq!(app::ask(&mut client, "who is here?").unwrap(), "who is here?");
    let connected_at = world.now();
    assert_eq!(
        connected_at - asked_at,
        Duration::from_millis(10),
        "the answer is read when it arrives: one round trip of the 5 ms link"
    );

    // The server restarts while the app is between calls: down 10 s, then back.
    world.borrow_mut().stop_server();
    world.borrow_mut().run_for(10 * SECOND);
    world.borrow_mut().start_server();

    // The app's next call sees the drop, reconnects, joins again, and gets the next message.
    assert_eq!(app::read_lines(&mut client, 1).unwrap(), ["join lobby"]);
    assert_eq!(app::ask(&mut client, "still there?").unwrap(), "still there?");
    let mut phases = Vec::new();
    while let Some(event) = client.next_event_timeout(Duration::ZERO) {
        match event {
            SessionEvent::Opened { .. } => phases.push("opened"),
            SessionEvent::Disconnected { .. } => phases.push("disconnected"),
            _ => {}
        }
    }
    assert_eq!(phases, ["opened", "disconnected", "opened"]);
    let world_ref = world.borrow();
    assert_eq!(world_ref.server.requests.len(), 2, "one handshake per connection");
    assert_eq!(world_ref.server.accepted, 2);
    let texts: Vec<String> = world_ref
        .server
        .received
        .iter()
        .filter_map(|m| m.as_text().map(str::to_owned))
        .collect();
    assert_eq!(texts, ["join lobby", "who is here?", "join lobby", "still there?"]);
    assert!(
        world_ref.now() - connected_at < 30 * SECOND,
        "virtual time, no real waiting"
    );
    drop(world_ref);

    // The app closes: the handshake runs in the world, and `recv` then says why it ended.
    assert!(client.close(resock::CloseCode::NORMAL, "bye"));
    assert!(matches!(client.recv(), Err(resock::core::session::ClosedReason::User)));
}

#[test]
fn a_sender_on_another_thread_reaches_the_owner_in_its_recv_loop() {
    let world = World::new([6; 32]).shared();
    let mut client = start(&world, app::builder("ws://app.test/"));
    assert_eq!(app::read_lines(&mut client, 1).unwrap(), ["join lobby"]);
    let sender = client.sender();
    std::thread::scope(|scope| {
        let other = scope.spawn(move || sender.send_text("from another thread").map(|_| ()));
        // The owner runs the world (hours of heartbeats per millisecond, if it must) until the
        // sender's message is taken, sent and echoed.
        assert_eq!(app::read_lines(&mut client, 1).unwrap(), ["from another thread"]);
        other.join().unwrap().unwrap();
    });
}

#[test]
fn a_sender_on_the_owners_thread_times_out_in_virtual_time_while_the_owner_makes_no_call() {
    let world = World::new([7; 32]).shared();
    let mut client = start(&world, app::builder("ws://app.test/"));
    client.connected().unwrap();
    client.set_send_timeout(5 * SECOND);
    let sender = client.sender();
    let before = world.now();
    let refused = sender.send_text("nobody takes this");
    assert!(matches!(refused, Err(resock::SendError::TimedOut(_))), "{refused:?}");
    assert_eq!(
        world.now() - before,
        5 * SECOND,
        "the send timeout, on the world's clock"
    );
}

#[test]
fn on_a_link_without_latency_an_answer_takes_no_virtual_time() {
    let world = World::new([2; 32]).shared();
    world.borrow_mut().link.latency = Duration::ZERO;
    let mut client = start(&world, app::builder("ws://app.test/"));
    assert_eq!(app::read_lines(&mut client, 1).unwrap(), ["join lobby"]);
    let asked_at = world.now();
    assert_eq!(app::ask(&mut client, "now?").unwrap(), "now?");
    assert_eq!(world.now(), asked_at, "what is there is read before time moves");
}

#[test]
fn the_heartbeat_detects_a_silent_server_on_virtual_time() {
    let world = World::new([4; 32]).shared();
    let heartbeat = HeartbeatConfig::every(10 * SECOND, 3 * SECOND);
    let mut client = start(
        &world,
        ClientBuilder::new("ws://app.test/").unwrap().heartbeat(heartbeat),
    );
    client.connected().unwrap();

    // A minute of answered pings: no disconnect.
    let minute_later = world.now() + 60 * SECOND;
    while world.now() < minute_later {
        if let Some(event) = client.next_event_timeout(minute_later - world.now()) {
            assert!(!matches!(event, SessionEvent::Disconnected { .. }), "{event:?}");
        }
    }
    assert!(client.rtt().is_some(), "pongs came back");

    let silent_from = world.now();
    world.borrow_mut().server.answer_pings = false;
    let reason = loop {
        match client.next_event_timeout(60 * SECOND) {
            Some(SessionEvent::Disconnected { reason, .. }) => break reason,
            Some(_) => {}
            None => panic!("no disconnect within a minute of silence"),
        }
    };
    assert_eq!(reason, DisconnectReason::PongTimeout);
    let detected = world.now() - silent_from;
    assert!(
        detected >= 3 * SECOND && detected <= 13 * SECOND + SECOND,
        "{detected:?}"
    );
}

/// What a blocking app wrote (relative time, bytes) through two restarts on a jittery link.
fn transcript(seed: [u8; 32]) -> Vec<(Duration, Vec<u8>)> {
    let world = World::new(seed);
    let origin = world.now();
    let world = world.shared();
    world.borrow_mut().link.jitter = Duration::from_millis(30);
    let mut client = start(&world, app::builder("ws://app.test/"));
    for round in 0..3 {
        assert_eq!(app::read_lines(&mut client, 1).unwrap(), ["join lobby"]);
        assert_eq!(
            app::ask(&mut client, &format!("round {round}")).unwrap(),
            format!("round {round}")
        );
        world.borrow_mut().stop_server();
        world.borrow_mut().run_for(5 * SECOND);
        world.borrow_mut().start_server();
    }
    client.close(resock::CloseCode::NORMAL, "bye");
    world
        .borrow()
        .written
        .iter()
        .map(|(at, _, b)| (*at - origin, b.clone()))
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes() {
    let written = transcript([9; 32]);
    assert!(written.len() >= 9, "{} writes", written.len());
    assert_eq!(
        written,
        transcript([9; 32]),
        "same seed, same bytes at the same virtual times"
    );
    assert_ne!(
        written,
        transcript([10; 32]),
        "another seed: other mask keys and jitter"
    );
}

#[test]
fn a_call_that_would_wait_forever_fails_loudly_instead_of_hanging() {
    let world = World::new([5; 32]).shared();
    world.borrow_mut().server.echo = false;
    let mut client = start(
        &world,
        ClientBuilder::new("ws://app.test/")
            .unwrap()
            .heartbeat(HeartbeatConfig::disabled()),
    );
    client.connected().unwrap();
    let text = panic_text(|| client.recv());
    assert!(text.contains("block forever"), "{text}");
}

#[test]
fn a_call_whose_answer_never_comes_while_time_runs_fails_after_30_virtual_days() {
    let world = World::new([6; 32]).shared();
    world.borrow_mut().server.echo = false;
    // The heartbeat keeps deadlines coming, so virtual time runs; no message ever arrives.
    let mut client = start(&world, ClientBuilder::new("ws://app.test/").unwrap());
    client.connected().unwrap();
    let text = panic_text(|| client.recv());
    assert!(text.contains("30 days of virtual time"), "{text}");
    let ran = world.borrow().elapsed();
    assert!(
        ran > 30 * 24 * 3600 * SECOND && ran < 31 * 24 * 3600 * SECOND,
        "{ran:?}"
    );
}

#[test]
fn a_client_that_outlives_its_world_panics_with_a_sentence_and_still_drops() {
    let world = World::new([8; 32]).shared();
    let mut client = start(&world, ClientBuilder::new("ws://app.test/").unwrap());
    client.connected().unwrap();
    drop(world);
    let text = panic_text(|| client.recv());
    assert!(text.contains("world of this blocking client is gone"), "{text}");
    // Dropping closes: nothing answers any more, so the close ends at its deadline.
    drop(client);
}

/// The message of the panic `f` must raise.
fn panic_text<R>(f: impl FnOnce() -> R) -> String {
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map(|_| ())
        .unwrap_err();
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn the_blocking_client_stays_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Client>();
}

#[test]
fn each_blocking_client_runs_its_own_world() {
    let quiet = World::new([9; 32]).shared();
    quiet.borrow_mut().server.echo = false;
    let echo = World::new([10; 32]).shared();
    let mut silent_one = start(&quiet, ClientBuilder::new("ws://quiet.test/").unwrap());
    let mut client = start(&echo, ClientBuilder::new("ws://echo.test/").unwrap());
    silent_one.connected().unwrap();
    let quiet_at = quiet.now();
    assert_eq!(app::ask(&mut client, "ping?").unwrap(), "ping?");
    assert_eq!(quiet.now(), quiet_at, "the other world did not move");
    assert_eq!(echo.borrow().server.received.len(), 1);
    assert!(quiet.borrow().server.received.is_empty());
}
