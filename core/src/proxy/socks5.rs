//! SOCKS5 (RFC 1928) `CONNECT`, with username/password authentication (RFC 1929) when the
//! proxy URL has credentials.
//!
//! The exchange is a fixed sequence of small messages, each of a length known from its first
//! bytes, so input is buffered only up to the current message (at most 262 bytes) and any byte
//! past the final reply is a broken proxy (no one else speaks before the client).

use std::fmt;
use std::net::IpAddr;

use super::error::{ProxyError, SocksReply};
use super::{Credentials, Target, TargetHost};

/// No authentication (RFC 1928 §3).
const METHOD_NONE: u8 = 0x00;
/// Username/password (RFC 1929).
const METHOD_PASSWORD: u8 = 0x02;
/// "No acceptable methods".
const METHOD_REFUSED: u8 = 0xff;

/// Which answer the client waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// The method selection: version and method.
    Method,
    /// The RFC 1929 status: version and status.
    Auth,
    /// The reply to `CONNECT`: its length is known after 5 bytes.
    Reply,
    /// The tunnel is open.
    Done,
    /// The proxy refused or broke the protocol.
    Failed(ProxyError),
}

/// The client side of one SOCKS5 `CONNECT`.
///
/// Same use as [`HttpConnect`](super::HttpConnect): drain
/// [`poll_transmit`](Self::poll_transmit), feed the proxy's bytes to
/// [`handle_data`](Self::handle_data) and [`handle_eof`](Self::handle_eof) until
/// [`result`](Self::result) is `Some`. `Debug` leaves out pending bytes and credentials.
pub struct Socks5 {
    credentials: Option<Credentials>,
    connect: Vec<u8>,
    out: Vec<u8>,
    input: Vec<u8>,
    state: State,
}

