//! The capability layer through a real guest (the chaos probe): key-value, queue, invoke and
//! config behave like AWS, grants are an allow-list, and the guest sees nothing of the host.

mod common;

use common::{call, config, guest, runtime};
use std::sync::Arc;

use plugboard::app::LocalApp;
use plugboard::backends::local::LocalInvoker;
use plugboard::backends::memory::MemoryKeyValue;
use plugboard::function::{Backends, Function};
use plugboard::runtime::Guest;
use serde_json::{Value, json};

const PROBE: &str = r#"
role = "internal-api"
[grants.stores]
data = "table-data"
missing = "table-that-does-not-exist"
[grants.read-only-stores]
reference = "table-data"
[grants.queues]
jobs = "jobs"
ordered = "jobs.fifo"
[grants.functions]
helper = "helper"
self = "probe"
nowhere = "no-such-function"
[config]
region = "local"
mode = "test"
[limits]
timeout-ms = 2000
memory-mb = 64
max-invoke-depth = 3
"#;

/// An app with the probe and a helper it may invoke; `table-that-does-not-exist` is removed.
fn app() -> LocalApp {
    let mut app = LocalApp::new(runtime());
    let mut probe = config(PROBE);
    app.add("helper", config("role = \"internal-api\""), &guest("chaos")).unwrap();
    probe.grants.stores.remove("missing");
    app.add("probe", probe, &guest("chaos")).unwrap();
    app
}

/// Run `ops` in the probe and return each op's result.
async fn probe(app: &LocalApp, ops: Value) -> Vec<Value> {
    let f = app.function("probe").unwrap();
    let answer = call(&f, json!({ "ops": ops })).await.expect("probe runs");
    answer["results"].as_array().expect("results").clone()
}

fn error_text(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_else(|| panic!("expected an error, got {v}"))
}

#[tokio::test]
async fn key_value_basics_round_trip() {
    let app = app();
    let r = probe(
        &app,
        json!([
            { "op": "kv.set", "store": "data", "key": "a", "value": "1" },
            { "op": "kv.get", "store": "data", "key": "a" },
            { "op": "kv.exists", "store": "data", "key": "a" },
            { "op": "kv.delete", "store": "data", "key": "a" },
            { "op": "kv.get", "store": "data", "key": "a" },
            { "op": "kv.exists", "store": "data", "key": "a" },
        ]),
    )
    .await;
    assert_eq!(r, [json!("ok"), json!("1"), json!(true), json!("ok"), Value::Null, json!(false)]);
    assert!(app.keyvalue.table("table-data").unwrap().snapshot().is_empty());
}

#[tokio::test]
async fn list_keys_pages_with_a_cursor() {
    let app = app();
    let keys: Vec<String> = (0..250).map(|i| format!("k{i:03}")).collect();
    // Batches of at most 100 keys, DynamoDB's limit.
    let writes: Vec<Value> =
        keys.chunks(100).map(|chunk| json!({ "op": "kv.set-many", "store": "data", "keys": chunk })).collect();
    probe(&app, json!(writes)).await;
    let r = probe(&app, json!([{ "op": "kv.list", "store": "data" }])).await;
    assert_eq!(r[0], json!({ "keys": 250, "pages": 3, "first": "k000" }));
}

#[tokio::test]
async fn counters_and_compare_and_swap() {
    let app = app();
    let r = probe(
        &app,
        json!([
            { "op": "kv.increment", "store": "data", "key": "n", "delta": 5 },
            { "op": "kv.increment", "store": "data", "key": "n", "delta": -2 },
            { "op": "kv.cas", "store": "data", "key": "c", "value": "first" },
            { "op": "kv.cas", "store": "data", "key": "c", "value": "second" },
            { "op": "kv.cas", "store": "data", "key": "c", "value": "mine", "interfere": "theirs" },
            { "op": "kv.get", "store": "data", "key": "c" },
            { "op": "kv.set", "store": "data", "key": "text", "value": "abc" },
            { "op": "kv.increment", "store": "data", "key": "text" },
        ]),
    )
    .await;
    assert_eq!(r[0], 5);
    assert_eq!(r[1], 3);
    assert_eq!(r[2], json!({ "before": null, "swapped": true }));
    assert_eq!(r[3], json!({ "before": "first", "swapped": true }));
    assert_eq!(r[4], json!({ "before": "second", "swapped": false, "now": "theirs" }));
    assert_eq!(r[5], "theirs", "a lost swap writes nothing");
    assert!(error_text(&r[7]).contains("not a counter"));
}

