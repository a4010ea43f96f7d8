//! `http.fetch`: one request through `wasi:http/outgoing-handler`, answered with what came
//! back (status, headers, body) or the error code, so tests see exactly what a guest sees.

use plugboard_guest::serde_json::{Value, json};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

fn error(what: &str, code: impl std::fmt::Debug) -> Value {
    json!({ "error": format!("{what}: {code:?}") })
}

/// `{ "url": "http://host:port/path", "method"?, "headers"?: {name: value}, "body"?,
/// "first-byte-timeout-ms"? }`.
pub fn fetch(op: &Value) -> Value {
    let url = op["url"].as_str().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else { return json!({ "error": "url: no scheme" }) };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let headers = Fields::new();
    for (name, value) in op["headers"].as_object().into_iter().flatten() {
        if let Err(e) = headers.append(name, value.as_str().unwrap_or_default().as_bytes()) {
            return error(&format!("header {name}"), e);
        }
    }
    let request = OutgoingRequest::new(headers);
    let method = match op["method"].as_str().unwrap_or("GET") {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_string()),
    };
    let scheme = if scheme == "https" { Scheme::Https } else { Scheme::Http };
    let set = request.set_method(&method).is_ok()
        && request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(path)).is_ok();
    if !set {
        return json!({ "error": "request: invalid method, scheme, authority or path" });
    }
    let options = op["first-byte-timeout-ms"].as_u64().map(|ms| {
        let options = RequestOptions::new();
        let _ = options.set_first_byte_timeout(Some(ms * 1_000_000));
        options
    });
    let Ok(body) = request.body() else { return json!({ "error": "request body taken" }) };
    let pending = match outgoing_handler::handle(request, options) {
        Ok(pending) => pending,
        Err(code) => return error("handle", code),
    };
    if let Some(text) = op["body"].as_str() {
        let Ok(out) = body.write() else { return json!({ "error": "request body stream" }) };
        for chunk in text.as_bytes().chunks(4096) {
            if let Err(e) = out.blocking_write_and_flush(chunk) {
                return error("request body", e);
            }
        }
        drop(out);
    }
    if let Err(code) = OutgoingBody::finish(body, None) {
        return error("request body", code);
    }
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(response))) => read(&response),
        Some(Ok(Err(code))) => error("response", code),
        _ => json!({ "error": "response: not ready" }),
    }
}

fn read(response: &IncomingResponse) -> Value {
    let status = response.status();
    let headers: Vec<Value> = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| json!([name, String::from_utf8_lossy(&value)]))
        .collect();
    let Ok(body) = response.consume() else { return json!({ "error": "body taken" }) };
    let Ok(stream) = body.stream() else { return json!({ "error": "body stream" }) };
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                let code: Option<ErrorCode> = wasip2::http::types::http_error_code(&e);
                return json!({ "status": status, "read": bytes.len(), "error": format!("body: {code:?}") });
            }
        }
    }
    json!({ "status": status, "headers": headers, "body": String::from_utf8_lossy(&bytes) })
}