impl fmt::Debug for Socks5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socks5")
            .field("state", &self.state)
            .field("with_credentials", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl Socks5 {
    /// A `CONNECT` to `target`: a name is sent for the proxy to resolve (`socks5h://`), an
    /// address as is (`socks5://`, after the driver resolved the name). A name longer than
    /// 255 bytes cannot be sent; the handshake then fails before writing anything.
    pub fn new(target: &Target, credentials: Option<&Credentials>) -> Socks5 {
        let mut connect = vec![0x05, 0x01, 0x00];
        match &target.host {
            TargetHost::Ip(IpAddr::V4(v4)) => {
                connect.push(0x01);
                connect.extend_from_slice(&v4.octets());
            }
            TargetHost::Ip(IpAddr::V6(v6)) => {
                connect.push(0x04);
                connect.extend_from_slice(&v6.octets());
            }
            TargetHost::Name(name) => {
                let Ok(len) = u8::try_from(name.len()) else {
                    return Socks5 {
                        credentials: None,
                        connect: Vec::new(),
                        out: Vec::new(),
                        input: Vec::new(),
                        state: State::Failed(ProxyError::Malformed(format!(
                            "the target name is {} bytes long, more than SOCKS5 can carry (255)",
                            name.len()
                        ))),
                    };
                };
                connect.push(0x03);
                connect.push(len);
                connect.extend_from_slice(name.as_bytes());
            }
        }
        connect.extend_from_slice(&target.port.to_be_bytes());
        let out = match credentials {
            Some(_) => vec![0x05, 0x02, METHOD_NONE, METHOD_PASSWORD],
            None => vec![0x05, 0x01, METHOD_NONE],
        };
        Socks5 {
            credentials: credentials.cloned(),
            connect,
            out,
            input: Vec::new(),
            state: State::Method,
        }
    }

    /// Appends the next message to `buf`, if one is due.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<usize> {
        if self.out.is_empty() {
            return None;
        }
        buf.extend_from_slice(&self.out);
        let n = self.out.len();
        self.out.clear();
        Some(n)
    }

    /// What the exchange came to: `None` while it goes on.
    pub fn result(&self) -> Option<Result<(), &ProxyError>> {
        match &self.state {
            State::Done => Some(Ok(())),
            State::Failed(e) => Some(Err(e)),
            _ => None,
        }
    }

    /// Takes bytes from the proxy. Input after the end is ignored.
    pub fn handle_data(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if matches!(self.state, State::Done) {
                self.state = State::Failed(ProxyError::Malformed(
                    "bytes followed its reply before the tunnel was used".into(),
                ));
                return;
            }
            if matches!(self.state, State::Failed(_)) {
                return;
            }
            let want = self.wanted().saturating_sub(self.input.len()).max(1);
            let take = want.min(data.len());
            self.input.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.step();
        }
    }

    /// The proxy closed its side. Closing right after the credentials, without a status,
    /// is how some proxies refuse them: that counts as [`ProxyError::AuthenticationFailed`].
    pub fn handle_eof(&mut self) {
        match self.state {
            State::Done | State::Failed(_) => {}
            State::Auth => self.state = State::Failed(ProxyError::AuthenticationFailed),
            _ => self.state = State::Failed(ProxyError::Closed),
        }
    }

    /// The length of the message being read, as far as the bytes so far tell.
    fn wanted(&self) -> usize {
        match self.state {
            State::Method | State::Auth => 2,
            State::Reply => match self.input.get(3) {
                None => 5,
                Some(0x01) => 4 + 4 + 2,
                Some(0x04) => 4 + 16 + 2,
                Some(0x03) => self.input.get(4).map_or(5, |&len| 4 + 1 + usize::from(len) + 2),
                Some(_) => 4,
            },
            State::Done | State::Failed(_) => 0,
        }
    }

    /// Acts on the buffered message once it is whole (or already wrong).
    fn step(&mut self) {
        let input = &self.input;
        let next = match self.state {
            State::Method if input.len() == 2 => Some(self.on_method(input[0], input[1])),
            State::Auth if input.len() == 2 => Some(self.on_auth(input[0], input[1])),
            State::Reply => self.on_reply(),
            _ => None,
        };
        if let Some(next) = next {
            self.input.clear();
            self.state = next;
        }
    }

    fn on_method(&mut self, version: u8, method: u8) -> State {
        if version != 0x05 {
            return bad_version(version);
        }
        match (method, &self.credentials) {
            (METHOD_NONE, _) => {
                self.out.append(&mut self.connect);
                State::Reply
            }
            (METHOD_PASSWORD, Some(c)) => {
                let mut auth = vec![0x01];
                for field in [&c.username, &c.password] {
                    // Both are at most 255 bytes: `ProxyUrl` checks it.
                    auth.push(u8::try_from(field.len()).unwrap_or(u8::MAX));
                    auth.extend_from_slice(&field.as_bytes()[..field.len().min(255)]);
                }
                self.out.extend_from_slice(&auth);
                State::Auth
            }
            (METHOD_REFUSED, c) => State::Failed(ProxyError::NoAcceptableMethod {
                offered_credentials: c.is_some(),
            }),
            (other, _) => State::Failed(ProxyError::Malformed(format!(
                "the SOCKS5 proxy chose method {other:#04x}, which was not offered"
            ))),
        }
    }

    fn on_auth(&mut self, version: u8, status: u8) -> State {
        // RFC 1929 says version 1; some servers echo 5.
        if version != 0x01 && version != 0x05 {
            return State::Failed(ProxyError::Malformed(format!(
                "the authentication reply has version {version:#04x}, not 1"
            )));
        }
        self.credentials = None;
        if status != 0 {
            return State::Failed(ProxyError::AuthenticationFailed);
        }
        self.out.append(&mut self.connect);
        State::Reply
    }

    /// `None` until the reply is whole, unless its first bytes are already wrong.
    fn on_reply(&self) -> Option<State> {
        let input = &self.input;
        match input.first() {
            Some(&version) if version != 0x05 => return Some(bad_version(version)),
            _ => {}
        }
        if input.len() >= 2 && input[1] != 0 {
            return Some(State::Failed(ProxyError::Socks(SocksReply::from_code(input[1]))));
        }
        match input.get(3) {
            Some(&atyp) if !matches!(atyp, 0x01 | 0x03 | 0x04) => {
                return Some(State::Failed(ProxyError::Malformed(format!(
                    "the reply has address type {atyp:#04x}"
                ))));
            }
            _ => {}
        }
        (input.len() >= 5 && input.len() == self.wanted()).then_some(State::Done)
    }
}

