//! Every public error of `resock-core` and `resock` displays as one plain sentence: one line,
//! lower-case start (acronyms aside), no trailing period, no stacked labels (`connection error:
//! transport: ...`), no clause said twice, and nothing that looks like `{:?}` output (`Some(`,
//! `::`, CamelCase names, the value's own variant names). A representative value of every
//! variant is walked; the sentences people meet most are checked word for word.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use resock::blocking;
use resock::tls::TlsOptions;
use resock_core::close::CloseFrameError;
use resock_core::frame::FrameError;
use resock_core::session::{
    ClosedReason, ConnectError, DisconnectReason, Error, HeartbeatConfig, QueueConfig, ReconnectPolicy, RedirectError,
    RedirectErrorKind, SessionSendError, TimeoutKind, TransportError, TransportErrorKind, TypedSendError,
};
use resock_core::typed::{DecodeError, EncodeError, EnvelopeFields, JsonEnvelope};
use resock_core::url::UrlError;
use resock_core::{
    CloseCode, CloseError, CloseInfo, ConnectionError, HandshakeError, HttpRejection, Initiator, Message,
    ProtocolError, SendError,
};

/// One error value: where it came from, its `Display` and its `Debug`.
struct Case {
    what: String,
    text: String,
    debug: String,
}

macro_rules! case {
    ($cases:ident, $e:expr) => {{
        let e = $e;
        $cases.push(Case {
            what: stringify!($e).to_owned(),
            text: e.to_string(),
            debug: format!("{e:?}"),
        });
    }};
}

/// Words that prose spells with inner capitals.
const PROPER_NAMES: &[&str] = &["WebSocket"];

/// Labels the old texts stacked in front of their causes.
const STACKED_LABELS: &[&str] = &[
    "error",
    "transport",
    "transport error",
    "handshake",
    "connection error",
    "protocol error",
    "bad frame",
    "bad close frame",
    "send refused",
    "bad URL",
    "opening handshake failed",
    "message did not decode",
    "could not encode the message",
];

/// `debug` without its quoted strings (the texts a value carries, which may be anything).
fn outside_quotes(debug: &str) -> String {
    let mut out = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in debug.chars() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, false, '"') => quoted = !quoted,
            (false, _, c) => out.push(c),
            _ => {}
        }
    }
    out
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// `text` without its code spans (`` `ReconnectPolicy::disabled()` ``): naming the API to use is
/// not Debug output.
fn outside_code(text: &str) -> String {
    text.split('`').step_by(2).collect::<Vec<_>>().join("")
}

fn check_sentence(case: &Case) {
    let Case { what, text, debug } = case;
    let whole = text;
    let text = &outside_code(text);
    let fail = |why: &str| -> ! { panic!("{what}\n  displays {whole:?}\n  {why}\n  (Debug: {debug})") };
    if text.is_empty() {
        fail("it is empty");
    }
    if text.contains(['\n', '\r']) {
        fail("it spans more than one line");
    }
    if text.ends_with('.') {
        fail("it ends with a period");
    }
    if text.trim() != text {
        fail("it has surrounding whitespace");
    }
    let first_word = text.split(' ').next().unwrap_or_default();
    if first_word.starts_with(char::is_uppercase) && first_word.chars().any(char::is_lowercase) {
        fail("it starts with a capital letter (acronyms aside)");
    }
    for debugish in [
        "Some(",
        "None",
        "Ok(",
        "Err(",
        "Other(",
        "::",
        "{ ",
        " }",
        ": :",
        "(os error",
    ] {
        if text.contains(debugish) {
            fail(&format!("it contains {debugish:?}"));
        }
    }
    let clauses: Vec<&str> = text.split(": ").collect();
    for (i, clause) in clauses.iter().enumerate() {
        if clauses[i + 1..].contains(clause) {
            fail(&format!("the clause {clause:?} is said twice"));
        }
        if i + 1 < clauses.len() && STACKED_LABELS.iter().any(|l| l.eq_ignore_ascii_case(clause)) {
            fail(&format!("it stacks the label {clause:?}"));
        }
    }
    let mut prose = text.to_owned();
    for name in PROPER_NAMES {
        prose = prose.replace(name, "");
    }
    if let Some(word) =
        words(&prose).find(|w| w.chars().skip(1).any(char::is_uppercase) && w.chars().any(char::is_lowercase))
    {
        fail(&format!("it contains the CamelCase name {word:?}"));
    }
    let names = outside_quotes(debug);
    let own_names: Vec<&str> = words(&names)
        .filter(|w| w.len() > 1 && w.starts_with(char::is_uppercase))
        .collect();
    if let Some(word) = words(text).find(|w| own_names.contains(w)) {
        fail(&format!("it contains the Debug name {word:?}"));
    }
}

