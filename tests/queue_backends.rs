//! The SQS queue backend over the wire against moto's server, and the Scalable Webhook
//! pattern end to end on SQS and DynamoDB; `aws_faults` puts a fault-injecting stub in front.

#[path = "queue_backends/aws_faults.rs"]
mod aws_faults;
mod common;

use std::sync::Arc;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use common::{aws, call, config, dynamodb_table, guest, http_event, runtime, status_body};
use plugboard::backends::aws::{DynamoDbKeyValue, SqsQueue};
use plugboard::backends::local::LocalInvoker;
use plugboard::bindings::plugboard::host::queue::AttributeValue;
use plugboard::capabilities::http::{client::PooledSender, network::Network};
use plugboard::capabilities::queue::{OutgoingMessage, QueueBackend, QueueError};
use plugboard::function::{Backends, Function, Invocation};
use plugboard::runtime::Guest;
use plugboard::telemetry::TraceContext;
use serde_json::{Value, json};

async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&aws().await)
}

async fn create_queue(client: &aws_sdk_sqs::Client, fifo: bool) -> (String, String) {
    create_queue_with(client, fifo, false).await
}

async fn create_queue_with(client: &aws_sdk_sqs::Client, fifo: bool, content_based: bool) -> (String, String) {
    let name = format!("q-{}{}", uuid::Uuid::new_v4().simple(), if fifo { ".fifo" } else { "" });
    let mut request = client.create_queue().queue_name(&name);
    if fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
        request = request.attributes(QueueAttributeName::ContentBasedDeduplication, content_based.to_string());
    }
    let url = request.send().await.expect("create queue in moto").queue_url.unwrap();
    (name, url)
}

fn message(body: &str) -> OutgoingMessage {
    OutgoingMessage {
        body: body.into(),
        attributes: vec![],
        delay_seconds: None,
        group_id: None,
        deduplication_id: None,
    }
}

async fn receive(client: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let output = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    output.messages.unwrap_or_default()
}

#[tokio::test]
async fn sends_keep_body_attributes_and_report_per_entry() {
    let client = sqs().await;
    let (name, url) = create_queue(&client, false).await;
    let backend = SqsQueue::new(client.clone());
    let mut first = message("hello");
    first.attributes = vec![
        ("kind".into(), AttributeValue::Text("greeting".into())),
        ("n".into(), AttributeValue::Number("7".into())),
        ("raw".into(), AttributeValue::Binary(vec![0, 1, 2])),
    ];
    // By name (resolved to the URL), then by URL.
    let ids = backend.send_batch(&name, vec![first, message("second")], None).await.unwrap();
    assert!(ids.iter().all(Result::is_ok), "{ids:?}");
    let ids = backend.send_batch(&url, vec![message("third")], None).await.unwrap();
    assert!(ids[0].is_ok());
    let mut got = receive(&client, &url).await;
    got.sort_by_key(|m| m.body.clone());
    let bodies: Vec<_> = got.iter().map(|m| m.body.clone().unwrap()).collect();
    assert_eq!(bodies, ["hello", "second", "third"]);
    let attrs = got[0].message_attributes.as_ref().unwrap();
    assert_eq!(attrs["kind"].string_value(), Some("greeting"));
    assert_eq!((attrs["n"].data_type(), attrs["n"].string_value()), ("Number", Some("7")));
    assert_eq!(attrs["raw"].binary_value().map(|b| b.as_ref().to_vec()), Some(vec![0, 1, 2]));
}

#[tokio::test]
async fn fifo_sends_carry_group_and_deduplication_ids() {
    let client = sqs().await;
    let (name, url) = create_queue(&client, true).await;
    let backend = SqsQueue::new(client.clone());
    let mut a = message("a");
    a.group_id = Some("g1".into());
    a.deduplication_id = Some("d1".into());
    let mut again = a.clone();
    again.body = "a again".into();
    let results = backend.send_batch(&name, vec![a, again], None).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let got = receive(&client, &url).await;
    assert_eq!(got.len(), 1, "the duplicate was dropped by SQS");
    let system = got[0].attributes.as_ref().unwrap();
    assert_eq!(system[&MessageSystemAttributeName::MessageGroupId], "g1");
}

