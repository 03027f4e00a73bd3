//! Resolving a redirect's `Location` against the URL that was asked for (RFC 3986 §5.2), and
//! the origin comparison that decides which headers follow a redirect.

use super::{UrlError, WsUrl};

impl WsUrl {
    /// Resolves `reference`, a redirect's `Location`, against this URL (RFC 3986 §5.2).
    ///
    /// Every form a server sends is accepted: an absolute URL (`ws`, `wss`, and `http` /
    /// `https`, which map to `ws` / `wss`), scheme-relative `//host/p` (this URL's scheme),
    /// absolute-path `/p`, relative-path `p` (merged with this URL's directory), query-only
    /// `?q`, and the empty reference (this URL again). Dot segments (`.`, `..`) are removed;
    /// a `#fragment` is dropped, as a WebSocket URL has none and it is never sent.
    ///
    /// Fails with [`UrlError::UnsupportedScheme`] for another scheme (`ftp:`), and with the
    /// error [`WsUrl::parse`] gives for what it refuses (credentials, a bad host or port).
    pub fn join(&self, reference: &str) -> Result<WsUrl, UrlError> {
        let reference = reference.trim();
        let reference = reference
            .split_once('#')
            .map_or(reference, |(before, _)| before)
            .trim_end();
        if let Some((scheme, rest)) = split_scheme(reference) {
            let scheme = if scheme.eq_ignore_ascii_case("ws") || scheme.eq_ignore_ascii_case("http") {
                "ws"
            } else if scheme.eq_ignore_ascii_case("wss") || scheme.eq_ignore_ascii_case("https") {
                "wss"
            } else {
                return Err(UrlError::UnsupportedScheme);
            };
            return WsUrl::parse(&format!("{scheme}:{rest}")).map(clean_path);
        }
        if reference.starts_with("//") {
            return WsUrl::parse(&format!("{}:{reference}", self.scheme())).map(clean_path);
        }
        let (base_path, base_query) = split_query(&self.path_and_query);
        let (path, query) = split_query(reference);
        let (path, query) = if path.is_empty() {
            (remove_dot_segments(base_path), query.or(base_query))
        } else if path.starts_with('/') {
            (remove_dot_segments(path), query)
        } else {
            let directory = &base_path[..=base_path.rfind('/').unwrap_or(0)];
            (remove_dot_segments(&format!("{directory}{path}")), query)
        };
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        WsUrl::parse(&format!("{}://{}{path}{query}", self.scheme(), self.authority()))
    }

    /// Whether `other` has this URL's origin: the same scheme, host and port (RFC 6454).
    pub fn same_origin(&self, other: &WsUrl) -> bool {
        self.secure == other.secure && self.host == other.host && self.port == other.port
    }
}

/// `scheme` and the rest when `reference` starts with one (`ALPHA *(ALPHA / DIGIT / + - .)`
/// then `:`); `None` for a relative reference (`a/b:c` has no scheme).
fn split_scheme(reference: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = reference.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    let valid =
        first.is_ascii_alphabetic() && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some((scheme, rest))
}

/// Path and query (without its `?`) of a reference.
fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (s, None),
    }
}

/// RFC 3986 §5.2.4 on a path starting with `/`: `.` segments go, `..` removes the segment
/// before it (never above the root), and a final `.` or `..` leaves a trailing `/`.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut trailing = false;
    for segment in path.strip_prefix('/').unwrap_or(path).split('/') {
        trailing = false;
        match segment {
            "." => trailing = true,
            ".." => {
                out.pop();
                trailing = true;
            }
            _ => out.push(segment),
        }
    }
    let mut cleaned = String::with_capacity(path.len());
    for segment in &out {
        cleaned.push('/');
        cleaned.push_str(segment);
    }
    if trailing || cleaned.is_empty() {
        cleaned.push('/');
    }
    cleaned
}

