//! Stdin as messages: one message per line, the line ending (`\n` or `\r\n`) removed.

use std::io::BufRead;

use resock::Message;

/// Turns one line (without its ending) into a message: binary as is, text when it is UTF-8.
pub fn line_message(line: Vec<u8>, binary: bool) -> Result<Message, Vec<u8>> {
    if binary {
        return Ok(Message::binary(line));
    }
    String::from_utf8(line).map(Message::text).map_err(|e| e.into_bytes())
}

/// Reads `input` to its end, handing each line's message to `send`; stops early when `send`
/// returns false (the session closed). Lines that are not UTF-8 in text mode are skipped and
/// reported to `warn`, as is a read error (which ends the input).
pub fn feed(mut input: impl BufRead, binary: bool, warn: impl Fn(&str), mut send: impl FnMut(Message) -> bool) {
    let mut number = 0u64;
    loop {
        let mut line = Vec::new();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                warn(&format!("reading stdin failed: {e}"));
                return;
            }
        }
        number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        match line_message(line, binary) {
            Ok(message) => {
                if !send(message) {
                    return;
                }
            }
            Err(_) => warn(&format!(
                "stdin line {number} is not valid UTF-8; skipped (--binary sends bytes)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn collect(input: &[u8], binary: bool) -> (Vec<Message>, Vec<String>) {
        let warnings = RefCell::new(Vec::new());
        let mut messages = Vec::new();
        feed(
            input,
            binary,
            |w| warnings.borrow_mut().push(w.to_owned()),
            |m| {
                messages.push(m);
                true
            },
        );
        (messages, warnings.into_inner())
    }

    #[test]
    fn lines_become_text_messages_without_their_endings() {
        let (messages, warnings) = collect(b"one\ntwo\r\n\nlast", false);
        assert_eq!(
            messages,
            [
                Message::text("one"),
                Message::text("two"),
                Message::text(""),
                Message::text("last")
            ]
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn invalid_utf8_is_skipped_in_text_mode_and_kept_in_binary_mode() {
        let (messages, warnings) = collect(b"ok\n\xff\xfe\nafter\n", false);
        assert_eq!(messages, [Message::text("ok"), Message::text("after")]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("line 2"));
        let (messages, _) = collect(b"\xff\xfe\n", true);
        assert_eq!(messages, [Message::binary(vec![0xff, 0xfe])]);
    }

    #[test]
    fn a_closed_session_stops_the_input() {
        let mut seen = 0;
        feed(
            &b"a\nb\nc\n"[..],
            false,
            |_| {},
            |_| {
                seen += 1;
                false
            },
        );
        assert_eq!(seen, 1);
    }
}
