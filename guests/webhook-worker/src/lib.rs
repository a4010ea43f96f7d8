//! Scalable Webhook, worker side: each message is stored once in the `events` store under
//! `event/{idempotency-key}` (a compare-and-swap create, so a redelivered message is a no-op)
//! and counted per event type under `count/{type}`. A message that is not a JSON object with an
//! `event` field is poison: it fails alone and goes back to the queue (and on to the DLQ).

use plugboard_guest::atomics;
use plugboard_guest::kv;
use plugboard_guest::queue::AttributeValue;
use plugboard_guest::serde_json::{Value, json};
use plugboard_guest::store;

struct WebhookWorker;

plugboard_guest::queue_worker!(WebhookWorker, "../../wit");

impl QueueHandler for WebhookWorker {
    fn handle(message: IncomingMessage) -> Result<(), String> {
        let event: Value = serde_json::from_str(&message.body).map_err(|e| format!("body is not JSON: {e}"))?;
        let kind = event
            .get("event")
            .and_then(Value::as_str)
            .ok_or("event has no `event` type field")?
            .to_string();
        let key = message
            .attributes
            .iter()
            .find_map(|(name, value)| match (name.as_str(), value) {
                ("idempotency-key", AttributeValue::Text(k)) => Some(k.clone()),
                _ => None,
            })
            .unwrap_or_else(|| message.id.clone());
        let bucket = store::open("events").map_err(|e| format!("open events: {e:?}"))?;
        let record = json!({
            "idempotency_key": key,
            "message_id": message.id,
            "receive_count": message.receive_count,
            "event": event,
        });
        // Created only if absent: a redelivery, or a concurrent delivery that won, is a no-op.
        if !kv::create_json(&bucket, &format!("event/{key}"), &record).map_err(|e| e.to_string())? {
            plugboard_guest::debug!("event {key} already processed");
            return Ok(());
        }
        atomics::increment(&bucket, &format!("count/{kind}"), 1).map_err(|e| format!("count: {e:?}"))?;
        Ok(())
    }
}
