//! Redirects of the opening handshake: which answers are followed, how far, where to, and which
//! headers go along.
//!
//! A 301, 302, 303, 307 or 308 with a usable `Location` sends the same attempt to the new URL
//! at once (no backoff, inside the attempt's one open timeout), up to
//! [`RedirectPolicy::max_redirects`] times. `http`/`https` locations map to `ws`/`wss`, and
//! relative ones are resolved ([`WsUrl::join`]). A redirect from `wss` to `ws` is refused.
//! `Authorization`, `Cookie` and the headers marked sensitive go only to the origin of the
//! configured URL, as curl sends credentials only to the host it was given. Every attempt
//! (every reconnect) starts again from the configured URL.

use std::fmt;

use crate::handshake::HttpRejection;
use crate::url::{UrlError, WsUrl};

/// Most URLs a [`RedirectError`] keeps, so a huge `max_redirects` against a loop stays bounded.
const MAX_CHAIN: usize = 32;

/// Headers that never follow a redirect to another origin.
const ALWAYS_SENSITIVE: [&str; 2] = ["authorization", "cookie"];

/// How a session follows HTTP redirects of the opening handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedirectPolicy {
    /// Most redirects followed within one attempt (5 by default). 0 turns following off: a
    /// 3xx then fails the attempt as [`HandshakeError::Rejected`](crate::HandshakeError::Rejected),
    /// not retried.
    pub max_redirects: u32,
    /// Header names (any case) sent only to the configured URL's origin, like `Authorization`
    /// and `Cookie`, which always are: an API key in `X-Api-Key`, say.
    pub sensitive_headers: Vec<String>,
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        RedirectPolicy {
            max_redirects: 5,
            sensitive_headers: Vec::new(),
        }
    }
}

impl RedirectPolicy {
    /// Never follow a redirect: a 3xx fails the attempt.
    pub fn none() -> Self {
        RedirectPolicy {
            max_redirects: 0,
            ..Self::default()
        }
    }

    /// Sets the most redirects followed within one attempt.
    pub fn max_redirects(mut self, max: u32) -> Self {
        self.max_redirects = max;
        self
    }

    /// Marks header `name` as sensitive: it is dropped on a redirect to another origin.
    pub fn sensitive_header(mut self, name: impl Into<String>) -> Self {
        self.sensitive_headers.push(name.into());
        self
    }

    /// Whether header `name` stays with the configured origin: `Authorization`, `Cookie`, or
    /// one marked sensitive (names compare case-insensitively).
    pub fn is_sensitive(&self, name: &str) -> bool {
        ALWAYS_SENSITIVE.iter().any(|s| name.eq_ignore_ascii_case(s))
            || self.sensitive_headers.iter().any(|s| name.eq_ignore_ascii_case(s))
    }
}

/// Whether `status` is a redirect the session follows.
fn is_followed_status(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectErrorKind {
    /// The attempt was redirected more than `limit` times (`max_redirects`): a loop, or a chain
    /// too long. `next` is where the refused redirect pointed.
    TooMany {
        /// The limit in force.
        limit: u32,
        /// The target of the redirect that was not followed.
        next: WsUrl,
    },
    /// A redirect from `wss://` to `ws://`, refused: it would send the handshake, and then the
    /// messages, in clear text.
    Downgrade {
        /// The `ws://` target that was refused.
        to: WsUrl,
    },
    /// A redirect without a `Location` header.
    MissingLocation,
    /// A `Location` that is not a usable WebSocket URL (another scheme, credentials in it, a
    /// bad host or port).
    InvalidLocation {
        /// The header's value, with any credentials and query cut out.
        location: String,
        /// Why it cannot be used.
        error: UrlError,
    },
}

/// A redirect of the opening handshake that the session refused to follow. Fatal by default
/// (see [`DisconnectReason::default_decision`](super::DisconnectReason::default_decision)):
/// the same server answers the next attempt the same way.
///
/// It displays with the chain of URLs (queries shown as `?…`: they often carry tokens; the
/// [`chain`](Self::chain) itself is complete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    /// What was wrong.
    pub kind: RedirectErrorKind,
    /// The status of the refused redirect (301, 302, 303, 307 or 308).
    pub status: u16,
    /// The URLs the attempt asked, in order: the configured one first, the one that answered
    /// with the refused redirect last. At most 32: in a longer chain the middle is left out
    /// (counted in [`skipped`](Self::skipped)).
    pub chain: Vec<WsUrl>,
    /// URLs of the chain left out, between its first 31 and its last.
    pub skipped: u32,
}

