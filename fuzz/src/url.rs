//! Target `url_join`: [`WsUrl::parse`] on any text, and [`WsUrl::join`] of any reference
//! (a redirect's `Location`, which a server chooses) against any base that parses.
//!
//! Input: UTF-8 text (lossily), `base` and `reference` separated by the first newline; with no
//! newline the whole text is the reference and the base is `wss://a.test:8443/dir/page?x=1`.
//!
//! Asserts: a URL that parses prints as text that parses back to the same URL; a join either
//! fails or gives a URL that does the same, whose path starts with `/` and holds no `.` or
//! `..` segment, and which joins to itself (an absolute reference is taken as it is).

use resock_core::WsUrl;

/// The base when the input has no newline.
const DEFAULT_BASE: &str = "wss://a.test:8443/dir/page?x=1";

/// The `url_join` target body.
pub fn url_join(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (base, reference) = text.split_once('\n').unwrap_or((DEFAULT_BASE, &text));
    let Some(base) = parses_back(base) else {
        return;
    };
    let Ok(joined) = base.join(reference) else {
        return;
    };
    let printed = joined.to_string();
    assert_eq!(
        parses_back(&printed).as_ref(),
        Some(&joined),
        "{base} joined with {reference:?} gave {printed}, which does not parse back"
    );
    assert!(joined.path_and_query.starts_with('/'), "{printed}: no leading slash");
    let path = joined.path_and_query.split('?').next().unwrap_or_default();
    assert!(
        !path.split('/').any(|segment| segment == "." || segment == ".."),
        "{base} joined with {reference:?} left dot segments: {printed}"
    );
    assert_eq!(base.join(&printed).as_ref(), Ok(&joined), "{printed} is absolute");
}

/// `text` parsed, after checking that a URL which parses prints as one that parses to the same.
fn parses_back(text: &str) -> Option<WsUrl> {
    let url = WsUrl::parse(text).ok()?;
    let printed = url.to_string();
    let again = WsUrl::parse(&printed).unwrap_or_else(|e| panic!("{text:?} parsed, printed as {printed:?}: {e}"));
    assert_eq!(again, url, "{text:?} printed as {printed:?} parses to another URL");
    Some(url)
}
