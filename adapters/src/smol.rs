//! Runs the async driver on smol (feature `smol`).
//!
//! ```no_run
//! use resock::ClientBuilder;
//!
//! smol::block_on(async {
//!     let client = ClientBuilder::new("ws://127.0.0.1:9001").unwrap().start_smol().unwrap();
//!     client.send_text("hello").await.unwrap();
//!     if let Ok(message) = client.recv().await {
//!         println!("{message:?}");
//!     }
//!     client.close(resock::CloseCode::NORMAL, "bye").await;
//! });
//! ```

use resock_core::ConfigError;

use crate::{Client, ClientBuilder};

impl ClientBuilder {
    /// Starts the client: the driver task is spawned on smol's global executor
    /// (`smol::spawn(..).detach()`; its threads come from `SMOL_THREADS`, default one) and
    /// starts connecting at once. The returned handle works from any task or thread.
    ///
    /// Fails, before anything connects, when a setting can never work
    /// ([`validate`](ClientBuilder::validate)).
    pub fn start_smol(self) -> Result<Client, ConfigError> {
        let (client, driver) = self.build_async()?;
        ::smol::spawn(driver).detach();
        Ok(client)
    }
}

impl crate::ServerBuilder {
    /// Binds `addr` and starts the server on smol's global executor: the accept loop and
    /// every connection are detached smol tasks.
    ///
    /// Fails when a setting can never work ([`validate`](crate::ServerBuilder::validate)) or
    /// when binding fails.
    pub fn bind_smol(self, addr: impl std::net::ToSocketAddrs) -> Result<crate::Server, crate::ServerError> {
        self.bind_async(addr, |task| ::smol::spawn(task).detach())
    }
}
