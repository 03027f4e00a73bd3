//! The committed seeds of `deflate_stream` and `deflate_roundtrip`, added to the corpus by
//! [`crate::seeds::all`].

/// The committed seeds of both targets as `(target, name, bytes)`; see `build` in `deflate.rs`
/// for the script format and [`deflate_roundtrip`](crate::deflate_roundtrip()) for its input.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let json: &[u8] = br#"{"seq":1,"sym":"BTC-USD","px":"43210.57","qty":"0.0123","side":"buy"},"#;
    let unicode = "{\"note\":\"東京 ⇄ 大阪 😀\"},".as_bytes();
    // A compressed message op: op byte, frag, rep, len, bytes.
    let msg = |op: u8, frag: u8, rep: u8, bytes: &[u8]| -> Vec<u8> {
        let mut v = vec![op, frag, rep, bytes.len() as u8];
        v.extend_from_slice(bytes);
        v
    };
    let with = |flags: u8, seed: u8, ops: &[Vec<u8>]| -> Vec<u8> {
        let mut v = vec![flags, seed];
        for op in ops {
            v.extend_from_slice(op);
        }
        v
    };
    let text = 0x08;
    let large = 3; // 1 MiB frames, 4 MiB messages
    let mut out = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| out.push(("deflate_stream", name.to_owned(), bytes));
    add("json_one_frame", with(large, 0, &[msg(text, 0, 9, json)]));
    add("json_bytewise", with(large, 1, &[msg(text, 0, 9, json)]));
    add(
        "json_twice_context_takeover",
        with(large, 0, &[msg(text, 0, 20, json), msg(text, 0, 20, json)]),
    );
    add(
        "json_twice_no_context_takeover",
        with(large | 4, 3, &[msg(text, 0, 20, json), msg(text, 0, 20, json)]),
    );
    add(
        "unicode_fragmented_ping_between",
        with(large, 5, &[msg(text | 0x20, 1, 30, unicode)]),
    );
    add("sync_flush_tail_kept", with(large, 0, &[msg(text | 0x10, 0, 4, json)]));
    add(
        "final_block_then_more",
        with(large, 0, &[msg(text | 0x40, 0, 4, json), msg(text, 0, 4, json)]),
    );
    add("empty_compressed_message", with(large, 0, &[msg(0, 0, 0, b"")]));
    add(
        "uncompressed_between_compressed",
        with(
            large,
            0,
            &[
                msg(text, 0, 3, json),
                vec![7 | text, 5, b'p', b'l', b'a', b'i', b'n'],
                msg(text, 0, 3, json),
            ],
        ),
    );
    add(
        "invalid_utf8_inflated",
        with(large, 0, &[msg(text, 0, 3, &[b'a', 0xff, 0xfe])]),
    );
    for (profile, name) in [(0, "tiny"), (1, "small"), (2, "medium"), (3, "large")] {
        for (sel, size) in [(0u8, "64k"), (1, "1m"), (2, "16m")] {
            add(
                &format!("bomb_{size}_limits_{name}"),
                with(profile, 0, &[vec![2, sel, 200]]),
            );
        }
    }
    add("bomb_1m_small_frames", with(large, 0, &[vec![2, 1, 1]]));
    add(
        "message_too_big_after_a_good_one",
        with(0, 0, &[msg(text, 0, 2, json), msg(0, 0, 63, &[7; 255])]),
    );
    let varied: Vec<u8> = (0..100u32).map(|i| ((i * 37 + 11) % 251) as u8).collect();
    add("too_many_fragments", with(0, 0, &[msg(0, 1, 0, &varied)]));
    let damaged = |how: u8, arg: u8| {
        let mut v = vec![3 | text, 0, how, arg, json.len() as u8];
        v.extend_from_slice(json);
        v
    };
    add(
        "truncated_compressed",
        with(large, 0, &[msg(text, 0, 2, json), damaged(0, 3)]),
    );
    add("corrupted_byte", with(large, 2, &[damaged(1, 0x5a)]));
    add("garbage_after_data", with(large, 0, &[damaged(2, 0xff)]));
    let misuse = |which: u8| {
        let mut v = vec![5, which, json.len() as u8];
        v.extend_from_slice(json);
        v
    };
    add("rsv1_on_continuation", with(large, 0, &[misuse(0)]));
    add("rsv1_on_ping", with(large, 0, &[misuse(1)]));
    add("rsv2_on_compressed", with(large, 0, &[misuse(2)]));
    add("rsv3_on_compressed", with(large, 0, &[misuse(0x12)]));
    add("raw_frame_rsv1_close", with(large, 0, &[vec![4, 0xC8, 2, 0x03, 0xE8]]));
    add(
        "eof_mid_message",
        with(large | 8, 0, &[msg(text, 1, 9, json), vec![4, 0x41, 3, 1, 2, 3]]),
    );

    let mut add = |name: &str, bytes: Vec<u8>| out.push(("deflate_roundtrip", name.to_owned(), bytes));
    let messages = |parts: &[(u8, &[u8])]| -> Vec<u8> {
        let mut v = Vec::new();
        for (rep, bytes) in parts {
            v.push(*rep);
            v.push(bytes.len() as u8);
            v.extend_from_slice(bytes);
        }
        v
    };
    let mixed = messages(&[
        (30, json),
        (30, json),
        (0, b""),
        (5, unicode),
        (0, &[0xff, 0x00, 0x13, 0x37]),
    ]);
    for (name, flags, threshold) in [
        ("level6_window15_takeover", 0x66, 0),
        ("level6_window15_no_takeover", 0xE6, 0),
        ("level0_window9", 0x00, 0),
        ("level9_window12_threshold_100", 0x39, 100),
        ("level1_window11_no_takeover", 0xA1, 0),
    ] {
        add(name, [&[flags, threshold][..], &mixed].concat());
    }
    out
}
