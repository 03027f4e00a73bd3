//! Proxy URLs as curl reads them: `http://`, `https://`, `socks5://` and `socks5h://`, with
//! optional percent-encoded `user:password@` credentials. A URL without a scheme
//! (`proxy.example:3128`, common in `HTTPS_PROXY`) is an HTTP proxy.
//!
//! Credentials never leave this module as text: [`ProxyUrl`]'s `Display` and `Debug` leave
//! them out, and [`Credentials`]'s `Debug` prints only that there are some.

use std::fmt;
use std::str::FromStr;

use crate::url::{parse_port, split_host_port};

/// How to talk to the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyScheme {
    /// HTTP `CONNECT` over plain TCP (`http://`; default port 1080, as curl).
    Http,
    /// HTTP `CONNECT` over TLS to the proxy (`https://`, default port 443).
    Https,
    /// SOCKS5 with the target's name resolved on this machine (`socks5://`, default 1080).
    Socks5,
    /// SOCKS5 with the target's name sent to the proxy, which resolves it (`socks5h://`).
    Socks5h,
}

impl ProxyScheme {
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        }
    }

    /// The port used when the URL names none: 443 for `https`, 1080 otherwise (curl's default).
    pub fn default_port(self) -> u16 {
        match self {
            ProxyScheme::Https => 443,
            _ => 1080,
        }
    }

    /// Whether this is SOCKS5 (either flavour) rather than HTTP `CONNECT`.
    pub fn is_socks(self) -> bool {
        matches!(self, ProxyScheme::Socks5 | ProxyScheme::Socks5h)
    }
}

/// A user name and password for the proxy. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The user name, percent-decoded.
    pub username: String,
    /// The password, percent-decoded (empty when the URL gave none).
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// A parsed proxy URL. `Display` (and `Debug`) write it without credentials, so it can go into
/// error messages and logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProxyUrl {
    /// How to talk to the proxy.
    pub scheme: ProxyScheme,
    /// The proxy's host, lowercased; IPv6 literals without brackets.
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    /// The credentials of the URL's userinfo, if it had any.
    pub credentials: Option<Credentials>,
}

/// Why a string is not a usable proxy URL. The text never repeats the URL (it may hold a
/// password).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyUrlError {
    /// A scheme other than `http`, `https`, `socks5` or `socks5h`.
    #[error("the proxy URL scheme must be http, https, socks5 or socks5h")]
    UnsupportedScheme,
    /// No host, or a host with characters a host name cannot have.
    #[error("the proxy URL has no valid host")]
    InvalidHost,
    /// The port is not a number in 1..=65535.
    #[error("the proxy URL port is not a number from 1 to 65535")]
    InvalidPort,
    /// The user name or password is not valid percent-encoded UTF-8, or is longer than SOCKS5
    /// allows (255 bytes each).
    #[error("the proxy URL credentials are not valid percent-encoded UTF-8 of at most 255 bytes each")]
    InvalidCredentials,
}

impl ProxyUrl {
    /// Parses a proxy URL. Surrounding whitespace and a trailing `/` are ignored; a path is
    /// refused as an invalid host. Userinfo is percent-decoded.
    pub fn parse(s: &str) -> Result<ProxyUrl, ProxyUrlError> {
        let s = s.trim();
        let (scheme, rest) = match s.split_once("://") {
            Some((scheme, rest)) => (parse_scheme(scheme)?, rest),
            None => (ProxyScheme::Http, s),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (userinfo, authority) = match rest.rsplit_once('@') {
            Some((userinfo, authority)) => (Some(userinfo), authority),
            None => (None, rest),
        };
        let credentials = userinfo.map(parse_userinfo).transpose()?;
        let (host, port) = split_host_port(authority).map_err(|_| ProxyUrlError::InvalidHost)?;
        let port = match port {
            None | Some("") => scheme.default_port(),
            Some(p) => parse_port(p).map_err(|_| ProxyUrlError::InvalidPort)?,
        };
        Ok(ProxyUrl {
            scheme,
            host,
            port,
            credentials,
        })
    }

    /// `host:port` (IPv6 in brackets), as written in errors and `ToSocketAddrs` accepts.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for ProxyUrl {
    type Err = ProxyUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProxyUrl::parse(s)
    }
}

/// Without credentials: `http://proxy.example:3128`.
impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority())
    }
}

/// The same as `Display`, plus whether there are credentials (never what they are).
impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = if self.credentials.is_some() {
            " (with credentials)"
        } else {
            ""
        };
        write!(f, "ProxyUrl({self}{auth})")
    }
}

