//! An independent decoder for the bytes a client writes: the opening request is skipped, then
//! masked frames are unmasked and returned whole, so tests can count pings and read close codes
//! without going through resock-core's own frame decoder.

/// Opcode of a text frame.
pub const TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const CLOSE: u8 = 0x8;
/// Opcode of a ping frame.
pub const PING: u8 = 0x9;
/// Opcode of a pong frame.
pub const PONG: u8 = 0xA;

/// One frame as the client wrote it, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The FIN bit.
    pub fin: bool,
    /// The opcode (low four bits of the first byte).
    pub opcode: u8,
    /// The unmasked payload.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The status code of a close frame that carries one.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    /// The reason of a close frame that carries a status code.
    pub fn close_reason(&self) -> Option<&str> {
        self.close_code()?;
        std::str::from_utf8(&self.payload[2..]).ok()
    }

    /// The payload of a text frame.
    pub fn text(&self) -> Option<&str> {
        if self.opcode != TEXT {
            return None;
        }
        std::str::from_utf8(&self.payload).ok()
    }
}

/// The client-to-server byte stream of one transport, decoded incrementally.
#[derive(Debug, Default)]
pub struct ClientStream {
    buf: Vec<u8>,
    past_request: bool,
}

impl ClientStream {
    /// A stream that starts with the HTTP opening request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes and returns every frame they complete. Panics on an unmasked frame (a
    /// client must mask every frame, RFC 6455 §5.3).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Frame> {
        self.buf.extend_from_slice(bytes);
        let mut frames = Vec::new();
        if !self.past_request {
            let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                return frames;
            };
            self.buf.drain(..end + 4);
            self.past_request = true;
        }
        while let Some((frame, used)) = parse(&self.buf) {
            self.buf.drain(..used);
            frames.push(frame);
        }
        frames
    }
}

/// One whole frame at the start of `buf` and the bytes it used, or `None` if incomplete.
fn parse(buf: &[u8]) -> Option<(Frame, usize)> {
    let (&b0, rest) = buf.split_first()?;
    let (&b1, mut rest) = rest.split_first()?;
    assert!(b1 & 0x80 != 0, "a client frame must be masked");
    let len = match b1 & 0x7f {
        126 => {
            let (len, tail) = rest.split_at_checked(2)?;
            rest = tail;
            u16::from_be_bytes([len[0], len[1]]) as usize
        }
        127 => {
            let (len, tail) = rest.split_at_checked(8)?;
            rest = tail;
            usize::try_from(u64::from_be_bytes(len.try_into().unwrap())).unwrap()
        }
        n => n as usize,
    };
    let (key, rest) = rest.split_at_checked(4)?;
    let payload = rest.get(..len)?;
    let payload: Vec<u8> = payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    let used = buf.len() - rest.len() + len;
    Some((
        Frame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0f,
            payload,
        },
        used,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_split_masked_frames_after_the_request() {
        let mut stream = ClientStream::new();
        assert!(stream.feed(b"GET / HTTP/1.1\r\nHost: x\r\n").is_empty());
        // RFC 6455 §5.7: a masked "Hello".
        let hello = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let mut bytes = b"\r\n".to_vec();
        bytes.extend_from_slice(&hello[..4]);
        assert!(stream.feed(&bytes).is_empty());
        let frames = stream.feed(&hello[4..]);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].text(), Some("Hello"));
        let close = [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xf3];
        assert_eq!(stream.feed(&close)[0].close_code(), Some(1011));
    }
}
