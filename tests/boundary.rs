//! The trust boundary through a real hostile guest (the chaos guest): whatever it asks for, the
//! host's memory stays bounded (batch sizes, handles, answers, output), time limits hold (an
//! invocation past its deadline fails at once, FIFO records out of time are reported), and a
//! forged invoke depth cannot reopen a recursion. Each invocation ends cleanly; the next works.
//! `fuzz_corpus` replays the fuzz targets' corpus and crash inputs.

mod common;
#[path = "boundary/fuzz_corpus.rs"]
mod fuzz_corpus;

use std::time::{Duration, Instant};

use common::{call, config, failed_ids, guest, http_event, runtime, single, sqs_event, status_body};
use plugboard::app::LocalApp;
use plugboard::capabilities::MAX_HANDLES;
use plugboard::capabilities::keyvalue::{MAX_BATCH_BYTES, MAX_BATCH_KEYS};
use plugboard::function::{Function, Invocation};
use plugboard::roles::http_api::MAX_RESPONSE_HEADERS;
use serde_json::{Value, json};

const PROBE: &str = r#"
role = "internal-api"
[grants.stores]
data = "table-data"
[grants.queues]
jobs = "jobs"
ordered = "jobs.fifo"
[grants.functions]
helper = "helper"
[limits]
timeout-ms = 5000
memory-mb = 96
max-invoke-depth = 3
"#;

fn app() -> LocalApp {
    let mut app = LocalApp::new(runtime());
    app.add("helper", config("role = \"internal-api\""), &guest("chaos")).unwrap();
    app.add("probe", config(PROBE), &guest("chaos")).unwrap();
    app
}

async fn probe_with(function: &Function, ops: Value, invocation: Invocation) -> Vec<Value> {
    let answer = function.handle(json!({ "ops": ops }), invocation).await.expect("probe runs");
    answer["results"].as_array().expect("results").clone()
}

async fn probe(app: &LocalApp, ops: Value) -> Vec<Value> {
    probe_with(&app.function("probe").unwrap(), ops, Invocation::default()).await
}

fn error_text(v: &Value) -> String {
    v["error"].as_str().unwrap_or_else(|| panic!("expected an error, got {v}")).to_string()
}

#[tokio::test]
async fn batch_calls_are_refused_past_dynamodbs_limits_before_the_host_copies_them() {
    let app = app();
    let r = probe(
        &app,
        json!([
            { "op": "kv.set-many", "store": "data", "key": "k", "distinct": MAX_BATCH_KEYS },
            { "op": "kv.get-many", "store": "data", "key": "k", "distinct": MAX_BATCH_KEYS },
            { "op": "kv.get-many", "store": "data", "key": "k", "distinct": MAX_BATCH_KEYS + 1 },
            { "op": "kv.delete-many", "store": "data", "key": "k", "times": 20_000 },
            { "op": "kv.set-many", "store": "data", "key": "k", "distinct": MAX_BATCH_KEYS + 1 },
        ]),
    )
    .await;
    assert_eq!(r[0], json!("ok"));
    assert_eq!(r[1].as_array().map(Vec::len), Some(MAX_BATCH_KEYS), "{}", r[1]);
    for refused in &r[2..] {
        assert!(error_text(refused).contains(&format!("at most {MAX_BATCH_KEYS}")), "{refused}");
    }
    // 100 values of 200 KB (each a valid item) are 20 MB: over the 16 MiB a batch may carry;
    // 44 values of 390 KB read back at once (17.2 MB) are too.
    let big: Vec<String> = (0..40).map(|i| format!("big-{i}")).chain((0..4).map(|i| format!("more-{i}"))).collect();
    let r = probe(
        &app,
        json!([
            { "op": "kv.set-many", "store": "data", "key": "huge", "distinct": 100, "value": { "repeat": 200_000 } },
            { "op": "kv.set-many", "store": "data", "key": "big", "distinct": 40, "value": { "repeat": 390_000 } },
            { "op": "kv.set-many", "store": "data", "key": "more", "distinct": 4, "value": { "repeat": 390_000 } },
            { "op": "kv.get-many", "store": "data", "keys": big },
            { "op": "kv.get-many", "store": "data", "key": "k", "distinct": 3 },
        ]),
    )
    .await;
    assert!(error_text(&r[0]).contains(&format!("{MAX_BATCH_BYTES}-byte limit")), "{}", r[0]);
    assert_eq!((&r[1], &r[2]), (&json!("ok"), &json!("ok")), "15.6 MB in one batch is fine");
    assert!(error_text(&r[3]).contains(&format!("{MAX_BATCH_BYTES}-byte limit")), "44 x 390 KB read: {}", r[3]);
    assert_eq!(r[4].as_array().map(Vec::len), Some(3), "small batches still work: {}", r[4]);
}