fn parse_scheme(scheme: &str) -> Result<ProxyScheme, ProxyUrlError> {
    Ok(match scheme.to_ascii_lowercase().as_str() {
        "http" => ProxyScheme::Http,
        "https" => ProxyScheme::Https,
        "socks5" => ProxyScheme::Socks5,
        "socks5h" => ProxyScheme::Socks5h,
        _ => return Err(ProxyUrlError::UnsupportedScheme),
    })
}

fn parse_userinfo(userinfo: &str) -> Result<Credentials, ProxyUrlError> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let username = percent_decode(user)?;
    let password = percent_decode(password)?;
    if username.len() > 255 || password.len() > 255 {
        return Err(ProxyUrlError::InvalidCredentials);
    }
    Ok(Credentials { username, password })
}

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_decode(s: &str) -> Result<String, ProxyUrlError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(ProxyUrlError::InvalidCredentials)?;
            let hex = std::str::from_utf8(hex).map_err(|_| ProxyUrlError::InvalidCredentials)?;
            let byte = u8::from_str_radix(hex, 16).map_err(|_| ProxyUrlError::InvalidCredentials)?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ProxyUrlError::InvalidCredentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_ports_and_defaults() {
        let url = ProxyUrl::parse("http://proxy.example:3128").unwrap();
        assert_eq!(
            (url.scheme, url.host.as_str(), url.port),
            (ProxyScheme::Http, "proxy.example", 3128)
        );
        assert_eq!(ProxyUrl::parse("HTTPS://P.example/").unwrap().port, 443);
        assert_eq!(ProxyUrl::parse("socks5://h").unwrap().port, 1080);
        assert_eq!(ProxyUrl::parse("socks5h://h:9").unwrap().scheme, ProxyScheme::Socks5h);
        let bare = ProxyUrl::parse("proxy:8080").unwrap();
        assert_eq!((bare.scheme, bare.port), (ProxyScheme::Http, 8080));
        assert_eq!(ProxyUrl::parse("[::1]:3128").unwrap().authority(), "[::1]:3128");
        assert_eq!(ProxyUrl::parse("ftp://h"), Err(ProxyUrlError::UnsupportedScheme));
        assert_eq!(ProxyUrl::parse("socks4://h"), Err(ProxyUrlError::UnsupportedScheme));
        assert_eq!(ProxyUrl::parse("http://h:0"), Err(ProxyUrlError::InvalidPort));
        assert_eq!(ProxyUrl::parse("http://"), Err(ProxyUrlError::InvalidHost));
        assert_eq!(ProxyUrl::parse("http://h/path"), Err(ProxyUrlError::InvalidHost));
    }

    #[test]
    fn credentials_are_percent_decoded_and_never_shown() {
        let url = ProxyUrl::parse("http://us%40er:p%3Ass%20w@proxy:1").unwrap();
        let creds = url.credentials.clone().unwrap();
        assert_eq!(creds.username, "us@er");
        assert_eq!(creds.password, "p:ss w");
        for text in [
            url.to_string(),
            format!("{url:?}"),
            format!("{creds:?}"),
            format!("{:?}", Some(&creds)),
        ] {
            assert!(!text.contains("us") || !text.contains("ss"), "{text}");
            assert!(
                !text.contains("p:ss") && !text.contains("us@er") && !text.contains("%40"),
                "{text}"
            );
        }
        assert_eq!(url.to_string(), "http://proxy:1");
        assert_eq!(format!("{url:?}"), "ProxyUrl(http://proxy:1 (with credentials))");
        let user_only = ProxyUrl::parse("socks5://alice@h").unwrap().credentials.unwrap();
        assert_eq!(
            (user_only.username.as_str(), user_only.password.as_str()),
            ("alice", "")
        );
        // A password with an `@` written plainly: the last `@` ends the userinfo.
        let at = ProxyUrl::parse("http://u:a@b@h:2").unwrap();
        assert_eq!(
            (at.host.as_str(), at.credentials.unwrap().password.as_str()),
            ("h", "a@b")
        );
    }

    #[test]
    fn bad_credentials_are_refused_without_repeating_them() {
        for bad in ["http://u:%zz@h", "http://u:%4@h", "http://u:%ff@h"] {
            let error = ProxyUrl::parse(bad).unwrap_err();
            assert_eq!(error, ProxyUrlError::InvalidCredentials, "{bad}");
            assert!(!error.to_string().contains("%"), "{error}");
        }
        let long = format!("socks5://{}:p@h", "u".repeat(256));
        assert_eq!(ProxyUrl::parse(&long), Err(ProxyUrlError::InvalidCredentials));
    }
}
