//! Unit tests of the client handshake: every checklist row H1-H10, fed whole and byte by byte.

use super::*;

const KEY: [u8; 16] = *b"the sample nonce";
const UP: &str = "Upgrade: websocket";
const CONN: &str = "Connection: Upgrade";
const ACC: &str = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn offering(protocols: &[&str], require: bool) -> ClientOptions {
    ClientOptions {
        subprotocols: protocols.iter().map(|p| p.to_string()).collect(),
        require_subprotocol: require,
        ..ClientOptions::default()
    }
}

fn handshake(opts: &ClientOptions) -> ClientHandshake {
    let url = WsUrl::parse("ws://example.com/chat").unwrap();
    ClientHandshake::new(&url, opts, KEY).unwrap()
}

/// A response head: `first` status line, `lines` headers, blank line.
fn head(first: &str, lines: &[&str]) -> Vec<u8> {
    let mut s = format!("{first}\r\n");
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

fn ok101(lines: &[&str]) -> Vec<u8> {
    head("HTTP/1.1 101 Switching Protocols", lines)
}

fn run(opts: &ClientOptions, input: &[u8]) -> Result<(Accepted, usize), HandshakeError> {
    super::super::testing::run(|| handshake(opts), input)
}

fn err(opts: &ClientOptions, input: &[u8]) -> HandshakeError {
    run(opts, input).unwrap_err()
}

fn rejection(opts: &ClientOptions, input: &[u8]) -> HttpRejection {
    match err(opts, input) {
        HandshakeError::Rejected(r) => *r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn writes_the_request() {
    let opts = ClientOptions {
        subprotocols: vec!["chat".into(), "superchat".into()],
        headers: vec![("Authorization".into(), "Bearer t".into())],
        origin: Some("http://example.com".into()),
        ..ClientOptions::default()
    };
    let h = handshake(&opts);
    let mut out = Vec::new();
    h.write_request(&mut out);
    let expected = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
        Origin: http://example.com\r\nAuthorization: Bearer t\r\n\r\n";
    assert_eq!(String::from_utf8(out).unwrap(), expected);
    assert_eq!(h.key(), "dGhlIHNhbXBsZSBub25jZQ==");

    let url = WsUrl::parse("wss://[::1]:9001/a?b=c").unwrap();
    let h = ClientHandshake::new(&url, &ClientOptions::default(), KEY).unwrap();
    let mut out = Vec::new();
    h.write_request(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("GET /a?b=c HTTP/1.1\r\nHost: [::1]:9001\r\n"));
    assert!(!text.contains("Sec-WebSocket-Protocol"));
    assert!(!text.contains("Origin"));
}

#[test]
fn refuses_unsafe_options() {
    let url = WsUrl::parse("ws://h/").unwrap();
    let header = |n: &str, v: &str| ClientOptions {
        headers: vec![(n.into(), v.into())],
        ..ClientOptions::default()
    };
    let bad = [
        header("X-A", "v\r\nX-Injected: 1"),
        header("X-A", "v\n"),
        header("X-A\r\nB", "v"),
        header("", "v"),
        header("sec-websocket-key", "x"),
        header("HOST", "x"),
        header("Sec-WebSocket-Extensions", "permessage-deflate"),
        offering(&["a b"], false),
        offering(&[""], false),
        offering(&["chat", "x", "chat"], false),
        ClientOptions {
            origin: Some("o\r\n".into()),
            ..ClientOptions::default()
        },
    ];
    for opts in &bad {
        let e = ClientHandshake::new(&url, opts, KEY).unwrap_err();
        assert!(matches!(e, HandshakeError::InvalidHeader(_)), "{opts:?}");
        assert!(e.is_local_misuse());
    }
    let mut url2 = url.clone();
    url2.path_and_query = "/a b".into();
    assert!(ClientHandshake::new(&url2, &ClientOptions::default(), KEY).is_err());
    url2.path_and_query = "a".into();
    assert!(ClientHandshake::new(&url2, &ClientOptions::default(), KEY).is_err());
    let mut url3 = url.clone();
    url3.host = "h\r\nX: y".into();
    assert!(ClientHandshake::new(&url3, &ClientOptions::default(), KEY).is_err());
}

#[test]
fn accepts_101_and_keeps_trailing_frames() {
    let opts = ClientOptions::default();
    let resp = ok101(&[UP, CONN, ACC, "Set-Cookie: a=b"]);
    let (acc, len) = run(&opts, &resp).unwrap();
    assert_eq!(len, resp.len());
    assert_eq!(acc.subprotocol, None);
    assert!(acc.headers.contains(&("Set-Cookie".into(), "a=b".into())));

    // H10: frame bytes in the same read as the 101.
    let mut input = resp.clone();
    input.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
    let mut h = handshake(&opts);
    match h.feed(&input).unwrap() {
        Progress::Complete { consumed, .. } => assert_eq!(&input[consumed..], b"\x81\x02hi"),
        Progress::Partial => panic!("partial"),
    }
    assert_eq!(h.feed(b"x"), Err(HandshakeError::Finished));
    // The same with the head split across two reads, at every point.
    for split in 1..resp.len() {
        let mut h = handshake(&opts);
        assert_eq!(h.feed(&input[..split]), Ok(Progress::Partial));
        match h.feed(&input[split..]).unwrap() {
            Progress::Complete { consumed, .. } => {
                assert_eq!(&input[split + consumed..], b"\x81\x02hi")
            }
            Progress::Partial => panic!("partial at {split}"),
        }
    }
}

#[test]
fn h1_rejections_carry_a_bounded_body() {
    let opts = ClientOptions::default();
    let mut input = head("HTTP/1.1 401 Unauthorized", &["Content-Length: 5"]);
    input.extend_from_slice(b"nope!trailing junk");
    let r = rejection(&opts, &input);
    assert_eq!(
        (r.status, r.reason.as_str(), &r.body[..]),
        (401, "Unauthorized", &b"nope!"[..])
    );
    let e = HandshakeError::Rejected(Box::new(r));
    assert!(e.to_string().contains("401 Unauthorized"));

    let r = rejection(
        &opts,
        &head("HTTP/1.1 503 Busy", &["Retry-After: 120", "Content-Length: 0"]),
    );
    assert_eq!((r.status, r.retry_after.as_deref()), (503, Some("120")));
    assert!(r.body.is_empty());

    // No Content-Length: the body runs until EOF.
    let mut input = head("HTTP/1.1 403 Forbidden", &[]);
    input.extend_from_slice(b"go away");
    assert_eq!(rejection(&opts, &input).body, b"go away");

    // A redirect is reported as soon as its head is complete, whatever its body: a server that
    // keeps the connection open after a 302 without a length does not hold the next hop.
    for framing in [
        &[][..],
        &["Transfer-Encoding: chunked"][..],
        &["Content-Length: 100"][..],
    ] {
        let mut lines = vec!["Location: wss://elsewhere/"];
        lines.extend_from_slice(framing);
        let mut h = handshake(&opts);
        let e = h.feed(&head("HTTP/1.1 302 Found", &lines)).unwrap_err();
        let HandshakeError::Rejected(r) = e else {
            panic!("{e:?}")
        };
        assert_eq!((r.status, r.location.as_deref()), (302, Some("wss://elsewhere/")));
        assert!(r.body.is_empty());
    }
    // Without a Location, a 3xx is an ordinary rejection with its body.
    let mut input = head("HTTP/1.1 302 Found", &[]);
    input.extend_from_slice(b"moved");
    assert_eq!(rejection(&opts, &input).body, b"moved");

    // Chunked: raw bytes until EOF.
    let mut input = head("HTTP/1.1 500 Oops", &["Transfer-Encoding: chunked"]);
    input.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(rejection(&opts, &input).body, b"5\r\nhello\r\n0\r\n\r\n");

    // The prefix is capped, and reported without waiting for the rest.
    let mut input = head("HTTP/1.1 404 Not Found", &["Content-Length: 10000"]);
    input.extend(std::iter::repeat_n(b'x', 5000));
    assert_eq!(rejection(&opts, &input).body.len(), 4096);
    let mut input = head("HTTP/1.1 404 Not Found", &[]);
    input.extend(std::iter::repeat_n(b'x', 5000));
    assert_eq!(rejection(&opts, &input).body.len(), 4096);

    // No body for 204; headers are kept; errors are sticky.
    let mut h = handshake(&opts);
    let e = h.feed(&head("HTTP/1.1 204 No Content", &["X-A: 1"])).unwrap_err();
    let HandshakeError::Rejected(r) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(r.headers, [("X-A".to_string(), "1".to_string())]);
    assert_eq!(h.feed(b"more").unwrap_err(), e);
    assert_eq!(h.feed_eof(), e);
}

/// H2–H6b: one row per response; `U`, `C` and `A` stand for valid `Upgrade`,
/// `Connection` and `Sec-WebSocket-Accept` lines; `A:`, `P:` and `E:` prefix
/// `Sec-WebSocket-Accept`, `-Protocol` and `-Extensions` values. Offers: `-` none,
/// `c` chat and superchat, `c!` the same with `require_subprotocol`.
#[test]
fn h2_to_h6b_response_validation() {
    use HandshakeError::*;
    type Expect = Result<Option<String>, HandshakeError>;
    let unreq = |s: &str| Err(UnrequestedSubprotocol(s.into()));
    let ext = |s: &str| Err(UnrequestedExtension(s.into()));
    let chose = |s: &str| Ok(Some(s.to_string()));
    let no_conn = || Err(MissingConnectionUpgrade);
    let cases: [(&str, &str, Expect); 40] = [
        ("-", "U|C|A", Ok(None)),
        // H2: Upgrade.
        ("-", "C|A", Err(MissingUpgrade)),
        ("-", "Upgrade: websocket2|C|A", Err(BadUpgrade)),
        ("-", "Upgrade: h2c|C|A", Err(BadUpgrade)),
        ("-", "Upgrade: websocket, h2c|C|A", Err(BadUpgrade)),
        ("-", "Upgrade:|C|A", Err(BadUpgrade)),
        ("-", "Upgrade: w\u{e9}bsocket|C|A", Err(BadUpgrade)),
        ("-", "U|U|C|A", Err(BadUpgrade)),
        ("-", "upgrade:   WebSocket  |C|A", Ok(None)),
        // H3: Connection, a token list.
        ("-", "U|A", no_conn()),
        ("-", "U|Connection: keep-alive|A", no_conn()),
        ("-", "U|Connection: Upgraded|A", no_conn()),
        ("-", "U|Connection: keep-alive, Upgrade|A", Ok(None)),
        ("-", "U|connection: upgrade|A", Ok(None)),
        ("-", "U|Connection: ,UPGRADE,|A", Ok(None)),
        ("-", "U|Connection: keep-alive|C|A", Ok(None)),
        // H4: Sec-WebSocket-Accept.
        ("-", "U|C", Err(MissingAccept)),
        ("-", "U|C|A: aK/PtUTDdUaFEKkbRbPGfOhsHQ4=", Err(BadAccept)),
        ("-", "U|C|A: s3pPLMBiTxaQ9kYGzzhZRbK+xOo", Err(BadAccept)),
        ("-", "U|C|A:", Err(BadAccept)),
        ("-", "U|C|A|A", Err(DuplicateAccept)),
        ("-", "U|C|A:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  ", Ok(None)),
        // H5: we never offer extensions.
        ("-", "U|C|A|E: permessage-deflate; x=1", ext("permessage-deflate")),
        ("c", "U|C|A|E: , __proto__", ext("__proto__")),
        (
            "-",
            "U|C|A|E: ;x=1",
            Err(InvalidExtension("an extension name must be a token".into())),
        ),
        ("-", "U|C|A|E:|E: , ,", Ok(None)),
        // H6: the subprotocol must be one we offered, and only one.
        ("-", "U|C|A|P: chat", unreq("chat")),
        ("c", "U|C|A|P: other", unreq("other")),
        ("c", "U|C|A|P: Chat", unreq("Chat")),
        ("c", "U|C|A|P:", unreq("")),
        ("c", "U|C|A|P: chat, superchat", Err(MultipleSubprotocols)),
        ("c", "U|C|A|P: chat|P: chat", Err(MultipleSubprotocols)),
        ("c", "U|C|A|P:  superchat ", chose("superchat")),
        ("c!", "U|C|A|P: chat", chose("chat")),
        // H6b: a declined subprotocol is a policy decision.
        ("c", "U|C|A", Ok(None)),
        ("c!", "U|C|A", Err(SubprotocolRequired)),
        ("c!", "U|C|A|P: other", unreq("other")),
        // Names are case-insensitive; unknown headers are ignored.
        ("-", "UPGRADE: websocket|CONNECTION: upgrade|A", Ok(None)),
        ("-", "U|C|sec-websocket-ACCEPT: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Ok(None)),
        ("c", "X-Anything: at all|U|C|A|Sec-WebSocket-Protocol-X: b", Ok(None)),
    ];
    for (offer, lines, expected) in cases {
        let opts = match offer {
            "-" => offering(&[], false),
            "c" => offering(&["chat", "superchat"], false),
            _ => offering(&["chat", "superchat"], true),
        };
        let lines: Vec<String> = lines
            .split('|')
            .map(|l| match l {
                "U" => UP.into(),
                "C" => CONN.into(),
                "A" => ACC.into(),
                _ => [("A:", "Accept"), ("P:", "Protocol"), ("E:", "Extensions")]
                    .iter()
                    .find_map(|(p, n)| Some(format!("Sec-WebSocket-{n}:{}", l.strip_prefix(p)?)))
                    .unwrap_or_else(|| l.to_owned()),
            })
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let outcome = run(&opts, &ok101(&lines)).map(|(acc, _)| acc.subprotocol);
        assert_eq!(outcome, expected, "{offer} {lines:?}");
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // a timing guard, in a test
fn h7_oversized_heads() {
    let o = ClientOptions::default();
    let mut big = b"HTTP/1.1 101 Switching Protocols\r\nX-Junk: ".to_vec();
    big.resize(1 << 20, b'a');
    let start = std::time::Instant::now();
    let mut h = handshake(&o);
    let mut failed_at = None;
    for (i, b) in big.iter().enumerate() {
        if let Err(e) = h.feed(std::slice::from_ref(b)) {
            assert_eq!(e, HandshakeError::HeadersTooLarge { limit: 65536 });
            failed_at = Some(i + 1);
            break;
        }
    }
    assert!(start.elapsed().as_millis() < 500, "{:?}", start.elapsed());
    assert_eq!(failed_at, Some(65536));
    assert_eq!(err(&o, &big), HandshakeError::HeadersTooLarge { limit: 65536 });

    // CVE-2024-37890: thousands of headers before Upgrade.
    let junk: Vec<String> = (0..3000).map(|i| format!("X-J{i}: a")).collect();
    let mut lines: Vec<&str> = junk.iter().map(String::as_str).collect();
    lines.extend([UP, CONN, ACC]);
    assert_eq!(err(&o, &ok101(&lines)), HandshakeError::TooManyHeaders { limit: 128 });
}

#[test]
#[allow(clippy::disallowed_methods)] // a timing guard, in a test
fn long_protocol_and_extension_values_are_linear() {
    let mut o = offering(&["chat"], false);
    o.limits.max_header_bytes = 1 << 20;
    let spaces = " ".repeat(100_000);
    let commas = ",".repeat(100_000);
    let cases = [
        (format!("Sec-WebSocket-Protocol: chat{spaces}"), None),
        (format!("Sec-WebSocket-Protocol: {commas}chat{commas}"), None),
        (
            format!("Sec-WebSocket-Protocol: b{spaces}x"),
            Some(HandshakeError::UnrequestedSubprotocol(format!("b{spaces}x"))),
        ),
        (format!("Sec-WebSocket-Extensions: {commas}"), None),
        (format!("Sec-WebSocket-Extensions: {spaces},{spaces}"), None),
    ];
    for (line, expected) in cases {
        let resp = ok101(&[UP, CONN, ACC, &line]);
        let start = std::time::Instant::now();
        let outcome = handshake(&o).feed(&resp);
        assert!(start.elapsed().as_millis() < 500, "{:?}", start.elapsed());
        assert_eq!(outcome.err(), expected);
        assert_eq!(run(&o, &resp).err(), expected);
    }
}

#[test]
fn h9_version_and_junk() {
    let o = ClientOptions::default();
    let inputs: [&[u8]; 7] = [
        &head("HTTP/1.0 101 Switching Protocols", &[UP, CONN, ACC]),
        &head("HTTP/2 101 Switching Protocols", &[UP, CONN, ACC]),
        &head("HTTP/1.1 1O1 Switching Protocols", &[UP, CONN, ACC]),
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"\r\n\r\n",
        b"\x00\xff\xfe\n\n",
        &ok101(&[UP, CONN, "no colon here", ACC]),
    ];
    for input in inputs {
        assert!(matches!(err(&o, input), HandshakeError::Malformed(_)), "{input:?}");
    }
}

#[test]
fn eof_before_the_head_ends() {
    let o = ClientOptions::default();
    assert_eq!(err(&o, b""), HandshakeError::UnexpectedEof);
    assert_eq!(
        err(&o, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: web"),
        HandshakeError::UnexpectedEof
    );
}