/// An absolute URL with the dot segments of its path removed.
fn clean_path(mut url: WsUrl) -> WsUrl {
    let (path, query) = split_query(&url.path_and_query);
    let mut cleaned = remove_dot_segments(path);
    if let Some(query) = query {
        cleaned.push('?');
        cleaned.push_str(query);
    }
    url.path_and_query = cleaned;
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &str, reference: &str) -> Result<String, UrlError> {
        WsUrl::parse(base).unwrap().join(reference).map(|u| u.to_string())
    }

    #[test]
    fn every_form_of_location_resolves() {
        let base = "wss://a.test:8443/dir/sub/page?x=1";
        let cases = [
            ("wss://b.test/p?q", "wss://b.test/p?q"),
            ("ws://b.test/p", "ws://b.test/p"),
            ("https://b.test:444/p", "wss://b.test:444/p"),
            ("HTTP://B.test/", "ws://b.test/"),
            ("http://b.test:80/p", "ws://b.test/p"),
            ("//c.test/p?q=2", "wss://c.test/p?q=2"),
            ("//[::1]:9/p", "wss://[::1]:9/p"),
            ("/abs?y=2", "wss://a.test:8443/abs?y=2"),
            ("/abs", "wss://a.test:8443/abs"),
            ("rel", "wss://a.test:8443/dir/sub/rel"),
            ("rel?z", "wss://a.test:8443/dir/sub/rel?z"),
            ("./rel", "wss://a.test:8443/dir/sub/rel"),
            ("../up", "wss://a.test:8443/dir/up"),
            ("../../../../top", "wss://a.test:8443/top"),
            ("..", "wss://a.test:8443/dir/"),
            (".", "wss://a.test:8443/dir/sub/"),
            ("?only=query", "wss://a.test:8443/dir/sub/page?only=query"),
            ("", "wss://a.test:8443/dir/sub/page?x=1"),
            ("#frag", "wss://a.test:8443/dir/sub/page?x=1"),
            ("/p#frag", "wss://a.test:8443/p"),
            ("  /spaced  ", "wss://a.test:8443/spaced"),
            ("/a/./b/../c", "wss://a.test:8443/a/c"),
            ("wss://b.test/a/../b", "wss://b.test/b"),
            ("a/b:c", "wss://a.test:8443/dir/sub/a/b:c"),
            ("/x y", "wss://a.test:8443/x%20y"),
        ];
        for (reference, want) in cases {
            assert_eq!(join(base, reference).as_deref(), Ok(want), "{reference:?}");
        }
        assert_eq!(join("ws://h", "p").as_deref(), Ok("ws://h/p"));
        assert_eq!(join("ws://h/", "//g").as_deref(), Ok("ws://g/"));
        // Found by the property below: a base with dot segments, a space before a fragment.
        assert_eq!(join("ws://a/.", "?").as_deref(), Ok("ws://a/?"));
        assert_eq!(join("ws://a", ". #").as_deref(), Ok("ws://a/"));
    }

    #[test]
    fn unusable_locations_are_refused() {
        let base = "ws://a.test/";
        assert_eq!(join(base, "ftp://b.test/"), Err(UrlError::UnsupportedScheme));
        assert_eq!(join(base, "mailto:x@y"), Err(UrlError::UnsupportedScheme));
        assert_eq!(join(base, "http://u:p@b.test/"), Err(UrlError::UserInfo));
        assert_eq!(join(base, "//u@b.test/"), Err(UrlError::UserInfo));
        assert_eq!(join(base, "http:"), Err(UrlError::MissingHost));
        assert_eq!(join(base, "http:///p"), Err(UrlError::MissingHost));
        assert_eq!(join(base, "http://b.test:0/"), Err(UrlError::InvalidPort));
        assert_eq!(join(base, "//b c/"), Err(UrlError::InvalidHost));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let u = |s: &str| WsUrl::parse(s).unwrap();
        assert!(u("ws://h/a").same_origin(&u("ws://H:80/b?c")));
        assert!(!u("ws://h/").same_origin(&u("wss://h/")));
        assert!(!u("ws://h/").same_origin(&u("ws://h:81/")));
        assert!(!u("ws://h/").same_origin(&u("ws://g/")));
        assert!(!u("ws://localhost:9/").same_origin(&u("ws://127.0.0.1:9/")));
    }

    proptest::proptest! {
        /// Any `Location` a server may send: resolving never panics, and what it gives is an
        /// absolute URL that parses back to itself, has no dot segments left, and resolves to
        /// itself against any base.
        #[test]
        fn any_location_resolves_to_a_stable_absolute_url(
            base in "(ws|wss)://(a|b\\.test|\\[::1\\])(:[0-9]{1,5})?(/[a-z.]{0,3}){0,3}(\\?[a-z=&]{0,4})?",
            location in "((ws|wss|http|https|ftp|HTTP):)?(//(u@)?[a-z.:0-9\\[\\]]{0,8})?[a-z./?#=% ]{0,12}",
        ) {
            let Ok(base) = WsUrl::parse(&base) else { return Ok(()) };
            if let Ok(url) = base.join(&location) {
                proptest::prop_assert_eq!(WsUrl::parse(&url.to_string()), Ok(url.clone()));
                let path = url.path_and_query.split('?').next().unwrap_or_default();
                proptest::prop_assert!(!path.split('/').any(|s| s == "." || s == ".."), "{}", url);
                proptest::prop_assert_eq!(base.join(&url.to_string()), Ok(url.clone()));
                proptest::prop_assert_eq!(url.join(""), Ok(url.clone()));
            }
        }
    }

    #[test]
    fn dot_segments() {
        for (path, want) in [
            ("/", "/"),
            ("/a", "/a"),
            ("/a/", "/a/"),
            ("/a/b/..", "/a/"),
            ("/a/b/../..", "/"),
            ("/..", "/"),
            ("/./", "/"),
            ("/a//b", "/a//b"),
            ("/a/./b/./", "/a/b/"),
            ("/a/b/c/./../../g", "/a/g"),
            ("/mid/content=5/../6", "/mid/6"),
        ] {
            assert_eq!(remove_dot_segments(path), want, "{path}");
        }
    }
}
