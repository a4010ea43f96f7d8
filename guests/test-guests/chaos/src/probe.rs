//! The internal-API side of the chaos guest: runs a script of capability calls and answers
//! with each call's result, so host tests can check the capability layer through a real guest.
//!
//! Script: `{"ops": [{"op": "kv.set", "store": "s", "key": "k", "value": "v"}, ...]}`, or
//! `{"fail": {"error_type": "...", "message": "..."}}` to return a typed error.

use plugboard_guest::atomics::{self, Cas, CasError};
use plugboard_guest::bindings::wasi::config::store as config;
use plugboard_guest::bindings::wasi::logging::logging;
use plugboard_guest::queue::{self, AttributeValue, OutgoingMessage};
use plugboard_guest::serde_json::{Value, json};
use plugboard_guest::{FunctionError, Level, batch, invoke, log, store};

fn s<'a>(op: &'a Value, name: &str) -> &'a str {
    op.get(name).and_then(Value::as_str).unwrap_or("")
}

fn err(e: impl std::fmt::Debug) -> Value {
    json!({ "error": format!("{e:?}") })
}

fn bytes(v: Option<Vec<u8>>) -> Value {
    v.map(|b| json!(String::from_utf8_lossy(&b))).unwrap_or(Value::Null)
}

fn message(m: &Value) -> OutgoingMessage {
    let attributes = m
        .get("attributes")
        .and_then(Value::as_object)
        .map(|attrs| {
            attrs
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::Number(n) => AttributeValue::Number(n.to_string()),
                        other => AttributeValue::Text(other.as_str().unwrap_or("").to_string()),
                    };
                    (k.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    OutgoingMessage {
        body: match m.get("body") {
            Some(Value::String(b)) => b.clone(),
            Some(Value::Object(o)) if o.contains_key("repeat") => {
                "x".repeat(o["repeat"].as_u64().unwrap_or(0) as usize)
            }
            _ => String::new(),
        },
        attributes,
        delay_seconds: m.get("delay").and_then(Value::as_u64).map(|d| d as u32),
        group_id: m.get("group").and_then(Value::as_str).map(str::to_string),
        deduplication_id: m.get("dedup").and_then(Value::as_str).map(str::to_string),
    }
}

fn kv_op(name: &str, op: &Value) -> Value {
    let bucket = match store::open(s(op, "store")) {
        Ok(b) => b,
        Err(e) => return err(e),
    };
    let key = s(op, "key");
    let value = || match op.get("value") {
        Some(Value::Object(o)) if o.contains_key("repeat") => vec![b'v'; o["repeat"].as_u64().unwrap_or(0) as usize],
        _ => s(op, "value").as_bytes().to_vec(),
    };
    // `keys`, `key` repeated `times` times, or `distinct` keys `key-0`, `key-1`, ...
    let keys = || -> Vec<String> {
        if let Some(times) = op.get("times").and_then(Value::as_u64) {
            return vec![key.to_string(); times as usize];
        }
        if let Some(count) = op.get("distinct").and_then(Value::as_u64) {
            return (0..count).map(|i| format!("{key}-{i}")).collect();
        }
        op.get("keys")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    match name {
        "kv.open" => json!("ok"),
        "kv.get" => bucket.get(key).map(bytes).unwrap_or_else(err),
        "kv.set" => bucket.set(key, &value()).map(|()| json!("ok")).unwrap_or_else(err),
        "kv.delete" => bucket.delete(key).map(|()| json!("ok")).unwrap_or_else(err),
        "kv.exists" => bucket.exists(key).map(|b| json!(b)).unwrap_or_else(err),
        "kv.list" => {
            let (mut all, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
            loop {
                match bucket.list_keys(cursor.as_deref()) {
                    Ok(page) => {
                        pages += 1;
                        all.extend(page.keys);
                        match page.cursor {
                            Some(c) => cursor = Some(c),
                            None => break json!({ "keys": all.len(), "pages": pages, "first": all.first() }),
                        }
                    }
                    Err(e) => break err(e),
                }
            }
        }
        "kv.increment" => atomics::increment(&bucket, key, op.get("delta").and_then(Value::as_i64).unwrap_or(1))
            .map(|n| json!(n))
            .unwrap_or_else(err),
        // Read (unless `look` is false), let another writer in (`interfere`), then swap: reports
        // whether the swap won. On a lost swap, `interfere-again` writes once more and retries
        // with the handle the host returned, without reading it.
        "kv.cas" => {
            let cas = match Cas::new(&bucket, key) {
                Ok(c) => c,
                Err(e) => return err(e),
            };
            let look = op.get("look") != Some(&Value::Bool(false));
            let before = if look { cas.current().map(bytes).unwrap_or_else(err) } else { Value::Null };
            if let Some(other) = op.get("interfere").and_then(Value::as_str) {
                let _ = bucket.set(key, other.as_bytes());
            }
            match atomics::swap(cas, &value()) {
                Ok(()) => json!({ "before": before, "swapped": true }),
                Err(CasError::CasFailed(fresh)) => match op.get("interfere-again").and_then(Value::as_str) {
                    Some(again) => {
                        let _ = bucket.set(key, again.as_bytes());
                        json!({ "before": before, "swapped": false, "retried": atomics::swap(fresh, &value()).is_ok() })
                    }
                    None => {
                        json!({ "before": before, "swapped": false, "now": fresh.current().map(bytes).unwrap_or_else(err) })
                    }
                },
                Err(CasError::StoreError(e)) => err(e),
            }
        }
        // Hold CAS handles until the host refuses one: reports how many it handed out.
        "kv.cas-flood" => {
            let mut held = Vec::new();
            loop {
                match Cas::new(&bucket, key) {
                    Ok(cas) => held.push(cas),
                    Err(e) => break json!({ "held": held.len(), "error": format!("{e:?}") }),
                }
            }
        }
        "kv.get-many" => batch::get_many(&bucket, &keys())
            .map(|pairs| Value::Array(pairs.into_iter().map(|(k, v)| json!([k, bytes(v)])).collect()))
            .unwrap_or_else(err),
        "kv.set-many" => {
            let entries: Vec<(String, Vec<u8>)> = match op.get("value") {
                Some(_) => keys().into_iter().map(|k| (k, value())).collect(),
                None => keys().into_iter().map(|k| (k.clone(), k.into_bytes())).collect(),
            };
            batch::set_many(&bucket, &entries).map(|()| json!("ok")).unwrap_or_else(err)
        }
        "kv.delete-many" => batch::delete_many(&bucket, &keys()).map(|()| json!("ok")).unwrap_or_else(err),
        _ => json!({ "error": format!("unknown op {name}") }),
    }
}

fn op(op: &Value, raw: &str) -> Value {
    let name = s(op, "op");
    match name {
        n if n.starts_with("kv.") => kv_op(n, op),
        "queue.send" => queue::send(s(op, "queue"), &message(&op["message"])).map(|id| json!(id)).unwrap_or_else(err),
        "queue.send-batch" => {
            let messages: Vec<OutgoingMessage> =
                op["messages"].as_array().map(|a| a.iter().map(message).collect()).unwrap_or_default();
            match queue::send_batch(s(op, "queue"), &messages) {
                Ok(results) => {
                    Value::Array(results.into_iter().map(|r| r.map(|id| json!(id)).unwrap_or_else(err)).collect())
                }
                Err(e) => err(e),
            }
        }
        "invoke.call" => {
            invoke::call(s(op, "target"), &op["payload"].to_string()).map(|r| json!(r)).unwrap_or_else(err)
        }
        "invoke.event" => {
            invoke::send_event(s(op, "target"), &op["payload"].to_string()).map(|()| json!("ok")).unwrap_or_else(err)
        }
        // Call `target` with this very script: a chain that only the depth limit ends.
        "invoke.recurse" => invoke::call(s(op, "target"), raw).map(|r| json!(r)).unwrap_or_else(err),
        // The same chain through Event invokes, which return before the callee runs.
        "invoke.event-recurse" => invoke::send_event(s(op, "target"), raw).map(|()| json!("ok")).unwrap_or_else(err),
        "http.fetch" => crate::fetch::fetch(op),
        "config.get" => config::get(s(op, "key")).map(|v| json!(v)).unwrap_or_else(err),
        "config.all" => config::get_all().map(|all| json!(all)).unwrap_or_else(err),
        "env" => json!(std::env::vars().collect::<Vec<_>>()),
        "fs" => json!(std::fs::read_dir("/").is_ok() || std::fs::read_dir(".").is_ok()),
        "net" => json!(std::net::TcpStream::connect("127.0.0.1:9").is_ok()),
        "log" => {
            log(Level::Info, s(op, "message"));
            json!("ok")
        }
        // One line with the context `context`, or one of `context-bytes` bytes.
        "log.context" => {
            let context = match op.get("context").and_then(Value::as_str) {
                Some(context) => context.to_string(),
                None => "c".repeat(op.get("context-bytes").and_then(Value::as_u64).unwrap_or(0) as usize),
            };
            logging::log(Level::Info, &context, s(op, "message"));
            json!("ok")
        }
        // An answer of `bytes` bytes (a JSON string), to test the response limit.
        "answer" => json!("a".repeat(op.get("bytes").and_then(Value::as_u64).unwrap_or(0) as usize)),
        other => {
            crate::misbehave(other);
            json!({ "error": format!("unknown op {other}") })
        }
    }
}

/// Run `script`; `raw` is its text, for `invoke.recurse`.
pub fn run(script: &Value, raw: &str) -> Result<String, FunctionError> {
    if let Some(fail) = script.get("fail") {
        return Err(FunctionError { error_type: s(fail, "error_type").into(), message: s(fail, "message").into() });
    }
    let ops = script.get("ops").and_then(Value::as_array).cloned().unwrap_or_default();
    let results: Vec<Value> = ops.iter().map(|o| op(o, raw)).collect();
    Ok(json!({ "results": results }).to_string())
}

/// `append:<key>:<value>[:<misbehaviour>]`: append `value` to the JSON list under `key` in the
/// `data` store by compare-and-swap, then misbehave (e.g. `sleep:200`), so a test can read the
/// order messages were processed in.
pub(crate) fn append(body: &str) -> Result<(), String> {
    let mut parts = body.splitn(4, ':').skip(1);
    let (Some(key), Some(value)) = (parts.next(), parts.next()) else { return Err("append:<key>:<value>".into()) };
    let bucket = store::open("data").map_err(|e| format!("{e:?}"))?;
    loop {
        let cas = Cas::new(&bucket, key).map_err(|e| format!("{e:?}"))?;
        let mut list: Vec<Value> = match cas.current().map_err(|e| format!("{e:?}"))? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        list.push(json!(value));
        match atomics::swap(cas, &serde_json::to_vec(&list).map_err(|e| e.to_string())?) {
            Ok(()) => break,
            Err(CasError::CasFailed(_)) => continue,
            Err(CasError::StoreError(e)) => return Err(format!("{e:?}")),
        }
    }
    if let Some(then) = parts.next() {
        crate::misbehave(then);
    }
    Ok(())
}
