//! `plugboard dev` end to end, as a process, over real HTTP on 127.0.0.1: the repository's own
//! manifest (copied with a short visibility timeout) running the example guests — each
//! pattern, the gatekeeper's 401/403 and decision cache, the Invoke API through
//! `aws-sdk-lambda`, the dead-letter queue and redrive, a restart, and hot reload.

#[path = "dev/browser.rs"]
mod browser;
mod common;
#[path = "dev/dashboard.rs"]
mod dashboard;
#[path = "dev/try_it.rs"]
mod try_it;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::dev::{Dev, depth};
use common::{guest, root};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The repository's manifest copied into `dir` (guests by absolute path, or from `dir` for
/// those named in `local_guests`), with a 1 s visibility timeout and 2 receives before the DLQ.
fn app_dir(local_guests: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plugboard-dev-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest = std::fs::read_to_string(root().join("plugboard.toml")).unwrap();
    for (file, copy_as) in local_guests {
        std::fs::write(dir.join(copy_as), guest(file)).unwrap();
        manifest = manifest.replace(&format!("\"guests/dist/{file}.wasm\""), &format!("\"{copy_as}\""));
    }
    let dist = root().join("guests/dist").display().to_string();
    manifest = manifest
        .replace("\"guests/dist/", &format!("\"{dist}/"))
        .replace("visibility-timeout-secs = 30", "visibility-timeout-secs = 1")
        .replace("max-receives = 3", "max-receives = 2");
    std::fs::write(dir.join("plugboard.toml"), manifest).unwrap();
    dir
}

