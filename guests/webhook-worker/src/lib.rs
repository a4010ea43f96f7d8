//! Scalable Webhook, worker side: each event is counted exactly once per type under
//! `count/{type}` and recorded under `event/{idempotency-key}` in the `events` store, however
//! SQS redelivers it, two deliveries race, or a worker dies half-way:
//!
//! 1. *claim*: `event/{key}` is created (compare-and-swap) as `{"state": "claimed", "at": now}`.
//!    A record already `done` (or written by an older worker, without `state`) is a duplicate:
//!    skipped. A fresh claim is another delivery at work: this one fails and is retried later. A
//!    claim older than the lease (`lease_secs`, default 15) was abandoned by a worker that died:
//!    taken over.
//! 2. *count*: the counter `{"n": N, "applied": key}` is swapped to `N + 1` with this key as the
//!    last applied. Before moving `applied` on from an earlier key, that event's record is
//!    marked `done` (its count is in). So a takeover knows whether the dead worker's count went
//!    in: the counter still names its key, or its record is already `done` (checked after
//!    reading the counter, so a finish that preceded the counter moving on is always seen).
//! 3. *done*: the record is marked `done`.
//!
//! The lease must exceed the worker's `limits.timeout-ms` (a live claim is never taken over) and
//! stay below the queue's visibility timeout (a retry finds the claim abandoned).
//!
//! With `downstream_url` configured, each claimed event is also POSTed there (the less-scalable
//! backend the queue protects), its idempotency key in the `idempotency-key` header, before it
//! is counted; a failed or non-2xx forward gives the claim back and fails the message alone.
//!
//! What becomes a key is checked first: an event type outside `[A-Za-z0-9._-]{1,64}` or a key
//! outside `[A-Za-z0-9_-]{1,128}` is poison, as is a body that is not a JSON object with an
//! `event` field: it fails alone, without a claim, and goes back to the queue (then the DLQ).

use plugboard_guest::atomics::{self, Cas, CasError};
use plugboard_guest::fetch::{Request, fetch};
use plugboard_guest::queue::AttributeValue;
use plugboard_guest::serde_json::{Value, json};
use plugboard_guest::{IncomingMessage, QueueHandler, config, store};

struct WebhookWorker;

plugboard_guest::queue_worker!(WebhookWorker);

/// Seconds after which a claim counts as abandoned, unless `lease_secs` is configured.
const DEFAULT_LEASE_SECS: u64 = 15;
/// Compare-and-swap attempts on a contended counter before the message is retried later.
const MAX_ATTEMPTS: usize = 50;

impl QueueHandler for WebhookWorker {
    fn handle(message: IncomingMessage) -> Result<(), String> {
        let event: Value = serde_json::from_str(&message.body).map_err(|e| format!("body is not JSON: {e}"))?;
        let kind = event.get("event").and_then(Value::as_str).ok_or("event has no `event` type field")?;
        check_name("event type", kind, 64, |c| c.is_ascii_alphanumeric() || "._-".contains(c))?;
        let key = message
            .attributes
            .iter()
            .find_map(|(name, value)| match (name.as_str(), value) {
                ("idempotency-key", AttributeValue::Text(k)) => Some(k.clone()),
                _ => None,
            })
            .unwrap_or_else(|| message.id.clone());
        check_name("idempotency key", &key, 128, |c| c.is_ascii_alphanumeric() || "_-".contains(c))?;
        let bucket = store::open("events").map_err(|e| format!("open events: {e:?}"))?;
        let record = json!({ "idempotency_key": key, "message_id": message.id, "receive_count": message.receive_count, "event": event });
        if !claim(&bucket, &key, &record)? {
            plugboard_guest::debug!("event {key} already processed");
            return Ok(());
        }
        if let Some(url) = config("downstream_url")
            && let Err(e) = forward(&url, &key, &message.body)
        {
            // Nothing is counted yet: give the claim back so the retry starts afresh.
            let _ = bucket.delete(&marker(&key));
            return Err(e);
        }
        count(&bucket, &format!("count/{kind}"), &key)?;
        set_state(&bucket, &key, &record, "done")
    }
}

/// POST the event to the downstream service the queue protects, with its idempotency key as
/// a header (the downstream applies each key once, so a redelivery is harmless); anything but a
/// 2xx answer in time fails this message alone, and SQS retries it.
fn forward(url: &str, key: &str, body: &str) -> Result<(), String> {
    let request = Request::post(url, body).header("content-type", "application/json").header("idempotency-key", key);
    let response = fetch(&request).map_err(|e| format!("downstream {url}: {e}"))?;
    if !response.is_success() {
        return Err(format!("downstream {url} answered {}", response.status));
    }
    Ok(())
}

/// Refuse `value` as part of a key unless it is 1..=`max` characters all allowed by `allowed`.
fn check_name(what: &str, value: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    if value.is_empty() || value.len() > max || !value.chars().all(allowed) {
        let shown: String = value.chars().take(40).collect();
        return Err(format!(
            "{what} `{shown}` must be 1-{max} characters of letters, digits and the allowed punctuation"
        ));
    }
    Ok(())
}

