//! A raw WebSocket client over `std::net::TcpStream` for attacks from outside: any request
//! head (complete or not), frames written by hand (a header promising more than follows), and
//! frames read back with a deadline. Masks with the all-zero key (valid, and the payload
//! bytes go out as they are).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A complete opening request for `path`.
pub fn request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// One frame from the server.
#[derive(Debug)]
pub struct Frame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The code of a close frame (1005 when it has none).
    pub fn close_code(&self) -> u16 {
        match self.payload.as_slice() {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 1005,
        }
    }
}

/// How waiting for a close ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this code.
    Close(u16),
    /// The server ended the TCP connection without a close frame (after the close timeout).
    Cut,
    /// Nothing within the deadline.
    Silent,
}

pub struct Raw {
    pub tcp: TcpStream,
    /// Bytes read but not used yet.
    buf: Vec<u8>,
}

impl Raw {
    /// Connects to `127.0.0.1:port`.
    pub fn connect(port: u16) -> Raw {
        let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_nodelay(true).unwrap();
        Raw { tcp, buf: Vec::new() }
    }

    /// Connects and completes the opening handshake; panics unless the answer is 101.
    pub fn open(port: u16) -> Raw {
        let mut raw = Raw::connect(port);
        raw.tcp.write_all(request("/").as_bytes()).unwrap();
        let head = raw.read_head(Duration::from_secs(5)).expect("an answer");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        raw
    }

    /// A second handle on the same socket (for reading on another thread), with nothing
    /// read ahead yet: use it only before this one read anything past the handshake.
    pub fn try_clone(&self) -> Raw {
        Raw {
            tcp: self.tcp.try_clone().unwrap(),
            buf: Vec::new(),
        }
    }

    /// Caps the socket's receive buffer at about `bytes` (the kernel doubles it and stops
    /// growing it), so a client that stops reading pushes back on the server at once instead
    /// of after tens of MiB of loopback autotuning.
    #[cfg(unix)]
    pub fn shrink_receive_buffer(&self, bytes: i32) {
        use std::os::fd::AsRawFd;
        let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid socket descriptor owned by `self.tcp`, and a pointer to a c_int of
        // `size` bytes that outlives the call.
        let result = unsafe {
            libc::setsockopt(
                self.tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&bytes as *const i32).cast(),
                size,
            )
        };
        assert_eq!(result, 0, "setsockopt SO_RCVBUF: {}", io::Error::last_os_error());
    }

    /// Reads bytes until `deadline`; Ok(0) at EOF; TimedOut when nothing came in time.
    fn read_some(&mut self, deadline: Instant) -> io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.tcp.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 64 * 1024];
        match self.tcp.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock) => Err(io::ErrorKind::TimedOut.into()),
            Err(e) => Err(e),
        }
    }

    /// The HTTP answer's head (up to the blank line), read within `within`.
    pub fn read_head(&mut self, within: Duration) -> io::Result<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return Ok(String::from_utf8_lossy(&head).into_owned());
            }
            if self.read_some(deadline)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Waits until the server ends the connection (EOF or reset) within `within`; what came
    /// before is dropped. True when it did.
    pub fn wait_eof(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            self.buf.clear();
            match self.read_some(deadline) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => return e.kind() != io::ErrorKind::TimedOut,
            }
        }
    }

    /// The next frame, read within `within`.
    pub fn read_frame(&mut self, within: Duration) -> io::Result<Frame> {
        let deadline = Instant::now() + within;
        loop {
            if let Some((frame, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Ok(frame);
            }
            if self.read_some(deadline)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads (and drops) data frames until a close frame, the end of the connection, or
    /// `within`; pings are not answered.
    pub fn wait_close(&mut self, within: Duration) -> Ending {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_frame(left) {
                Ok(frame) if frame.opcode == CLOSE => return Ending::Close(frame.close_code()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ending::Silent,
                Err(_) => return Ending::Cut,
            }
        }
    }

    /// Writes a whole frame.
    pub fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mut frame = header(opcode, payload.len() as u64);
        frame.extend_from_slice(payload);
        self.tcp.write_all(&frame)
    }

    /// Writes a close frame with `code`.
    pub fn send_close(&mut self, code: u16) -> io::Result<()> {
        self.send(CLOSE, &code.to_be_bytes())
    }
}

/// A final frame's header for `len` payload bytes, masked with the zero key.
pub fn header(opcode: u8, len: u64) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

/// One unmasked server frame at the start of `bytes`, and its length.
fn parse(bytes: &[u8]) -> Option<(Frame, usize)> {
    let [first, second, rest @ ..] = bytes else { return None };
    let (len, at) = match second & 0x7F {
        126 => (u16::from_be_bytes(rest.get(..2)?.try_into().ok()?) as usize, 4),
        127 => (u64::from_be_bytes(rest.get(..8)?.try_into().ok()?) as usize, 10),
        n => (n as usize, 2),
    };
    let payload = bytes.get(at..at + len)?.to_vec();
    let frame = Frame {
        opcode: first & 0x0F,
        payload,
    };
    Some((frame, at + len))
}