#[tokio::test]
async fn a_swap_expects_what_the_handle_saw_when_it_was_made() {
    let app = app();
    let r = probe(&app, json!([
        // Never looked, key absent at `new`: insert-if-absent, so a racing insert wins.
        { "op": "kv.cas", "store": "data", "key": "blind", "value": "mine", "interfere": "theirs", "look": false },
        { "op": "kv.get", "store": "data", "key": "blind" },
        // Never looked, key present at `new`: a write in between makes the swap lose.
        { "op": "kv.cas", "store": "data", "key": "blind", "value": "mine", "interfere": "theirs again", "look": false },
        // The handle a lost swap returns carries the latest version: one more write beats it too.
        { "op": "kv.cas", "store": "data", "key": "blind", "value": "mine", "interfere": "x", "interfere-again": "y" },
        { "op": "kv.get", "store": "data", "key": "blind" },
        { "op": "kv.cas", "store": "data", "key": "calm", "value": "v", "interfere": "x", "interfere-again": null },
    ])).await;
    assert_eq!(r[0], json!({ "before": null, "swapped": false, "now": "theirs" }));
    assert_eq!(r[1], "theirs");
    assert_eq!(r[2], json!({ "before": null, "swapped": false, "now": "theirs again" }));
    assert_eq!(r[3], json!({ "before": "theirs again", "swapped": false, "retried": false }));
    assert_eq!(r[4], "y", "neither stale swap wrote");
    assert_eq!(r[5], json!({ "before": null, "swapped": false, "now": "x" }));
}

#[tokio::test]
async fn batch_operations() {
    let app = app();
    let r = probe(
        &app,
        json!([
            { "op": "kv.set-many", "store": "data", "keys": ["x", "y", "z"] },
            { "op": "kv.get-many", "store": "data", "keys": ["x", "nope", "z"] },
            { "op": "kv.delete-many", "store": "data", "keys": ["x", "y"] },
            { "op": "kv.get-many", "store": "data", "keys": ["x", "y", "z"] },
        ]),
    )
    .await;
    assert_eq!(r[1], json!([["x", "x"], ["nope", null], ["z", "z"]]));
    assert_eq!(r[3], json!([["x", null], ["y", null], ["z", "z"]]));
}

#[tokio::test]
async fn dynamodb_size_limits_are_enforced() {
    let app = app();
    let long_key = "k".repeat(2049);
    let r = probe(
        &app,
        json!([
            { "op": "kv.set", "store": "data", "key": "big", "value": { "repeat": 400 * 1024 } },
            { "op": "kv.set", "store": "data", "key": "fits", "value": { "repeat": 300 * 1024 } },
            { "op": "kv.set", "store": "data", "key": long_key, "value": "v" },
            { "op": "kv.get", "store": "data", "key": "" },
        ]),
    )
    .await;
    assert!(error_text(&r[0]).contains("exceeded the maximum allowed size"));
    assert_eq!(r[1], "ok");
    assert!(error_text(&r[2]).contains("key length 2049"));
    assert!(error_text(&r[3]).contains("key length 0"));
}

#[tokio::test]
async fn ungranted_and_missing_resources_are_errors_not_crashes() {
    let app = app();
    let r = probe(
        &app,
        json!([
            { "op": "kv.open", "store": "secret-table" },
            { "op": "kv.open", "store": "missing" },
            { "op": "queue.send", "queue": "other", "message": { "body": "x" } },
            { "op": "invoke.call", "target": "admin", "payload": {} },
            { "op": "invoke.call", "target": "nowhere", "payload": {} },
            { "op": "kv.set", "store": "data", "key": "still", "value": "works" },
        ]),
    )
    .await;
    assert!(error_text(&r[0]).ends_with("AccessDenied"));
    assert!(error_text(&r[1]).ends_with("AccessDenied"), "a store removed from the grants is denied");
    assert!(error_text(&r[2]).ends_with("AccessDenied"));
    assert!(error_text(&r[3]).ends_with("AccessDenied"));
    assert!(error_text(&r[4]).ends_with("NoSuchTarget"));
    assert_eq!(r[5], "ok");
}

