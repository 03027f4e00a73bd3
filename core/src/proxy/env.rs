//! Choosing a proxy from the environment as curl does: `https_proxy` for `wss://`,
//! `http_proxy` for `ws://`, `all_proxy` for either, each lowercase first, then uppercase; and
//! `no_proxy` to bypass some hosts. Core reads no environment: the driver hands the values in
//! ([`ProxyEnv::from_lookup`]).
//!
//! `no_proxy` is a list separated by commas or whitespace. Each entry is one of:
//! * `*`: no host is proxied;
//! * a host name, with or without a leading `.` or `*.`: that name and every name under it
//!   (`example.com` matches `example.com` and `api.example.com`, not `badexample.com`);
//! * an IP address (`10.1.2.3`, `::1` or `[::1]`): that address;
//! * a CIDR range (`10.0.0.0/8`, `fd00::/8`): every address in it;
//! * any of those with `:port` (`example.com:8443`, `[::1]:9001`): only that port.
//!
//! Loopback targets (`localhost`, names under `.localhost`, `127.0.0.0/8`, `::1`) are never
//! proxied by the environment; an explicitly configured proxy is used for them too.

use std::net::IpAddr;

use super::url::{ProxyUrl, ProxyUrlError};
use crate::url::WsUrl;

/// One `no_proxy` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`.
    Everything,
    /// A name suffix, lowercase, without leading dots.
    Name(String),
    /// An address range: the base and the prefix length in bits.
    Range(IpAddr, u8),
}

/// A parsed `no_proxy` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<(Pattern, Option<u16>)>,
}

impl NoProxy {
    /// Parses a `no_proxy` value. Entries that are none of the forms above are skipped, as
    /// curl does.
    pub fn parse(list: &str) -> NoProxy {
        let entries = list
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter_map(parse_entry)
            .collect();
        NoProxy { entries }
    }

    /// Whether a connection to `host` (as in [`WsUrl::host`]: lowercase, IPv6 without
    /// brackets) on `port` goes direct.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|(pattern, entry_port)| {
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            match pattern {
                Pattern::Everything => true,
                Pattern::Name(suffix) => {
                    host == *suffix
                        || (host.len() > suffix.len()
                            && host.ends_with(suffix.as_str())
                            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.')
                }
                Pattern::Range(base, bits) => ip.is_some_and(|ip| in_range(ip, *base, *bits)),
            }
        })
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse_entry(entry: &str) -> Option<(Pattern, Option<u16>)> {
    let entry = entry.trim();
    if entry.is_empty() {
        return None;
    }
    if entry == "*" {
        return Some((Pattern::Everything, None));
    }
    // `[v6]` or `[v6]:port`, `v6`, `v6/len`, else `name-or-v4[/len][:port]`.
    let (body, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?.parse::<u16>().ok()?),
        };
        (inside, port)
    } else if entry.matches(':').count() > 1 {
        (entry, None)
    } else {
        match entry.split_once(':') {
            Some((body, port)) => (body, Some(port.parse::<u16>().ok()?)),
            None => (entry, None),
        }
    };
    if let Some((addr, len)) = body.split_once('/') {
        let addr: IpAddr = addr.parse().ok()?;
        let len: u8 = len.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        return (len <= max).then_some((Pattern::Range(addr, len), port));
    }
    if let Ok(addr) = body.parse::<IpAddr>() {
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        return Some((Pattern::Range(addr, bits), port));
    }
    let name = body
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .trim_end_matches('.');
    let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    (!name.is_empty() && name.bytes().all(valid)).then(|| (Pattern::Name(name.to_ascii_lowercase()), port))
}

/// Whether `ip` shares its first `bits` bits with `base` (never across address families,
/// except an IPv4-mapped IPv6 address, which is compared as IPv4).
fn in_range(ip: IpAddr, base: IpAddr, bits: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Whether `host` is this machine: `localhost`, a name under `.localhost`, or a loopback
/// address (`127.0.0.0/8`, `::1`, and IPv4-mapped loopback).
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

/// The proxy variables of an environment. Empty values count as unset.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// `http_proxy` / `HTTP_PROXY`: for `ws://`.
    pub http: Option<String>,
    /// `https_proxy` / `HTTPS_PROXY`: for `wss://`.
    pub https: Option<String>,
    /// `all_proxy` / `ALL_PROXY`: for either, when the specific one is unset.
    pub all: Option<String>,
    /// `no_proxy` / `NO_PROXY`.
    pub no_proxy: NoProxy,
}