/// Sends to a FIFO queue without (`strict`) and with (`by_content`) content-based
/// deduplication: a send without an id is refused on the first, deduplicated by body on the other.
async fn dedup_scenario(backend: &dyn QueueBackend, strict: &str, by_content: &str) {
    let fifo = |body: &str, dedup: Option<&str>| OutgoingMessage {
        group_id: Some("g".into()),
        deduplication_id: dedup.map(Into::into),
        ..message(body)
    };
    // The entry without an id fails alone; the others in its batch go through.
    let r = backend
        .send_batch(strict, vec![fifo("no id", None), fifo("with id", Some("d1")), fifo("same id", Some("d1"))], None)
        .await
        .unwrap();
    assert!(
        matches!(&r[0], Err(QueueError::InvalidMessage(m)) if m.to_ascii_lowercase().contains("deduplication")),
        "{r:?}"
    );
    assert!(r[1].is_ok() && r[2].is_ok(), "{r:?}");
    let r = backend.send_batch(by_content, vec![fifo("same body", None), fifo("same body", None)], None).await.unwrap();
    assert!(r.iter().all(Result::is_ok), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fifo_deduplication_follows_the_queue_mode_on_every_backend() {
    use plugboard::backends::embedded::{EmbeddedDb, EmbeddedQueues, QueueSettings};
    use plugboard::backends::memory::MemoryQueue;
    // SQS (moto): the reference.
    let client = sqs().await;
    let (strict, strict_url) = create_queue_with(&client, true, false).await;
    let (by_content, by_content_url) = create_queue_with(&client, true, true).await;
    dedup_scenario(&SqsQueue::new(client.clone()), &strict, &by_content).await;
    assert_eq!((receive(&client, &strict_url).await.len(), receive(&client, &by_content_url).await.len()), (1, 1));

    let memory = MemoryQueue::new();
    memory.create_queue("strict.fifo");
    memory.create_queue_with("content.fifo", true);
    dedup_scenario(&memory, "strict.fifo", "content.fifo").await;
    assert_eq!((memory.messages("strict.fifo").len(), memory.messages("content.fifo").len()), (1, 1));

    let dir = std::env::temp_dir().join(format!("plugboard-dedup-{}", uuid::Uuid::new_v4().simple()));
    let settings = |content_based_dedup| QueueSettings {
        fifo: true,
        content_based_dedup,
        visibility_timeout_ms: 30_000,
        max_receives: None,
        dead_letter: None,
    };
    let settings = [("strict.fifo".to_string(), settings(false)), ("content.fifo".to_string(), settings(true))];
    let embedded = EmbeddedQueues::new(EmbeddedDb::open(&dir, false).unwrap(), settings.into_iter().collect());
    dedup_scenario(&embedded, "strict.fifo", "content.fifo").await;
    assert_eq!(
        (embedded.peek("strict.fifo", 10).unwrap().len(), embedded.peek("content.fifo", 10).unwrap().len()),
        (1, 1)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_missing_queue_is_no_such_queue() {
    let backend = SqsQueue::new(sqs().await);
    assert!(matches!(
        backend.send_batch("never-created", vec![message("x")], None).await,
        Err(QueueError::NoSuchQueue)
    ));
}

/// DynamoDB (pages of `page`) and SQS backends over `sdk`, with an in-process invoker.
fn aws_backends(sdk: &aws_config::SdkConfig, page: i32) -> Backends {
    Backends {
        keyvalue: Arc::new(DynamoDbKeyValue::new(aws_sdk_dynamodb::Client::new(sdk), page)),
        queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk))),
        invoker: Arc::new(LocalInvoker::new()),
        http: common::no_outbound_http(),
    }
}

/// The example webhook ingest (secret `k`, sending to `url`) and worker (storing in `table`,
/// with `worker_extra` TOML lines: grants and config of its own); each has the outbound HTTP
/// its grants name.
fn webhook_pair(backends: &Backends, url: &str, table: &str, worker_extra: &str) -> (Function, Function) {
    let load = |name: &str, toml: String| {
        let cfg = config(&toml);
        let loaded = Guest::load(&runtime(), &guest(name), cfg.role).unwrap();
        let http = Arc::new(PooledSender::system(&cfg.grants.http, Network::Local));
        Function::new(name, cfg, runtime(), loaded, Backends { http, ..backends.clone() })
    };
    let ingest = load(
        "webhook_ingest",
        format!("role = \"http-api\"\n[grants.queues]\nevents = \"{url}\"\n[config]\nwebhook_secret = \"k\""),
    );
    let worker = load(
        "webhook_worker",
        format!("role = \"queue-worker\"\n{worker_extra}\n[grants.stores]\nevents = \"{table}\""),
    );
    (ingest, worker)
}

/// `POST /webhooks` with `body`, signed now with secret `k` for idempotency `key`.
fn signed_webhook(body: &str, key: &str) -> Value {
    let mut event = http_event("POST", "/webhooks", Some(body));
    for (name, value) in common::webhook_headers(b"k", key, body) {
        event["headers"][name] = value.into();
    }
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn scalable_webhook_over_sqs_and_dynamodb_continues_the_senders_trace() {
    let config_aws = aws().await;
    let sqs_client = aws_sdk_sqs::Client::new(&config_aws);
    let dynamo = aws_sdk_dynamodb::Client::new(&config_aws);
    let (_, url) = create_queue(&sqs_client, false).await;
    let table = dynamodb_table(&dynamo, "events").await;
    // The downstream the worker forwards to keeps the trace headers it was sent.
    let seen: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
    let kept = seen.clone();
    let (port, _) = common::serve_http(move |request: hyper::Request<hyper::body::Incoming>| {
        let kept = kept.clone();
        async move {
            let header =
                |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            kept.lock().unwrap().push((header("x-amzn-trace-id"), header("traceparent")));
            hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from_static(b"ok")))
        }
    })
    .await;
    let worker_extra = format!(
        "grants.http = [\"http://127.0.0.1:{port}\"]\nconfig = {{ downstream_url = \"http://127.0.0.1:{port}/events\" }}"
    );
    let (ingest, worker) = webhook_pair(&aws_backends(&config_aws, 100), &url, &table, &worker_extra);

    // Lambda hands the ingest function the trace of the API request.
    let trace = "Root=1-6752ae00-5e1f00000000000000000042;Parent=7a1b2c3d4e5f6071;Sampled=1";
    let body = r#"{"id":"evt-9","event":"invoice.paid"}"#;
    let invocation =
        Invocation { request_id: "r-1".into(), trace: TraceContext::from_xray(trace), ..Invocation::default() };
    let answer = ingest.handle(signed_webhook(body, "evt-9"), invocation).await.unwrap();
    assert_eq!(status_body(&answer).0, 202);

    // Build the SQS event Lambda's event source would, from what is really on the queue.
    let records: Vec<Value> = receive(&sqs_client, &url)
        .await
        .into_iter()
        .map(|m| {
            let attrs = m.message_attributes.unwrap_or_default();
            let system = m.attributes.unwrap_or_default();
            let trace = system.get(&MessageSystemAttributeName::AwsTraceHeader).cloned().unwrap_or_default();
            json!({
                "messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                "attributes": { "ApproximateReceiveCount": "1", "AWSTraceHeader": trace },
                "messageAttributes": attrs.iter().map(|(k, v)| (k.clone(), json!({ "stringValue": v.string_value(), "dataType": v.data_type() }))).collect::<serde_json::Map<_, _>>(),
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events",
            })
        })
        .collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["attributes"]["AWSTraceHeader"], trace, "SQS kept the sender's trace");
    let response = call(&worker, json!({ "Records": records })).await.unwrap();
    assert_eq!(response["batchItemFailures"], json!([]));
    let item = dynamo
        .get_item()
        .table_name(&table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S("count/invoice.paid".into()))
        .send()
        .await
        .unwrap();
    let count = item.item.unwrap()["VAL"].as_b().unwrap().as_ref().to_vec();
    assert_eq!(common::counted(&count), 1);
    // The worker continued the record's trace on its call downstream.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [(trace.to_string(), "00-6752ae005e1f00000000000000000042-7a1b2c3d4e5f6071-01".to_string())],
        "ingest -> SQS -> worker -> downstream, one trace"
    );
}