/// The record key of event `key`.
fn marker(key: &str) -> String {
    format!("event/{key}")
}

/// `record` with `state` set (and, for a claim, when it was made).
fn with_state(record: &Value, state: &str) -> Value {
    let mut record = record.clone();
    if state == "claimed" {
        record["at"] = json!(now_secs());
    }
    record["state"] = json!(state);
    record
}

/// Write event `key`'s record in `state`.
fn set_state(bucket: &store::Bucket, key: &str, record: &Value, state: &str) -> Result<(), String> {
    let bytes = with_state(record, state).to_string();
    bucket.set(&marker(key), bytes.as_bytes()).map_err(|e| format!("mark {state}: {e:?}"))
}

/// Take event `key` for this delivery: `Ok(true)` when claimed, `Ok(false)` when it was already
/// processed, `Err` when another delivery holds a live claim (retry later).
fn claim(bucket: &store::Bucket, key: &str, record: &Value) -> Result<bool, String> {
    let cas = Cas::new(bucket, &marker(key)).map_err(|e| format!("claim: {e:?}"))?;
    if let Some(bytes) = cas.current().map_err(|e| format!("claim: {e:?}"))? {
        let seen: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if seen.get("state").and_then(Value::as_str) != Some("claimed") {
            return Ok(false); // `done`, or a record from before claims existed.
        }
        let lease = config("lease_secs").and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_LEASE_SECS);
        let at = seen.get("at").and_then(Value::as_u64).unwrap_or(0);
        if now_secs().saturating_sub(at) < lease {
            return Err("another delivery of this event is being processed; retry later".into());
        }
        plugboard_guest::warn!("taking over an abandoned claim on event {key}");
    }
    match atomics::swap(cas, with_state(record, "claimed").to_string().as_bytes()) {
        Ok(()) => Ok(true),
        Err(CasError::CasFailed(_)) => Err("another delivery claimed this event first; retry later".into()),
        Err(CasError::StoreError(e)) => Err(format!("claim: {e:?}")),
    }
}

/// Add event `key` to the counter at `counter` once: a no-op if the counter already names it as
/// last applied (a takeover after the dead worker's count went in). The earlier key it names is
/// marked `done` first, so the counter may forget it.
fn count(bucket: &store::Bucket, counter: &str, key: &str) -> Result<(), String> {
    for _ in 0..MAX_ATTEMPTS {
        let cas = Cas::new(bucket, counter).map_err(|e| format!("count: {e:?}"))?;
        let current = cas.current().map_err(|e| format!("count: {e:?}"))?;
        let (n, applied) = parse_counter(current.as_deref())?;
        // In already: the counter names this key, or a later count finished this record (read
        // after the counter, so a finish that came before the counter moved on is seen).
        if applied.as_deref() == Some(key) || is_done(bucket, key)? {
            return Ok(());
        }
        if let Some(previous) = &applied {
            finish(bucket, previous)?;
        }
        let next = json!({ "n": n + 1, "applied": key }).to_string();
        match atomics::swap(cas, next.as_bytes()) {
            Ok(()) => return Ok(()),
            Err(CasError::CasFailed(_)) => continue,
            Err(CasError::StoreError(e)) => return Err(format!("count: {e:?}")),
        }
    }
    Err("the counter is contended; retry later".into())
}

/// The counter's value and last applied key; a plain decimal (an older counter) has none.
fn parse_counter(bytes: Option<&[u8]>) -> Result<(u64, Option<String>), String> {
    let Some(bytes) = bytes else { return Ok((0, None)) };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Number(n)) => Ok((n.as_u64().unwrap_or(0), None)),
        Ok(doc) => Ok((doc["n"].as_u64().unwrap_or(0), doc["applied"].as_str().map(str::to_string))),
        Err(e) => Err(format!("count: the counter is not JSON: {e}")),
    }
}

/// Whether event `key`'s record is `done`.
fn is_done(bucket: &store::Bucket, key: &str) -> Result<bool, String> {
    let stored = bucket.get(&marker(key)).map_err(|e| format!("count: {e:?}"))?;
    let record = stored.and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    Ok(record.is_some_and(|r| r.get("state").and_then(Value::as_str) == Some("done")))
}

/// Mark event `key` `done` if it is still claimed: its count is in the counter.
fn finish(bucket: &store::Bucket, key: &str) -> Result<(), String> {
    let stored = bucket.get(&marker(key)).map_err(|e| format!("finish {key}: {e:?}"))?;
    let Some(record) = stored.and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else { return Ok(()) };
    if record.get("state").and_then(Value::as_str) == Some("claimed") {
        set_state(bucket, key, &record, "done")?;
    }
    Ok(())
}

/// The wall clock, in Unix seconds.
fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
