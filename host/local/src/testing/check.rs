//! Comparing an outcome with an expectation: JSON subsets, with a readable line per difference.

use serde_json::Value;

/// Differences between `expected` (a subset: objects may leave keys out, arrays match in full)
/// and `actual`, one line each, named by their path (`body.items[0].id`).
pub(crate) fn subset(path: &str, expected: &Value, actual: &Value) -> Vec<String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => want
            .iter()
            .flat_map(|(key, value)| {
                let at = format!("{path}.{key}");
                match have.get(key) {
                    Some(found) => subset(&at, value, found),
                    None => vec![format!("{at}: expected {}, missing", show(value))],
                }
            })
            .collect(),
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => {
            want.iter().zip(have).enumerate().flat_map(|(i, (w, h))| subset(&format!("{path}[{i}]"), w, h)).collect()
        }
        (Value::Array(want), Value::Array(have)) => {
            vec![format!("{path}: expected {} entries, got {}: {}", want.len(), have.len(), show(actual))]
        }
        (Value::Number(w), Value::Number(h)) if w.as_f64() == h.as_f64() => Vec::new(),
        _ if expected == actual => Vec::new(),
        _ => vec![format!("{path}: expected {}, got {}", show(expected), show(actual))],
    }
}

/// A stored or sent payload against its expectation: a string expectation is exact, anything
/// else is a JSON subset of the payload parsed as JSON.
pub fn payload(path: &str, expected: &Value, actual: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(actual);
    match expected {
        Value::String(want) if *want == text => Vec::new(),
        Value::String(want) => vec![format!(
            "{path}: expected {}, got {}",
            show(&Value::from(want.as_str())),
            show(&Value::from(text.as_ref()))
        )],
        _ => match serde_json::from_slice::<Value>(actual) {
            Ok(found) => subset(path, expected, &found),
            Err(_) => {
                vec![format!("{path}: expected JSON {}, got {}", show(expected), show(&Value::from(text.as_ref())))]
            }
        },
    }
}

/// The value a payload is recorded as by `--update`: its JSON, or the text when it is not JSON.
pub fn recorded(actual: &[u8]) -> Value {
    serde_json::from_slice(actual).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(actual).into_owned()))
}

/// Compact JSON, cut at 200 characters.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 200 {
        let cut = (0..=200).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        format!("{}...", &text[..cut])
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_may_leave_keys_out_but_values_must_match() {
        let actual = json!({ "id": "lamp", "price": 12.5, "tags": ["a", "b"] });
        assert!(subset("body", &json!({ "id": "lamp" }), &actual).is_empty());
        assert!(subset("body", &json!({ "price": 12.50 }), &actual).is_empty());
        assert_eq!(subset("body", &json!({ "id": "desk" }), &actual), vec![r#"body.id: expected "desk", got "lamp""#]);
        assert_eq!(subset("body", &json!({ "size": 1 }), &actual), vec!["body.size: expected 1, missing"]);
        assert_eq!(subset("body", &json!({ "tags": ["a"] }), &actual).len(), 1, "arrays match in full");
    }

    #[test]
    fn string_expectations_are_exact_and_others_parse_the_payload() {
        assert!(payload("v", &json!("42"), b"42").is_empty());
        assert_eq!(payload("v", &json!("41"), b"42").len(), 1);
        assert!(payload("v", &json!({ "a": 1 }), br#"{"a":1,"b":2}"#).is_empty());
        assert_eq!(payload("v", &json!({ "a": 1 }), b"not json").len(), 1);
    }
}
