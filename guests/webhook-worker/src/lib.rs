//! Scalable Webhook, worker side: each event is counted once per type under `count/{type}` and
//! recorded under `event/{idempotency-key}` in the `events` store, safe under SQS's redelivery
//! and under two deliveries of one event at once:
//!
//! 1. *claim*: `event/{key}` is created (compare-and-swap) as `{"state": "claimed", "at": now}`.
//!    A record already `done` (or written by an older worker, without `state`) is a duplicate:
//!    skipped. A fresh claim is another delivery at work: this one fails and is retried later. A
//!    claim older than the lease (`lease_secs`, default 15: past the worker's Lambda timeout,
//!    within the queue's visibility timeout) was abandoned by a worker that died: taken over.
//! 2. *effect*: the counter is incremented. If that fails the claim is released, so the retry
//!    counts it.
//! 3. *done*: the record is marked `done`. Only a failure between 2 and 3 (the record cannot be
//!    written after the counter was) can count an event twice, after the lease.
//!
//! What becomes a key is checked first: an event type outside `[A-Za-z0-9._-]{1,64}` or a key
//! outside `[A-Za-z0-9_-]{1,128}` is poison, as is a body that is not a JSON object with an
//! `event` field: it fails alone, without a claim, and goes back to the queue (then the DLQ).

use plugboard_guest::atomics::{self, Cas, CasError};
use plugboard_guest::queue::AttributeValue;
use plugboard_guest::serde_json::{Value, json};
use plugboard_guest::{config, store};

struct WebhookWorker;

plugboard_guest::queue_worker!(WebhookWorker, "../../wit");

/// Seconds after which a claim counts as abandoned, unless `lease_secs` is configured.
const DEFAULT_LEASE_SECS: u64 = 15;

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
        let marker = format!("event/{key}");
        let record = json!({ "idempotency_key": key, "message_id": message.id, "receive_count": message.receive_count, "event": event });
        if !claim(&bucket, &marker, &record)? {
            plugboard_guest::debug!("event {key} already processed");
            return Ok(());
        }
        if let Err(e) = atomics::increment(&bucket, &format!("count/{kind}"), 1) {
            // Not counted: release the claim so the retry counts it (else the lease expires).
            let _ = bucket.delete(&marker);
            return Err(format!("count: {e:?}"));
        }
        let done = with_state(&record, json!("done"));
        bucket.set(&marker, done.to_string().as_bytes()).map_err(|e| format!("mark done: {e:?}"))
    }
}

/// Refuse `value` as part of a key unless it is 1..=`max` characters all allowed by `allowed`.
fn check_name(what: &str, value: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    if value.is_empty() || value.len() > max || !value.chars().all(allowed) {
        let shown: String = value.chars().take(40).collect();
        return Err(format!("{what} `{shown}` must be 1-{max} characters of letters, digits and the allowed punctuation"));
    }
    Ok(())
}

/// `record` with `state` set (and, for a claim, when it was made).
fn with_state(record: &Value, state: Value) -> Value {
    let mut record = record.clone();
    if state == "claimed" {
        record["at"] = json!(now_secs());
    }
    record["state"] = state;
    record
}

/// Take `marker` for this delivery: `Ok(true)` when claimed, `Ok(false)` when the event was
/// already processed, `Err` when another delivery holds a live claim (retry later).
fn claim(bucket: &store::Bucket, marker: &str, record: &Value) -> Result<bool, String> {
    let cas = Cas::new(bucket, marker).map_err(|e| format!("claim: {e:?}"))?;
    if let Some(bytes) = cas.current().map_err(|e| format!("claim: {e:?}"))? {
        let seen: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if seen.get("state").and_then(Value::as_str) != Some("claimed") {
            return Ok(false);
        }
        let lease = config("lease_secs").and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_LEASE_SECS);
        let at = seen.get("at").and_then(Value::as_u64).unwrap_or(0);
        if now_secs().saturating_sub(at) < lease {
            return Err("another delivery of this event is being processed; retry later".into());
        }
        plugboard_guest::warn!("taking over an abandoned claim on {marker}");
    }
    match atomics::swap(cas, with_state(record, json!("claimed")).to_string().as_bytes()) {
        Ok(()) => Ok(true),
        Err(CasError::CasFailed(_)) => Err("another delivery claimed this event first; retry later".into()),
        Err(CasError::StoreError(e)) => Err(format!("claim: {e:?}")),
    }
}

/// The wall clock, in Unix seconds.
fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
