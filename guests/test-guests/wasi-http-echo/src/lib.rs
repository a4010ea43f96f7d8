//! A standard `wasi:http/proxy` component (wasip2's bindings, no Plugboard world) serving the
//! `http-api` role: it echoes what it received, answers with repeated headers and binary
//! bodies, and reaches `wasi:keyvalue` like any guest (the SDK's imports, no Plugboard export).

use plugboard_guest::serde_json::json;
use wasip2::http::types::{Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam};

wasip2::http::proxy::export!(Echo);

struct Echo;

/// Status, headers and body of an answer.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

impl wasip2::exports::http::incoming_handler::Guest for Echo {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_default();
        let path = path_with_query.split('?').next().unwrap_or_default().to_string();
        let method = method_name(&request.method());
        let answer = match path.as_str() {
            "/cookies" => (
                204,
                pairs(&[
                    ("set-cookie", "a=1; Path=/"),
                    ("set-cookie", "b=2; Path=/"),
                    ("x-multi", "one"),
                    ("x-multi", "two"),
                ]),
                Vec::new(),
            ),
            "/binary" => (200, pairs(&[("content-type", "image/png")]), vec![0x89, b'P', b'N', b'G', 0, 1, 2, 0xff]),
            p if p.starts_with("/kv/") => key_value(&method, &p[4..], read_body(&request)),
            _ => {
                let headers: Vec<_> = request
                    .headers()
                    .entries()
                    .into_iter()
                    .map(|(name, value)| json!([name, String::from_utf8_lossy(&value)]))
                    .collect();
                let body = read_body(&request);
                let echo = json!({
                    "method": method,
                    "path_with_query": path_with_query,
                    "authority": request.authority(),
                    "headers": headers,
                    "body": String::from_utf8_lossy(&body),
                });
                (200, pairs(&[("content-type", "application/json")]), echo.to_string().into_bytes())
            }
        };
        respond(out, answer);
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Patch => "PATCH".into(),
        Method::Options => "OPTIONS".into(),
        Method::Connect => "CONNECT".into(),
        Method::Trace => "TRACE".into(),
        Method::Other(other) => other.clone(),
    }
}

/// `PUT /kv/<key>` stores the body in the `data` store; `GET` reads it back (404 when absent).
fn key_value(method: &str, key: &str, body: Vec<u8>) -> Answer {
    let bucket = match plugboard_guest::store::open("data") {
        Ok(bucket) => bucket,
        Err(e) => return (500, Vec::new(), format!("open: {e:?}").into_bytes()),
    };
    match (method, bucket.get(key)) {
        ("PUT", _) => match bucket.set(key, &body) {
            Ok(()) => (204, Vec::new(), Vec::new()),
            Err(e) => (500, Vec::new(), format!("set: {e:?}").into_bytes()),
        },
        (_, Ok(Some(value))) => (200, Vec::new(), value),
        (_, Ok(None)) => (404, Vec::new(), Vec::new()),
        (_, Err(e)) => (500, Vec::new(), format!("get: {e:?}").into_bytes()),
    }
}

fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let mut bytes = Vec::new();
    let Ok(body) = request.consume() else { return bytes };
    let Ok(stream) = body.stream() else { return bytes };
    // Until the stream closes (or fails).
    while let Ok(chunk) = stream.blocking_read(64 * 1024) {
        bytes.extend_from_slice(&chunk);
    }
    bytes
}

fn respond(out: ResponseOutparam, (status, headers, body): Answer) {
    let fields = Fields::new();
    for (name, value) in &headers {
        let _ = fields.append(name, value.as_bytes());
    }
    let response = OutgoingResponse::new(fields);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