impl std::error::Error for RedirectError {}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status;
        match &self.kind {
            RedirectErrorKind::TooMany { limit, .. } => {
                write!(f, "stopped after {limit} redirects (max_redirects is {limit}): ")?
            }
            RedirectErrorKind::Downgrade { .. } => write!(f, "refused a redirect ({status}) from wss:// to ws://: ")?,
            RedirectErrorKind::MissingLocation => write!(
                f,
                "the server answered {status} (a redirect) without a Location header: "
            )?,
            RedirectErrorKind::InvalidLocation { location, error } => write!(
                f,
                "the server answered {status} with an unusable Location {location:?} ({error}): "
            )?,
        }
        for (i, url) in self.chain.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            if i + 1 == self.chain.len() && self.skipped > 0 {
                write!(f, "({} more) -> ", self.skipped)?;
            }
            write!(f, "{}", Shown(url))?;
        }
        match &self.kind {
            RedirectErrorKind::TooMany { next, .. } => write!(f, " -> {} (not followed)", Shown(next)),
            RedirectErrorKind::Downgrade { to } => write!(f, " -> {} (not followed)", Shown(to)),
            _ => Ok(()),
        }
    }
}

/// A URL as error text shows it: the query, which often carries a token, as `?…`.
struct Shown<'a>(&'a WsUrl);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        match url.path_and_query.split_once('?') {
            Some((path, _)) => write!(f, "{}://{}{path}?…", url.scheme(), url.host_header()),
            None => write!(f, "{url}"),
        }
    }
}

/// A `Location` value fit for error text: the fragment, the query and any `user:pass@` cut
/// out, at most 200 characters.
fn redact_location(location: &str) -> String {
    let location = location.trim();
    let location = location.split_once('#').map_or(location, |(before, _)| before);
    let (mut shown, query) = match location.split_once('?') {
        Some((before, _)) => (before.to_owned(), true),
        None => (location.to_owned(), false),
    };
    if let Some(start) = shown.find("//").map(|i| i + 2) {
        let end = shown[start..].find('/').map_or(shown.len(), |i| start + i);
        if let Some(at) = shown[start..end].rfind('@') {
            shown.replace_range(start..start + at, "…");
        }
    }
    if query {
        shown.push_str("?…");
    }
    if shown.chars().count() > 200 {
        shown = shown.chars().take(200).collect::<String>() + "…";
    }
    shown
}

/// The redirects followed within one attempt to open a connection: where the attempt is now,
/// and what to do with the next 3xx. A [`Session`](super::Session) keeps one per attempt; a
/// driver that opens a single connection itself (`resock::blocking::WebSocket::connect`)
/// follows redirects with one too.
#[derive(Debug, Default, Clone)]
pub struct RedirectChain(Option<Box<Followed>>);

/// What a chain holds once a redirect was followed (boxed: most connections never redirect,
/// and a session keeps its chain for the whole connection).
#[derive(Debug, Clone)]
struct Followed {
    /// Redirects followed so far.
    count: u32,
    /// The first targets followed, at most `MAX_CHAIN - 2` (the configured URL and the current
    /// one complete the chain of an error).
    first: Vec<WsUrl>,
    /// Where the attempt is now.
    current: WsUrl,
}

impl RedirectChain {
    /// Back to the configured URL: a new attempt.
    pub fn clear(&mut self) {
        self.0 = None;
    }

    /// The URL the attempt is at: the last target followed, or `original`.
    pub fn current<'a>(&'a self, original: &'a WsUrl) -> &'a WsUrl {
        self.0.as_ref().map_or(original, |followed| &followed.current)
    }

    /// Records a redirect followed to `to`.
    pub fn push(&mut self, to: WsUrl) {
        match &mut self.0 {
            None => {
                self.0 = Some(Box::new(Followed {
                    count: 1,
                    first: Vec::new(),
                    current: to,
                }));
            }
            Some(followed) => {
                followed.count = followed.count.saturating_add(1);
                let previous = std::mem::replace(&mut followed.current, to);
                if followed.first.len() < MAX_CHAIN - 2 {
                    followed.first.push(previous);
                }
            }
        }
    }

    /// Redirects followed so far.
    fn count(&self) -> u32 {
        self.0.as_ref().map_or(0, |followed| followed.count)
    }

    /// The first targets followed (see [`Followed::first`]).
    fn first(&self) -> &[WsUrl] {
        self.0.as_ref().map_or(&[], |followed| &followed.first)
    }

