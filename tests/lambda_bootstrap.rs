//! The binary as Lambda's `bootstrap`, as a process, against cargo-lambda's Runtime API
//! emulator on 127.0.0.1, with DynamoDB in moto: responses, function errors, a guest that
//! runs past its deadline, and cold starts that fail with a clear message; concurrent
//! invocations against a Runtime API of the test's own (concurrent.rs).

mod common;
#[path = "lambda_bootstrap/concurrent.rs"]
mod concurrent;
#[path = "lambda_bootstrap/metrics.rs"]
mod metrics;
#[path = "lambda_bootstrap/traces.rs"]
mod traces;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{aws, dynamodb_table, root, s3_bucket, upload};
use serde_json::Value;

fn cargo_lambda() -> PathBuf {
    let path = root().join(".venv/bin/cargo-lambda");
    assert!(path.exists(), "{} is missing: run scripts/test.sh (scripts/test-env.sh installs it)", path.display());
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills its processes when dropped.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An emulator on a free port and the bootstrap serving it with `env`.
struct Lambda {
    port: u16,
    _processes: Processes,
}

impl Lambda {
    fn start(env: &[(&str, String)]) -> Lambda {
        Lambda::start_writing(env, Stdio::null(), Stdio::null())
    }

    /// Start with the bootstrap's stdout and stderr going to `stdout` and `stderr`.
    fn start_writing(env: &[(&str, String)], stdout: Stdio, stderr: Stdio) -> Lambda {
        let port = free_port();
        let emulator = Command::new(cargo_lambda())
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()])
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo-lambda starts");
        let mut processes = Processes(vec![emulator]);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "emulator did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        processes.0.push(bootstrap(port, env).stdout(stdout).stderr(stderr).spawn().expect("bootstrap starts"));
        Lambda { port, _processes: processes }
    }

    /// Invoke with `event`; `Ok(response)` or `Err(error text)`.
    fn invoke(&self, event: &Value) -> Result<Value, String> {
        let output = Command::new(cargo_lambda())
            .args([
                "lambda",
                "invoke",
                "-A",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
                "--data-ascii",
                &event.to_string(),
                "_",
            ])
            .current_dir(root())
            .output()
            .expect("cargo-lambda invoke runs");
        if output.status.success() {
            Ok(serde_json::from_slice(&output.stdout).expect("JSON response"))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}

fn bootstrap(port: u16, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plugboard"));
    command
        .current_dir(root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_ENDPOINT_URL", std::env::var("PLUGBOARD_TEST_AWS_ENDPOINT").unwrap_or_default())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

fn chaos(role: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PLUGBOARD_ROLE", role.to_string()),
        ("PLUGBOARD_GUEST", "guests/dist/chaos.wasm".to_string()),
        ("PLUGBOARD_TIMEOUT_MS", "400".to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_api_on_lambda_with_dynamodb() {
    let table = dynamodb_table(&aws_sdk_dynamodb::Client::new(&aws().await), "pricing").await;
    let lambda = Lambda::start(&[
        ("PLUGBOARD_ROLE", "internal-api".into()),
        ("PLUGBOARD_GUEST", "guests/dist/quotes.wasm".into()),
        ("PLUGBOARD_STORES", format!("pricing={table}")),
    ]);
    let quote = lambda.invoke(&serde_json::json!({ "sku": "w1", "unit_price": 2.5, "quantity": 40 })).unwrap();
    assert_eq!(quote["total"], 95.0);
    let err = lambda.invoke(&serde_json::json!({ "sku": "w1", "unit_price": -1, "quantity": 1 })).unwrap_err();
    assert!(err.contains("ValidationError") && err.contains("unit_price"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_role_answers_through_the_runtime_api() {
    let http = Lambda::start(&chaos("http-api"));
    let response = http.invoke(&common::fixture("http-api-v2")).unwrap();
    assert_eq!(response["statusCode"], 200);
    let echoed: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["raw_path"], "/items/widget-1");
    // A guest that runs past its deadline is a 500, and the next request works.
    let mut looping = common::http_event("GET", "/misbehave/loop", None);
    looping["requestContext"]["requestId"] = "loop".into();
    assert_eq!(http.invoke(&looping).unwrap()["statusCode"], 500);
    assert_eq!(http.invoke(&common::fixture("http-api-v2")).unwrap()["statusCode"], 200);

    let worker = Lambda::start(&chaos("queue-worker"));
    let batch = common::sqs_event("arn:aws:sqs:us-east-1:1:q", &["ok", "fail", "loop"]);
    assert_eq!(common::failed_ids(&worker.invoke(&batch).unwrap()), ["msg-1", "msg-2"]);

    let authorizer = Lambda::start(&chaos("authorizer"));
    let mut token = common::fixture("authorizer-token");
    token["authorizationToken"] = "allow".into();
    assert_eq!(authorizer.invoke(&token).unwrap()["policyDocument"]["Statement"][0]["Effect"], "Allow");
    token["authorizationToken"] = "unauthorized".into();
    let err = authorizer.invoke(&token).unwrap_err();
    assert!(err.contains("Unauthorized"), "{err}");

    let internal = Lambda::start(&chaos("internal-api"));
    let err = internal.invoke(&serde_json::json!({ "ops": [{ "op": "loop" }] })).unwrap_err();
    assert!(err.contains("GuestFailed") && err.contains("deadline"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standard_wasi_http_component_answers_api_gateway_on_lambda() {
    let http = Lambda::start(&[
        ("PLUGBOARD_ROLE", "http-api".into()),
        ("PLUGBOARD_GUEST", "guests/dist/wasi_http_echo.wasm".into()),
    ]);
    let response = http.invoke(&common::fixture("http-api-v2")).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let echoed: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["path_with_query"], "/items/widget-1?verbose=true&tag=a&tag=b");
}

fn cold_start_failure(env: &[(&str, String)]) -> Output {
    // Nothing serves this port: a failing cold start must exit before it ever polls.
    let mut child = bootstrap(free_port(), env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("bootstrap did not exit on a bad cold start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn bad_configuration_fails_the_cold_start_with_a_clear_message() {
    let output = cold_start_failure(&[
        ("PLUGBOARD_ROLE", "web-server".into()),
        ("PLUGBOARD_GUEST", "guests/dist/quotes.wasm".into()),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("web-server"), "{stderr}");

    let output = cold_start_failure(&[("PLUGBOARD_ROLE", "internal-api".into())]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("PLUGBOARD_GUEST"));

    let output = cold_start_failure(&[
        ("PLUGBOARD_ROLE", "internal-api".into()),
        ("PLUGBOARD_GUEST", "guests/dist/quotes.wasm".into()),
        ("PLUGBOARD_GUEST_SHA256", "0".repeat(64)),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("sha256") && stderr.contains("refusing"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn guests_load_from_s3_by_version_and_pin() {
    let sdk = aws().await;
    let s3 = plugboard::backends::aws::s3::client(&sdk);
    let bucket = s3_bucket(&s3).await;
    let first = upload(&s3, &bucket, "svc.wasm", "quotes").await;
    upload(&s3, &bucket, "svc.wasm", "chaos").await;
    let quote = serde_json::json!({ "sku": "w1", "unit_price": 2.5, "quantity": 40 });
    let probe = serde_json::json!({ "ops": [], "sku": "w1", "unit_price": 2.5, "quantity": 40 });

    // The latest version is the chaos guest; the pinned first version is quotes (rollback).
    let latest = Lambda::start(&[
        ("PLUGBOARD_ROLE", "internal-api".into()),
        ("PLUGBOARD_GUEST", format!("s3://{bucket}/svc.wasm")),
    ]);
    assert_eq!(latest.invoke(&probe).unwrap(), serde_json::json!({ "results": [] }));
    let rolled_back = Lambda::start(&[
        ("PLUGBOARD_ROLE", "internal-api".into()),
        ("PLUGBOARD_GUEST", format!("s3://{bucket}/svc.wasm?versionId={first}")),
    ]);
    let err = rolled_back.invoke(&quote).unwrap_err();
    assert!(err.contains("StoreError"), "quotes ran (its store is not granted here): {err}");

    // A pin that does not match what S3 serves refuses to start.
    let output = cold_start_failure(&[
        ("PLUGBOARD_ROLE", "internal-api".into()),
        ("PLUGBOARD_GUEST", format!("s3://{bucket}/svc.wasm")),
        ("PLUGBOARD_GUEST_SHA256", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(common::guest("quotes")))),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing"), "{stderr}");
    let output = cold_start_failure(&[
        ("PLUGBOARD_ROLE", "internal-api".into()),
        ("PLUGBOARD_GUEST", format!("s3://{bucket}/missing.wasm")),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("NoSuchKey"), "{stderr}");
}

#[test]
fn s3_locations_parse() {
    use plugboard::backends::aws::s3::S3Location;
    let parsed = S3Location::parse("s3://b/dir/g.wasm?versionId=abc%2B1").unwrap();
    assert_eq!(
        (parsed.bucket.as_str(), parsed.key.as_str(), parsed.version_id.as_deref()),
        ("b", "dir/g.wasm", Some("abc+1"))
    );
    assert_eq!(S3Location::parse("s3://b/g.wasm").unwrap().version_id, None);
    assert!(S3Location::parse("s3://b").is_none());
    assert!(S3Location::parse("s3:///key").is_none());
    assert!(S3Location::parse("/local/g.wasm").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn python_and_javascript_guests_on_lambda_with_dynamodb() {
    // The Python webhook worker on a real SQS event, storing into DynamoDB (moto).
    let table = dynamodb_table(&aws_sdk_dynamodb::Client::new(&aws().await), "events").await;
    let worker = Lambda::start(&[
        ("PLUGBOARD_ROLE", "queue-worker".into()),
        ("PLUGBOARD_GUEST", "guests/dist/webhook_worker_py.wasm".into()),
        ("PLUGBOARD_STORES", format!("events={table}")),
    ]);
    let batch = common::sqs_event("arn:aws:sqs:us-east-1:1:q", &["{\"event\":\"order.created\"}", "not json"]);
    assert_eq!(common::failed_ids(&worker.invoke(&batch).unwrap()), ["msg-1"]);
    let stored = aws_sdk_dynamodb::Client::new(&aws().await)
        .get_item()
        .table_name(&table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S("count/order.created".into()))
        .send()
        .await
        .unwrap();
    assert!(stored.item.is_some(), "the Python worker counted the event in DynamoDB");
    // The JavaScript token authorizer on a TOKEN event.
    let authorizer = Lambda::start(&[
        ("PLUGBOARD_ROLE", "authorizer".into()),
        ("PLUGBOARD_GUEST", "guests/dist/token_authorizer_js.wasm".into()),
        ("PLUGBOARD_CONFIG_TOKENS", r#"{"tok-1": {"principal": "p1", "routes": ["GET /*"]}}"#.into()),
    ]);
    let mut token = common::fixture("authorizer-token");
    token["authorizationToken"] = "Bearer tok-1".into();
    let policy = authorizer.invoke(&token).unwrap();
    assert_eq!(policy["principalId"], "p1");
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");
    token["authorizationToken"] = "Bearer tok-2".into();
    assert!(authorizer.invoke(&token).unwrap_err().contains("Unauthorized"));
}

/// A Lambda Invoke endpoint on 127.0.0.1 that accepts every Event invoke (202) and hands each
/// payload to the test, as Lambda would hand it to the target.
async fn event_sink() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    use http_body_util::{BodyExt, Full};
    let (sender, events) = tokio::sync::mpsc::unbounded_channel();
    let (port, _) = common::serve_http(move |request: hyper::Request<hyper::body::Incoming>| {
        let sender = sender.clone();
        async move {
            let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let _ = sender.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
            hyper::Response::builder().status(202).body(Full::default()).expect("a valid response")
        }
    })
    .await;
    (format!("http://127.0.0.1:{port}"), events)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_triggering_itself_by_event_invokes_stops_at_the_depth_limit() {
    let (sink, mut events) = event_sink().await;
    let mut env = chaos("internal-api");
    env.extend([
        ("PLUGBOARD_FUNCTIONS", "self=_".to_string()),
        ("PLUGBOARD_MAX_INVOKE_DEPTH", "3".to_string()),
        ("AWS_ENDPOINT_URL_LAMBDA", sink),
    ]);
    let lambda = Lambda::start(&env);
    // Each step sends its own payload to itself; the sink feeds it back as Lambda would.
    let mut next = serde_json::json!({ "ops": [{ "op": "invoke.event-recurse", "target": "self" }] });
    let mut depths = Vec::new();
    for _ in 0..8 {
        let answer = lambda.invoke(&next).expect("each step answers");
        match tokio::time::timeout(Duration::from_secs(3), events.recv()).await {
            Ok(Some(event)) => {
                depths.push(event["plugboard:event"]["depth"].clone());
                next = event;
            }
            _ => {
                let refused = answer["results"][0]["error"].as_str().unwrap_or_default();
                assert!(refused.ends_with("DepthExceeded"), "the last step was refused: {answer}");
                break;
            }
        }
    }
    assert_eq!(depths, [1, 2, 3].map(Value::from), "one Event invoke per level, each a level deeper");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_runs_the_pinned_version_whatever_artifacts_are_pinned() {
    let sdk = aws().await;
    let s3 = plugboard::backends::aws::s3::client(&sdk);
    let bucket = s3_bucket(&s3).await;
    let v1 = common::publish("guests/dist/quotes.wasm", &format!("s3://{bucket}/svc.wasm"));
    let v2 = common::publish("guests/dist/chaos.wasm", &format!("s3://{bucket}/svc.wasm"));
    // The stale list an operator may leave behind: both versions' artifacts pinned.
    let artifacts = format!(
        "{},{}",
        common::printed(&v1, "PLUGBOARD_PRECOMPILED_SHA256"),
        common::printed(&v2, "PLUGBOARD_PRECOMPILED_SHA256")
    );
    let env = |published: &str| {
        vec![
            ("PLUGBOARD_ROLE", "internal-api".to_string()),
            ("PLUGBOARD_GUEST", common::printed(published, "PLUGBOARD_GUEST").to_string()),
            ("PLUGBOARD_GUEST_SHA256", common::printed(published, "PLUGBOARD_GUEST_SHA256").to_string()),
            ("PLUGBOARD_PRECOMPILED_SHA256", artifacts.clone()),
        ]
    };
    let probe = serde_json::json!({ "ops": [], "sku": "w1", "unit_price": 2.5, "quantity": 40 });
    let quotes_ran = |answer: Result<Value, String>| answer.is_err_and(|e| e.contains("StoreError"));
    assert_eq!(Lambda::start(&env(&v2)).invoke(&probe).unwrap(), serde_json::json!({ "results": [] }), "v2 serves v2");
    assert!(quotes_ran(Lambda::start(&env(&v1)).invoke(&probe)), "rolled back to v1, v1 serves");

    // v2's artifacts copied over v1's names (digests pinned) are refused by their seal.
    let (pin1, pin2) = (common::printed(&v1, "PLUGBOARD_GUEST_SHA256"), common::printed(&v2, "PLUGBOARD_GUEST_SHA256"));
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let forged: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|k| k.contains(&pin2[..16]))
        .map(str::to_string)
        .collect();
    assert_eq!(forged.len(), 2, "one artifact per architecture");
    for key in forged {
        let source = format!("{bucket}/{key}");
        s3.copy_object()
            .bucket(&bucket)
            .copy_source(source)
            .key(key.replace(&pin2[..16], &pin1[..16]))
            .send()
            .await
            .unwrap();
    }
    assert!(quotes_ran(Lambda::start(&env(&v1)).invoke(&probe)), "the pinned component is compiled instead");
}
