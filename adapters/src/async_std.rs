//! Runs the async driver on async-std (feature `async-std`).
//!
//! async-std is discontinued upstream, and its README recommends smol. This module is a thin
//! shim kept for existing async-std programs: async-std runs on async-io like smol, so the
//! driver is the same one; only the spawn differs. New code should use the `smol` feature
//! (or [`ClientBuilder::build_async`] on any executor).

use resock_core::ConfigError;

use crate::{Client, ClientBuilder};

impl ClientBuilder {
    /// Starts the client: the driver task is spawned with `async_std::task::spawn` (detached)
    /// and starts connecting at once. The returned handle works from any task or thread.
    ///
    /// Fails, before anything connects, when a setting can never work
    /// ([`validate`](ClientBuilder::validate)).
    pub fn start_async_std(self) -> Result<Client, ConfigError> {
        let (client, driver) = self.build_async()?;
        drop(::async_std::task::spawn(driver));
        Ok(client)
    }
}

impl crate::ServerBuilder {
    /// Binds `addr` and starts the server on async-std: the accept loop and every connection
    /// are detached `async_std::task::spawn` tasks.
    ///
    /// Fails when a setting can never work ([`validate`](crate::ServerBuilder::validate)) or
    /// when binding fails.
    pub fn bind_async_std(self, addr: impl std::net::ToSocketAddrs) -> Result<crate::Server, crate::ServerError> {
        self.bind_async(addr, |task| drop(::async_std::task::spawn(task)))
    }
}
