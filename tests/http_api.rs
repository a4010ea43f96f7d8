//! The `http-api` adapter through the real host and the chaos guest: every event flavour in,
//! the exact Lambda response out, and bad input ending one invocation cleanly.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{call, fixture, http_event, single, status_body};
use serde_json::{Value, json};

const CHAOS: &str = r#"
role = "http-api"
[limits]
timeout-ms = 500
memory-mb = 32
"#;

fn echo(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().expect("text body")).expect("echo is JSON")
}

#[tokio::test]
async fn http_api_v2_event_reaches_the_guest_faithfully() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let response = call(&f, fixture("http-api-v2")).await.expect("response");
    assert_eq!(response["statusCode"], 200);
    let seen = echo(&response);
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["raw_path"], "/items/widget-1");
    assert_eq!(seen["route"], "/items/{id}");
    assert_eq!(seen["path_params"], json!([["id", "widget-1"]]));
    // Order and repeats of the raw query string survive.
    assert_eq!(seen["query"], json!([["verbose", "true"], ["tag", "a"], ["tag", "b"]]));
    let headers = seen["headers"].as_array().unwrap();
    assert!(headers.contains(&json!(["cookie", "session=abc; theme=dark"])), "{headers:?}");
    assert_eq!(seen["request_id"], "JKJaXmPLvHcESHA=");
    assert_eq!(seen["source_ip"], "205.255.255.176");
    assert_eq!(seen["stage"], "$default");
}

#[tokio::test]
async fn rest_api_v1_event_carries_authorizer_context() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let response = call(&f, fixture("rest-api-v1")).await.expect("response");
    let seen = echo(&response);
    assert_eq!(seen["raw_path"], "/items/widget-1", "v1 path has no stage");
    assert_eq!(seen["stage"], "prod");
    assert_eq!(seen["principal_id"], "user-42");
    assert_eq!(seen["authorizer"], json!({ "tenant": "acme", "tier": 2.0, "admin": false }));
    // v1 answers with multiValueHeaders only, so repeated headers survive.
    assert_eq!(response["multiValueHeaders"]["content-type"], json!(["application/json"]));
    assert_eq!(response["isBase64Encoded"], false);
}

#[tokio::test]
async fn function_url_base64_body_is_decoded() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let response = call(&f, fixture("function-url")).await.expect("response");
    let seen = echo(&response);
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["body"], r#"{"id":"gadget-7","name":"Gadget","price":2.5}"#);
    assert_eq!(seen["stage"], Value::Null);
}

#[tokio::test]
async fn named_stage_prefix_is_stripped_from_http_api_paths() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let mut event = http_event("GET", "/prod/items", None);
    event["requestContext"]["stage"] = "prod".into();
    let seen = echo(&call(&f, event).await.unwrap());
    assert_eq!(seen["raw_path"], "/items");
}

#[tokio::test]
async fn cookies_and_repeated_headers_survive_each_response_format() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let v2 = call(&f, http_event("GET", "/cookies", None)).await.unwrap();
    assert_eq!(v2["statusCode"], 204);
    assert_eq!(v2["cookies"], json!(["a=1; Path=/", "b=2; Path=/"]));
    assert_eq!(v2["headers"]["x-multi"], "one,two");
    assert!(v2["headers"].get("set-cookie").is_none());

    let mut v1 = fixture("rest-api-v1");
    v1["path"] = "/cookies".into();
    let v1 = call(&f, v1).await.unwrap();
    assert_eq!(v1["multiValueHeaders"]["set-cookie"], json!(["a=1; Path=/", "b=2; Path=/"]));
    assert_eq!(v1["multiValueHeaders"]["x-multi"], json!(["one", "two"]));
}

#[tokio::test]
async fn binary_response_is_base64_encoded() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let response = call(&f, http_event("GET", "/binary", None)).await.unwrap();
    assert_eq!(response["isBase64Encoded"], true);
    let body = BASE64.decode(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, vec![0x89, b'P', b'N', b'G', 0, 1, 2, 0xff]);
}

