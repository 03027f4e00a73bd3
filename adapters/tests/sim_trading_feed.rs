//! A trading client tested on the simulator: across a day of a flapping server (abrupt
//! restarts every 20 minutes, connections cut at random by a lossy link), not one order is
//! lost. The `app` module is ordinary application code on `resock::Client`: it keeps every
//! order until the exchange acknowledges it, and sends the unacknowledged ones again after each
//! reconnect (the exchange ignores an order id it has seen).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use resock::ClientBuilder;
use resock::sim::World;

mod app {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;

    use resock::{Client, SessionEvent};

    /// Orders placed and not yet acknowledged, by id, and the acknowledged ids.
    #[derive(Debug, Default)]
    pub struct Book {
        pub pending: BTreeMap<u64, String>,
        pub acknowledged: Vec<u64>,
    }

    /// Places an order: kept in the book until acknowledged, and sent now (or, if the client
    /// cannot take it, after the next reconnect).
    pub async fn place(client: &Client, book: &RefCell<Book>, id: u64) {
        let order = format!("order {id} buy 1 ACME");
        book.borrow_mut().pending.insert(id, order.clone());
        client.send_text(order).await.ok();
    }

    /// Reads acknowledgements (the exchange echoes each order it took) and resends every
    /// pending order after a reconnect, until the client closes.
    pub async fn run(client: Client, book: Rc<RefCell<Book>>) {
        let mut events = client.subscribe();
        let mut connections = 0;
        while let Some(event) = events.next().await {
            match event {
                Ok(SessionEvent::Opened { .. }) => {
                    connections += 1;
                    if connections > 1 {
                        let pending: Vec<String> = book.borrow().pending.values().cloned().collect();
                        for order in pending {
                            client.send_text(order).await.ok();
                        }
                    }
                }
                Ok(SessionEvent::Message(message)) => {
                    let id = message
                        .as_text()
                        .and_then(|t| t.split(' ').nth(1))
                        .and_then(|id| id.parse::<u64>().ok());
                    if let Some(id) = id {
                        if book.borrow_mut().pending.remove(&id).is_some() {
                            book.borrow_mut().acknowledged.push(id);
                        }
                    }
                }
                Ok(SessionEvent::Closed { .. }) => return,
                _ => {}
            }
        }
    }
}

#[test]
fn no_order_is_lost_across_a_flapping_day() {
    const ORDERS: u64 = 2_880; // one every 30 s for a day

    let mut world = World::new([2; 32]);
    world.link.jitter = Duration::from_millis(20);
    world.link.loss = 0.002; // now and then a write cuts its connection
    let client = ClientBuilder::new("wss://exchange.example/orders")
        .unwrap()
        .start_sim(&mut world)
        .unwrap();
    let book = Rc::new(RefCell::new(app::Book::default()));
    let _feed = world.spawn(app::run(client.clone(), Rc::clone(&book)));
    assert!(world.run_until(Duration::from_secs(5), |_| client.state() == resock::SessionState::Open));

    // Orders every 30 s, while the server restarts abruptly every 20 minutes (5 s down).
    for id in 0..ORDERS {
        let (client, book) = (client.clone(), Rc::clone(&book));
        world.spawn(async move { app::place(&client, &book, id).await });
        if id % 40 == 39 {
            // The exchange's process dies and comes back 5 s later.
            world.stop_server();
            world.run_for(Duration::from_secs(5));
            world.start_server();
            world.run_for(Duration::from_secs(25));
        } else {
            world.run_for(Duration::from_secs(30));
        }
    }
    assert!(world.run_until(Duration::from_secs(600), |_| book.borrow().pending.is_empty()));

    // Every order reached the exchange, each acknowledged once.
    let received: BTreeSet<u64> = world
        .server
        .received
        .iter()
        .filter_map(|m| m.as_text()?.split(' ').nth(1)?.parse().ok())
        .collect();
    assert_eq!(received, (0..ORDERS).collect(), "every order reached the exchange");
    let mut acknowledged = book.borrow().acknowledged.clone();
    acknowledged.sort();
    assert_eq!(acknowledged, (0..ORDERS).collect::<Vec<_>>(), "each acknowledged once");
    let reconnects = client.metrics().reconnects;
    assert!(reconnects >= 72, "a flapping day: {reconnects} reconnects");
    assert!(world.elapsed() >= Duration::from_secs(86_400));
}