#[tokio::test]
async fn a_read_only_store_reads_and_refuses_every_write() {
    let app = app();
    let r = probe(
        &app,
        json!([
            { "op": "kv.set", "store": "data", "key": "k", "value": "written" },
            { "op": "kv.get", "store": "reference", "key": "k" },
            { "op": "kv.exists", "store": "reference", "key": "k" },
            { "op": "kv.list", "store": "reference" },
            { "op": "kv.get-many", "store": "reference", "keys": ["k"] },
            { "op": "kv.set", "store": "reference", "key": "k", "value": "mine" },
            { "op": "kv.delete", "store": "reference", "key": "k" },
            { "op": "kv.increment", "store": "reference", "key": "n", "delta": 1 },
            { "op": "kv.cas", "store": "reference", "key": "k", "value": "mine" },
            { "op": "kv.set-many", "store": "reference", "keys": ["k"] },
            { "op": "kv.delete-many", "store": "reference", "keys": ["k"] },
            { "op": "kv.get", "store": "data", "key": "k" },
        ]),
    )
    .await;
    assert_eq!(r[1], "written");
    assert_eq!(r[2], true);
    assert_eq!(r[4], json!([["k", "written"]]));
    for (i, write) in r[5..11].iter().enumerate() {
        assert!(error_text(write).ends_with("AccessDenied"), "write {i}: {write}");
    }
    assert_eq!(r[11], "written", "nothing was written through the read-only grant");
}

#[tokio::test]
async fn a_granted_table_that_does_not_exist_is_no_such_store() {
    let app = app();
    let probe_config = config(PROBE);
    // A backend that never had the granted table, as when it was deleted after deploy.
    let backends = Backends {
        keyvalue: Arc::new(MemoryKeyValue::new()),
        queue: app.queues.clone(),
        invoker: Arc::new(LocalInvoker::new()),
        http: common::no_outbound_http(),
    };
    let loaded = Guest::load(&runtime(), &guest("chaos"), probe_config.role).unwrap();
    let f = Function::new("probe", probe_config, runtime(), loaded, backends);
    let answer =
        call(&f, json!({ "ops": [{ "op": "kv.open", "store": "missing" }, { "op": "config.get", "key": "mode" }] }))
            .await
            .unwrap();
    assert!(error_text(&answer["results"][0]).ends_with("NoSuchStore"));
    assert_eq!(answer["results"][1], "test", "the invocation goes on");
}

#[tokio::test]
async fn queue_sends_keep_attributes_and_follow_sqs_rules() {
    let app = app();
    let ten: Vec<Value> = (0..10).map(|i| json!({ "body": format!("m{i}") })).collect();
    let eleven: Vec<Value> = (0..11).map(|i| json!({ "body": format!("m{i}") })).collect();
    let r = probe(&app, json!([
        { "op": "queue.send", "queue": "jobs", "message": { "body": "hello", "attributes": { "kind": "greeting", "n": 7 }, "delay": 5 } },
        { "op": "queue.send", "queue": "jobs", "message": { "body": { "repeat": 256 * 1024 + 1 } } },
        { "op": "queue.send", "queue": "jobs", "message": { "body": "x", "delay": 901 } },
        { "op": "queue.send", "queue": "jobs", "message": { "body": "x", "dedup": "d" } },
        { "op": "queue.send", "queue": "ordered", "message": { "body": "no group" } },
        { "op": "queue.send", "queue": "ordered", "message": { "body": "a", "group": "g", "dedup": "1" } },
        { "op": "queue.send", "queue": "ordered", "message": { "body": "a again", "group": "g", "dedup": "1" } },
        { "op": "queue.send-batch", "queue": "jobs", "messages": ten },
        { "op": "queue.send-batch", "queue": "jobs", "messages": eleven },
        { "op": "queue.send-batch", "queue": "jobs", "messages": [{ "body": "good" }, { "body": "" }, { "body": "fine" }] },
    ])).await;
    assert!(r[0].is_string(), "{}", r[0]);
    assert!(error_text(&r[1]).contains("InvalidMessage"));
    assert!(error_text(&r[2]).contains("delay-seconds"));
    assert!(error_text(&r[3]).contains("only FIFO"));
    assert!(error_text(&r[4]).contains("group id"));
    assert_eq!(r[5], r[6], "a FIFO duplicate gets the first message's id");
    assert_eq!(r[7].as_array().unwrap().len(), 10);
    assert!(error_text(&r[8]).contains("1 to 10"));
    let entries = r[9].as_array().unwrap();
    assert!(entries[0].is_string() && entries[2].is_string());
    assert!(error_text(&entries[1]).contains("must not be empty"), "per-entry failure");

    let jobs = app.queues.messages("jobs");
    assert_eq!(jobs.len(), 1 + 10 + 2);
    assert_eq!(jobs[0].message.body, "hello");
    assert_eq!(jobs[0].message.delay_seconds, Some(5));
    assert_eq!(jobs[0].message.attributes.len(), 2);
    assert_eq!(app.queues.messages("jobs.fifo").len(), 1);
}