    /// What to do with `rejection` of the current URL: `None` when it is not a redirect to
    /// follow (not 301/302/303/307/308, or following is off), the next URL (to
    /// [`push`](Self::push) once it is being followed), or why not.
    pub fn next(
        &self,
        original: &WsUrl,
        policy: &RedirectPolicy,
        rejection: &HttpRejection,
    ) -> Option<Result<WsUrl, RedirectError>> {
        if policy.max_redirects == 0 || !is_followed_status(rejection.status) {
            return None;
        }
        let current = self.current(original);
        let refuse = |kind| {
            Err(RedirectError {
                kind,
                status: rejection.status,
                chain: self.chain(original),
                skipped: self.count().saturating_sub(self.first().len() as u32 + 1),
            })
        };
        let Some(location) = rejection.location.as_deref() else {
            return Some(refuse(RedirectErrorKind::MissingLocation));
        };
        let to = match current.join(location) {
            Ok(to) => to,
            Err(error) => {
                return Some(refuse(RedirectErrorKind::InvalidLocation {
                    location: redact_location(location),
                    error,
                }));
            }
        };
        if current.secure && !to.secure {
            return Some(refuse(RedirectErrorKind::Downgrade { to }));
        }
        if self.count() >= policy.max_redirects {
            return Some(refuse(RedirectErrorKind::TooMany {
                limit: policy.max_redirects,
                next: to,
            }));
        }
        Some(Ok(to))
    }

    /// The configured URL, the first targets followed, and the current one.
    fn chain(&self, original: &WsUrl) -> Vec<WsUrl> {
        std::iter::once(original)
            .chain(self.first())
            .chain(self.0.as_ref().map(|followed| &followed.current))
            .cloned()
            .collect()
    }

    /// Whether the attempt left the configured URL's origin (sensitive headers stay behind:
    /// [`RedirectPolicy::is_sensitive`]).
    pub fn crossed_origin(&self, original: &WsUrl) -> bool {
        !self.current(original).same_origin(original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> WsUrl {
        WsUrl::parse(s).unwrap()
    }

    fn redirect(status: u16, location: Option<&str>) -> HttpRejection {
        HttpRejection {
            status,
            reason: String::new(),
            headers: Vec::new(),
            retry_after: None,
            location: location.map(str::to_owned),
            body: Vec::new(),
        }
    }

    #[test]
    fn only_the_five_redirect_statuses_are_followed() {
        let hops = RedirectChain::default();
        let start = url("ws://a.test/");
        let policy = RedirectPolicy::default();
        for status in 100..600 {
            let next = hops.next(&start, &policy, &redirect(status, Some("/b")));
            assert_eq!(next.is_some(), [301, 302, 303, 307, 308].contains(&status), "{status}");
        }
        assert!(
            hops.next(&start, &RedirectPolicy::none(), &redirect(302, Some("/b")))
                .is_none()
        );
    }

    #[test]
    fn the_limit_counts_hops_and_the_chain_is_bounded() {
        let start = url("ws://a.test/0");
        let policy = RedirectPolicy::default().max_redirects(100);
        let mut hops = RedirectChain::default();
        for n in 1..=100 {
            let to = hops
                .next(&start, &policy, &redirect(307, Some(&format!("/{n}?token=s"))))
                .unwrap()
                .unwrap();
            hops.push(to);
        }
        let error = hops
            .next(&start, &policy, &redirect(307, Some("/101")))
            .unwrap()
            .unwrap_err();
        assert_eq!(error.chain.len(), MAX_CHAIN);
        assert_eq!(error.chain[0], start);
        assert_eq!(error.chain[MAX_CHAIN - 1], url("ws://a.test/100?token=s"));
        assert_eq!(error.skipped, 69, "/31 to /99");
        let text = error.to_string();
        assert!(text.starts_with("stopped after 100 redirects (max_redirects is 100): ws://a.test/0 -> "));
        assert!(
            text.ends_with(" -> (69 more) -> ws://a.test/100?… -> ws://a.test/101 (not followed)"),
            "{text}"
        );
        assert!(!text.contains("token"), "{text}");
    }

    #[test]
    fn locations_are_redacted_in_errors() {
        assert_eq!(redact_location("http://u:p@h/x?t=1#f"), "http://…@h/x?…");
        assert_eq!(redact_location("ftp://h/a@b"), "ftp://h/a@b");
        assert_eq!(redact_location("//u@h"), "//…@h");
        assert_eq!(redact_location(&"a".repeat(300)).chars().count(), 201);
    }

    #[test]
    fn sensitive_names_compare_in_any_case() {
        let policy = RedirectPolicy::default().sensitive_header("X-Api-Key");
        for name in ["Authorization", "COOKIE", "x-api-key"] {
            assert!(policy.is_sensitive(name), "{name}");
        }
        assert!(!policy.is_sensitive("X-Trace"));
        assert!(!RedirectPolicy::default().is_sensitive("x-api-key"));
    }
}
