//! An app whose token expires, tested on the simulator: when the server answers 401 on a
//! reconnect, the client stops for good (no retry storm against an auth wall) and the app
//! stops with a message that tells the user what to do. The `app` module is ordinary
//! application code on `resock::Client`.

use std::time::Duration;

use resock::sim::{Answer, World};
use resock::{ClientBuilder, SessionState};

mod app {
    use resock::{Client, ClosedReason, DisconnectReason, HandshakeError};

    /// Runs until the session ends for good; returns what to tell the user.
    pub async fn run(client: Client) -> String {
        loop {
            match client.recv().await {
                Ok(_message) => {} // the app's business
                Err(ClosedReason::Fatal(DisconnectReason::Handshake(HandshakeError::Rejected(rejection))))
                    if rejection.status == 401 =>
                {
                    return "Your session has expired: please sign in again.".to_owned();
                }
                Err(other) => return format!("Disconnected: {other}"),
            }
        }
    }
}

#[test]
fn a_401_on_reconnect_stops_the_app_with_a_message() {
    let mut world = World::new([3; 32]);
    let client = ClientBuilder::new("wss://api.example/stream?token=abc")
        .unwrap()
        .start_sim(&mut world)
        .unwrap();
    let app = world.spawn(app::run(client.clone()));
    assert!(world.run_until(Duration::from_secs(5), |_| client.state() == SessionState::Open));

    // Hours later the token has expired: the server drops the connection and refuses the
    // reconnect with 401.
    world.run_for(Duration::from_secs(3 * 3600));
    world.server.answer = Answer::reject(401);
    world.cut();
    assert!(world.run_until(Duration::from_secs(60), |_| app.is_finished()));

    assert_eq!(
        app.take_output().unwrap(),
        "Your session has expired: please sign in again."
    );
    assert!(matches!(client.state(), SessionState::Closed(_)));
    // One refused attempt, then nothing: an auth failure is not retried.
    world.run_for(Duration::from_secs(3600));
    assert_eq!(
        world.server.requests.len(),
        2,
        "the first opening and the one refused reconnect"
    );
}
