//! The four patterns end to end with the real example guests and in-memory backends.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{call, config, failed_ids, fixture, guest, http_event, runtime, status_body, webhook_headers};
use hmac::{Hmac, Mac};
use plugboard::app::LocalApp;
use plugboard::capabilities::keyvalue::KeyValueTable;
use plugboard::function::Function;
use serde_json::{Value, json};
use sha2::Sha256;

/// All example functions wired as the README describes.
fn app() -> LocalApp {
    let mut app = LocalApp::new(runtime());
    let functions: [(&str, &str, &str); 6] = [
        (
            "items-api",
            "items_api",
            "role = \"http-api\"\n[grants.stores]\nitems = \"items\"\n[grants.functions]\nquotes = \"quotes\"",
        ),
        ("quotes", "quotes", "role = \"internal-api\"\n[grants.read-only-stores]\npricing = \"pricing\""),
        (
            "webhook-ingest",
            "webhook_ingest",
            "role = \"http-api\"\n[grants.queues]\nevents = \"events\"\n[config]\nwebhook_secret = \"s3cret\"",
        ),
        ("webhook-worker", "webhook_worker", "role = \"queue-worker\"\n[grants.stores]\nevents = \"events-store\""),
        (
            "gatekeeper",
            "gatekeeper",
            "role = \"authorizer\"\n[grants.read-only-stores]\napi-keys = \"api-keys\"\n[config]\njwt_secret = \"jwt-secret\"\ndefault_routes = \"GET /orders/*\"",
        ),
        ("gatekeeper-admin", "gatekeeper_admin", "role = \"internal-api\"\n[grants.stores]\napi-keys = \"api-keys\""),
    ];
    for (name, wasm, toml) in functions {
        app.add(name, config(toml), &guest(wasm)).unwrap();
    }
    app
}

fn function(app: &LocalApp, name: &str) -> Arc<Function> {
    app.function(name).unwrap()
}

async fn http(f: &Function, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    status_body(&call(f, http_event(method, path, body)).await.expect("an HTTP response"))
}