/// An HS256 JWT the example gatekeeper accepts, for `routes`.
fn jwt(routes: &[&str]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
    let claims = URL_SAFE_NO_PAD.encode(json!({ "sub": "alice", "exp": exp, "routes": routes }).to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(b"demo-jwt-secret").unwrap();
    mac.update(format!("{header}.{claims}").as_bytes());
    format!("Bearer {header}.{claims}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The headers that sign `body` (its `id` the idempotency key) with the example secret.
fn signed(body: &str) -> Vec<(&'static str, String)> {
    let key = serde_json::from_str::<Value>(body).unwrap()["id"].as_str().unwrap_or_default().to_string();
    common::webhook_headers(b"demo-webhook-secret", &key, body).to_vec()
}

/// `headers` as the `(name, value)` pairs `Dev::send` takes.
fn pairs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn web_service_and_gatekeeper_over_http() {
    let dir = app_dir(&[]);
    // The quote route takes the REST (payload 1.0) event, the others HTTP API (2.0).
    let manifest = std::fs::read_to_string(dir.join("plugboard.toml")).unwrap();
    let v1 = manifest.replace("path = \"/items/{id}/quote\"\n", "path = \"/items/{id}/quote\"\npayload = \"v1\"\n");
    assert_ne!(v1, manifest);
    std::fs::write(dir.join("plugboard.toml"), v1).unwrap();
    let dev = Dev::start(&dir);
    let writer = jwt(&["POST /items", "PUT /items/*"]);
    let reader = jwt(&["GET /items/*"]);
    let item = r#"{"id":"lamp","name":"Desk lamp","price":25}"#;

    // No token: 401 without calling the authorizer; a token for other routes: 403.
    assert_eq!(dev.send("POST", "/items", &[], item).await.status, 401);
    assert_eq!(dev.send("POST", "/items", &[("authorization", &reader)], item).await.status, 403);
    let created =
        dev.send("POST", "/items", &[("authorization", &writer), ("content-type", "application/json")], item).await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(created.header("location"), Some("/items/lamp"));
    let put = dev.send("PUT", "/items/lamp", &[("authorization", &writer)], r#"{"name":"Desk lamp","price":30}"#).await;
    assert_eq!(put.status, 200);
    // The writer's cached policy does not allow DELETE: 403 from the cache, no new call.
    assert_eq!(dev.send("DELETE", "/items/lamp", &[("authorization", &writer)], "").await.status, 403);
    let calls = dev.admin("GET", "authorizers").await;
    assert_eq!(calls["gatekeeper"], 2, "one call per distinct token within the TTL: {calls}");

    // Public reads, path parameters and the query string reach the guest.
    let got = dev.send("GET", "/items/lamp", &[], "").await;
    assert_eq!((got.status, got.json()["price"].clone()), (200, json!(30)));
    let quote = dev.send("GET", "/items/lamp/quote?quantity=100", &[], "").await;
    assert_eq!(quote.status, 200, "{}", String::from_utf8_lossy(&quote.body));
    assert_eq!(quote.json()["total"], json!(2625.0), "quotes ran through the internal API: {}", quote.json());
    assert_eq!(dev.send("GET", "/nowhere", &[], "").await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_api_answers_the_aws_sdk() {
    let dev = Dev::start(&app_dir(&[]));
    let sdk = plugboard::backends::aws::sdk_config(Some(&dev.url)).await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let payload = json!({ "sku": "w1", "unit_price": 2.5, "quantity": 100 }).to_string();
    let sync =
        lambda.invoke().function_name("quotes").payload(payload.clone().into_bytes().into()).send().await.unwrap();
    assert_eq!(sync.status_code, 200);
    assert_eq!(sync.function_error, None);
    let answer: Value = serde_json::from_slice(sync.payload.unwrap().as_ref()).unwrap();
    assert_eq!(answer["total"], json!(218.75));

    let event = lambda
        .invoke()
        .function_name("arn:aws:lambda:us-east-1:000000000000:function:quotes")
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(payload.into_bytes().into())
        .send()
        .await
        .unwrap();
    assert_eq!(event.status_code, 202);

    let failed = lambda.invoke().function_name("quotes").payload(b"{\"sku\":1}".to_vec().into()).send().await.unwrap();
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    let missing = lambda.invoke().function_name("nope").send().await.unwrap_err();
    assert!(missing.into_service_error().is_resource_not_found_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_messages_reach_the_worker_poison_goes_to_the_dlq_and_state_survives_a_restart() {
    let dir = app_dir(&[]);
    let dev = Dev::start(&dir);
    let mut accepted = 0;
    for i in 0..20 {
        let body = json!({ "id": format!("evt-{i}"), "event": "order.created", "amount": i }).to_string();
        let answer = dev.send("POST", "/webhooks", &pairs(&signed(&body)), &body).await;
        assert_eq!(answer.status, 202, "{}", String::from_utf8_lossy(&answer.body));
        accepted += 1;
    }
    let poison = json!({ "id": "poison-1", "kind": "no event field" }).to_string();
    assert_eq!(dev.send("POST", "/webhooks", &pairs(&signed(&poison)), &poison).await.status, 202);
    assert_eq!(dev.send("POST", "/webhooks", &[("x-signature", "sha256=00")], &poison).await.status, 401);

    // The good ones are processed and deleted; the poison one fails alone, twice, then moves.
    let stats = dev
        .wait_for_queues("poison in the DLQ, source empty", |s| {
            depth(s, "plugboard-events") == 0 && depth(s, "plugboard-events-dlq") == 1
        })
        .await;
    assert_eq!(depth(&stats, "plugboard-events-dlq"), 1);
    let peeked: Value = serde_json::from_str(&dev.queue_cli(&["peek", "plugboard-events-dlq"])).unwrap();
    assert_eq!(peeked[0]["body"].as_str(), Some(poison.as_str()));
    assert!(dev.queue_cli(&["list"]).contains("plugboard-events-dlq"));

    // A restart (the process killed, not stopped) keeps the dead letter and the key-value data.
    drop(dev);
    let dev = Dev::start(&dir);
    assert_eq!(depth(&dev.admin("GET", "queues").await, "plugboard-events-dlq"), 1);
    // Redrive brings it back to the source queue, where it fails again and returns to the DLQ.
    assert!(dev.queue_cli(&["redrive", "plugboard-events-dlq"]).contains("moved 1 message(s)"));
    dev.wait_for_queues("poison redriven and dead again", |s| {
        depth(s, "plugboard-events-dlq") == 1 && depth(s, "plugboard-events") == 0
    })
    .await;
    drop(dev);

    // Every good event is in the worker's table exactly once.
    let db = plugboard::backends::embedded::EmbeddedDb::open(&dir.join(".plugboard"), false).unwrap();
    let kv = plugboard::backends::embedded::EmbeddedKeyValue::new(db);
    use plugboard::capabilities::keyvalue::KeyValueBackend;
    let table = kv.open("plugboard-events-store").await.unwrap();
    let keys = table.list_keys(None).await.unwrap().keys;
    assert_eq!(keys.iter().filter(|k| k.starts_with("event/")).count(), accepted, "{keys:?}");
    assert_eq!(common::counted(&table.get("count/order.created").await.unwrap().unwrap()), 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_guest_is_hot_reloaded_and_a_broken_one_is_not() {
    let dir = app_dir(&[("quotes", "quotes.wasm")]);
    let dev = Dev::start(&dir);
    let call = || {
        dev.send(
            "POST",
            "/2015-03-31/functions/quotes/invocations",
            &[],
            r#"{"ops":[],"sku":"w1","unit_price":1,"quantity":1}"#,
        )
    };
    assert!(call().await.json()["total"].is_number(), "quotes serves first");

    std::fs::write(dir.join("quotes.wasm"), guest("chaos")).unwrap();
    let started = Instant::now();
    while call().await.json() != json!({ "results": [] }) {
        assert!(started.elapsed() < Duration::from_secs(10), "the new guest never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(dir.join("quotes.wasm"), b"not a component").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(call().await.json(), json!({ "results": [] }), "the broken build is not swapped in");
}

#[test]
fn manifest_errors_name_the_place() {
    use plugboard::manifest::Manifest;
    let dir = app_dir(&[]);
    let base = std::fs::read_to_string(dir.join("plugboard.toml")).unwrap();
    let cases = [
        (
            base.replace("function = \"webhook-ingest\"", "function = \"webhook-ingets\""),
            "no function `webhook-ingets`",
        ),
        (
            base.replace("function = \"gatekeeper\"", "function = \"quotes\""),
            "authorizers.gatekeeper: function `quotes` is internal-api",
        ),
        (
            base.replace("events = \"plugboard-events\"", "events = \"plugboard-evnts\""),
            "grants.queues: no queue `plugboard-evnts`",
        ),
        (
            base.replace("dead-letter = \"plugboard-events-dlq\"", "dead-letter = \"nowhere\""),
            "queues.plugboard-events.dead-letter",
        ),
        (base.replace("batch-size = 10", "batch-size = 10\nbatch-sise = 3"), "unknown field `batch-sise`"),
        (base.replace("path = \"/items/{id}/quote\"", "path = \"/items/{rest+}/quote\""), "greedy"),
    ];
    for (text, expected) in cases {
        std::fs::write(dir.join("plugboard.toml"), &text).unwrap();
        let err = Manifest::load(&dir.join("plugboard.toml")).unwrap_err().to_string();
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
    }
    std::fs::write(dir.join("plugboard.toml"), &base).unwrap();
    let manifest = Manifest::load(&dir.join("plugboard.toml")).unwrap();
    assert_eq!(manifest.functions.len(), 6);
    assert_eq!(
        manifest.tables(),
        ["plugboard-api-keys", "plugboard-events-store", "plugboard-items", "plugboard-pricing"]
    );
}

#[test]
fn routes_match_like_api_gateway() {
    use plugboard::events::route::{RoutePattern, Router};
    let routes = [
        ("ANY", "/items/{proxy+}"),
        ("GET", "/items/{id}"),
        ("ANY", "/items/{id}"),
        ("GET", "/items/special"),
        ("GET", "/items"),
    ];
    let router = Router::new(routes.iter().map(|(m, p)| RoutePattern::parse(m, p).unwrap()).collect());
    let pick = |method: &str, path: &str| {
        router.find(method, path).map(|(i, _, params)| (i, params.into_iter().collect::<Vec<_>>()))
    };
    assert_eq!(pick("GET", "/items/special"), Some((3, vec![])), "a literal beats a parameter");
    assert_eq!(pick("GET", "/items/7"), Some((1, vec![("id".into(), "7".into())])), "a named method beats ANY");
    assert_eq!(pick("DELETE", "/items/7"), Some((2, vec![("id".into(), "7".into())])));
    assert_eq!(pick("GET", "/items/7/parts/x"), Some((0, vec![("proxy".into(), "7/parts/x".into())])), "greedy last");
    assert_eq!(pick("GET", "/items"), Some((4, vec![])));
    assert_eq!(pick("GET", "/other"), None);
}

#[test]
fn proxy_responses_are_written_back_faithfully() {
    use plugboard::events::EventResponse;
    use plugboard::events::http::from_proxy_response;
    let read =
        |value: serde_json::Value| from_proxy_response(&EventResponse::HttpApi(serde_json::from_value(value).unwrap()));
    let response = read(json!({
        "statusCode": 201,
        "headers": { "Content-Type": "image/png", "x-one": "1" },
        "multiValueHeaders": { "x-many": ["a", "b"] },
        "cookies": ["s=1; HttpOnly", "t=2"],
        "body": base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150]),
        "isBase64Encoded": true,
    }));
    assert_eq!(response.status, 201);
    assert_eq!(response.body, [0u8, 159, 146, 150]);
    let headers =
        |name: &str| response.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
    assert_eq!(headers("content-type"), ["image/png"]);
    assert_eq!(headers("x-many"), ["a", "b"]);
    assert_eq!(headers("set-cookie"), ["s=1; HttpOnly", "t=2"]);
    assert_eq!(read(json!({ "statusCode": -1, "cookies": [], "body": "no status" })).status, 502);
    let not_http = serde_json::from_value(json!({ "batchItemFailures": [] })).unwrap();
    assert_eq!(from_proxy_response(&EventResponse::Sqs(not_http)).status, 502);
}

#[tokio::test(flavor = "multi_thread")]
async fn python_and_javascript_guests_run_in_dev_like_rust_ones() {
    let dir = app_dir(&[]);
    let manifest = std::fs::read_to_string(dir.join("plugboard.toml")).unwrap();
    let swapped = manifest
        .replace("/webhook_worker.wasm\"", "/webhook_worker_py.wasm\"")
        .replace("/gatekeeper.wasm\"", "/token_authorizer_js.wasm\"")
        .replace(
            "config = { jwt_secret = \"secret:jwt-secret\", default_routes = \"GET /items,GET /items/*\" }",
            r#"config = { tokens = '{"tok-dev": {"principal": "dev", "routes": ["POST /items"]}}' }"#,
        );
    assert_eq!(
        swapped.matches("_py.wasm").count() + swapped.matches("_js.wasm").count() + swapped.matches("tok-dev").count(),
        3
    );
    std::fs::write(dir.join("plugboard.toml"), swapped).unwrap();
    let dev = Dev::start(&dir);
    // The JavaScript authorizer in front of a write route.
    let item = json!({ "id": "js-lamp", "price": 3 }).to_string();
    assert_eq!(dev.send("POST", "/items", &[], &item).await.status, 401);
    assert_eq!(dev.send("POST", "/items", &[("authorization", "Bearer tok-other")], &item).await.status, 401);
    assert_eq!(dev.send("POST", "/items", &[("authorization", "Bearer tok-dev")], &item).await.status, 201);
    // The Python worker behind the webhook queue.
    for i in 0..3 {
        let body = json!({ "id": format!("py-{i}"), "event": "order.created" }).to_string();
        assert_eq!(dev.send("POST", "/webhooks", &pairs(&signed(&body)), &body).await.status, 202);
    }
    dev.wait_for_queues("the Python worker drained the queue", |s| depth(s, "plugboard-events") == 0).await;
    drop(dev);
    let db = plugboard::backends::embedded::EmbeddedDb::open(&dir.join(".plugboard"), false).unwrap();
    let kv = plugboard::backends::embedded::EmbeddedKeyValue::new(db);
    use plugboard::capabilities::keyvalue::KeyValueBackend;
    let table = kv.open("plugboard-events-store").await.unwrap();
    assert_eq!(common::counted(&table.get("count/order.created").await.unwrap().unwrap()), 3);
    assert!(table.get("event/py-1").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wasi_http_component_serves_gateway_and_alb_routes_in_dev() {
    let dir = app_dir(&[]);
    let manifest = std::fs::read_to_string(dir.join("plugboard.toml")).unwrap();
    let swapped = manifest.replace("/items_api.wasm\"", "/wasi_http_echo.wasm\"")
        + "\n[[routes]]\nmethod = \"GET\"\npath = \"/alb/{proxy+}\"\nfunction = \"items\"\npayload = \"alb\"\n";
    assert!(swapped.contains("wasi_http_echo"));
    std::fs::write(dir.join("plugboard.toml"), swapped).unwrap();
    let dev = Dev::start(&dir);
    let answer = dev.send("GET", "/items?x=1", &[("x-plugboard-principal-id", "forged")], "").await;
    assert_eq!(answer.status, 200);
    let echo: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(echo["path_with_query"], "/items?x=1");
    assert!(!echo["headers"].as_array().unwrap().iter().any(|h| h[1] == "forged"), "{echo}");
    let alb = dev.send("GET", "/alb/thing?q=a%20b", &[], "").await;
    assert_eq!(alb.status, 200);
    let echo: Value = serde_json::from_slice(&alb.body).unwrap();
    assert_eq!(echo["path_with_query"], "/alb/thing?q=a+b", "ALB's raw query, decoded for the guest");
}

#[tokio::test(flavor = "multi_thread")]
async fn web_pages_cannot_drive_the_invoke_and_admin_apis() {
    let dev = Dev::start(&app_dir(&[]));
    let mint = "/2015-03-31/functions/gatekeeper-admin/invocations";
    let key_request = r#"{"action":"create","name":"attacker","routes":["* /*"]}"#;
    // What a page may send cross-origin without a preflight, or with its own Origin.
    for headers in [
        vec![("content-type", "text/plain;charset=UTF-8"), ("origin", "null")],
        vec![("content-type", "text/plain")],
        vec![("content-type", "application/x-www-form-urlencoded")],
        vec![("content-type", "multipart/form-data; boundary=x")],
        vec![("content-type", "application/json"), ("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
    ] {
        let answer = dev.send("POST", mint, &headers, key_request).await;
        assert!(matches!(answer.status, 403 | 415), "{headers:?}: {}", answer.status);
    }
    assert_eq!(
        dev.send("POST", "/_plugboard/queues/plugboard-events-dlq/redrive", &[("origin", "https://evil.example")], "")
            .await
            .status,
        403
    );
    // DNS rebinding: the page's own host name arrives in Host, on every path.
    let port = dev.url.rsplit(':').next().unwrap();
    let rebound = format!("evil.example:{port}");
    assert_eq!(dev.send("GET", "/_plugboard/queues", &[("host", &rebound)], "").await.status, 403);
    assert_eq!(dev.send("GET", "/items", &[("host", &rebound)], "").await.status, 403);
    assert_eq!(dev.send("GET", "/items", &[("host", &format!("localhost:{port}"))], "").await.status, 200);

    // The developer's own tools still work: the SDK's octet-stream, the CLI's bare POST,
    // `plugboard queue`, and app routes called from any origin.
    let quote = r#"{"sku":"w1","unit_price":1,"quantity":1}"#;
    let octet = dev
        .send(
            "POST",
            "/2015-03-31/functions/quotes/invocations",
            &[("content-type", "application/octet-stream")],
            quote,
        )
        .await;
    assert_eq!(octet.status, 200);
    let cli = dev
        .send(
            "POST",
            "/2015-03-31/functions/quotes/invocations",
            &[("user-agent", "aws-cli/2.17.0"), ("x-amz-invocation-type", "RequestResponse")],
            quote,
        )
        .await;
    assert!(cli.json()["total"].is_number(), "{}", String::from_utf8_lossy(&cli.body));
    assert!(dev.queue_cli(&["list"]).contains("plugboard-events"));
    assert_eq!(dev.send("GET", "/items", &[("origin", "https://app.example")], "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_cut_off_and_cannot_hold_every_connection() {
    use std::io::{Read, Write};
    let dev = Dev::start(&app_dir(&[]));
    let limit = plugboard::dev::HEADER_READ_TIMEOUT;
    // Every connection slot taken by a client that never finishes its headers.
    let idle: Vec<std::net::TcpStream> = (0..plugboard::dev::MAX_CONNECTIONS)
        .map(|_| {
            let mut slow = std::net::TcpStream::connect(dev.url.trim_start_matches("http://")).unwrap();
            slow.write_all(b"GET /items HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
            slow
        })
        .collect();
    // The next client waits for a slot: it is served once the slow ones are cut off.
    let started = Instant::now();
    assert_eq!(dev.send("GET", "/items", &[], "").await.status, 200);
    let waited = started.elapsed();
    assert!(
        waited >= limit - Duration::from_millis(1500) && waited < limit + Duration::from_secs(5),
        "served after {waited:?}"
    );
    for mut slow in idle {
        slow.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut rest = Vec::new();
        let read = slow.read_to_end(&mut rest);
        let still_open = matches!(&read, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
        assert!(!still_open, "a slow client's connection was closed: {read:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_authorizer_cache_keys_on_the_identity_the_authorizer_saw_and_forgets_on_reload() {
    let dir = app_dir(&[("gatekeeper", "gatekeeper.wasm")]);
    let dev = Dev::start(&dir);
    let writer = jwt(&["POST /items"]);
    let item = r#"{"id":"mug","name":"Mug","price":5}"#;
    // Two identity headers: the event carries the last, so the decision is cached under it...
    let both =
        dev.send("POST", "/items", &[("authorization", "Bearer forged"), ("authorization", &writer)], item).await;
    assert_eq!(both.status, 201, "{}", String::from_utf8_lossy(&both.body));
    // ... and the forged first value alone gets no cached allow.
    assert_eq!(dev.send("POST", "/items", &[("authorization", "Bearer forged")], item).await.status, 401);

    // A reloaded authorizer decides afresh: its cached decisions go with the old guest.
    let calls = || async { dev.admin("GET", "authorizers").await["gatekeeper"].as_u64().unwrap() };
    let item2 = r#"{"id":"cup","name":"Cup","price":4}"#;
    assert_eq!(dev.send("POST", "/items", &[("authorization", &writer)], item2).await.status, 201);
    let before = calls().await;
    std::fs::write(dir.join("gatekeeper.wasm"), guest("gatekeeper")).unwrap();
    let started = Instant::now();
    loop {
        let item = json!({ "id": format!("i{}", started.elapsed().as_millis()), "name": "x", "price": 1 }).to_string();
        assert_eq!(dev.send("POST", "/items", &[("authorization", &writer)], &item).await.status, 201);
        if calls().await > before {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the reloaded authorizer was never asked");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn method_arns_are_normalised_so_deny_patterns_hold() {
    use plugboard::events::authorizer::{Verdict, evaluate};
    use plugboard::events::http::Request;
    let policy = serde_json::from_value(json!({ "principalId": "p", "policyDocument": { "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:local/*/*" },
        { "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:local/*/GET/items/secret" },
    ] } }))
    .unwrap();
    for path in ["/items/secret", "//items/secret", "/items/secret/", "/items//secret"] {
        let request = Request { method: "GET".into(), path: path.into(), ..Request::default() };
        assert_eq!(evaluate(&policy, &request.method_arn("local", "$default")), Verdict::Forbidden, "{path}");
    }
    let root = Request { method: "GET".into(), path: "/".into(), ..Request::default() };
    assert!(root.method_arn("local", "dev").ends_with("local/dev/GET/"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_cwasm_runs_in_dev_as_on_lambda_and_an_unpinned_one_is_refused() {
    use plugboard::dev::DevApp;
    use plugboard::manifest::Manifest;
    let dir = app_dir(&[]);
    let runtime = plugboard::runtime::Runtime::new(plugboard::runtime::EngineSettings::default()).unwrap();
    let cwasm = runtime.precompile(&guest("quotes")).unwrap();
    std::fs::write(dir.join("quotes.cwasm"), &cwasm).unwrap();
    let digest = hex::encode(<Sha256 as sha2::Digest>::digest(&cwasm));
    let manifest = std::fs::read_to_string(dir.join("plugboard.toml")).unwrap();
    let dist = root().join("guests/dist").display().to_string();
    let quotes = format!("guest = \"{dist}/quotes.wasm\"");
    assert!(manifest.contains(&quotes));
    let write = |guest: &str| std::fs::write(dir.join("plugboard.toml"), manifest.replace(&quotes, guest)).unwrap();
    write(&format!("guest = \"quotes.cwasm\"\nguest-sha256 = \"{digest}\""));
    let app = DevApp::load(Manifest::load(&dir.join("plugboard.toml")).unwrap(), true, Default::default())
        .await
        .expect("a pinned .cwasm loads");
    let quote = json!({ "sku": "lamp", "unit_price": 2.0, "quantity": 3 });
    let answer = app.function("quotes").unwrap().handle(quote, Default::default()).await.expect("it serves");
    assert!(answer.get("total").is_some(), "{answer}");
    drop(app);
    write("guest = \"quotes.cwasm\"");
    let refused = DevApp::load(Manifest::load(&dir.join("plugboard.toml")).unwrap(), true, Default::default()).await;
    let err = format!("{:#}", refused.err().expect("an unpinned .cwasm is refused"));
    assert!(err.contains("precompiled"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
