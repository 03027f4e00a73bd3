//! A chat app tested on the simulator: it joins its room again after every one of 100 server
//! restarts, and its status line shows the right phase throughout. Copy this file to test your
//! own app: the `app` module is ordinary application code on `resock::Client`; only the test
//! knows about the simulated [`World`].

use std::time::Duration;

use resock::sim::{Simulation, World};
use resock::{ClientBuilder, Message};

/// The application under test: nothing in it knows it runs on a simulator.
mod app {
    use std::cell::RefCell;
    use std::rc::Rc;

    use resock::{Client, SessionEvent};

    /// What the user sees.
    #[derive(Debug, Default)]
    pub struct Screen {
        /// The status line: "connecting", "online", "reconnecting" or "offline".
        pub status: &'static str,
        /// Chat lines shown, oldest first.
        pub lines: Vec<String>,
    }

    /// Runs the chat: joins `room` on every connection and keeps the screen up to date, until
    /// the client closes for good.
    pub async fn run(client: Client, room: &str, screen: Rc<RefCell<Screen>>) {
        screen.borrow_mut().status = "connecting";
        let mut events = client.subscribe();
        while let Some(event) = events.next().await {
            let Ok(event) = event else { continue }; // lagged: the next events tell the truth
            match event {
                SessionEvent::Opened { .. } => {
                    screen.borrow_mut().status = "online";
                    // A new connection is a new server session: join the room again.
                    client.send_text(format!("join {room}")).await.ok();
                }
                SessionEvent::Disconnected { retry_at: Some(_), .. } => {
                    screen.borrow_mut().status = "reconnecting";
                }
                SessionEvent::Message(message) => {
                    if let Some(line) = message.as_text() {
                        screen.borrow_mut().lines.push(line.to_owned());
                    }
                }
                SessionEvent::Closed { .. } => {
                    screen.borrow_mut().status = "offline";
                    return;
                }
                _ => {}
            }
        }
    }
}

#[test]
fn the_chat_rejoins_its_room_after_each_of_100_restarts_and_shows_each_phase() {
    use std::cell::RefCell;
    use std::rc::Rc;

    let mut world = World::new([1; 32]);
    world.server.echo = false;
    let client = ClientBuilder::new("wss://chat.example/ws")
        .unwrap()
        .start_sim(&mut world)
        .unwrap();
    let screen = Rc::new(RefCell::new(app::Screen::default()));
    let chat = world.spawn(app::run(client.clone(), "lobby", Rc::clone(&screen)));

    world.settle();
    assert_eq!(screen.borrow().status, "connecting");
    assert!(world.run_until(Duration::from_secs(5), |_| screen.borrow().status == "online"));

    for restart in 1..=100 {
        // Online: a chat line from the server reaches the screen.
        world.run_for(Duration::from_secs(30));
        world.broadcast(&Message::text(format!("line {restart}")));
        world.run_for(Duration::from_secs(1));
        assert_eq!(screen.borrow().status, "online");
        assert_eq!(screen.borrow().lines.last().unwrap(), &format!("line {restart}"));

        // The server restarts: 3 s down. The screen says so while it is down.
        world.stop_server();
        world.run_for(Duration::from_millis(100));
        assert_eq!(screen.borrow().status, "reconnecting", "restart {restart}");
        world.run_for(Duration::from_secs(3));
        world.start_server();

        // Back: online again, and joined again on the new connection.
        assert!(
            world.run_until(Duration::from_secs(60), |_| screen.borrow().status == "online"),
            "restart {restart}: not back online"
        );
        world.run_for(Duration::from_secs(1));
        let joins = world
            .server
            .received_on
            .iter()
            .filter(|(_, m)| m.as_text() == Some("join lobby"));
        let on_connections: std::collections::BTreeSet<_> = joins.map(|(id, _)| *id).collect();
        assert_eq!(
            on_connections.len(),
            restart + 1,
            "restart {restart}: one join on each connection"
        );
    }
    assert_eq!(world.server.received.len(), 101, "nothing but the joins");
    assert!(world.server.connections() == 1);

    // The user quits: the screen shows offline and the app's task ends.
    world.block_on(Duration::from_secs(5), async move {
        client.close(resock::CloseCode::NORMAL, "bye").await
    });
    world.run_for(Duration::from_secs(1));
    assert!(chat.is_finished());
    assert_eq!(screen.borrow().status, "offline");
    assert!(world.elapsed() > Duration::from_secs(100 * 34));
}