fn bad_version(version: u8) -> State {
    State::Failed(ProxyError::Malformed(format!(
        "the SOCKS version byte is {version:#04x}, not 5"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_target() -> Target {
        Target {
            host: TargetHost::Name("example.com".into()),
            port: 443,
        }
    }

    fn creds() -> Credentials {
        Credentials {
            username: "alice".into(),
            password: "pw".into(),
        }
    }

    /// Runs a whole exchange with the proxy's `answers`, whole and one byte at a time; returns
    /// what the client wrote and the result (the same both ways).
    fn exchange(
        target: &Target,
        credentials: Option<&Credentials>,
        answers: &[&[u8]],
    ) -> (Vec<u8>, Option<Result<(), ProxyError>>) {
        let mut runs = Vec::new();
        for bytewise in [false, true] {
            let mut s = Socks5::new(target, credentials);
            let mut written = Vec::new();
            for answer in answers {
                while s.poll_transmit(&mut written).is_some() {}
                if bytewise {
                    for b in *answer {
                        s.handle_data(std::slice::from_ref(b));
                    }
                } else {
                    s.handle_data(answer);
                }
            }
            while s.poll_transmit(&mut written).is_some() {}
            runs.push((written, s.result().map(|r| r.map_err(Clone::clone))));
        }
        assert_eq!(runs[0], runs[1], "whole vs one byte at a time");
        runs.pop().unwrap()
    }

    const OK_V4: &[u8] = &[5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90];

    #[test]
    fn no_authentication_and_a_name_for_the_proxy() {
        let (written, result) = exchange(&name_target(), None, &[&[5, 0], OK_V4]);
        let mut expected = vec![5, 1, 0, 5, 1, 0, 3, 11];
        expected.extend_from_slice(b"example.com");
        expected.extend_from_slice(&[1, 187]);
        assert_eq!(written, expected);
        assert_eq!(result, Some(Ok(())));
    }

    #[test]
    fn username_and_password() {
        let target = Target {
            host: TargetHost::Ip("10.1.2.3".parse().unwrap()),
            port: 80,
        };
        let (written, result) = exchange(&target, Some(&creds()), &[&[5, 2], &[1, 0], OK_V4]);
        let expected = [
            &[5, 2, 0, 2][..],
            &[1, 5, b'a', b'l', b'i', b'c', b'e', 2, b'p', b'w'],
            &[5, 1, 0, 1, 10, 1, 2, 3, 0, 80],
        ]
        .concat();
        assert_eq!(written, expected);
        assert_eq!(result, Some(Ok(())));
        let s = Socks5::new(&target, Some(&creds()));
        assert!(!format!("{s:?}").contains("alice") && !format!("{s:?}").contains("pw"));
    }

    #[test]
    fn ipv6_targets_and_replies_of_every_address_type() {
        let target = Target {
            host: TargetHost::Ip("::1".parse().unwrap()),
            port: 1,
        };
        let (written, _) = exchange(&target, None, &[&[5, 0]]);
        assert_eq!(&written[3..8], &[5, 1, 0, 4, 0]);
        assert_eq!(written.len(), 3 + 4 + 16 + 2);
        let v6 = [&[5u8, 0, 0, 4][..], &[0; 16], &[0, 1]].concat();
        let name = [&[5u8, 0, 0, 3, 3][..], b"abc", &[0, 1]].concat();
        for reply in [OK_V4, &v6, &name] {
            assert_eq!(exchange(&target, None, &[&[5, 0], reply]).1, Some(Ok(())), "{reply:?}");
        }
        let partial = &v6[..v6.len() - 1];
        assert_eq!(exchange(&target, None, &[&[5, 0], partial]).1, None);
    }

    #[test]
    fn every_reply_code_is_mapped() {
        for code in 1..=255u8 {
            let reply = [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
            let (_, result) = exchange(&name_target(), None, &[&[5, 0], &reply]);
            assert_eq!(
                result,
                Some(Err(ProxyError::Socks(SocksReply::from_code(code)))),
                "{code}"
            );
        }
        let host_unreachable = ProxyError::Socks(SocksReply::HostUnreachable);
        assert!(host_unreachable.is_retryable());
        assert_eq!(
            host_unreachable.to_string(),
            "the SOCKS5 proxy could not connect: host unreachable"
        );
    }

    #[test]
    fn refusals_of_authentication() {
        let (_, result) = exchange(&name_target(), Some(&creds()), &[&[5, 2], &[1, 1]]);
        assert_eq!(result, Some(Err(ProxyError::AuthenticationFailed)));
        let (_, result) = exchange(&name_target(), None, &[&[5, 0xff]]);
        assert_eq!(
            result,
            Some(Err(ProxyError::NoAcceptableMethod {
                offered_credentials: false
            }))
        );
        let (_, result) = exchange(&name_target(), None, &[&[5, 2]]);
        assert!(
            matches!(result, Some(Err(ProxyError::Malformed(_)))),
            "password not offered: {result:?}"
        );
    }

    #[test]
    fn a_bad_version_fails_at_its_first_byte() {
        for answers in [&[&[4u8, 0][..]][..], &[&[5, 0], &[4]], &[b"HTTP/1.1 400"]] {
            let (_, result) = exchange(&name_target(), None, answers);
            assert!(
                matches!(result, Some(Err(ProxyError::Malformed(ref m))) if m.contains("version")),
                "{result:?}"
            );
        }
        let (_, result) = exchange(&name_target(), None, &[&[5, 0], &[5, 0, 0, 9]]);
        assert!(matches!(result, Some(Err(ProxyError::Malformed(ref m))) if m.contains("address type")));
    }

    #[test]
    fn bytes_after_the_reply_are_a_broken_proxy() {
        let extra = [OK_V4, b"xx"].concat();
        let (_, result) = exchange(&name_target(), None, &[&[5, 0], &extra]);
        assert!(matches!(result, Some(Err(ProxyError::Malformed(_)))), "{result:?}");
    }

    #[test]
    fn eof_and_over_long_names() {
        let mut s = Socks5::new(&name_target(), None);
        s.handle_data(&[5]);
        s.handle_eof();
        assert_eq!(s.result(), Some(Err(&ProxyError::Closed)));
        let mut s = Socks5::new(&name_target(), Some(&creds()));
        s.handle_data(&[5, 2]);
        s.handle_eof();
        assert_eq!(
            s.result(),
            Some(Err(&ProxyError::AuthenticationFailed)),
            "closed instead of a status"
        );
        let long = Target {
            host: TargetHost::Name("a".repeat(256)),
            port: 1,
        };
        let mut s = Socks5::new(&long, None);
        assert!(s.poll_transmit(&mut Vec::new()).is_none());
        assert!(matches!(s.result(), Some(Err(ProxyError::Malformed(_)))));
    }
}