#[tokio::test]
async fn response_over_six_megabytes_is_an_error_not_a_truncation() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let ok = call(&f, http_event("GET", "/big/1000", None)).await.unwrap();
    assert_eq!(ok["body"].as_str().unwrap().len(), 1000);
    let err = call(&f, http_event("GET", &format!("/big/{}", 7 * 1024 * 1024), None)).await.unwrap_err();
    assert_eq!(err.error_type, "ResponseTooLarge");
}

#[tokio::test]
async fn trap_loop_and_memory_bomb_each_end_one_request_with_a_500() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    for what in ["trap", "loop", "alloc:100"] {
        let started = std::time::Instant::now();
        let response = call(&f, http_event("GET", &format!("/misbehave/{what}"), None)).await.unwrap();
        let (status, body) = status_body(&response);
        assert_eq!(status, 500, "{what}");
        assert_eq!(body, json!({ "message": "Internal Server Error" }));
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "{what} was stopped in time");
        // The next request on the same function works.
        let (status, _) = status_body(&call(&f, http_event("GET", "/echo", None)).await.unwrap());
        assert_eq!(status, 200, "after {what}");
    }
    // Below the cap, memory is fine.
    let (status, body) = status_body(&call(&f, http_event("GET", "/misbehave/alloc:8", None)).await.unwrap());
    assert_eq!((status, body["survived"].as_str()), (200, Some("alloc:8")));
}

#[tokio::test]
async fn each_request_gets_a_fresh_instance() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    for _ in 0..3 {
        let seen = echo(&call(&f, http_event("GET", "/echo", None)).await.unwrap());
        assert_eq!(seen["calls"], 1, "guest state leaked between requests");
    }
}

#[tokio::test]
async fn malformed_and_wrong_kind_events_are_clear_errors() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let err = call(&f, fixture("sqs")).await.unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent");
    assert!(err.error_message.contains("cannot handle a sqs event"), "{}", err.error_message);

    let err = call(&f, json!({ "hello": "world" })).await.unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent");

    let mut broken = fixture("http-api-v2");
    broken["requestContext"]["http"] = json!("not an object");
    let err = call(&f, broken).await.unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent");
    assert!(err.error_message.contains("malformed http-api event at `requestContext.http`"), "{}", err.error_message);

    // A REST event missing a nested field names the path to it, not just the field.
    let mut no_context_method = fixture("rest-api-v1");
    no_context_method["requestContext"].as_object_mut().unwrap().remove("httpMethod");
    let err = call(&f, no_context_method).await.unwrap_err();
    assert!(err.error_message.contains("at `requestContext`: missing field `httpMethod`"), "{}", err.error_message);

    let mut bad_base64 = fixture("function-url");
    bad_base64["body"] = "%%%".into();
    assert_eq!(call(&f, bad_base64).await.unwrap_err().error_type, "InvalidEvent");

    assert_eq!(call(&f, fixture("http-api-v2")).await.unwrap()["statusCode"], 200, "next one works");
}

#[tokio::test]
async fn alb_events_in_both_header_modes_are_answered_in_the_mode_they_came_in() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let single_mode = call(&f, fixture("alb")).await.expect("the ALB fixture is accepted");
    assert_eq!(single_mode["statusCode"], 200);
    assert_eq!(single_mode["statusDescription"], "200 OK");
    assert_eq!(single_mode["headers"]["content-type"], "application/json");
    let seen = echo(&single_mode);
    assert_eq!((seen["method"].as_str(), seen["raw_path"].as_str()), (Some("GET"), Some("/")));
    assert_eq!(seen["query"], json!([["key", "hello"]]));
    assert!(seen["headers"].as_array().unwrap().contains(&json!(["x-myheader", "123"])), "{seen}");
    assert_eq!(seen["source_ip"], "25.12.198.67", "the client, from X-Forwarded-For");
    assert_eq!(seen["request_id"], "Root=1-5c34e93e-4dea0086f9763ac0667b115a", "ALB's trace id");
    // A client's own X-Forwarded-For comes first; ALB appends what it saw.
    let mut spoofed = fixture("alb");
    spoofed["headers"]["x-forwarded-for"] = "10.0.0.1, 25.12.198.67".into();
    assert_eq!(echo(&call(&f, spoofed).await.unwrap())["source_ip"], "25.12.198.67");

    let multi = call(&f, fixture("alb-multi-value")).await.unwrap();
    assert_eq!(multi["multiValueHeaders"]["content-type"], json!(["application/json"]));
    assert_eq!(echo(&multi)["body"], "Some text");

    let mut cookies = fixture("alb-multi-value");
    cookies["path"] = "/cookies".into();
    let cookies = call(&f, cookies).await.unwrap();
    assert_eq!(cookies["statusDescription"], "204 No Content");
    assert_eq!(cookies["multiValueHeaders"]["set-cookie"], json!(["a=1; Path=/", "b=2; Path=/"]));
}

