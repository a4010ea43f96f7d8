//! The `authorizer` adapter: TOKEN, REQUEST and HTTP API events to the exact API Gateway
//! response; unauthorized is 401, and every failure of the guest denies.

mod common;

use common::{call, fixture, single};
use plugboard::events::authorizer::wildcard_match;
use serde_json::{Value, json};

const REST: &str = "role = \"authorizer\"\n[limits]\ntimeout-ms = 300\nmemory-mb = 32";
const HTTP_SIMPLE: &str = "role = \"authorizer\"\nauthorizer-response = \"simple\"\n[limits]\ntimeout-ms = 300";
const HTTP_IAM: &str = "role = \"authorizer\"\nauthorizer-response = \"iam\"\n[limits]\ntimeout-ms = 300";

const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/orders/o-1";

fn token(token: &str) -> Value {
    let mut event = fixture("authorizer-token");
    event["authorizationToken"] = token.into();
    event
}

fn http_api(token: &str) -> Value {
    let mut event = fixture("authorizer-http-api");
    event["headers"]["authorization"] = token.into();
    event
}

#[tokio::test]
async fn token_allow_is_the_exact_rest_policy_response() {
    let (_app, f) = single("auth", "chaos", REST);
    let response = call(&f, token("allow")).await.unwrap();
    assert_eq!(
        response,
        json!({
            "principalId": "chaos-user",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{ "Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [METHOD_ARN] }]
            },
            "context": { "name": "chaos", "level": 3.0, "admin": true },
            "usageIdentifierKey": "usage-key-1"
        })
    );
}

#[tokio::test]
async fn unauthorized_is_the_error_rest_apis_turn_into_401() {
    let (_app, f) = single("auth", "chaos", REST);
    let err = call(&f, token("unauthorized")).await.unwrap_err();
    assert_eq!((err.error_type.as_str(), err.error_message.as_str()), ("Unauthorized", "Unauthorized"));
}

#[tokio::test]
async fn guest_failures_fail_closed_with_a_deny() {
    let (_app, f) = single("auth", "chaos", REST);
    for what in ["fail", "trap", "loop", "alloc:200"] {
        let response = call(&f, token(what)).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let statement = &response["policyDocument"]["Statement"][0];
        assert_eq!(statement["Effect"], "Deny", "{what}");
        assert_eq!(statement["Resource"], json!([METHOD_ARN]), "{what}");
    }
    let response = call(&f, token("allow")).await.unwrap();
    assert_eq!(response["policyDocument"]["Statement"][0]["Effect"], "Allow", "next one works");
}

#[tokio::test]
async fn request_event_passes_headers_and_path() {
    let (_app, f) = single("auth", "chaos", REST);
    let mut event = fixture("authorizer-request");
    event["headers"]["Authorization"] = "allow".into();
    event["multiValueHeaders"]["Authorization"] = json!(["allow"]);
    let response = call(&f, event).await.unwrap();
    assert_eq!(response["policyDocument"]["Statement"][0]["Effect"], "Allow");
}

#[tokio::test]
async fn http_api_simple_responses() {
    let (_app, f) = single("auth", "chaos", HTTP_SIMPLE);
    let allow = call(&f, http_api("allow")).await.unwrap();
    assert_eq!(allow, json!({ "isAuthorized": true, "context": { "name": "chaos", "level": 3.0, "admin": true } }));
    let deny = call(&f, http_api("deny")).await.unwrap();
    assert_eq!(deny["isAuthorized"], false);
    let unauthorized = call(&f, http_api("unauthorized")).await.unwrap();
    assert_eq!(unauthorized, json!({ "isAuthorized": false, "context": {} }));
    assert_eq!(call(&f, http_api("trap")).await.unwrap()["isAuthorized"], false);
}

#[tokio::test]
async fn http_api_events_get_route_scoped_iam_policies_by_default() {
    let (_app, f) = single("auth", "chaos", "role = \"authorizer\"");
    let allow = call(&f, http_api("allow")).await.unwrap();
    assert!(allow.get("isAuthorized").is_none(), "a cached yes/no would serve other routes: {allow}");
    assert_eq!(allow["policyDocument"]["Statement"][0]["Effect"], "Allow");
}

#[tokio::test]
async fn http_api_iam_responses() {
    let (_app, f) = single("auth", "chaos", HTTP_IAM);
    let allow = call(&f, http_api("allow")).await.unwrap();
    assert_eq!(allow["principalId"], "chaos-user");
    assert_eq!(allow["policyDocument"]["Statement"][0]["Effect"], "Allow");
    let unauthorized = call(&f, http_api("unauthorized")).await.unwrap();
    assert_eq!(unauthorized["policyDocument"]["Statement"][0]["Effect"], "Deny");
}

#[test]
fn a_star_in_the_pattern_stays_a_wildcard_where_the_text_has_a_star() {
    // Found by fuzzing (fuzz/regressions/matching): the `*` was taken as a literal there.
    let deny = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/DELETE/*";
    assert!(
        wildcard_match(deny, "arn:aws:execute-api:us-east-1:123456789012:abc/prod/DELETE/*admin"),
        "the deny holds"
    );
    assert!(wildcard_match("*", "*\nabcdef"));
    assert!(wildcard_match("a*c", "a*bc"));
}

#[test]
fn resource_patterns_match_like_iam() {
    assert!(wildcard_match(
        "arn:aws:execute-api:*:*:abc/prod/GET/orders/*",
        METHOD_ARN.replace("abcdef123", "abc").as_str()
    ));
    assert!(wildcard_match("*", METHOD_ARN));
    assert!(wildcard_match("arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/orders/o-?", METHOD_ARN));
    assert!(!wildcard_match("arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/*", METHOD_ARN));
    assert!(!wildcard_match("arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/orders", METHOD_ARN));
}
