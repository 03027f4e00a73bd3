use super::*;
use proptest::prelude::*;

fn check(offer: &DeflateConfig, response: &str) -> Result<Option<DeflateParams>, ResponseError> {
    check_response(Some(offer), [response])
}

fn params(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: sbits,
        client_max_window_bits: cbits,
    }
}

#[test]
fn client_offers_what_it_sets() {
    assert_eq!(
        DeflateConfig::default().client_offer(),
        "permessage-deflate; client_max_window_bits"
    );
    let all = DeflateConfig::new()
        .no_context_takeover()
        .server_max_window_bits(10)
        .client_max_window_bits(9);
    assert_eq!(
        all.client_offer(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"
    );
}

#[test]
fn client_accepts_valid_answers() {
    let d = DeflateConfig::default();
    assert_eq!(check(&d, "permessage-deflate"), Ok(Some(params(false, false, 15, 15))));
    assert_eq!(
        check(
            &d,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10"
        ),
        Ok(Some(params(true, true, 9, 10)))
    );
    assert_eq!(
        check(&d, "Permessage-Deflate; client_max_window_bits=\"8\""),
        Ok(Some(params(false, false, 15, 8)))
    );
    assert_eq!(check_response(Some(&d), [] as [&str; 0]), Ok(None));
    // Our own no-context-takeover holds whether or not the server repeats it.
    let nct = DeflateConfig::new().client_no_context_takeover(true);
    assert_eq!(check(&nct, "permessage-deflate"), Ok(Some(params(false, true, 15, 15))));
    // Our window hint caps our compressor when the server names no smaller one.
    let small = DeflateConfig::new().client_max_window_bits(10);
    assert_eq!(
        check(&small, "permessage-deflate"),
        Ok(Some(params(false, false, 15, 10)))
    );
    assert_eq!(
        check(&small, "permessage-deflate; client_max_window_bits=9"),
        Ok(Some(params(false, false, 15, 9)))
    );
}

#[test]
fn client_fails_what_rfc_7692_forbids() {
    let d = DeflateConfig::default();
    let unrequested = |r: Result<Option<DeflateParams>, ResponseError>| matches!(r, Err(ResponseError::Unrequested(_)));
    let malformed = |r: Result<Option<DeflateParams>, ResponseError>| matches!(r, Err(ResponseError::Malformed(_)));
    assert!(unrequested(check(&d, "x-webkit-deflate-frame")));
    assert!(unrequested(check_response(None, ["permessage-deflate"])));
    for bad in [
        "permessage-deflate, permessage-deflate",
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=x",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; server_max_window_bits=09x",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=255",
        "permessage-deflate; client_max_window_bits=1000",
        "permessage-deflate;",
    ] {
        assert!(malformed(check(&d, bad)), "{bad}");
    }
    // What we asked for must be honoured.
    let asked = DeflateConfig::new()
        .server_no_context_takeover(true)
        .server_max_window_bits(10)
        .client_max_window_bits(10);
    assert!(malformed(check(
        &asked,
        "permessage-deflate; server_max_window_bits=10"
    )));
    assert!(malformed(check(
        &asked,
        "permessage-deflate; server_no_context_takeover"
    )));
    assert!(malformed(check(
        &asked,
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"
    )));
    assert!(malformed(check(
        &asked,
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11"
    )));
    assert_eq!(
        check(
            &asked,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=8"
        ),
        Ok(Some(params(true, false, 8, 10)))
    );
}

#[test]
fn server_chooses_the_first_offer_it_can_honour() {
    let d = DeflateConfig::default();
    assert_eq!(
        choose_offer(&d, ["permessage-deflate"]),
        Some(params(false, false, 15, 15))
    );
    assert_eq!(choose_offer(&d, ["x-foo, bar; baz=1"]), None);
    assert_eq!(choose_offer(&d, ["permessage-deflate; bad"]), None);
    assert_eq!(choose_offer(&d, ["\"broken"]), None);
    // Autobahn 13.7: three offers in one header; the first is taken.
    assert_eq!(
        choose_offer(
            &d,
            [
                "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=9, permessage-deflate; client_no_context_takeover, permessage-deflate"
            ]
        ),
        Some(params(false, true, 9, 15))
    );
    // A declined first offer (a repeated parameter) falls through to the next.
    assert_eq!(
        choose_offer(
            &d,
            [
                "permessage-deflate; server_max_window_bits=9; server_max_window_bits=10",
                "permessage-deflate; server_no_context_takeover"
            ]
        ),
        Some(params(true, false, 15, 15))
    );
    // Our settings are added; the client's window is limited only when it offered the parameter.
    let ours = DeflateConfig::new()
        .no_context_takeover()
        .server_max_window_bits(12)
        .client_max_window_bits(11);
    assert_eq!(
        choose_offer(&ours, ["permessage-deflate"]),
        Some(params(true, true, 12, 15))
    );
    assert_eq!(
        choose_offer(
            &ours,
            ["permessage-deflate; client_max_window_bits; server_max_window_bits=10"]
        ),
        Some(params(true, true, 10, 11))
    );
    assert_eq!(
        choose_offer(&ours, ["permessage-deflate; client_max_window_bits=9"]),
        Some(params(true, true, 12, 9))
    );
    assert_eq!(
        choose_offer(&ours, ["permessage-deflate; client_max_window_bits=7"]),
        None
    );
}

#[test]
fn settings_are_checked_with_their_names() {
    assert!(DeflateConfig::default().validate().is_ok());
    let setting = |c: DeflateConfig| c.validate().unwrap_err().setting;
    assert_eq!(setting(DeflateConfig::new().level(10)), "connection.deflate.level");
    assert_eq!(
        setting(DeflateConfig::new().server_max_window_bits(16)),
        "connection.deflate.server_max_window_bits"
    );
    assert_eq!(
        setting(DeflateConfig::new().server_max_window_bits(7)),
        "connection.deflate.server_max_window_bits"
    );
    assert_eq!(
        setting(DeflateConfig::new().client_max_window_bits(7)),
        "connection.deflate.client_max_window_bits"
    );
    assert_eq!(
        setting(DeflateConfig::new().client_max_window_bits(0)),
        "connection.deflate.client_max_window_bits"
    );
    for bits in 8..=15 {
        DeflateConfig::new()
            .client_max_window_bits(bits)
            .server_max_window_bits(bits)
            .level(bits as u32 % 10)
            .validate()
            .unwrap();
    }
}

proptest! {
    /// Whatever a valid client offers and a valid server answers, the client accepts the
    /// answer and both ends agree on the same parameters.
    #[test]
    fn every_valid_pair_agrees(
        c_snct: bool, c_cnct: bool, c_sbits in 8u8..=15, c_cbits in 8u8..=15,
        s_snct: bool, s_cnct: bool, s_sbits in 8u8..=15, s_cbits in 8u8..=15,
    ) {
        let client = DeflateConfig::new()
            .server_no_context_takeover(c_snct)
            .client_no_context_takeover(c_cnct)
            .server_max_window_bits(c_sbits)
            .client_max_window_bits(c_cbits);
        let server = DeflateConfig::new()
            .server_no_context_takeover(s_snct)
            .client_no_context_takeover(s_cnct)
            .server_max_window_bits(s_sbits)
            .client_max_window_bits(s_cbits);
        let offer = client.client_offer();
        let chosen = choose_offer(&server, [offer.as_str()]).expect("a valid offer is accepted");
        let answer = chosen.to_string();
        let agreed = check_response(Some(&client), [answer.as_str()]).unwrap().unwrap();
        prop_assert_eq!(agreed.server_max_window_bits, chosen.server_max_window_bits);
        prop_assert!(agreed.server_max_window_bits <= c_sbits.min(s_sbits));
        prop_assert!(agreed.client_max_window_bits <= c_cbits);
        prop_assert!(chosen.client_max_window_bits >= agreed.client_max_window_bits);
        prop_assert_eq!(agreed.server_no_context_takeover, c_snct || s_snct);
        prop_assert_eq!(agreed.client_no_context_takeover, c_cnct || s_cnct);
    }

    /// Arbitrary header text never panics either parser.
    #[test]
    fn arbitrary_headers_never_panic(value in "[ -~]{0,80}") {
        let _ = check_response(Some(&DeflateConfig::default()), [value.as_str()]);
        let _ = choose_offer(&DeflateConfig::default(), [value.as_str()]);
    }
}
