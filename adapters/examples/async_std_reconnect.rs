//! Stays connected and prints the session's state log, on async-std (discontinued upstream;
//! `smol_reconnect` is the same on smol). Ends when the session closes for good.
//!
//! `cargo run -p resock --features async-std --example async_std_reconnect -- [ws://127.0.0.1:9001]`

use std::time::Duration;

use resock::ClientBuilder;
use resock::core::session::{ReconnectPolicy, SessionEvent};

fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let (client, driver) = ClientBuilder::new(&url)
        .expect("a ws:// or wss:// URL")
        .reconnect(ReconnectPolicy::exponential(
            Duration::from_millis(500),
            Duration::from_secs(10),
        ))
        .build_async()
        .unwrap();
    // Subscribed before the driver runs, so the log starts at the first attempt.
    let mut events = client.subscribe();
    drop(async_std::task::spawn(driver));
    async_std::task::block_on(async {
        while let Some(event) = events.next().await {
            match event {
                Err(lagged) => println!("({lagged})"),
                Ok(SessionEvent::StateChanged(state)) => println!("state: {state}"),
                Ok(SessionEvent::Disconnected { reason, retry_in, .. }) => match retry_in {
                    Some(delay) => println!("lost: {reason}; retry in {delay:?}"),
                    None => println!("lost for good: {reason}"),
                },
                Ok(SessionEvent::Pong { rtt, .. }) => println!("heartbeat rtt {rtt:?}"),
                Ok(_) => {}
            }
        }
    });
}
