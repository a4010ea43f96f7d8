//! `http.fetch`: one request through the SDK's [`fetch`], answered with what came back or the
//! error the guest sees, so tests read exactly what a guest gets.

use plugboard_guest::fetch::{FetchError, Request, fetch as send};
use plugboard_guest::serde_json::{Value, json};

/// `{ "url", "method"?, "headers"?: {name: value}, "body"?, "first-byte-timeout-ms"? }`.
pub fn fetch(op: &Value) -> Value {
    let request = Request {
        method: op["method"].as_str().unwrap_or("GET").to_string(),
        url: op["url"].as_str().unwrap_or_default().to_string(),
        headers: op["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        body: op["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
        first_byte_timeout_ms: op["first-byte-timeout-ms"].as_u64(),
    };
    match send(&request) {
        Ok(response) => {
            let headers: Vec<Value> =
                response.headers.iter().map(|(n, v)| json!([n, String::from_utf8_lossy(v)])).collect();
            json!({ "status": response.status, "headers": headers, "body": String::from_utf8_lossy(&response.body) })
        }
        Err(FetchError::Body { read, code }) => json!({ "read": read, "error": format!("body: {code:?}") }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}