fn rejection(status: u16, reason: &str) -> HttpRejection {
    HttpRejection {
        status,
        reason: reason.to_owned(),
        headers: vec![("WWW-Authenticate".to_owned(), "Bearer".to_owned())],
        retry_after: None,
        location: None,
        body: b"no".to_vec(),
    }
}

/// A refusal as the operating system words it (`Connection refused (os error 111)` on Linux),
/// from a connection to a loopback port with nothing listening.
fn refused_by_the_os() -> (String, std::io::Error) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    (addr.to_string(), error)
}

fn transport(kind: TransportErrorKind, message: &str) -> TransportError {
    TransportError::new(kind, message)
}

fn decode(text: &str) -> DecodeError {
    JsonEnvelope::default()
        .decode_envelope(&Message::text(text))
        .unwrap_err()
}

fn core_cases(cases: &mut Vec<Case>) {
    let frame_errors = [
        FrameError::ReservedBits(0b010),
        FrameError::ReservedOpcode(0x3),
        FrameError::FragmentedControl,
        FrameError::ControlTooLong(126),
        FrameError::MaskedFromServer,
        FrameError::UnmaskedFromClient,
        FrameError::NonMinimalLength,
        FrameError::LengthHighBit,
        FrameError::FrameTooLarge {
            size: 2000,
            limit: 1000,
        },
    ];
    for e in frame_errors.iter().cloned() {
        case!(cases, e.clone());
        case!(cases, ProtocolError::Frame(e));
    }
    let close_errors = [
        CloseFrameError::OneByteBody,
        CloseFrameError::InvalidCode(1005),
        CloseFrameError::InvalidReason,
    ];
    for e in close_errors.iter().cloned() {
        case!(cases, e.clone());
        case!(cases, ProtocolError::Close(e));
    }
    let protocol_errors = [
        ProtocolError::Frame(FrameError::ReservedOpcode(0xB)),
        ProtocolError::UnexpectedContinuation,
        ProtocolError::ExpectedContinuation,
        ProtocolError::InvalidUtf8,
        ProtocolError::MessageTooLarge {
            size: 2000,
            limit: 1000,
        },
        ProtocolError::TooManyFragments { limit: 4096 },
        ProtocolError::Close(CloseFrameError::InvalidCode(999)),
    ];
    for e in protocol_errors.iter().cloned() {
        case!(cases, e.clone());
        case!(cases, ConnectionError::Protocol(e.clone()));
        case!(cases, DisconnectReason::Protocol(e.clone()));
        case!(cases, Error::from_disconnect(&DisconnectReason::Protocol(e)).unwrap());
    }
    let handshake_errors = [
        HandshakeError::Rejected(Box::new(rejection(401, "Unauthorized"))),
        HandshakeError::Rejected(Box::new(rejection(503, ""))),
        HandshakeError::MissingUpgrade,
        HandshakeError::BadUpgrade,
        HandshakeError::MissingConnectionUpgrade,
        HandshakeError::MissingAccept,
        HandshakeError::BadAccept,
        HandshakeError::DuplicateAccept,
        HandshakeError::UnrequestedSubprotocol("chat.v9".into()),
        HandshakeError::MultipleSubprotocols,
        HandshakeError::SubprotocolRequired,
        HandshakeError::UnrequestedExtension("permessage-deflate".into()),
        HandshakeError::HeadersTooLarge { limit: 65536 },
        HandshakeError::TooManyHeaders { limit: 128 },
        HandshakeError::Malformed("invalid token".into()),
        HandshakeError::UnexpectedEof,
        HandshakeError::BadMethod,
        HandshakeError::BadVersion,
        HandshakeError::MissingKey,
        HandshakeError::BadKey,
        HandshakeError::RepeatedHeader("Sec-WebSocket-Key"),
        HandshakeError::MissingHost,
        HandshakeError::InvalidHeader("header Host is set by the handshake".into()),
        HandshakeError::Finished,
    ];
    for e in handshake_errors.iter().cloned() {
        case!(cases, e.clone());
        case!(cases, ConnectionError::Handshake(e.clone()));
        case!(cases, ConnectError::Handshake(e.clone()));
        case!(cases, DisconnectReason::Handshake(e.clone()));
        case!(cases, Error::from_disconnect(&DisconnectReason::Handshake(e)).unwrap());
    }
    for e in [
        ConnectionError::HandshakeTimeout,
        ConnectionError::CloseTimeout,
        ConnectionError::ResetWithoutClose,
        ConnectionError::Transport("reading from the peer: connection reset by the peer".into()),
    ] {
        case!(cases, e);
    }
    for e in [
        SendError::NotOpen,
        SendError::Closed,
        SendError::MessageInProgress,
        SendError::NoMessageInProgress,
        SendError::InvalidUtf8,
        SendError::NotData,
    ] {
        case!(cases, e);
    }
    for e in [
        CloseError::InvalidCode(1006),
        CloseError::ReasonTooLong(200),
        CloseError::AlreadyClosing,
    ] {
        case!(cases, e);
    }
    for e in [
        UrlError::UnsupportedScheme,
        UrlError::MissingHost,
        UrlError::InvalidHost,
        UrlError::InvalidPort,
        UrlError::Fragment,
        UrlError::UserInfo,
    ] {
        case!(cases, e);
    }
    let kinds = [
        (
            TransportErrorKind::Dns,
            "resolving nosuch.invalid:80: name or service not known",
        ),
        (
            TransportErrorKind::Refused,
            "connecting to 127.0.0.1:1: connection refused",
        ),
        (
            TransportErrorKind::Reset,
            "reading from the server: connection reset by the peer",
        ),
        (TransportErrorKind::TimedOut, "connecting to 10.0.0.1:80: timed out"),
        (
            TransportErrorKind::Tls,
            "TLS handshake failed: the server closed the connection",
        ),
        (
            TransportErrorKind::TlsCertificate,
            "TLS handshake failed: the certificate is not trusted",
        ),
        (TransportErrorKind::Io, "writing to the server: permission denied"),
    ];
    for (kind, message) in kinds {
        case!(cases, transport(kind, message));
        case!(cases, ConnectError::Transport(transport(kind, message)));
        case!(cases, DisconnectReason::Transport(transport(kind, message)));
        case!(
            cases,
            Error::from_disconnect(&DisconnectReason::Transport(transport(kind, message))).unwrap()
        );
    }
    for kind in [TimeoutKind::Open, TimeoutKind::Close, TimeoutKind::Pong] {
        case!(cases, kind);
        case!(cases, ConnectError::Timeout(kind));
    }
    let reasons = [
        DisconnectReason::OpenTimeout,
        DisconnectReason::PongTimeout,
        DisconnectReason::ServerClosed {
            code: CloseCode::POLICY_VIOLATION,
            reason: "bad token".into(),
        },
        DisconnectReason::ServerClosed {
            code: CloseCode::GOING_AWAY,
            reason: String::new(),
        },
        DisconnectReason::ServerClosed {
            code: CloseCode(4000),
            reason: "two\nlines \u{1b}[31m".into(),
        },
        DisconnectReason::MessageTooLarge {
            size: 2000,
            limit: 1000,
            setting: "max_message_size",
        },
        DisconnectReason::Reset,
        DisconnectReason::CloseTimeout,
        DisconnectReason::UserClosed,
    ];
    let url = |s: &str| s.parse::<resock_core::WsUrl>().unwrap();
    let redirects = [
        RedirectErrorKind::TooMany {
            limit: 1,
            next: url("ws://a.test/x"),
        },
        RedirectErrorKind::Downgrade {
            to: url("ws://a.test/x?t=1"),
        },
        RedirectErrorKind::MissingLocation,
        RedirectErrorKind::InvalidLocation {
            location: "ftp://a.test/".into(),
            error: UrlError::UnsupportedScheme,
        },
    ]
    .map(|kind| {
        DisconnectReason::Redirect(RedirectError {
            kind,
            status: 302,
            chain: vec![url("wss://a.test/"), url("wss://b.test/p?token=t")],
            skipped: 0,
        })
    });
    let reasons = reasons.into_iter().chain(redirects);
    for reason in reasons {
        if let Some(error) = Error::from_disconnect(&reason) {
            case!(cases, error);
        }
        case!(cases, ClosedReason::Fatal(reason.clone()));
        case!(cases, ClosedReason::RetriesExhausted(reason.clone()));
        case!(cases, reason);
    }
    case!(cases, ClosedReason::User);
    let message = || Message::text("hello");
    for e in [
        SessionSendError::QueueFull(message()),
        SessionSendError::Closed(message()),
        SessionSendError::TooLarge(message()),
    ] {
        case!(cases, TypedSendError::Send(e.clone()));
        case!(cases, Error::Send(e.clone()));
        case!(cases, e);
    }

    // Typed messages: every encode and decode failure, made through the public codec.
    let tuple_keys: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
    let json = JsonEnvelope::default().encode("t", &tuple_keys, None).unwrap_err();
    assert!(matches!(json, EncodeError::Json(_)));
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(400_000_000_000);
    let timestamp = JsonEnvelope::default().encode("t", &1, Some(far)).unwrap_err();
    let fields = EnvelopeFields {
        type_field: "kind".into(),
        data_field: "kind".into(),
        timestamp_field: None,
    };
    let duplicate = JsonEnvelope::with_fields(fields).encode("t", &1, None).unwrap_err();
    for e in [json, timestamp, duplicate] {
        case!(cases, TypedSendError::Encode(e));
    }
    let binary = JsonEnvelope::default()
        .decode_envelope(&Message::binary(&b"{}"[..]))
        .unwrap_err();
    let data = JsonEnvelope::default()
        .decode_envelope(&Message::text(r#"{"type":"chat","data":5}"#))
        .unwrap()
        .data::<String>()
        .unwrap_err();
    for e in [
        binary,
        decode("{"),
        decode("[1]"),
        decode("{}"),
        decode(r#"{"type":1}"#),
        data,
    ] {
        case!(cases, e);
    }
    case!(cases, Error::Decode(decode("{")));
}

fn adapter_cases(cases: &mut Vec<Case>) {
    let message = || Message::text("hello");
    case!(cases, blocking::Error::Url(UrlError::UnsupportedScheme.to_string()));
    let (target, refused) = refused_by_the_os();
    case!(
        cases,
        blocking::Error::Connect {
            target,
            source: refused
        }
    );
    case!(
        cases,
        blocking::Error::Transport(transport(
            TransportErrorKind::Refused,
            "connecting to 127.0.0.1:1: connection refused"
        ))
    );
    case!(cases, blocking::Error::Connection(ConnectionError::ResetWithoutClose));
    let closed = CloseInfo {
        code: CloseCode::NORMAL,
        reason: "bye".into(),
        initiator: Initiator::Remote,
        clean: true,
        error: None,
    };
    case!(cases, blocking::Error::Closed(Box::new(closed)));
    case!(
        cases,
        blocking::Error::Refused(CloseError::InvalidCode(1005).to_string())
    );

    for e in [
        resock::SendError::Full(message()),
        resock::SendError::TimedOut(message()),
        resock::SendError::Closed(message()),
        resock::SendError::TooLarge(message()),
    ] {
        case!(cases, resock::TypedSendError::Send(e.clone()));
        case!(cases, e);
    }
    let timestamp = || {
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        JsonEnvelope::default().encode("t", &1, Some(far)).unwrap_err()
    };
    case!(cases, resock::TypedSendError::Encode(timestamp()));

    case!(cases, TlsOptions::default().add_root_pem(b"not pem").unwrap_err());
    case!(
        cases,
        TlsOptions::default()
            .add_root_pem_file("/nonexistent/ca.pem")
            .unwrap_err()
    );
    case!(cases, TlsOptions::no_default_roots().client_config().unwrap_err());
    case!(cases, resock::ClientBuilder::new("http://example.com/").unwrap_err());

    // Settings that can never work, one of each kind of problem, through the builder.
    let builder = || resock::ClientBuilder::new("ws://127.0.0.1:1/").unwrap();
    let mut no_pings = HeartbeatConfig::default();
    no_pings.interval = Some(Duration::ZERO);
    let mut no_room = QueueConfig::default();
    no_room.max_messages = 0;
    let refused: Vec<resock::ClientBuilder> = vec![
        builder().event_capacity(0),
        builder().open_timeout(Duration::ZERO),
        builder().heartbeat(no_pings),
        builder().reconnect(ReconnectPolicy::exponential(
            Duration::from_secs(5),
            Duration::from_secs(1),
        )),
        builder().reconnect(ReconnectPolicy::default().max_attempts(0)),
        builder().queue(no_room),
        builder().max_message_size(0),
    ];
    for b in refused {
        case!(cases, b.validate().unwrap_err());
    }
}

#[test]
fn every_error_reads_as_one_sentence() {
    let mut cases = Vec::new();
    core_cases(&mut cases);
    adapter_cases(&mut cases);
    assert!(cases.len() > 200, "{} cases", cases.len());
    for case in &cases {
        if std::env::var_os("SHOW_SENTENCES").is_some() {
            eprintln!("{}", case.text);
        }
        check_sentence(case);
    }
}

#[test]
fn the_sentences_people_meet_most_read_exactly() {
    let refused = "connecting to 127.0.0.1:1: connection refused";
    let exact: Vec<(String, &str)> = vec![
        (
            Error::from_disconnect(&DisconnectReason::Transport(transport(
                TransportErrorKind::Refused,
                refused,
            )))
            .unwrap()
            .to_string(),
            refused,
        ),
        (
            DisconnectReason::Reset.to_string(),
            "the connection ended without a close frame",
        ),
        (
            Error::from_disconnect(&DisconnectReason::Reset).unwrap().to_string(),
            "the connection ended without a close frame",
        ),
        (
            HandshakeError::Rejected(Box::new(rejection(401, "Unauthorized"))).to_string(),
            "the server rejected the WebSocket upgrade with HTTP 401 Unauthorized",
        ),
        (
            HandshakeError::Rejected(Box::new(rejection(503, ""))).to_string(),
            "the server rejected the WebSocket upgrade with HTTP 503",
        ),
        (
            HandshakeError::RepeatedHeader("Sec-WebSocket-Key").to_string(),
            "the request repeats the Sec-WebSocket-Key header",
        ),
        (
            DisconnectReason::ServerClosed {
                code: CloseCode::POLICY_VIOLATION,
                reason: "bad token".into(),
            }
            .to_string(),
            r#"the server closed the connection with 1008 (policy violation): "bad token""#,
        ),
        (
            DisconnectReason::ServerClosed {
                code: CloseCode::GOING_AWAY,
                reason: String::new(),
            }
            .to_string(),
            "the server closed the connection with 1001 (going away)",
        ),
        (
            ProtocolError::MessageTooLarge {
                size: 2000,
                limit: 1000,
            }
            .to_string(),
            "a message of at least 2000 bytes exceeds the configured limit of 1000 bytes",
        ),
        (
            Error::from_disconnect(&DisconnectReason::Protocol(ProtocolError::MessageTooLarge {
                size: 2000,
                limit: 1000,
            }))
            .unwrap()
            .to_string(),
            "the connection was closed with 1009 (message too big) because a message of at least 2000 bytes \
             exceeds the configured limit of 1000 bytes",
        ),
        (
            ConnectionError::Protocol(ProtocolError::Frame(FrameError::ReservedOpcode(3))).to_string(),
            "the connection was closed with 1002 (protocol error) because a frame uses the reserved opcode 0x3",
        ),
        (
            ConnectError::Timeout(TimeoutKind::Open).to_string(),
            "opening the connection timed out",
        ),
        (
            TlsOptions::default()
                .add_root_pem_file("/nonexistent/ca.pem")
                .unwrap_err()
                .to_string(),
            "reading /nonexistent/ca.pem: no such file or directory",
        ),
        (
            blocking::Error::Closed(Box::new(CloseInfo {
                code: CloseCode::NORMAL,
                reason: String::new(),
                initiator: Initiator::Local,
                clean: true,
                error: None,
            }))
            .to_string(),
            "the connection is already closed with 1000 (normal closure)",
        ),
    ];
    for (seen, wanted) in exact {
        assert_eq!(seen, wanted);
    }
    let (target, source) = refused_by_the_os();
    let wanted = format!("connecting to {target}: connection refused");
    assert_eq!(blocking::Error::Connect { target, source }.to_string(), wanted);
}

/// A reset is a kind of its own, retried like a refusal.
#[test]
fn a_reset_is_not_a_refusal() {
    let Some(Error::Connect(ConnectError::Transport(e))) = Error::from_disconnect(&DisconnectReason::Reset) else {
        panic!("a reset is a transport error");
    };
    assert_eq!(e.kind, TransportErrorKind::Reset);
}
