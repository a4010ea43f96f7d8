//! Scalable Webhook, ingest side: `POST /webhooks` with `x-webhook-timestamp: <unix seconds>` and
//! `x-signature: sha256=<hex>`, the HMAC-SHA256 under the `webhook_secret` config value of
//! `{timestamp}.{idempotency key}.{raw body}` — everything that identifies the event is signed
//! (as Stripe and Slack do), so a captured body cannot be replayed under another event's key,
//! and a timestamp more than `tolerance_secs` (default 300) from now is refused, so it cannot be
//! replayed later either. The key is the `idempotency-key` header, else the event's `id`, 1-128
//! characters of `[A-Za-z0-9_-]`. A valid event is enqueued on the `events` queue with its key
//! and answered 202; the worker does the rest.

use hmac::{Hmac, Mac};
use plugboard_guest::queue::{self, AttributeValue, OutgoingMessage};
use plugboard_guest::serde_json::{Value, json};
use plugboard_guest::{HttpHandler, HttpRequest, HttpResponse, HttpResult, Params, Router, config};
use sha2::Sha256;

struct WebhookIngest;

impl HttpHandler for WebhookIngest {
    fn handle(request: HttpRequest) -> HttpResponse {
        Router::new().post("/webhooks", ingest).handle(&request)
    }
}

plugboard_guest::http_api!(WebhookIngest);

/// How far a webhook's timestamp may be from now, unless `tolerance_secs` is configured.
const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Whether `signature` (`sha256=<hex>`) is the HMAC of `{timestamp}.{key}.{body}` under
/// `secret`, in constant time.
fn signature_valid(secret: &str, timestamp: &str, key: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_sig) = signature.strip_prefix("sha256=") else { return false };
    let Ok(expected) = hex::decode(hex_sig.trim()) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    for part in [timestamp.as_bytes(), b".", key.as_bytes(), b"."] {
        mac.update(part);
    }
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Whether `timestamp` (Unix seconds) is within the tolerance of the wall clock.
fn timestamp_fresh(timestamp: &str) -> bool {
    let Ok(sent) = timestamp.parse::<u64>() else { return false };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let tolerance = config("tolerance_secs").and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_TOLERANCE_SECS);
    now.abs_diff(sent) <= tolerance
}

/// Whether `key` may name the event: 1-128 characters of `[A-Za-z0-9_-]` (it becomes part of a
/// store key and of the signed text, where `.` separates).
fn key_valid(key: &str) -> bool {
    (1..=128).contains(&key.len()) && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn ingest(request: &HttpRequest, _: &Params) -> HttpResult {
    Ok(accept(request))
}

fn accept(request: &HttpRequest) -> HttpResponse {
    let Some(secret) = config("webhook_secret").filter(|s| !s.is_empty()) else {
        plugboard_guest::error!("webhook_secret is not configured; refusing all webhooks");
        return HttpResponse::error(500, "webhook receiver is not configured");
    };
    let event: Value = match serde_json::from_slice(&request.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return HttpResponse::error(400, "body must be a JSON object"),
    };
    // The sender's idempotency key: a header, else the event's own id.
    let key = request
        .header("idempotency-key")
        .map(str::to_string)
        .or_else(|| event.get("id").and_then(Value::as_str).map(str::to_string));
    let Some(key) = key.filter(|k| key_valid(k)) else {
        return HttpResponse::error(
            400,
            "an idempotency-key header or an `id` field (1-128 of A-Z a-z 0-9 _ -) is required",
        );
    };
    let timestamp = request.header("x-webhook-timestamp").unwrap_or("");
    let signature = request.header("x-signature").unwrap_or("");
    if !signature_valid(&secret, timestamp, &key, &request.body, signature) {
        return HttpResponse::error(401, "missing or invalid x-signature (HMAC of timestamp.key.body)");
    }
    if !timestamp_fresh(timestamp) {
        return HttpResponse::error(401, "x-webhook-timestamp is missing or too far from now");
    }
    let fifo = config("queue_fifo").is_some_and(|v| v == "true");
    let message = OutgoingMessage {
        body: String::from_utf8_lossy(&request.body).into_owned(),
        attributes: vec![("idempotency-key".into(), AttributeValue::Text(key.clone()))],
        delay_seconds: None,
        group_id: fifo.then(|| event.get("source").and_then(Value::as_str).unwrap_or("default").to_string()),
        deduplication_id: fifo.then(|| key.clone()),
    };
    match queue::send("events", &message) {
        Ok(message_id) => {
            HttpResponse::json(202, &json!({ "accepted": true, "idempotency_key": key, "message_id": message_id }))
        }
        Err(queue::Error::InvalidMessage(reason)) => HttpResponse::error(413, &reason),
        Err(e) => {
            plugboard_guest::error!("enqueue failed: {e:?}");
            HttpResponse::error(503, "could not accept the event; retry later")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugboard_guest::testing;

    /// A webhook for `body` signed with the secret of cases/function.toml, sent now.
    fn signed(body: &str, secret: &str) -> HttpRequest {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{now}.evt-1.{body}").as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        testing::request("POST", "/webhooks")
            .with_header("x-webhook-timestamp", &now)
            .with_header("idempotency-key", "evt-1")
            .with_header("x-signature", &signature)
            .with_body(body)
    }

    #[test]
    fn a_signed_webhook_is_queued_with_its_key() {
        testing::reset();
        let response = WebhookIngest::handle(signed(r#"{"type":"order.paid"}"#, "case-secret"));
        assert_eq!(response.status, 202);
        let sent = testing::sent("events");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].body, r#"{"type":"order.paid"}"#);
        assert!(
            matches!(&sent[0].attributes[..], [(name, AttributeValue::Text(key))] if name == "idempotency-key" && key == "evt-1")
        );
    }

    #[test]
    fn a_wrong_signature_is_refused_and_nothing_is_queued() {
        testing::reset();
        let response = WebhookIngest::handle(signed(r#"{"type":"order.paid"}"#, "another-secret"));
        assert_eq!(response.status, 401);
        assert!(testing::sent("events").is_empty());
    }
}
