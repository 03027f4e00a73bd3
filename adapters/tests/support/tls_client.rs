//! A TLS client stream for `blocking::WebSocket` (which runs on any [`Transport`]), configured
//! by `TlsOptions` like the session clients.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use resock::blocking::Transport;
use resock::tls::TlsOptions;

use super::PATIENCE;

/// A rustls client stream for `blocking::WebSocket`, which runs on any [`Transport`].
pub struct TlsClient(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl TlsClient {
    /// Connects to `port` on 127.0.0.1 and completes the TLS handshake for `host`.
    pub fn connect(host: &str, port: u16, tls: &TlsOptions) -> Result<TlsClient, rustls::Error> {
        let name = rustls::pki_types::ServerName::try_from(host.to_owned()).unwrap();
        let mut conn = rustls::ClientConnection::new(tls.client_config().unwrap(), name)?;
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                let tls = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
                return Err(tls.cloned().unwrap_or_else(|| panic!("handshake IO failed: {e}")));
            }
        }
        Ok(TlsClient(rustls::StreamOwned::new(conn, tcp)))
    }
}

impl Read for TlsClient {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsClient {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Transport for TlsClient {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.sock.set_read_timeout(timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.0.sock.shutdown(std::net::Shutdown::Both)
    }
}
