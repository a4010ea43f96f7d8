//! The binary as Lambda's `bootstrap`, as a process, against cargo-lambda's Runtime API
//! emulator on 127.0.0.1, with DynamoDB in moto: responses, function errors, a guest that
//! runs past its deadline, and cold starts that fail with a clear message.

mod common;

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
        processes.0.push(bootstrap(port, env).stderr(Stdio::null()).spawn().expect("bootstrap starts"));
        Lambda { port, _processes: processes }
    }

    /// Invoke with `event`; `Ok(response)` or `Err(error text)`.
    fn invoke(&self, event: &Value) -> Result<Value, String> {
        let output = Command::new(cargo_lambda())
            .args(["lambda", "invoke", "-A", "127.0.0.1", "-P", &self.port.to_string(), "--data-ascii", &event.to_string(), "_"])
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
    let output = cold_start_failure(&[("PLUGBOARD_ROLE", "web-server".into()), ("PLUGBOARD_GUEST", "guests/dist/quotes.wasm".into())]);
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
    let latest = Lambda::start(&[("PLUGBOARD_ROLE", "internal-api".into()), ("PLUGBOARD_GUEST", format!("s3://{bucket}/svc.wasm"))]);
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
    let output = cold_start_failure(&[("PLUGBOARD_ROLE", "internal-api".into()), ("PLUGBOARD_GUEST", format!("s3://{bucket}/missing.wasm"))]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("NoSuchKey"), "{stderr}");
}

#[test]
fn s3_locations_parse() {
    use plugboard::backends::aws::s3::S3Location;
    let parsed = S3Location::parse("s3://b/dir/g.wasm?versionId=abc%2B1").unwrap();
    assert_eq!((parsed.bucket.as_str(), parsed.key.as_str(), parsed.version_id.as_deref()), ("b", "dir/g.wasm", Some("abc+1")));
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
