//! JSON lines with the keys in the order written (`"event"` first), for `--json-events`.

use serde_json::Value;

/// Builds one JSON object as a `String`, keys in order: `json_line!("event": "open", "n": 1)`.
/// Each value is anything `serde_json::json!` takes.
macro_rules! json_line {
    ($($key:literal : $value:expr),* $(,)?) => {{
        let mut line = String::from("{");
        $( $crate::jsonl::push(&mut line, $key, &serde_json::json!($value)); )*
        line.push('}');
        line
    }};
}
pub(crate) use json_line;

/// Appends `"key":value` to an object under construction.
pub fn push(line: &mut String, key: &str, value: &Value) {
    if line.len() > 1 {
        line.push(',');
    }
    line.push_str(&Value::from(key).to_string());
    line.push(':');
    line.push_str(&value.to_string());
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_keep_their_order_and_values_are_escaped() {
        let text = "a \"quote\"\n";
        let line = json_line!("event": "message", "text": text, "n": 2, "none": Option::<u8>::None);
        assert_eq!(line, r#"{"event":"message","text":"a \"quote\"\n","n":2,"none":null}"#);
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["text"], text);
    }
}
