//! The simulated network as a client sees it: the scriptable [`Server`] behind a [`Link`],
//! moved by transport-level calls (open, write, finish) and handing back what reaches the
//! client ([`Arrival`]). [`Sim`](super::Sim) puts a [`Session`](crate::Session) on one side;
//! the `sim` runtime of the `resock` crate puts the async and blocking clients there.

use std::time::Instant;

use super::link::{Delivery, Link};
use super::server::Server;
use crate::session::{TransportErrorKind, TransportId};

/// What reaches the client side of a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// The TCP handshake finished: the transport is open.
    Connected(TransportId),
    /// The transport failed: a refused connect, a reset.
    Failed(TransportId, TransportErrorKind),
    /// Bytes from the server.
    Data(TransportId, Vec<u8>),
    /// The server closed the transport.
    Eof(TransportId),
}

/// The server and the link between it and the client, on the caller's clock: every method takes
/// the virtual `now`. Bytes the client writes cross the link to the server, which answers at
/// once (its replies cross the link back); [`poll_arrival`](Self::poll_arrival) hands out, in
/// order, what is due on the client's side.
#[derive(Debug)]
pub struct Network {
    /// The scriptable server.
    pub server: Server,
    /// The link between client and server.
    pub link: Link,
    /// Every chunk of bytes the client wrote, with its time and transport, whether or not the
    /// link delivered it: the transcript of the client's side.
    pub written: Vec<(Instant, TransportId, Vec<u8>)>,
}

impl Network {
    /// A server that accepts and echoes, behind a link seeded with `link_seed`.
    pub fn new(link_seed: [u8; 32]) -> Self {
        Network {
            server: Server::new(),
            link: Link::new(link_seed),
            written: Vec::new(),
        }
    }

    /// The client opens transport `id`: it reaches the server after one delay and the client
    /// learns it is open after a round trip. A stopped server refuses after a round trip
    /// ([`Link::refusal`]); a link that is down swallows the connect, so only the client's open
    /// timeout ends it.
    pub fn open(&mut self, now: Instant, id: TransportId) {
        if self.server.up && self.link.up {
            let there = self.link.delay();
            let back = self.link.delay();
            self.link.schedule(now, there, Delivery::ServerOpen(id));
            self.link
                .schedule(now, there.saturating_add(back), Delivery::ClientConnect(id, Ok(())));
        } else if self.server.up {
            // A black-holed SYN: nothing ever answers; the open timeout must fire.
        } else {
            let refusal = self.link.refusal;
            let round_trip = self.link.delay().saturating_add(self.link.delay());
            self.link
                .schedule(now, round_trip, Delivery::ClientConnect(id, Err(refusal)));
        }
    }

    /// The client wrote `bytes` on transport `id`: they are recorded in
    /// [`written`](Self::written) and put on the link (or lost with it, or cut by its loss).
    pub fn write(&mut self, now: Instant, id: TransportId, bytes: Vec<u8>) {
        self.written.push((now, id, bytes.clone()));
        if !self.link.up {
            return;
        }
        if self.link.roll_loss() {
            self.cut_one(now, id);
            return;
        }
        let delay = self.link.delay();
        self.link.schedule(now, delay, Delivery::ToServer(id, bytes));
    }

    /// The client closed transport `id` (FIN): the server sees EOF after one delay.
    pub fn finish(&mut self, now: Instant, id: TransportId) {
        let delay = self.link.delay();
        self.link.schedule(now, delay, Delivery::ServerEof(id));
    }

    /// Moves the server's replies onto the link and ends the transports it hung up; true when
    /// anything moved. Call it after scripting the server directly (a broadcast, a close).
    pub fn settle(&mut self, now: Instant) -> bool {
        let mut moved = false;
        let ids: Vec<TransportId> = self.server.conns.keys().copied().collect();
        for id in ids {
            self.server.pump(id, now);
            let Some(c) = self.server.conns.get_mut(&id) else {
                continue;
            };
            if !c.outbox.is_empty() {
                moved = true;
                let bytes = std::mem::take(&mut c.outbox);
                if self.link.up {
                    if self.link.roll_loss() {
                        self.cut_one(now, id);
                        continue;
                    }
                    let delay = self.link.delay();
                    self.link.schedule(now, delay, Delivery::ToClient(id, bytes));
                }
            }
            let c = &self.server.conns[&id];
            if c.hang_up || c.conn.is_finished() {
                moved = true;
                self.server.conns.remove(&id);
                let delay = self.link.delay();
                self.link.schedule(now, delay, Delivery::ClientEof(id));
            }
        }
        moved
    }