/// Values can hold credentials: `Debug` says only which variables are set.
impl std::fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyEnv")
            .field("http", &self.http.is_some())
            .field("https", &self.https.is_some())
            .field("all", &self.all.is_some())
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxyEnv {
    /// Reads the variables through `get` (the driver passes `std::env::var`), the lowercase
    /// name first, then the uppercase one.
    pub fn from_lookup(mut get: impl FnMut(&str) -> Option<String>) -> ProxyEnv {
        let mut var = |lower: &str, upper: &str| {
            get(lower)
                .filter(|v| !v.trim().is_empty())
                .or_else(|| get(upper).filter(|v| !v.trim().is_empty()))
        };
        ProxyEnv {
            http: var("http_proxy", "HTTP_PROXY"),
            https: var("https_proxy", "HTTPS_PROXY"),
            all: var("all_proxy", "ALL_PROXY"),
            no_proxy: NoProxy::parse(&var("no_proxy", "NO_PROXY").unwrap_or_default()),
        }
    }

    /// The proxy for `url`, if any: none for loopback or a `no_proxy` match; else
    /// `https_proxy` (`wss://`) or `http_proxy` (`ws://`), else `all_proxy`. A set variable
    /// that does not parse is an error (not a silent direct connection).
    pub fn proxy_for(&self, url: &WsUrl) -> Result<Option<ProxyUrl>, ProxyUrlError> {
        if is_loopback(&url.host) || self.no_proxy.matches(&url.host, url.port) {
            return Ok(None);
        }
        let specific = if url.secure { &self.https } else { &self.http };
        specific
            .as_ref()
            .or(self.all.as_ref())
            .map(|v| ProxyUrl::parse(v))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(vars: &[(&str, &str)]) -> ProxyEnv {
        ProxyEnv::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    fn url(s: &str) -> WsUrl {
        WsUrl::parse(s).unwrap()
    }

    #[test]
    fn the_scheme_picks_the_variable() {
        let e = env(&[
            ("https_proxy", "http://s:1"),
            ("HTTP_PROXY", "http://p:2"),
            ("ALL_PROXY", "socks5h://a:3"),
        ]);
        assert_eq!(
            e.proxy_for(&url("wss://x.example")).unwrap().unwrap().to_string(),
            "http://s:1"
        );
        assert_eq!(
            e.proxy_for(&url("ws://x.example")).unwrap().unwrap().to_string(),
            "http://p:2"
        );
        let all = env(&[("all_proxy", "socks5h://a:3")]);
        assert_eq!(
            all.proxy_for(&url("wss://x.example")).unwrap().unwrap().to_string(),
            "socks5h://a:3"
        );
        assert_eq!(env(&[]).proxy_for(&url("wss://x.example")), Ok(None));
    }

    #[test]
    fn lowercase_wins_and_empty_is_unset() {
        let e = env(&[("https_proxy", "http://lower:1"), ("HTTPS_PROXY", "http://upper:1")]);
        assert_eq!(e.https.as_deref(), Some("http://lower:1"));
        let e = env(&[("https_proxy", " "), ("HTTPS_PROXY", "http://upper:1")]);
        assert_eq!(e.https.as_deref(), Some("http://upper:1"));
    }

    #[test]
    fn loopback_is_never_proxied_by_the_environment() {
        let e = env(&[("all_proxy", "http://p:1")]);
        for host in [
            "ws://localhost:1",
            "ws://a.localhost",
            "ws://127.0.0.1",
            "ws://127.9.9.9",
            "ws://[::1]:2",
            "ws://[::ffff:127.0.0.1]",
        ] {
            assert_eq!(e.proxy_for(&url(host)), Ok(None), "{host}");
        }
        assert!(e.proxy_for(&url("ws://10.0.0.1")).unwrap().is_some());
    }

    #[test]
    fn a_bad_variable_is_an_error() {
        let e = env(&[("https_proxy", "ftp://p")]);
        assert_eq!(
            e.proxy_for(&url("wss://x.example")),
            Err(ProxyUrlError::UnsupportedScheme)
        );
    }

    #[test]
    fn debug_shows_no_values() {
        let e = env(&[("https_proxy", "http://user:hunter2@p:1")]);
        let text = format!("{e:?}");
        assert!(!text.contains("hunter2") && !text.contains("user"), "{text}");
    }

    #[test]
    fn no_proxy_forms() {
        let n = NoProxy::parse(
            "example.com, .corp.internal  *.dev.test,10.0.0.0/8,192.168.1.7, [::1]:9001 fd00::/8, svc:8443, bad/x, ",
        );
        for (host, port) in [
            ("example.com", 1),
            ("api.example.com", 1),
            ("corp.internal", 1),
            ("a.b.corp.internal", 1),
            ("x.dev.test", 1),
            ("10.200.3.4", 1),
            ("192.168.1.7", 1),
            ("::1", 9001),
            ("fd12::1", 1),
            ("svc", 8443),
            ("EXAMPLE.com.", 1),
            ("::ffff:10.0.0.1", 1),
        ] {
            assert!(n.matches(host, port), "{host}:{port}");
        }
        for (host, port) in [
            ("badexample.com", 1),
            ("example.org", 1),
            ("11.0.0.1", 1),
            ("192.168.1.8", 1),
            ("::1", 9002),
            ("fe80::1", 1),
            ("svc", 443),
            ("com", 1),
        ] {
            assert!(!n.matches(host, port), "{host}:{port}");
        }
        assert!(NoProxy::parse("*").matches("anything", 1));
        assert!(NoProxy::parse("").is_empty());
        assert!(NoProxy::parse("0.0.0.0/0").matches("1.2.3.4", 5));
        assert!(!NoProxy::parse("0.0.0.0/0").matches("::2", 5));
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9-]{0,8}"
    }

    fn name() -> impl Strategy<Value = String> {
        prop::collection::vec(label(), 1..4).prop_map(|labels| labels.join("."))
    }

    proptest! {
        #[test]
        fn a_name_entry_matches_itself_and_every_name_under_it(suffix in name(), prefix in name(), port in 1u16..) {
            prop_assume!(suffix.parse::<IpAddr>().is_err());
            let subdomain = format!("{prefix}.{suffix}");
            for entry in [suffix.clone(), format!(".{suffix}"), format!("*.{suffix}")] {
                let n = NoProxy::parse(&entry);
                prop_assert!(n.matches(&suffix, port));
                prop_assert!(n.matches(&subdomain, port));
                // Glued on without a dot, it is another name.
                let glued = format!("{prefix}{suffix}");
                prop_assert!(!n.matches(&glued, port));
            }
        }

        #[test]
        fn an_ipv4_range_matches_exactly_the_addresses_sharing_its_prefix(base: u32, ip: u32, bits in 0u8..=32) {
            let n = NoProxy::parse(&format!("{}/{bits}", std::net::Ipv4Addr::from(base)));
            let shift = 32 - u32::from(bits);
            let same = bits == 0 || (base >> shift) == (ip >> shift);
            prop_assert_eq!(n.matches(&std::net::Ipv4Addr::from(ip).to_string(), 80), same);
        }

        #[test]
        fn an_ipv6_range_matches_exactly_the_addresses_sharing_its_prefix(base: u128, ip: u128, bits in 0u8..=128) {
            let n = NoProxy::parse(&format!("{}/{bits}", std::net::Ipv6Addr::from(base)));
            let shift = 128 - u32::from(bits);
            let ip6 = std::net::Ipv6Addr::from(ip);
            prop_assume!(ip6.to_ipv4_mapped().is_none());
            let same = bits == 0 || (base >> shift) == (ip >> shift);
            prop_assert_eq!(n.matches(&ip6.to_string(), 80), same);
        }

        #[test]
        fn a_port_narrows_an_entry(host in name(), port in 1u16.., other in 1u16..) {
            let n = NoProxy::parse(&format!("{host}:{port}"));
            prop_assert!(n.matches(&host, port));
            prop_assert_eq!(n.matches(&host, other), other == port);
        }

        #[test]
        fn more_entries_never_proxy_more(entries in prop::collection::vec(name(), 0..5), extra in name(), host in name(), port in 1u16..) {
            let before = NoProxy::parse(&entries.join(","));
            let mut more = entries.clone();
            more.push(extra);
            let after = NoProxy::parse(&more.join(" "));
            prop_assert!(!before.matches(&host, port) || after.matches(&host, port));
            // The order of the list does not matter.
            more.reverse();
            prop_assert_eq!(after.matches(&host, port), NoProxy::parse(&more.join(",")).matches(&host, port));
        }

        #[test]
        fn star_matches_everything(host in name(), port in 1u16.., entries in prop::collection::vec(name(), 0..3)) {
            let mut list = entries;
            list.push("*".into());
            prop_assert!(NoProxy::parse(&list.join(",")).matches(&host, port));
        }
    }
}