#[tokio::test]
async fn invoke_calls_other_functions_and_reports_their_errors() {
    let app = app();
    let r = probe(&app, json!([
        { "op": "invoke.call", "target": "helper", "payload": { "ops": [{ "op": "config.get", "key": "region" }] } },
        { "op": "invoke.call", "target": "helper", "payload": { "fail": { "error_type": "Nope", "message": "no way" } } },
        { "op": "invoke.event", "target": "helper", "payload": { "ops": [] } },
    ])).await;
    assert_eq!(
        serde_json::from_str::<Value>(r[0].as_str().unwrap()).unwrap(),
        json!({ "results": [null] }),
        "helper has its own config"
    );
    assert!(error_text(&r[1]).contains("FunctionFailed"));
    assert!(error_text(&r[1]).contains("Nope") && error_text(&r[1]).contains("no way"));
    assert_eq!(r[2], "ok");
}

#[tokio::test]
async fn an_invoke_chain_deeper_than_the_limit_fails_instead_of_looping() {
    let app = app();
    let r = probe(&app, json!([{ "op": "invoke.recurse", "target": "self" }])).await;
    // Depth 0 -> 1 -> 2 -> 3 run; the call to depth 4 is refused, and each level reports back.
    let mut text = r[0].as_str().expect("a nested answer").to_string();
    let mut levels = 1;
    while let Ok(inner) = serde_json::from_str::<Value>(&text) {
        let next = &inner["results"][0];
        match next.as_str() {
            Some(s) => text = s.to_string(),
            None => {
                assert!(error_text(next).ends_with("DepthExceeded"), "{next}");
                break;
            }
        }
        levels += 1;
    }
    assert_eq!(levels, 3);
}

#[tokio::test]
async fn config_values_are_the_functions_own() {
    let app = app();
    let r = probe(
        &app,
        json!([
            { "op": "config.get", "key": "region" },
            { "op": "config.get", "key": "absent" },
            { "op": "config.all" },
        ]),
    )
    .await;
    assert_eq!(r[0], "local");
    assert_eq!(r[1], Value::Null);
    assert_eq!(r[2], json!([["mode", "test"], ["region", "local"]]));
}

#[tokio::test]
async fn the_guest_sees_no_environment_filesystem_or_network() {
    // SAFETY: set before any thread reads it; the guest must not see it.
    unsafe { std::env::set_var("PLUGBOARD_TEST_SECRET", "hunter2") };
    let app = app();
    let r = probe(&app, json!([{ "op": "env" }, { "op": "fs" }, { "op": "net" }])).await;
    assert_eq!(r[0], json!([]), "no host environment variables");
    assert_eq!(r[1], false, "no filesystem");
    assert_eq!(r[2], false, "no sockets");
}

#[tokio::test]
async fn guest_errors_are_typed_function_errors() {
    let app = app();
    let f = app.function("probe").unwrap();
    let err = call(&f, json!({ "fail": { "error_type": "ValidationError", "message": "bad sku" } })).await.unwrap_err();
    assert_eq!((err.error_type.as_str(), err.error_message.as_str()), ("ValidationError", "bad sku"));
    let err = call(&f, json!({ "ops": [{ "op": "trap" }] })).await.unwrap_err();
    assert_eq!(err.error_type, "GuestFailed");
    assert!(err.error_message.contains("trapped"), "{}", err.error_message);
    let err = call(&f, json!({ "ops": [{ "op": "loop" }] })).await.unwrap_err();
    assert!(err.error_message.contains("deadline"), "{}", err.error_message);
    let err = call(&f, json!({ "ops": [{ "op": "alloc:200" }] })).await.unwrap_err();
    assert!(err.error_message.contains("memory cap of 64 MiB"), "{}", err.error_message);
}