#[tokio::test]
async fn a_batch_naming_a_key_twice_is_refused_as_dynamodb_refuses_it() {
    let app = app();
    let r = probe(
        &app,
        json!([
            { "op": "kv.get-many", "store": "data", "key": "k", "times": 2 },
            { "op": "kv.set-many", "store": "data", "keys": ["a", "b", "a"] },
            { "op": "kv.delete-many", "store": "data", "keys": ["a", "a"] },
            { "op": "kv.get", "store": "data", "key": "a" },
        ]),
    )
    .await;
    for refused in &r[..3] {
        assert!(error_text(refused).contains("contains duplicates"), "{refused}");
    }
    assert_eq!(r[3], Value::Null, "nothing of the refused batch was written");
}

#[tokio::test]
async fn queue_messages_are_measured_in_guest_memory_before_they_are_copied() {
    let app = app();
    let thirty_kb: Vec<Value> = (0..10).map(|_| json!({ "body": { "repeat": 30_000 } })).collect();
    let r = probe(&app, json!([
        { "op": "queue.send", "queue": "ordered", "message": { "body": "a", "group": "g".repeat(129) } },
        { "op": "queue.send", "queue": "ordered", "message": { "body": "a", "group": "g", "dedup": "d".repeat(129) } },
        { "op": "queue.send-batch", "queue": "jobs", "messages": thirty_kb },
        { "op": "queue.send", "queue": "q".repeat(300), "message": { "body": "a" } },
        { "op": "queue.send", "queue": "ordered", "message": { "body": "a", "group": "g".repeat(128), "dedup": "d".repeat(128) } },
    ])).await;
    assert!(error_text(&r[0]).contains("message group id is 129 bytes"), "{}", r[0]);
    assert!(error_text(&r[1]).contains("deduplication id is 129 bytes"), "{}", r[1]);
    assert!(error_text(&r[2]).contains("batch is 300000 bytes"), "{}", r[2]);
    assert!(error_text(&r[3]).contains("AccessDenied"), "{}", r[3]);
    assert!(r[4].is_string(), "SQS's own limit is fine: {}", r[4]);
    assert_eq!(app.queues.messages("jobs.fifo").len(), 1);
    assert!(app.queues.messages("jobs").is_empty());
}

#[tokio::test]
async fn a_guest_flooding_handles_is_refused_at_the_table_cap_and_the_next_call_works() {
    let app = app();
    let r = probe(&app, json!([{ "op": "kv.cas-flood", "store": "data", "key": "k".repeat(2000) }])).await;
    // The store handle is the one other entry the probe holds.
    assert_eq!(r[0]["held"].as_u64(), Some(MAX_HANDLES as u64 - 1), "{}", r[0]);
    assert!(r[0]["error"].as_str().is_some_and(|e| e.contains("ResourceLimit")), "{}", r[0]);
    let r = probe(&app, json!([{ "op": "kv.get", "store": "data", "key": "k" }])).await;
    assert_eq!(r[0], Value::Null);
}

#[tokio::test]
async fn an_oversized_answer_is_refused_and_the_next_call_works() {
    let app = app();
    let probe_fn = app.function("probe").unwrap();
    let err = call(&probe_fn, json!({ "ops": [{ "op": "answer", "bytes": 7 * 1024 * 1024 }] })).await.unwrap_err();
    assert_eq!(err.error_type, "ResponseTooLarge");
    assert_eq!(probe(&app, json!([{ "op": "answer", "bytes": 3 }])).await, [json!("aaa")]);
}

#[tokio::test]
async fn output_past_the_cap_is_dropped_without_trapping_the_guest() {
    let (_app, f) = single("chaos", "chaos", "role = \"http-api\"");
    // 200 KiB through println!, three times the 64 KiB kept.
    let (status, body) = status_body(&call(&f, http_event("GET", "/misbehave/print:200", None)).await.unwrap());
    assert_eq!((status, body["survived"].as_str()), (200, Some("print:200")));
}

#[tokio::test]
async fn an_answer_is_measured_before_it_is_copied() {
    let (_app, f) = single("chaos", "chaos", "role = \"http-api\"");
    let (status, _) =
        status_body(&call(&f, http_event("GET", &format!("/headers/{MAX_RESPONSE_HEADERS}"), None)).await.unwrap());
    assert_eq!(status, 204);
    let err = call(&f, http_event("GET", &format!("/headers/{}", MAX_RESPONSE_HEADERS + 1), None)).await.unwrap_err();
    assert_eq!(err.error_type, "InvalidResponse");
    assert!(err.error_message.contains(&format!("at most {MAX_RESPONSE_HEADERS}")), "{err}");
    let err = call(&f, http_event("GET", &format!("/big/{}", 7 * 1024 * 1024), None)).await.unwrap_err();
    assert_eq!(err.error_type, "ResponseTooLarge");
    let (status, _) = status_body(&call(&f, http_event("GET", "/echo", None)).await.unwrap());
    assert_eq!(status, 200, "the next request works");
}

