//! Scalable Webhook, ingest side: `POST /webhooks` with `x-signature: sha256=<hex>` (HMAC-SHA256
//! of the raw body under the `webhook_secret` config value). A valid event is enqueued on the
//! `events` queue with its idempotency key and answered 202; the worker does the rest.

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

plugboard_guest::http_api!(WebhookIngest, "../../wit");

/// Whether `signature` (`sha256=<hex>`) is the HMAC of `body` under `secret`, in constant time.
fn signature_valid(secret: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_sig) = signature.strip_prefix("sha256=") else { return false };
    let Ok(expected) = hex::decode(hex_sig.trim()) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn ingest(request: &HttpRequest, _: &Params) -> HttpResult {
    Ok(accept(request))
}

fn accept(request: &HttpRequest) -> HttpResponse {
    let Some(secret) = config("webhook_secret").filter(|s| !s.is_empty()) else {
        plugboard_guest::error!("webhook_secret is not configured; refusing all webhooks");
        return HttpResponse::error(500, "webhook receiver is not configured");
    };
    let signature = request.header("x-signature").unwrap_or("");
    if !signature_valid(&secret, &request.body, signature) {
        return HttpResponse::error(401, "missing or invalid x-signature");
    }
    let event: Value = match serde_json::from_slice(&request.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return HttpResponse::error(400, "body must be a JSON object"),
    };
    // The sender's idempotency key: a header, else the event's own id.
    let key = request
        .header("idempotency-key")
        .map(str::to_string)
        .or_else(|| event.get("id").and_then(Value::as_str).map(str::to_string));
    let Some(key) = key.filter(|k| !k.is_empty() && k.len() <= 128) else {
        return HttpResponse::error(400, "an idempotency-key header or an `id` field (1-128 chars) is required");
    };
    let fifo = config("queue_fifo").is_some_and(|v| v == "true");
    let message = OutgoingMessage {
        body: String::from_utf8_lossy(&request.body).into_owned(),
        attributes: vec![("idempotency-key".into(), AttributeValue::Text(key.clone()))],
        delay_seconds: None,
        group_id: fifo.then(|| event.get("source").and_then(Value::as_str).unwrap_or("default").to_string()),
        deduplication_id: fifo.then(|| key.clone()),
    };
    match queue::send("events", &message) {
        Ok(message_id) => HttpResponse::json(202, &json!({ "accepted": true, "idempotency_key": key, "message_id": message_id })),
        Err(queue::Error::InvalidMessage(reason)) => HttpResponse::error(413, &reason),
        Err(e) => {
            plugboard_guest::error!("enqueue failed: {e:?}");
            HttpResponse::error(503, "could not accept the event; retry later")
        }
    }
}
