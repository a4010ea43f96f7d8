//! The admin API's key-value part: list a table's keys, read, write and delete one value — the
//! app's tables only (those its functions are granted).

use plugboard_core::capabilities::keyvalue::KeyValueBackend;
use plugboard_core::events::http::{Request, Response};
use serde_json::json;

use super::query_value;
use crate::dev::DevApp;

/// Most keys one listing returns.
const MAX_KEYS: usize = 10_000;

/// Answer `METHOD stores/TABLE/REST…`.
pub(super) async fn answer(app: &DevApp, request: &Request, table: &str, rest: &[&str]) -> Response {
    let tables = app.manifest.tables();
    if !tables.iter().any(|t| t == table) {
        return Response::message(404, &format!("no store {table}; the app's stores: {}", tables.join(", ")));
    }
    let store = match app.keyvalue.open(table).await {
        Ok(store) => store,
        Err(e) => return Response::message(500, &e.to_string()),
    };
    let key = query_value(request, "key");
    let failed = |e: plugboard_core::capabilities::keyvalue::KvError| Response::message(500, &e.to_string());
    match (request.method.as_str(), rest, key) {
        ("GET", ["keys"], _) => {
            let (mut keys, mut cursor) = (Vec::new(), None);
            loop {
                match store.list_keys(cursor).await {
                    Ok(page) => {
                        keys.extend(page.keys);
                        cursor = page.cursor;
                    }
                    Err(e) => return failed(e),
                }
                if cursor.is_none() || keys.len() >= MAX_KEYS {
                    break;
                }
            }
            let truncated = keys.len() > MAX_KEYS || cursor.is_some();
            keys.truncate(MAX_KEYS);
            Response::json(200, &json!({ "keys": keys, "truncated": truncated }))
        }
        (_, ["value"], None) => Response::message(400, "name the key: ?key=…"),
        ("GET", ["value"], Some(key)) => match store.get(&key).await {
            Ok(Some(value)) => bytes(200, value),
            Ok(None) => Response::message(404, &format!("no value at {key}")),
            Err(e) => failed(e),
        },
        ("PUT", ["value"], Some(key)) => match store.set(&key, request.body.clone()).await {
            Ok(()) => bytes(204, Vec::new()),
            Err(e) => failed(e),
        },
        ("DELETE", ["value"], Some(key)) => match store.delete(&key).await {
            Ok(()) => bytes(204, Vec::new()),
            Err(e) => failed(e),
        },
        _ => Response::message(404, "Not Found"),
    }
}

/// A raw-bytes answer.
fn bytes(status: u16, body: Vec<u8>) -> Response {
    Response { status, headers: vec![("content-type".into(), "application/octet-stream".into())], body }
}