#[tokio::test]
async fn a_forged_depth_cannot_wrap_around_the_invoke_limit() {
    let app = app();
    let probe_fn = app.function("probe").unwrap();
    let forged = Invocation { depth: u32::MAX, ..Invocation::default() };
    let r =
        probe_with(&probe_fn, json!([{ "op": "invoke.call", "target": "helper", "payload": { "ops": [] } }]), forged)
            .await;
    assert!(error_text(&r[0]).ends_with("DepthExceeded"), "{}", r[0]);
}

#[tokio::test]
async fn a_deadline_failure_reports_the_budget_that_applied() {
    let (_app, f) = single("chaos", "chaos", "role = \"internal-api\"\n[limits]\ntimeout-ms = 10000");
    let invocation = Invocation {
        deadline: Some(tokio::time::Instant::now() + Duration::from_millis(300)),
        ..Invocation::default()
    };
    let err = f.handle(json!({ "ops": [{ "op": "loop" }] }), invocation).await.unwrap_err();
    let budget: u64 = err
        .error_message
        .split(" ms budget")
        .next()
        .and_then(|head| head.rsplit('(').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no budget in {}", err.error_message));
    assert!((150..=300).contains(&budget), "{}", err.error_message);
}

#[tokio::test]
async fn records_with_no_time_left_are_reported_not_run() {
    let (_app, f) = single("chaos", "chaos", "role = \"queue-worker\"\n[limits]\ntimeout-ms = 10000");
    const FIFO: &str = "arn:aws:sqs:us-east-1:123456789012:jobs.fifo";
    const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:jobs";
    for queue in [FIFO, QUEUE] {
        // Lambda's deadline has already passed: nothing may run on borrowed time.
        let invocation = Invocation { deadline: Some(tokio::time::Instant::now()), ..Invocation::default() };
        let started = Instant::now();
        let response =
            f.handle(sqs_event(queue, &["sleep:1000", "sleep:1000", "sleep:1000"]), invocation).await.unwrap();
        assert_eq!(failed_ids(&response), ["msg-0", "msg-1", "msg-2"], "{queue}");
        assert!(started.elapsed() < Duration::from_millis(500), "{queue}: {:?}", started.elapsed());
    }
    // With time left, the same batch runs.
    let response = f.handle(sqs_event(FIFO, &["sleep:10", "sleep:10"]), Invocation::default()).await.unwrap();
    assert!(failed_ids(&response).is_empty(), "{response}");
}

/// An `internal-api` component answering `{}`, with two more memories of `hog_mib` MiB each:
/// Rust toolchains emit one memory, so this one is written in the text format.
fn many_memories(hog_mib: u32) -> Vec<u8> {
    let pages = hog_mib * 16;
    let text = format!(
        r#"(component
  (import "plugboard:host/types@0.1.0" (instance $types
    (type $record (record (field "error-type" string) (field "message" string)))
    (export "function-error" (type (eq $record)))))
  (alias export $types "function-error" (type $function-error))
  (core module $main
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
      (global.set $next (i32.add (local.get $at) (local.get 3)))
      (local.get $at))
    (data (i32.const 64) "{{}}")
    (func (export "handle") (param i32 i32) (result i32)
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.store (i32.const 20) (i32.const 64))
      (i32.store (i32.const 24) (i32.const 2))
      (i32.const 16)))
  (core module $hog (memory (export "memory") {pages}))
  (core instance $m (instantiate $main))
  (core instance $first (instantiate $hog))
  (core instance $second (instantiate $hog))
  (func $handle (param "payload" string) (result (result string (error $function-error)))
    (canon lift (core func $m "handle") (memory $m "memory") (realloc (func $m "realloc"))))
  (instance $handler (export "handle" (func $handle)))
  (export "plugboard:host/internal-handler@0.1.0" (instance $handler)))"#
    );
    wat::parse_str(text).expect("the component text is valid")
}

#[tokio::test]
async fn the_memory_cap_counts_every_memory_of_the_component() {
    let mut app = LocalApp::new(runtime());
    // Two 20 MiB memories and a small one: each under 32 MiB, together over it.
    let component = many_memories(20);
    let roomy = app.add("roomy", config("role = \"internal-api\"\n[limits]\nmemory-mb = 64"), &component).unwrap();
    let capped = app.add("capped", config("role = \"internal-api\"\n[limits]\nmemory-mb = 32"), &component).unwrap();
    assert_eq!(call(&roomy, json!({})).await.unwrap(), json!({}), "the component works within its cap");
    let err = call(&capped, json!({})).await.unwrap_err();
    assert!(err.error_message.contains("memory cap of 32 MiB"), "{err}");
    assert_eq!(call(&roomy, json!({})).await.unwrap(), json!({}));
}
