//! The dashboard and the admin token: the admin API answers only with the token the server
//! wrote (mode 0600) as a bearer token — the banner's URL carries it in its fragment for the
//! page; the Invoke API needs none; the overview shows what each function did and the page's
//! redrive moves messages.

use std::os::unix::fs::PermissionsExt as _;

use super::app_dir;
use crate::common::dev::Dev;
use plugboard::dev::admin::token::{AdminToken, FILE};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_needs_the_token_and_shows_what_the_functions_did() {
    let dev = Dev::start(&app_dir(&[]));
    let mode = std::fs::metadata(dev.state_dir.join(FILE)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token file is this user's only");
    let token = AdminToken::read(&dev.state_dir).unwrap();
    assert!(dev.dashboard.ends_with(&format!("/_plugboard/#token={}", token.secret())), "{}", dev.dashboard);

    // No token, a wrong one, a cookie: refused.
    assert_eq!(dev.send("GET", "/_plugboard/queues", &[], "").await.status, 401);
    assert_eq!(dev.send("GET", "/_plugboard/queues", &[("authorization", "Bearer nope")], "").await.status, 401);
    let cookie = format!("plugboard_admin={}", token.secret());
    assert_eq!(dev.send("GET", "/_plugboard/overview", &[("cookie", &cookie)], "").await.status, 401);
    // The page holds no data and no secret: served to anyone local, without the token.
    let page = dev.send("GET", "/_plugboard/", &[], "").await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("setInterval(refresh") && !html.contains(token.secret()), "the live page, no token in it");
    assert!(page.header("content-security-policy").is_some_and(|csp| csp.contains("connect-src 'self'")));

    // What a client does shows: a route, and a failed direct invoke (no token for the Invoke API).
    assert_eq!(dev.send("GET", "/items", &[], "").await.status, 200);
    let bad_quote = r#"{"sku":"x","unit_price":-1,"quantity":1}"#;
    let invoked = dev
        .send("POST", "/2015-03-31/functions/quotes/invocations", &[("content-type", "application/json")], bad_quote)
        .await;
    assert_eq!((invoked.status, invoked.header("x-amz-function-error").is_some()), (200, true));
    let bearer = format!("Bearer {}", token.secret());
    let overview = dev.send("GET", "/_plugboard/overview", &[("authorization", &bearer)], "").await;
    assert_eq!(overview.status, 200);
    let view = overview.json();
    let function = |view: &Value, name: &str| {
        view["functions"].as_array().unwrap().iter().find(|f| f["name"] == name).cloned().unwrap()
    };
    let items = function(&view, "items");
    assert!(items["invocations"].as_u64() >= Some(1) && items["p50_ms"].as_f64().is_some(), "{items}");
    let quotes = function(&view, "quotes");
    assert_eq!(quotes["errors"], 1, "{quotes}");
    assert!(quotes["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{quotes}");
    assert!(
        quotes["lines"].as_array().is_some_and(|l| l.iter().any(|l| l.as_str().unwrap().contains("invocation failed")))
    );
    assert!(view["routes"].as_array().unwrap().iter().any(|r| r["path"] == "/items/{id}"));
    assert!(view["authorizers"]["gatekeeper"]["cached"].is_array());

    // The page's redrive: same origin, the bearer token, JSON content type.
    let admin = dev.admin_client();
    let body = serde_json::json!({ "body": "from the dlq" }).to_string().into_bytes();
    admin.call_with("POST", "queues/plugboard-events-dlq/messages", "application/json", body).await.unwrap();
    let origin = dev.url.clone();
    let headers =
        [("authorization", bearer.as_str()), ("origin", origin.as_str()), ("content-type", "application/json")];
    let moved = dev.send("POST", "/_plugboard/queues/plugboard-events-dlq/redrive", &headers, "").await;
    assert_eq!(
        (moved.status, moved.json()["moved"].as_u64()),
        (200, Some(1)),
        "{}",
        String::from_utf8_lossy(&moved.body)
    );
}
