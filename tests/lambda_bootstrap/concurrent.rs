//! Lambda Managed Instances: several invocations at once in one bootstrap process. cargo-lambda's
//! emulator hands out one event at a time, so this runs the bootstrap against a small Runtime API
//! server of its own on 127.0.0.1 that gives every waiting `/next` poll an event at once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::metrics::{file, json_lines, scratch};
use super::{Processes, bootstrap, chaos, common};

/// One event the Runtime API hands out.
struct Event {
    request_id: String,
    deadline_ms: u64,
    trace_id: String,
    payload: Value,
}

/// What the bootstrap posted back for one request id.
#[derive(Debug, Clone)]
struct Answer {
    request_id: String,
    ok: bool,
    body: Value,
    at: Instant,
}

/// A Runtime API: `/next` takes the next queued event (waiting until there is one), answers and
/// errors are recorded with when they arrived.
struct RuntimeApi {
    port: u16,
    queue: mpsc::UnboundedSender<Event>,
    handed_out: Arc<Mutex<Vec<Instant>>>,
    answers: Arc<Mutex<Vec<Answer>>>,
}

impl RuntimeApi {
    async fn start() -> RuntimeApi {
        let (queue, events) = mpsc::unbounded_channel::<Event>();
        let events = Arc::new(tokio::sync::Mutex::new(events));
        let handed_out = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let (given, answered) = (handed_out.clone(), answers.clone());
        let (port, _) = common::serve_http(move |request: Request<hyper::body::Incoming>| {
            let (events, given, answered) = (events.clone(), given.clone(), answered.clone());
            async move {
                let path = request.uri().path().to_string();
                if path.ends_with("/invocation/next") {
                    let Some(event) = events.lock().await.recv().await else {
                        return Response::builder().status(500).body(Full::new(Bytes::new())).unwrap();
                    };
                    given.lock().unwrap().push(Instant::now());
                    return Response::builder()
                        .header("lambda-runtime-aws-request-id", &event.request_id)
                        .header("lambda-runtime-deadline-ms", event.deadline_ms.to_string())
                        .header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:1:function:_")
                        .header("lambda-runtime-trace-id", &event.trace_id)
                        .body(Full::new(Bytes::from(event.payload.to_string())))
                        .unwrap();
                }
                let body = request.into_body().collect().await.unwrap().to_bytes();
                let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
                if let [.., "invocation", id, outcome @ ("response" | "error")] = parts.as_slice() {
                    answered.lock().unwrap().push(Answer {
                        request_id: id.to_string(),
                        ok: *outcome == "response",
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        at: Instant::now(),
                    });
                }
                Response::builder().status(202).body(Full::new(Bytes::new())).unwrap()
            }
        })
        .await;
        RuntimeApi { port, queue, handed_out, answers }
    }

    /// Queue an event for the guest, due `deadline` from now.
    fn push(&self, request_id: &str, deadline: Duration, payload: Value) {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let root = format!("1-{:08x}-{}", now_ms / 1000, uuid::Uuid::new_v4().simple().to_string().split_at(24).0);
        self.queue
            .send(Event {
                request_id: request_id.to_string(),
                deadline_ms: now_ms + deadline.as_millis() as u64,
                trace_id: format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1"),
                payload,
            })
            .unwrap();
    }

    /// Wait (at most 30 s) for `count` answers in all.
    async fn answers(&self, count: usize) -> Vec<Answer> {
        let started = Instant::now();
        loop {
            let answers = self.answers.lock().unwrap().clone();
            if answers.len() >= count {
                return answers;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "only {} of {count} answers", answers.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn sleep(ms: u64) -> Value {
    json!({ "ops": [{ "op": format!("sleep:{ms}") }] })
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_invocations_run_at_once_each_with_its_own_ids_and_deadline() {
    let api = RuntimeApi::start().await;
    let dir = scratch("concurrent");
    let stderr = dir.join("stderr");
    let mut env = chaos("internal-api");
    env.retain(|(k, _)| *k != "PLUGBOARD_TIMEOUT_MS");
    env.push(("PLUGBOARD_TIMEOUT_MS", "5000".into()));
    env.push(("AWS_LAMBDA_MAX_CONCURRENCY", "8".into()));
    let mut command = bootstrap(api.port, &env);
    command.env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", api.port));
    let _bootstrap = Processes(vec![command.stdout(file(&dir.join("stdout"))).stderr(file(&stderr)).spawn().unwrap()]);

    // Eight invocations of a guest sleeping 500 ms: one after the other they take 4 s.
    let ids: Vec<String> = (1..=8).map(|n| format!("req-{n}")).collect();
    for id in &ids {
        api.push(id, Duration::from_secs(10), sleep(500));
    }
    let answers = api.answers(8).await;
    let first_out = *api.handed_out.lock().unwrap().iter().min().unwrap();
    let took = answers.iter().map(|a| a.at).max().unwrap() - first_out;
    assert!(answers.iter().all(|a| a.ok), "{answers:?}");
    assert!(took < Duration::from_secs(1), "8 x 500 ms took {took:?}: not concurrent");

    // Each invocation has its own deadline: the short one fails alone, while another runs.
    api.push("short", Duration::from_millis(550), sleep(500));
    api.push("long", Duration::from_secs(10), sleep(500));
    let answers = api.answers(10).await;
    let by_id = |id: &str| answers.iter().find(|a| a.request_id == id).unwrap_or_else(|| panic!("{id}: {answers:?}"));
    let short = by_id("short");
    assert!(!short.ok && short.body.to_string().contains("deadline"), "{short:?}");
    assert!(by_id("long").ok, "{:?}", by_id("long"));

    // Their log lines carry each invocation's own request id and trace.
    let logs = json_lines(&stderr);
    let done: Vec<&Value> = logs.iter().filter(|l| l["message"] == "invocation done").collect();
    let logged_ids: std::collections::BTreeSet<&str> = done.iter().filter_map(|l| l["request_id"].as_str()).collect();
    let traces: std::collections::BTreeSet<&str> = done.iter().filter_map(|l| l["trace_id"].as_str()).collect();
    assert_eq!(done.len(), 9, "{logs:?}");
    assert_eq!(logged_ids.len(), 9, "distinct request ids: {logged_ids:?}");
    assert_eq!(traces.len(), 9, "distinct trace ids: {traces:?}");
    assert!(ids.iter().all(|id| logged_ids.contains(id.as_str())));
    std::fs::remove_dir_all(&dir).ok();
}
