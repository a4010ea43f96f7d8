//! Faults from AWS: a stub on 127.0.0.1 in front of moto injects DynamoDB throttling, SQS 5xx,
//! slow responses and dropped connections. Each ends one invocation cleanly within its deadline
//! (the SDK retrying what its policy retries), nothing is lost — a queue record that could not
//! be stored is reported in `batchItemFailures`, never deleted — and the next call works.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{self, call, config, dynamodb_table, failed_ids, guest, runtime, sqs_event, status_body};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use plugboard::backends::aws::DynamoDbKeyValue;
use plugboard::capabilities::keyvalue::KeyValueBackend;
use plugboard::function::Function;
use plugboard::runtime::Guest;
use serde_json::{Value, json};

/// What the stub does to one request.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// DynamoDB's `ProvisionedThroughputExceededException` (HTTP 400, retryable throttling).
    Throttle,
    /// HTTP 500, as a service having a bad moment.
    ServerError,
    /// Forward, but only after this long.
    Slow(Duration),
    /// Close the connection without answering.
    Drop,
}

/// A fault plan: the next requests get these faults in turn (then `always`, if set), the rest
/// are forwarded to moto.
#[derive(Default)]
struct Plan {
    next: VecDeque<Fault>,
    always: Option<Fault>,
}

/// The stub: its URL, its plan and how many requests it saw.
struct Stub {
    url: String,
    plan: Arc<Mutex<Plan>>,
    seen: Arc<AtomicUsize>,
}