    /// The next instant the network has something to do: a delivery or a server timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.server.poll_timeout(), self.link.next_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next thing due for the client at or before `now`, in order. Deliveries to the
    /// server due meanwhile are handled on the way (the server answers and its replies go on
    /// the link). `None` when nothing more is due at `now`.
    pub fn poll_arrival(&mut self, now: Instant) -> Option<Arrival> {
        loop {
            let arrival = match self.link.pop_due(now)? {
                Delivery::ClientConnect(id, Ok(())) => Arrival::Connected(id),
                Delivery::ClientConnect(id, Err(kind)) => Arrival::Failed(id, kind),
                Delivery::ToClient(id, bytes) => Arrival::Data(id, bytes),
                Delivery::ClientEof(id) => Arrival::Eof(id),
                Delivery::ServerOpen(id) => {
                    self.server.open(id, now);
                    self.settle(now);
                    continue;
                }
                Delivery::ToServer(id, bytes) => {
                    self.server.data(id, now, &bytes);
                    self.settle(now);
                    continue;
                }
                Delivery::ServerEof(id) => {
                    self.server.eof(id, now);
                    self.settle(now);
                    continue;
                }
            };
            return Some(arrival);
        }
    }

    /// Runs the server's timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.server.poll_timeout().is_some_and(|d| d <= now) {
            self.server.handle_timeout(now);
            self.settle(now);
        }
    }

    /// Drops transport `id` abruptly: its bytes in flight are lost, the server forgets it, and
    /// the client sees EOF without a close frame at once.
    pub fn cut_one(&mut self, now: Instant, id: TransportId) {
        self.link.drop_where(|d| d.is_data_of(id));
        self.server.conns.remove(&id);
        self.link.schedule_now(now, Delivery::ClientEof(id));
    }

    /// Drops transport `id` before anything more crosses it, without telling the client (the
    /// caller tells its client itself, at once).
    pub fn forget(&mut self, id: TransportId) {
        self.link.drop_where(|d| d.is_data_of(id));
        self.server.conns.remove(&id);
    }

    /// Cuts every connection (the server drops its sockets): the bytes in flight are lost and
    /// the client sees EOF without a close frame (close code 1006).
    pub fn cut(&mut self, now: Instant) {
        self.end_every_connection(now, Delivery::ClientEof);
    }

    /// Resets every connection with a TCP reset: the bytes in flight are lost, the server
    /// forgets its connections, and the client sees a transport failure of kind
    /// [`TransportErrorKind::Reset`] rather than an EOF.
    pub fn reset(&mut self, now: Instant) {
        self.end_every_connection(now, |id| Delivery::ClientConnect(id, Err(TransportErrorKind::Reset)));
    }

    /// Loses every byte in flight, makes the server forget its connections, and tells the
    /// client of each at once with `ending(id)`.
    fn end_every_connection(&mut self, now: Instant, ending: impl Fn(TransportId) -> Delivery) {
        self.link
            .drop_where(|d| matches!(d, Delivery::ToClient(..) | Delivery::ToServer(..)));
        let ids: Vec<TransportId> = self.server.conns.keys().copied().collect();
        for id in ids {
            self.server.conns.remove(&id);
            self.link.schedule_now(now, ending(id));
        }
    }

    /// Stops the server: every connection is cut (EOF without a close frame) and connects are
    /// refused until [`start_server`](Self::start_server).
    pub fn stop_server(&mut self, now: Instant) {
        self.server.stop();
        self.cut(now);
    }

    /// The server comes back on the same address.
    pub fn start_server(&mut self) {
        self.server.start();
    }
}