#[tokio::test]
async fn simple_web_service_crud() {
    let app = app();
    let items = function(&app, "items-api");
    assert_eq!(http(&items, "GET", "/items/w1", None).await.0, 404);
    let (status, body) = http(&items, "POST", "/items", Some(r#"{"id":"w1","name":"Widget","price":2.5}"#)).await;
    assert_eq!((status, body["name"].as_str()), (201, Some("Widget")));
    assert_eq!(http(&items, "POST", "/items", Some(r#"{"id":"w1"}"#)).await.0, 409);
    assert_eq!(http(&items, "POST", "/items", Some("not json")).await.0, 400);
    assert_eq!(http(&items, "POST", "/items", Some(r#"{"name":"no id"}"#)).await.0, 400);
    assert_eq!(http(&items, "POST", "/items", Some(r#"{"id":"bad id!"}"#)).await.0, 400);
    assert_eq!(http(&items, "PUT", "/items/w1", Some(r#"{"id":"other"}"#)).await.0, 400);
    let (status, body) = http(&items, "PUT", "/items/w1", Some(r#"{"name":"Widget 2","price":3}"#)).await;
    assert_eq!((status, body["id"].as_str()), (200, Some("w1")));
    assert_eq!(http(&items, "PUT", "/items/w2", Some(r#"{"price":1}"#)).await.0, 201);
    let (status, body) = http(&items, "GET", "/items", None).await;
    assert_eq!((status, body["items"].as_array().map(Vec::len)), (200, Some(2)));
    assert_eq!(http(&items, "PATCH", "/items/w1", None).await.0, 405);
    assert_eq!(http(&items, "GET", "/nothing", None).await.0, 404);
    assert_eq!(http(&items, "DELETE", "/items/w2", None).await.0, 204);
    assert_eq!(http(&items, "DELETE", "/items/w2", None).await.0, 404);
    // What the API stored is what the table holds.
    let stored = app.keyvalue.table("items").unwrap().snapshot();
    assert_eq!(stored.len(), 1);
    assert_eq!(serde_json::from_slice::<Value>(&stored[0].1).unwrap()["name"], "Widget 2");
}

#[tokio::test]
async fn items_api_quotes_through_the_internal_api() {
    let app = app();
    let items = function(&app, "items-api");
    http(&items, "POST", "/items", Some(r#"{"id":"w1","price":2.5}"#)).await;
    let (status, quote) = http(&items, "GET", "/items/w1/quote?quantity=40", None).await;
    assert_eq!(status, 200, "{quote}");
    assert_eq!(quote, json!({ "sku": "w1", "quantity": 40, "unit_price": 2.5, "discount_pct": 5.0, "total": 95.0 }));
    // Discount tiers come from the quotes service's own store.
    let tiers = br#"[{"min_quantity":1,"discount_pct":50}]"#.to_vec();
    app.keyvalue.table("pricing").unwrap().set("tiers", tiers).await.unwrap();
    let (_, quote) = http(&items, "GET", "/items/w1/quote?quantity=40", None).await;
    assert_eq!(quote["total"], 50.0);
    let (status, _) = http(&items, "GET", "/items/w1/quote?quantity=0", None).await;
    assert_eq!(status, 400);
    let (status, _) = http(&items, "GET", "/items/missing/quote", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn internal_api_direct_invocation() {
    let app = app();
    let quotes = function(&app, "quotes");
    let answer = call(&quotes, fixture("direct-quote")).await.unwrap();
    assert_eq!(answer["total"], 95.0);
    let err = call(&quotes, json!({ "sku": "x", "unit_price": -1, "quantity": 1 })).await.unwrap_err();
    assert_eq!(err.error_type, "ValidationError");
    let err = call(&quotes, json!("just a string")).await.unwrap_err();
    assert_eq!(err.error_type, "ValidationError");
}

/// `body` as a webhook with `headers`.
fn webhook_with(body: &str, headers: &[(&str, String)]) -> Value {
    let mut event = http_event("POST", "/webhooks", Some(body));
    for (name, value) in headers {
        event["headers"][*name] = value.clone().into();
    }
    event
}

/// `body` signed now for idempotency `key` with the app's secret.
fn webhook(body: &str, key: &str) -> Value {
    webhook_with(body, &webhook_headers(b"s3cret", key, body))
}

/// The SQS event Lambda's event source would build from what the ingest function sent.
fn deliver(app: &LocalApp, receive_count: u32) -> Value {
    let template = fixture("sqs")["Records"][0].clone();
    let records: Vec<Value> = app
        .queues
        .messages("events")
        .into_iter()
        .map(|m| {
            let mut record = template.clone();
            record["messageId"] = m.id.clone().into();
            record["body"] = m.message.body.clone().into();
            record["attributes"]["ApproximateReceiveCount"] = receive_count.to_string().into();
            let attributes: serde_json::Map<String, Value> = m
                .message
                .attributes
                .iter()
                .map(|(name, value)| {
                    let text = match value {
                        plugboard::bindings::plugboard::host::queue::AttributeValue::Text(t) => t.clone(),
                        other => panic!("unexpected attribute {other:?}"),
                    };
                    (name.clone(), json!({ "stringValue": text, "dataType": "String" }))
                })
                .collect();
            record["messageAttributes"] = Value::Object(attributes);
            record
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
async fn scalable_webhook_ingest_queue_worker() {
    let app = app();
    let ingest = function(&app, "webhook-ingest");
    let worker = function(&app, "webhook-worker");
    let good = r#"{"id":"evt-1","event":"order.created","amount":12}"#;
    let (status, body) = status_body(&call(&ingest, webhook(good, "evt-1")).await.unwrap());
    assert_eq!((status, body["idempotency_key"].as_str()), (202, Some("evt-1")));
    let poison = r#"{"id":"evt-2","no_event_type":true}"#;
    assert_eq!(status_body(&call(&ingest, webhook(poison, "evt-2")).await.unwrap()).0, 202);
    // Forged, unsigned and replayed events never reach the queue.
    let status = |event: Value| {
        let ingest = ingest.clone();
        async move { status_body(&call(&ingest, event).await.unwrap()).0 }
    };
    let signed_good = webhook_headers(b"s3cret", "evt-1", good);
    assert_eq!(status(webhook_with(good, &webhook_headers(b"s3cret", "evt-1", "other body"))).await, 401);
    assert_eq!(status(webhook_with(good, &[])).await, 401);
    assert_eq!(status(webhook_with(good, &signed_good[1..])).await, 401, "no timestamp header");
    // Correctly signed over an empty timestamp: refused for the missing timestamp itself.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(format!(".evt-1.{good}").as_bytes());
    let untimed = [("x-signature", format!("sha256={}", hex::encode(mac.finalize().into_bytes())))];
    assert_eq!(status(webhook_with(good, &untimed)).await, 401, "signed, but without a timestamp");
    // A captured request replayed under the next event's key: the key is signed too.
    let mut replay = signed_good.to_vec();
    replay.push(("idempotency-key", "evt-3".to_string()));
    assert_eq!(status(webhook_with(good, &replay)).await, 401, "replayed under another key");
    // Replayed later: a correct signature over a timestamp ten minutes old.
    let old = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 600).to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(format!("{old}.evt-1.{good}").as_bytes());
    let stale =
        [("x-webhook-timestamp", old), ("x-signature", format!("sha256={}", hex::encode(mac.finalize().into_bytes())))];
    assert_eq!(status(webhook_with(good, &stale)).await, 401, "replayed ten minutes later");
    assert_eq!(status(webhook("[1]", "")).await, 400);
    let odd_key = r#"{"id":"evt.1/../x","event":"order.created"}"#;
    assert_eq!(status(webhook(odd_key, "evt.1/../x")).await, 400, "a key outside [A-Za-z0-9_-]");
    assert_eq!(app.queues.messages("events").len(), 2);

    let batch = deliver(&app, 1);
    let poison_id = app.queues.messages("events")[1].id.clone();
    let response = call(&worker, batch.clone()).await.unwrap();
    assert_eq!(failed_ids(&response), std::slice::from_ref(&poison_id), "only the poison message fails");
    // Redelivery (as SQS does for the failed one, or after a crash) changes nothing.
    let again = call(&worker, deliver(&app, 2)).await.unwrap();
    assert_eq!(failed_ids(&again), [poison_id]);
    let store = app.keyvalue.table("events-store").unwrap().snapshot();
    let keys: Vec<&str> = store.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["count/order.created", "event/evt-1"]);
    assert_eq!(common::counted(&store[0].1), 1, "counted once");
}

fn jwt(claims: Value, secret: &[u8], alg: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT" }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn token_event(token: &str) -> Value {
    let mut event = fixture("authorizer-token");
    event["authorizationToken"] = token.into();
    event
}

const BASE: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/";

#[tokio::test]
async fn gatekeeper_with_jwts() {
    let app = app();
    let gatekeeper = function(&app, "gatekeeper");
    let valid = jwt(
        json!({ "sub": "alice", "exp": now() + 600, "routes": ["GET /orders/*", "post /orders"] }),
        b"jwt-secret",
        "HS256",
    );
    let response = call(&gatekeeper, token_event(&format!("Bearer {valid}"))).await.unwrap();
    assert_eq!(response["principalId"], "alice");
    assert_eq!(
        response["policyDocument"]["Statement"][0],
        json!({ "Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [format!("{BASE}GET/orders/*"), format!("{BASE}POST/orders")] })
    );
    assert_eq!(
        response["context"],
        json!({ "principal": "alice", "auth": "jwt", "routes": "GET /orders/*,post /orders" })
    );

    let default_routes = jwt(json!({ "sub": "bob", "exp": now() + 600 }), b"jwt-secret", "HS256");
    let response = call(&gatekeeper, token_event(&format!("Bearer {default_routes}"))).await.unwrap();
    assert_eq!(response["policyDocument"]["Statement"][0]["Resource"], json!([format!("{BASE}GET/orders/*")]));

    for bad in [
        jwt(json!({ "sub": "eve", "exp": now() - 1 }), b"jwt-secret", "HS256"),
        jwt(json!({ "sub": "eve", "exp": now() + 600 }), b"wrong-secret", "HS256"),
        jwt(json!({ "sub": "eve", "exp": now() + 600 }), b"jwt-secret", "none"),
        "a.b.c".to_string(),
    ] {
        let err = call(&gatekeeper, token_event(&format!("Bearer {bad}"))).await.unwrap_err();
        assert_eq!(err.error_message, "Unauthorized");
    }
    assert_eq!(call(&gatekeeper, token_event("")).await.unwrap_err().error_message, "Unauthorized");
}

#[tokio::test]
async fn gatekeeper_with_api_keys_managed_by_its_admin_api() {
    let app = app();
    let gatekeeper = function(&app, "gatekeeper");
    let admin = function(&app, "gatekeeper-admin");
    let created =
        call(&admin, json!({ "action": "create-key", "principal": "partner-1", "routes": ["GET /orders/*"] }))
            .await
            .unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    let key_id = created["key_id"].as_str().unwrap().to_string();
    // Only the key's hash is stored.
    let stored = app.keyvalue.table("api-keys").unwrap().snapshot();
    assert!(stored.iter().all(|(k, v)| !k.contains(&key) && !String::from_utf8_lossy(v).contains(&key)));

    // A key elsewhere than the identity source (Authorization) is never read.
    let mut elsewhere = fixture("authorizer-request");
    elsewhere["headers"].as_object_mut().unwrap().remove("Authorization");
    elsewhere["multiValueHeaders"] = json!({ "X-Api-Key": [key] });
    assert_eq!(call(&gatekeeper, elsewhere).await.unwrap_err().error_message, "Unauthorized");
    let mut request = fixture("authorizer-request");
    request["headers"]["Authorization"] = format!("Bearer {key}").into();
    request["multiValueHeaders"] = json!({ "Authorization": [format!("Bearer {key}")] });
    let response = call(&gatekeeper, request.clone()).await.unwrap();
    assert_eq!(response["principalId"], "partner-1");
    assert_eq!(response["context"]["auth"], "api-key");
    assert_eq!(response["policyDocument"]["Statement"][0]["Resource"], json!([format!("{BASE}GET/orders/*")]));

    call(&admin, json!({ "action": "set-routes", "key_id": key_id, "routes": ["DELETE /orders/*"] })).await.unwrap();
    let response = call(&gatekeeper, request.clone()).await.unwrap();
    assert_eq!(response["policyDocument"]["Statement"][0]["Resource"], json!([format!("{BASE}DELETE/orders/*")]));

    let listed = call(&admin, json!({ "action": "list-keys" })).await.unwrap();
    assert_eq!(listed["keys"][0]["principal"], "partner-1");
    call(&admin, json!({ "action": "revoke-key", "key_id": key_id })).await.unwrap();
    assert_eq!(call(&gatekeeper, request).await.unwrap_err().error_message, "Unauthorized");

    let err = call(&admin, json!({ "action": "set-routes", "key_id": "nope", "routes": [] })).await.unwrap_err();
    assert_eq!(err.error_type, "NotFound");
    let err =
        call(&admin, json!({ "action": "create-key", "principal": "x", "routes": ["orders"] })).await.unwrap_err();
    assert_eq!(err.error_type, "ValidationError");
}

#[tokio::test]
async fn the_protected_function_reads_the_authorizer_context() {
    let app = app();
    let gatekeeper = function(&app, "gatekeeper");
    let mut authorizer_event = fixture("authorizer-http-api");
    let token = jwt(json!({ "sub": "carol", "exp": now() + 600, "routes": ["GET /orders/*"] }), b"jwt-secret", "HS256");
    authorizer_event["headers"]["authorization"] = format!("Bearer {token}").into();
    let decision = call(&gatekeeper, authorizer_event).await.unwrap();
    assert_eq!(decision["policyDocument"]["Statement"][0]["Effect"], "Allow", "{decision}");
    // API Gateway hands the context to the protected route under `authorizer.lambda`.
    let mut request = http_event("GET", "/orders/o-1", None);
    request["requestContext"]["authorizer"] = json!({ "lambda": decision["context"] });
    let mut protected = LocalApp::new(runtime());
    let echo = protected.add("orders", config("role = \"http-api\""), &guest("chaos")).unwrap();
    let (_, seen) = status_body(&call(&echo, request).await.unwrap());
    assert_eq!(seen["authorizer"]["principal"], "carol");
    assert_eq!(seen["authorizer"]["auth"], "jwt");
}
