//! The `Sec-WebSocket-Extensions` grammar (RFC 6455 §9.1): a comma list of extensions, each a
//! token name followed by `;`-separated parameters, each a token with an optional value that is
//! a token or a quoted string.
//!
//! One pass over the input, no backtracking and no regular expression, so hostile values (10^5
//! commas or spaces) cost linear time; quoted strings may contain commas and semicolons.

use crate::handshake::headers::is_tchar;

/// One extension named in a `Sec-WebSocket-Extensions` value, with its parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExtensionOffer {
    /// The extension's name (a token, compared case-insensitively by the negotiators).
    pub(crate) name: String,
    /// Its parameters as written: the name and, if any, the value (quotes removed, escapes
    /// resolved).
    pub(crate) params: Vec<(String, Option<String>)>,
}

/// Why a `Sec-WebSocket-Extensions` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError(pub(crate) &'static str);

/// Parses every extension of one or more header values, in order. Empty list elements
/// (`a,,b`) are skipped, as RFC 7230 §7 asks of recipients.
pub(crate) fn parse_extensions<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ExtensionOffer>, SyntaxError> {
    let mut out = Vec::new();
    for value in values {
        let mut p = Parser {
            s: value.as_bytes(),
            i: 0,
        };
        loop {
            p.skip_ows();
            match p.peek() {
                None => break,
                Some(b',') => {
                    p.i += 1;
                    continue;
                }
                Some(_) => {}
            }
            out.push(p.extension()?);
            p.skip_ows();
            match p.peek() {
                None => break,
                Some(b',') => p.i += 1,
                Some(_) => return Err(SyntaxError("expected a comma between extensions")),
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn token(&mut self, what: &'static str) -> Result<String, SyntaxError> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        if start == self.i {
            return Err(SyntaxError(what));
        }
        // Token characters are ASCII.
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn quoted(&mut self) -> Result<String, SyntaxError> {
        self.i += 1; // the opening quote
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => return Err(SyntaxError("unterminated quoted string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&value).into_owned());
                }
                Some(b'\\') => {
                    let Some(&escaped) = self.s.get(self.i + 1) else {
                        return Err(SyntaxError("unterminated quoted string"));
                    };
                    value.push(escaped);
                    self.i += 2;
                }
                Some(b) => {
                    value.push(b);
                    self.i += 1;
                }
            }
        }
    }

    fn extension(&mut self) -> Result<ExtensionOffer, SyntaxError> {
        let name = self.token("an extension name must be a token")?;
        let mut params = Vec::new();
        loop {
            self.skip_ows();
            if self.peek() != Some(b';') {
                return Ok(ExtensionOffer { name, params });
            }
            self.i += 1;
            self.skip_ows();
            let param = self.token("a parameter name must be a token")?;
            self.skip_ows();
            let value = if self.peek() == Some(b'=') {
                self.i += 1;
                self.skip_ows();
                Some(if self.peek() == Some(b'"') {
                    self.quoted()?
                } else {
                    self.token("a parameter value must be a token or a quoted string")?
                })
            } else {
                None
            };
            params.push((param, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<ExtensionOffer>, SyntaxError> {
        parse_extensions([s])
    }

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        ExtensionOffer {
            name: name.into(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_owned)))
                .collect(),
        }
    }

    #[test]
    fn reads_lists_parameters_and_quotes() {
        assert_eq!(
            parse("permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate").unwrap(),
            vec![
                ext(
                    "permessage-deflate",
                    &[("client_max_window_bits", None), ("server_max_window_bits", Some("10"))]
                ),
                ext("permessage-deflate", &[]),
            ]
        );
        assert_eq!(
            parse(" x ;a = \"1,;\\\"2\" ,, y").unwrap(),
            vec![ext("x", &[("a", Some("1,;\"2"))]), ext("y", &[])]
        );
        assert_eq!(
            parse_extensions(["a", "b;c"]).unwrap(),
            vec![ext("a", &[]), ext("b", &[("c", None)])]
        );
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse(" , ,").unwrap(), vec![]);
    }

    #[test]
    fn refuses_bad_syntax() {
        for bad in [
            "a;",
            "a; =1",
            "a;b=",
            "a;b=\"unterminated",
            "a b",
            "a;b=c d",
            "\"a\"",
            "a;b=\\",
            "a;b=\"x\\",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hostile_inputs_are_linear() {
        let many_commas = ",".repeat(100_000);
        assert_eq!(parse(&many_commas).unwrap(), vec![]);
        let many_spaces = format!("a{}x", " ".repeat(100_000));
        assert!(parse(&many_spaces).is_err());
        let many_params = format!("a{}", ";b".repeat(50_000));
        assert_eq!(parse(&many_params).unwrap()[0].params.len(), 50_000);
        for name in ["__proto__", "constructor", "hasOwnProperty"] {
            assert_eq!(parse(name).unwrap(), vec![ext(name, &[])]);
        }
    }
}