impl Stub {
    async fn start() -> Stub {
        let upstream = std::env::var("PLUGBOARD_TEST_AWS_ENDPOINT").expect("run with scripts/test.sh (moto)");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (plan, seen) = (Arc::new(Mutex::new(Plan::default())), Arc::new(AtomicUsize::new(0)));
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let (p, s) = (plan.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (plan, seen, client, upstream) = (p.clone(), s.clone(), client.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                        let (plan, seen, client, upstream) =
                            (plan.clone(), seen.clone(), client.clone(), upstream.clone());
                        async move { answer(request, &plan, &seen, &client, &upstream).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Stub { url, plan, seen }
    }

    fn fail_next(&self, faults: &[Fault]) {
        self.plan.lock().unwrap().next.extend(faults.iter().copied());
    }

    fn fail_always(&self, fault: Option<Fault>) {
        self.plan.lock().unwrap().always = fault;
    }

    fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    async fn sdk(&self) -> aws_config::SdkConfig {
        plugboard::backends::aws::sdk_config(Some(&self.url)).await
    }
}

/// One request: a fault from the plan, or moto's answer.
async fn answer(
    request: hyper::Request<Incoming>,
    plan: &Mutex<Plan>,
    seen: &AtomicUsize,
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    upstream: &str,
) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    seen.fetch_add(1, Ordering::SeqCst);
    let fault = {
        let mut plan = plan.lock().unwrap();
        plan.next.pop_front().or(plan.always)
    };
    let error = |status: u16, kind: &str| {
        let body = json!({ "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": "injected by the test stub" });
        hyper::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amzn-query-error", format!("{kind};Sender"))
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    };
    match fault {
        Some(Fault::Throttle) => return Ok(error(400, "ProvisionedThroughputExceededException")),
        Some(Fault::ServerError) => return Ok(error(500, "InternalServerError")),
        Some(Fault::Drop) => {
            return Err(std::io::Error::other("connection dropped by the test stub"));
        }
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    let (mut parts, body) = request.into_parts();
    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    parts.uri = format!("{upstream}{path}").parse().unwrap();
    let forwarded = hyper::Request::from_parts(parts, Full::new(bytes));
    let response = client.request(forwarded).await.map_err(std::io::Error::other)?;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    Ok(hyper::Response::from_parts(parts, Full::new(bytes)))
}

/// The chaos probe over DynamoDB and SQS behind `stub`, with `timeout_ms` per invocation.
async fn probe(stub: &Stub, table: &str, timeout_ms: u64) -> Function {
    let mut cfg = config(&format!("role = \"internal-api\"\n[limits]\ntimeout-ms = {timeout_ms}"));
    cfg.grants.stores.insert("data".into(), table.into());
    let loaded = Guest::load(&runtime(), &guest("chaos"), cfg.role).unwrap();
    Function::new("probe", cfg, runtime(), loaded, crate::aws_backends(&stub.sdk().await, 25))
}

async fn fresh_table() -> String {
    dynamodb_table(&aws_sdk_dynamodb::Client::new(&common::aws().await), "faults").await
}

fn ops(list: Value) -> Value {
    json!({ "ops": list })
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_by_the_sdk_and_then_reported_to_the_guest_within_its_deadline() {
    let stub = Stub::start().await;
    let table = fresh_table().await;
    let f = probe(&stub, &table, 5000).await;
    // Twice throttled, then moto answers: the SDK's retries absorb it.
    stub.fail_next(&[Fault::Throttle, Fault::Throttle]);
    let before = stub.seen();
    let r = call(&f, ops(json!([{ "op": "kv.set", "store": "data", "key": "a", "value": "1" }]))).await.unwrap();
    assert_eq!(r["results"][0], "ok", "{r}");
    assert_eq!(stub.seen() - before, 3, "two throttled attempts and one that went through");
    // Throttled for good: the guest gets the error, the invocation ends well within its budget.
    stub.fail_always(Some(Fault::Throttle));
    let started = Instant::now();
    let r = call(&f, ops(json!([{ "op": "kv.get", "store": "data", "key": "a" }]))).await.unwrap();
    let text = r["results"][0]["error"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("ProvisionedThroughputExceeded"), "{r}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    println!("AWS fault, throttled for good: {text:?} after {:?}", started.elapsed());
    stub.fail_always(None);
    let r = call(&f, ops(json!([{ "op": "kv.get", "store": "data", "key": "a" }]))).await.unwrap();
    assert_eq!(r["results"][0], "1", "the next call works: {r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_or_dropped_response_ends_the_invocation_at_its_deadline() {
    let stub = Stub::start().await;
    let table = fresh_table().await;
    let f = probe(&stub, &table, 800).await;
    stub.fail_always(Some(Fault::Slow(Duration::from_secs(5))));
    let started = Instant::now();
    let outcome = call(&f, ops(json!([{ "op": "kv.get", "store": "data", "key": "a" }]))).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(1500), "bounded by the 800 ms budget: {elapsed:?}");
    let text = match outcome {
        Ok(r) => r.to_string(),
        Err(e) => format!("{}: {}", e.error_type, e.error_message),
    };
    assert!(text.to_ascii_lowercase().contains("deadline") || text.contains("Timeout"), "{text}");
    println!("AWS fault, 5 s response: {text} after {elapsed:?}");
    // Connections dropped without an answer: retried, then an error, never a hang.
    stub.fail_always(Some(Fault::Drop));
    let started = Instant::now();
    let outcome = call(&f, ops(json!([{ "op": "kv.get", "store": "data", "key": "a" }]))).await;
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    let text = match outcome {
        Ok(r) => r["results"][0]["error"].as_str().unwrap_or_default().to_string(),
        Err(e) => e.error_message,
    };
    assert!(!text.is_empty(), "a dropped connection is an error the guest or caller sees");
    println!("AWS fault, dropped connections: {text:?} after {:?}", started.elapsed());
    stub.fail_always(None);
    let r = call(&f, ops(json!([{ "op": "kv.set", "store": "data", "key": "b", "value": "2" }]))).await.unwrap();
    assert_eq!(r["results"][0], "ok", "the next call works: {r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sqs_errors_make_the_webhook_answer_retry_later_and_a_failed_store_keeps_the_record() {
    let stub = Stub::start().await;
    let sdk = stub.sdk().await;
    let moto = common::aws().await;
    let sqs = aws_sdk_sqs::Client::new(&moto);
    let url = sqs
        .create_queue()
        .queue_name(format!("faults-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let table = fresh_table().await;
    let (ingest, worker) = crate::webhook_pair(&crate::aws_backends(&sdk, 25), &url, &table, "");
    let body = r#"{"id":"evt-1","event":"invoice.paid"}"#;
    let event = || crate::signed_webhook(body, "evt-1");
    // SQS failing: the sender is told to retry (503), not that the event was taken (202).
    stub.fail_always(Some(Fault::ServerError));
    assert_eq!(status_body(&call(&ingest, event()).await.unwrap()).0, 503);
    stub.fail_always(None);
    assert_eq!(status_body(&call(&ingest, event()).await.unwrap()).0, 202, "the sender's retry goes through");

    // DynamoDB throttled for good: the record is reported failed (SQS keeps it), not dropped.
    let batch = sqs_event("arn:aws:sqs:us-east-1:123456789012:events", &[body]);
    stub.fail_always(Some(Fault::Throttle));
    let response = call(&worker, batch.clone()).await.unwrap();
    assert_eq!(failed_ids(&response).len(), 1, "{response}");
    stub.fail_always(None);
    let response = call(&worker, batch).await.unwrap();
    assert!(failed_ids(&response).is_empty(), "the redelivery is stored: {response}");
    let kv = DynamoDbKeyValue::new(aws_sdk_dynamodb::Client::new(&moto), 25);
    let stored = kv.open(&table).await.unwrap().get("count/invoice.paid").await.unwrap().unwrap();
    assert_eq!(common::counted(&stored), 1);
}
