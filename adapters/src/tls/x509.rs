//! Just enough X.509 DER to check a pinned certificate the way webpki checks a server's
//! certificate: its validity period and whether its extended key usage allows TLS servers.
//! webpki does not expose these, and it never reaches the usage check for a CA certificate
//! presented as the server's own (it stops at `CaUsedAsEndEntity`).

use std::time::Duration;

use rustls::pki_types::UnixTime;

/// What the pinned-certificate check needs from a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Facts {
    /// `notBefore` (instants before 1970 read as 1970).
    pub(super) not_before: UnixTime,
    /// `notAfter` (instants before 1970 read as 1970).
    pub(super) not_after: UnixTime,
    /// No extended key usage extension, or one that lists `id-kp-serverAuth` (as webpki requires).
    pub(super) server_auth: bool,
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version`.
const VERSION: u8 = 0xA0;
/// `[3] EXPLICIT Extensions`.
const EXTENSIONS: u8 = 0xA3;
/// 2.5.29.37, `id-ce-extKeyUsage`.
const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x25];
/// 1.3.6.1.5.5.7.3.1, `id-kp-serverAuth`.
const SERVER_AUTH: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];

/// Reads the validity period and the server-auth permission of a DER certificate; `None` when
/// it is not well-formed enough to tell.
pub(super) fn facts(certificate: &[u8]) -> Option<Facts> {
    let mut outer = Der(certificate);
    let mut cert = Der(outer.expect(SEQUENCE)?);
    let mut tbs = Der(cert.expect(SEQUENCE)?);
    if tbs.peek() == Some(VERSION) {
        tbs.next()?;
    }
    tbs.expect(INTEGER)?; // serialNumber
    tbs.expect(SEQUENCE)?; // signature
    tbs.expect(SEQUENCE)?; // issuer
    let mut validity = Der(tbs.expect(SEQUENCE)?);
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    tbs.expect(SEQUENCE)?; // subject
    tbs.expect(SEQUENCE)?; // subjectPublicKeyInfo
    let mut server_auth = true;
    while let Some((tag, value)) = tbs.next() {
        if tag == EXTENSIONS {
            if let Some(usages) = extended_key_usage(Der(value).expect(SEQUENCE)?)? {
                server_auth = usages;
            }
        }
    }
    Some(Facts {
        not_before,
        not_after,
        server_auth,
    })
}

/// `Some(Some(allows_server_auth))` when the extensions hold an extended key usage,
/// `Some(None)` when they do not, `None` when they are malformed.
fn extended_key_usage(extensions: &[u8]) -> Option<Option<bool>> {
    let mut extensions = Der(extensions);
    while !extensions.is_empty() {
        let mut extension = Der(extensions.expect(SEQUENCE)?);
        let id = extension.expect(OID)?;
        if extension.peek() == Some(BOOLEAN) {
            extension.next()?; // critical
        }
        let value = extension.expect(OCTET_STRING)?;
        if id == EXT_KEY_USAGE {
            let mut purposes = Der(Der(value).expect(SEQUENCE)?);
            let mut server_auth = false;
            while !purposes.is_empty() {
                server_auth |= purposes.expect(OID)? == SERVER_AUTH;
            }
            return Some(Some(server_auth));
        }
    }
    Some(None)
}

/// A `UTCTime` (`YYMMDDHHMMSSZ`, years 1950-2049) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`).
fn time(der: &mut Der<'_>) -> Option<UnixTime> {
    let (tag, text) = der.next()?;
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 13) => {
            let yy = digits(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (GENERALIZED_TIME, 15) => (digits(&text[..4])?, &text[4..]),
        _ => return None,
    };
    if rest.last() != Some(&b'Z') {
        return None;
    }
    let field = |i: usize| digits(&rest[i..i + 2]);
    let (month, day, hour, minute, second) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some(UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(secs).unwrap_or(0),
    )))
}

fn digits(text: &[u8]) -> Option<u32> {
    text.iter()
        .try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A cursor over DER elements (single-byte tags, definite lengths up to 4 bytes).
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next element's tag and contents.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        if tag & 0x1F == 0x1F {
            return None; // multi-byte tags never occur where we read
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7F);
            if !(1..=4).contains(&count) || rest.len() < count {
                return None;
            }
            let (bytes, after) = rest.split_at(count);
            rest = after;
            bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
        };
        if rest.len() < len {
            return None;
        }
        let (value, after) = rest.split_at(len);
        self.0 = after;
        Some((tag, value))
    }

    /// The next element's contents, if it has tag `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (found, value) if found == tag => Some(value),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair, date_time_ymd};

    fn certificate(edit: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        edit(&mut params);
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn unix(y: i64, m: i64, d: i64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(days_from_civil(y, m, d) as u64 * 86_400))
    }

    #[test]
    fn validity_is_read_in_both_time_encodings() {
        // rcgen writes UTCTime up to 2049 and GeneralizedTime from 2050 on (RFC 5280 4.1.2.5).
        let der = certificate(|p| {
            p.not_before = date_time_ymd(1999, 12, 31);
            p.not_after = date_time_ymd(2071, 3, 1);
        });
        let facts = facts(&der).unwrap();
        assert_eq!(facts.not_before, unix(1999, 12, 31));
        assert_eq!(facts.not_after, unix(2071, 3, 1));
        assert!(facts.server_auth);
    }

    #[test]
    fn extended_key_usage_must_list_server_auth_when_present() {
        let client_only = certificate(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]);
        assert!(!facts(&client_only).unwrap().server_auth);
        let server = certificate(|p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth, ExtendedKeyUsagePurpose::ServerAuth]
        });
        assert!(facts(&server).unwrap().server_auth);
    }

    #[test]
    fn malformed_input_is_refused_whole_and_cut_anywhere() {
        let der = certificate(|_| {});
        for cut in 0..der.len() {
            assert_eq!(facts(&der[..cut]), None, "cut at {cut}");
        }
        assert_eq!(facts(b"not a certificate"), None);
        assert_eq!(facts(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]), None);
        assert_eq!(facts(&[0x3F, 0x01, 0x00]), None);
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }
}
