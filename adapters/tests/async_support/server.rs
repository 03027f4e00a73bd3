//! A loopback server thread handling accepted connections one after another, stopped and
//! joined when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use super::LIMIT;

/// A loopback server thread handling accepted connections one after another.
pub struct Server {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Serves on 127.0.0.1; `handler` gets the connection's index and the stream.
    pub fn start(handler: impl FnMut(usize, TcpStream) + Send + 'static) -> Server {
        Server::on(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"), handler)
    }

    /// Serves on `listener`.
    pub fn on(listener: TcpListener, mut handler: impl FnMut(usize, TcpStream) + Send + 'static) -> Server {
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                stream.set_read_timeout(Some(LIMIT)).unwrap();
                stream.set_write_timeout(Some(LIMIT)).unwrap();
                handler(index, stream);
            }
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// `ws://<addr>/`.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        TcpStream::connect_timeout(&self.addr, LIMIT).ok();
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if result.is_err() && !thread::panicking() {
                panic!("the server thread panicked");
            }
        }
    }
}