#[tokio::test]
async fn alb_query_parameters_arrive_encoded_and_reach_the_guest_decoded() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let mut event = fixture("alb");
    event["queryStringParameters"] = json!({ "q": "a%20b%26c", "name%3D": "x+y" });
    let seen = echo(&call(&f, event).await.unwrap());
    assert_eq!(seen["query"], json!([["name=", "x y"], ["q", "a b&c"]]));
}

#[tokio::test]
async fn an_alb_answer_over_one_megabyte_is_an_error() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let mut event = fixture("alb");
    event["path"] = format!("/big/{}", 1024 * 1024 + 1).into();
    let err = call(&f, event).await.unwrap_err();
    assert_eq!(err.error_type, "ResponseTooLarge");
    assert!(err.error_message.contains("ALB"), "{}", err.error_message);
    let mut event = fixture("alb");
    event["path"] = "/big/1000".into();
    assert_eq!(call(&f, event).await.unwrap()["statusCode"], 200, "under the limit it is answered");
}

const WASI_HTTP: &str = "role = \"http-api\"\ngrants.stores = { data = \"data\" }\n";

#[tokio::test]
async fn a_standard_wasi_http_component_gets_every_event_kind_as_a_request() {
    let (_app, f) = single("wasi-http", "wasi_http_echo", WASI_HTTP);
    let v2 = echo(&call(&f, fixture("http-api-v2")).await.unwrap());
    assert_eq!(v2["method"], "GET");
    // The query is re-encoded from the decoded pairs, in the order of `rawQueryString`.
    assert_eq!(v2["path_with_query"], "/items/widget-1?verbose=true&tag=a&tag=b");
    let headers = v2["headers"].as_array().unwrap();
    assert!(headers.contains(&json!(["x-plugboard-request-id", "JKJaXmPLvHcESHA="])), "{headers:?}");
    assert!(headers.contains(&json!(["x-plugboard-source-ip", "205.255.255.176"])), "{headers:?}");
    assert!(headers.contains(&json!(["cookie", "session=abc; theme=dark"])), "{headers:?}");

    let v1 = echo(&call(&f, fixture("rest-api-v1")).await.unwrap());
    let headers = v1["headers"].as_array().unwrap();
    assert!(headers.contains(&json!(["x-plugboard-principal-id", "user-42"])), "{headers:?}");
    assert!(headers.contains(&json!(["x-plugboard-authorizer-tenant", "acme"])), "{headers:?}");
    assert!(headers.contains(&json!(["x-plugboard-stage", "prod"])), "{headers:?}");

    let url = echo(&call(&f, fixture("function-url")).await.unwrap());
    assert_eq!(
        (url["method"].as_str(), url["body"].as_str()),
        (Some("POST"), Some(r#"{"id":"gadget-7","name":"Gadget","price":2.5}"#))
    );
    let alb = call(&f, fixture("alb")).await.unwrap();
    assert_eq!(alb["statusDescription"], "200 OK");
    assert_eq!(echo(&alb)["path_with_query"], "/?key=hello");
}

#[tokio::test]
async fn a_decoded_path_and_a_bad_host_reach_a_wasi_http_guest_intact() {
    let (_app, f) = single("wasi-http", "wasi_http_echo", WASI_HTTP);
    let mut event = fixture("rest-api-v1");
    // REST APIs hand over the decoded path: `?`, `#` and spaces must stay in it.
    event["path"] = "/files/a?admin=1#x y".into();
    event["headers"]["Host"] = "bad host".into();
    event["multiValueHeaders"]["Host"] = json!(["bad host"]);
    let seen = echo(&call(&f, event).await.unwrap());
    assert_eq!(seen["path_with_query"], "/files/a%3Fadmin=1%23x%20y?verbose=true", "{seen}");
    assert_eq!(seen["authority"], "localhost");
}

#[tokio::test]
async fn a_client_cannot_forge_the_context_headers_of_a_wasi_http_guest() {
    let (_app, f) = single("wasi-http", "wasi_http_echo", WASI_HTTP);
    let mut forged = fixture("rest-api-v1");
    forged["headers"]["X-Plugboard-Principal-Id"] = "admin".into();
    forged["multiValueHeaders"]["X-Plugboard-Principal-Id"] = json!(["admin"]);
    forged["headers"]["x-plugboard-authorizer-tier"] = "99".into();
    forged["multiValueHeaders"]["x-plugboard-authorizer-tier"] = json!(["99"]);
    let headers = echo(&call(&f, forged).await.unwrap())["headers"].as_array().unwrap().clone();
    let values = |name: &str| headers.iter().filter(|h| h[0] == name).map(|h| h[1].clone()).collect::<Vec<_>>();
    assert_eq!(values("x-plugboard-principal-id"), [json!("user-42")], "{headers:?}");
    assert_eq!(values("x-plugboard-authorizer-tier"), [json!("2")], "{headers:?}");
}

#[tokio::test]
async fn a_wasi_http_guest_answers_with_the_same_response_rules_and_reaches_key_value() {
    let (_app, f) = single("wasi-http", "wasi_http_echo", WASI_HTTP);
    let v2 = call(&f, http_event("GET", "/cookies", None)).await.unwrap();
    assert_eq!(v2["statusCode"], 204);
    assert_eq!(v2["cookies"], json!(["a=1; Path=/", "b=2; Path=/"]));
    assert_eq!(v2["headers"]["x-multi"], "one,two");
    let binary = call(&f, http_event("GET", "/binary", None)).await.unwrap();
    assert_eq!(binary["isBase64Encoded"], true);
    assert_eq!(BASE64.decode(binary["body"].as_str().unwrap()).unwrap(), vec![0x89, b'P', b'N', b'G', 0, 1, 2, 0xff]);
    assert_eq!(status_body(&call(&f, http_event("PUT", "/kv/k", Some("stored"))).await.unwrap()).0, 204);
    let (status, _) = status_body(&call(&f, http_event("GET", "/kv/k", None)).await.unwrap());
    assert_eq!(status, 200);
    let got = call(&f, http_event("GET", "/kv/k", None)).await.unwrap();
    assert_eq!(got["body"], "stored");
}

#[test]
fn a_component_of_neither_http_world_is_refused_naming_both() {
    let err = plugboard::runtime::Guest::load(
        &common::runtime(),
        &common::guest("webhook_worker"),
        plugboard::config::Role::HttpApi,
    )
    .err()
    .expect("a queue worker is no http-api guest")
    .to_string();
    assert!(
        err.contains("plugboard:host/http-handler@0.1.0") && err.contains("wasi:http/incoming-handler@0.2.x"),
        "{err}"
    );
    let err = plugboard::runtime::Guest::load(
        &common::runtime(),
        &common::guest("wasi_http_echo"),
        plugboard::config::Role::QueueWorker,
    )
    .err()
    .expect("a wasi:http component is no queue worker")
    .to_string();
    assert!(err.contains("queue-handler") && err.contains("wasi:http/incoming-handler"), "{err}");
}
