//! IO failures in plain words, shared by every driver: the cause of an [`io::Error`] without the
//! operating system's capital letter and error number, and the [`TransportErrorKind`] the
//! reconnect policy reads.

use std::io;

use resock_core::session::{TransportError, TransportErrorKind};

/// The kind of transport failure an IO error is: `Refused` only when connecting found nothing
/// listening, `Reset` when an established connection was reset, aborted or broken.
pub(crate) fn kind(error: &io::Error) -> TransportErrorKind {
    // An error that carries its own transport kind (the simulator's) keeps it.
    if let Some(inner) = error.get_ref().and_then(|e| e.downcast_ref::<TransportError>()) {
        return inner.kind;
    }
    match error.kind() {
        io::ErrorKind::ConnectionRefused => TransportErrorKind::Refused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
            TransportErrorKind::Reset
        }
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportErrorKind::TimedOut,
        _ => TransportErrorKind::Io,
    }
}

/// The transport error for `error` met while `doing` something: `{doing}: {cause}`, for
/// example `connecting to 127.0.0.1:1: connection refused`.
pub(crate) fn transport_error(doing: &str, error: &io::Error) -> TransportError {
    TransportError::new(kind(error), format!("{doing}: {}", cause(error)))
}

/// `resolving host:port: <cause>`.
pub(crate) fn dns_error(authority: &str, error: &io::Error) -> TransportError {
    TransportError::new(
        TransportErrorKind::Dns,
        format!("resolving {authority}: {}", cause(error)),
    )
}

/// The cause of an IO error as lower-case words: the same text on every platform for the
/// failures a WebSocket client meets most (refused, reset, aborted, broken pipe, timed out),
/// otherwise the system's or the wrapped error's own text without `(os error N)`, and for a
/// failed lookup the resolver's words without the generic prefix std puts before them.
pub(crate) fn cause(error: &io::Error) -> String {
    if let Some(inner) = error.get_ref() {
        let text = inner.to_string();
        return plain(
            text.strip_prefix("failed to lookup address information: ")
                .unwrap_or(&text),
        );
    }
    let known = match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::ConnectionReset => "connection reset by the peer",
        io::ErrorKind::ConnectionAborted => "connection aborted",
        io::ErrorKind::BrokenPipe => "broken pipe (the peer closed the connection)",
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out",
        io::ErrorKind::UnexpectedEof => "the connection ended unexpectedly",
        _ => return plain(&error.to_string()),
    };
    known.to_owned()
}

/// `text` as a clause that can follow a colon: no ` (os error N)`, no trailing period, a
/// lower-case first letter unless the first word is an acronym (`TLS`, `DNS`), and Debug names
/// that libraries print (rustls: `received fatal alert: HandshakeFailure`) as words.
pub(crate) fn plain(text: &str) -> String {
    let mut text = text.trim();
    if let Some(start) = text.rfind(" (os error ") {
        if text.ends_with(')') {
            text = &text[..start];
        }
    }
    let text = spell_out_names(text.trim_end_matches('.').trim_end());
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), second) if first.is_uppercase() && !second.is_some_and(char::is_uppercase) => {
            first.to_lowercase().chain(text[first.len_utf8()..].chars()).collect()
        }
        _ => text,
    }
}

/// Every `UpperCamelCase` word of `text` as lower-case words (`HandshakeFailure` becomes
/// `handshake failure`); other words, acronyms and `WebSocket` stay as they are.
fn spell_out_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        let word = &rest[..end];
        let camel = word.starts_with(|c: char| c.is_ascii_uppercase())
            && word.bytes().any(|b| b.is_ascii_lowercase())
            && word.bytes().skip(1).any(|b| b.is_ascii_uppercase())
            && word != "WebSocket";
        if camel {
            let mut previous_lower = false;
            for c in word.chars() {
                if c.is_ascii_uppercase() && previous_lower {
                    out.push(' ');
                }
                previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
                out.push(c.to_ascii_lowercase());
            }
        } else {
            out.push_str(word);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_failures_read_the_same_everywhere() {
        let text = |k| transport_error("doing", &io::Error::from(k)).message;
        assert_eq!(text(io::ErrorKind::ConnectionRefused), "doing: connection refused");
        assert_eq!(
            text(io::ErrorKind::ConnectionReset),
            "doing: connection reset by the peer"
        );
        assert_eq!(text(io::ErrorKind::TimedOut), "doing: timed out");
    }

    #[test]
    fn kinds_tell_a_refusal_from_a_reset() {
        let kind = |k| kind(&io::Error::from(k));
        assert_eq!(kind(io::ErrorKind::ConnectionRefused), TransportErrorKind::Refused);
        assert_eq!(kind(io::ErrorKind::ConnectionReset), TransportErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::ConnectionAborted), TransportErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::BrokenPipe), TransportErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::TimedOut), TransportErrorKind::TimedOut);
        assert_eq!(kind(io::ErrorKind::WouldBlock), TransportErrorKind::TimedOut);
        assert_eq!(kind(io::ErrorKind::PermissionDenied), TransportErrorKind::Io);
    }

    #[test]
    fn system_text_loses_its_capital_number_and_period() {
        assert_eq!(
            plain("No such file or directory (os error 2)"),
            "no such file or directory"
        );
        assert_eq!(plain("Access is denied. (os error 5)"), "access is denied");
        assert_eq!(plain("TLS is hard"), "TLS is hard");
        assert_eq!(plain("x"), "x");
        assert_eq!(plain(""), "");
        let wrapped = io::Error::other("Something broke.");
        assert_eq!(cause(&wrapped), "something broke");
    }

    #[test]
    fn debug_names_become_words() {
        assert_eq!(spell_out_names("alert: HandshakeFailure"), "alert: handshake failure");
        assert_eq!(
            spell_out_names("peer is incompatible: Tls12NotOffered"),
            "peer is incompatible: tls12 not offered"
        );
        assert_eq!(
            spell_out_names("the WebSocket TLS subjectAltName x"),
            "the WebSocket TLS subjectAltName x"
        );
        assert_eq!(spell_out_names("Unknown(80) é"), "Unknown(80) é");
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn a_tls_alert_reads_as_words() {
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        let error = io::Error::new(io::ErrorKind::InvalidData, alert);
        assert_eq!(cause(&error), "received fatal alert: handshake failure");
        let misbehaved = rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::IllegalTlsInnerPlaintext);
        let error = io::Error::new(io::ErrorKind::InvalidData, misbehaved);
        assert_eq!(cause(&error), "peer misbehaved: illegal tls inner plaintext");
    }
}
