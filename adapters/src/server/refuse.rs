//! Answering a refused socket: read its request (bounded in bytes by the handshake limits and
//! in time by a deadline), answer `503` or `429` with `Retry-After`, close. The server keeps
//! doing this while it is full, so a client learns when to come back instead of meeting a
//! reset or a silent socket.

use std::future::poll_fn;
use std::task::Poll;
use std::time::{Duration, Instant};

use resock_core::handshake::{HandshakeLimits, ServerHandshake, reject_response_with_headers};

use super::admission::Refusal;
use crate::async_driver::{ByteStream, DriverTimer, Io, Retiring};

/// The longest a refused socket is given to send its request.
pub(crate) const MAX_REFUSAL_READ: Duration = Duration::from_secs(5);
/// How long writing the answer and closing may take after the request was read.
const REFUSAL_WRITE: Duration = Duration::from_secs(2);

/// How a refusal is answered.
#[derive(Debug, Clone)]
pub(crate) struct RefusalAnswer {
    /// The `Retry-After` value, in whole seconds (at least 1).
    pub(crate) retry_after: Duration,
    /// How long the request may take to arrive (capped at [`MAX_REFUSAL_READ`]).
    pub(crate) read_within: Duration,
    /// Bounds on the request head.
    pub(crate) limits: HandshakeLimits,
}

impl RefusalAnswer {
    /// The `Retry-After` header value: whole seconds, rounded up, at least 1.
    fn retry_after_seconds(&self) -> u64 {
        let secs = (self.retry_after.as_secs()).saturating_add(u64::from(self.retry_after.subsec_nanos() > 0));
        secs.max(1)
    }

    /// The whole HTTP answer for `refusal`.
    pub(crate) fn response(&self, refusal: Refusal) -> Vec<u8> {
        let seconds = self.retry_after_seconds();
        let body = match refusal {
            Refusal::Full => format!("the server is at its connection limit; retry in {seconds} s\n"),
            Refusal::PerIp => format!("too many connections from your address; retry in {seconds} s\n"),
        };
        let mut out = Vec::new();
        reject_response_with_headers(
            refusal.status(),
            &[("Retry-After".to_owned(), seconds.to_string())],
            body.as_bytes(),
            &mut out,
        );
        out
    }
}

/// Reads the request on `stream` until it is complete, malformed, over its limits, or the
/// deadline passes; then answers `refusal` and closes, within a further short deadline. A
/// peer that closes or fails first gets nothing.
pub(crate) async fn answer<S: ByteStream, T: DriverTimer>(
    stream: S,
    mut timer: T,
    refusal: Refusal,
    answer: RefusalAnswer,
) {
    let mut io = Io::new(stream);
    let read_deadline = resock_core::saturating_later(Instant::now(), answer.read_within.min(MAX_REFUSAL_READ));
    timer.set_at(read_deadline);
    let mut handshake = ServerHandshake::new(answer.limits.clone());
    let mut buf = [0u8; 2048];
    let peer_present = poll_fn(|cx| {
        loop {
            if timer.poll_fired(cx).is_ready() {
                return Poll::Ready(true);
            }
            match io.poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(false),
                Poll::Ready(Ok(n)) => match handshake.feed(&buf[..n]) {
                    Ok(resock_core::handshake::Progress::Partial) => {}
                    // Complete, or a request that will never be valid: answer now.
                    Ok(_) | Err(_) => return Poll::Ready(true),
                },
            }
        }
    })
    .await;
    if !peer_present {
        return;
    }
    io.out = answer.response(refusal);
    let deadline = resock_core::saturating_later(Instant::now(), REFUSAL_WRITE);
    let mut retiring = Retiring::new(io, timer, deadline);
    poll_fn(|cx| retiring.poll_done(cx)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_carries_the_status_and_retry_after_in_whole_seconds() {
        let mut answer = RefusalAnswer {
            retry_after: Duration::from_millis(1500),
            read_within: Duration::from_secs(10),
            limits: HandshakeLimits::default(),
        };
        let text = String::from_utf8(answer.response(Refusal::Full)).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{text}");
        assert!(text.contains("\r\nRetry-After: 2\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        answer.retry_after = Duration::ZERO;
        let text = String::from_utf8(answer.response(Refusal::PerIp)).unwrap();
        assert!(text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"), "{text}");
        assert!(text.contains("\r\nRetry-After: 1\r\n"), "never zero: {text}");
        answer.retry_after = Duration::MAX;
        let text = String::from_utf8(answer.response(Refusal::Full)).unwrap();
        assert!(text.contains(&format!("\r\nRetry-After: {}\r\n", u64::MAX)), "{text}");
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any `Retry-After` setting, zero and `Duration::MAX` included, is written as whole
        /// seconds rounded up, at least 1, without a panic.
        #[test]
        fn retry_after_is_whole_seconds_rounded_up_at_least_one(
            secs in prop_oneof![Just(0u64), 0u64..100_000, Just(u64::MAX)],
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
        ) {
            let retry_after = Duration::new(secs, nanos);
            let answer = RefusalAnswer { retry_after, read_within: Duration::MAX, limits: HandshakeLimits::default() };
            let text = String::from_utf8(answer.response(Refusal::Full)).unwrap();
            let value: u64 = text
                .split("\r\n")
                .find_map(|line| line.strip_prefix("Retry-After: "))
                .unwrap()
                .parse()
                .unwrap();
            let expected = secs.saturating_add(u64::from(nanos > 0)).max(1);
            prop_assert_eq!(value, expected);
        }
    }
}
