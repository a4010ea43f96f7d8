//! Shared helpers: real guests from `guests/dist`, real event fixtures, one runtime per process.
#![allow(dead_code)]

pub mod dev;

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use plugboard::app::LocalApp;
use plugboard::config::FunctionConfig;
use plugboard::function::{Function, Invocation};
use plugboard::roles::FunctionError;
use plugboard::runtime::{EngineSettings, Runtime};
use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The non-empty lines of `markdown`'s ```sh blocks, in order: the commands a document tells
/// its reader to run.
pub fn sh_lines(markdown: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in markdown.lines() {
        match (inside, line.trim()) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, command) if !command.is_empty() => lines.push(command.to_string()),
            _ => {}
        }
    }
    lines
}

/// The [`sh_lines`] of `markdown`'s section headed `## {heading}` (up to the next `## `).
pub fn section_sh_lines(markdown: &str, heading: &str) -> Vec<String> {
    let start = markdown.find(&format!("\n## {heading}\n")).unwrap_or_else(|| panic!("no section `## {heading}`"));
    let section = &markdown[start + 1..];
    let end = section[1..].find("\n## ").map_or(section.len(), |i| i + 1);
    sh_lines(&section[..end])
}

/// `script` run by bash (`-euo pipefail`) in `dir` with the test's `plugboard` first on PATH
/// and `env` set, killed with everything it started after `limit`: its exit status, stdout and
/// stderr.
pub fn run_bash(script: &str, dir: &Path, env: &[(&str, &str)], limit: Duration) -> (ExitStatus, String, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_plugboard")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too (curl, a server).
        .process_group(0)
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).ok();
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = Command::new("kill").args(["-KILL", &format!("-{}", child.id())]).status();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, out.join().unwrap(), err.join().unwrap())
}

/// The bytes of guest `name` (e.g. `items_api`), built by `scripts/build-guests.sh`.
pub fn guest(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("PLUGBOARD_GUESTS_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("guests/dist"));
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-guests.sh first", path.display()))
}

/// The event fixture `name` (without `.json`).
pub fn fixture(name: &str) -> Value {
    let path = root().join(format!("tests/fixtures/events/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// One runtime for the whole test binary, like one Lambda process.
pub fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(EngineSettings::default()).expect("runtime")).clone()
}

/// A function configuration from TOML text.
pub fn config(toml: &str) -> FunctionConfig {
    FunctionConfig::parse(toml, "test", true).expect("valid test config")
}

/// A new app holding one function `name` running guest `guest` with `toml` configuration.
pub fn single(name: &str, guest_name: &str, toml: &str) -> (LocalApp, Arc<Function>) {
    let mut app = LocalApp::new(runtime());
    let function = app.add(name, config(toml), &guest(guest_name)).expect("guest loads");
    (app, function)
}

/// Run one event through `function` as a fresh top-level invocation.
pub async fn call(function: &Function, event: Value) -> Result<Value, FunctionError> {
    let invocation = Invocation { request_id: "test-request".into(), ..Invocation::default() };
    function.handle(event, invocation).await
}

/// An HTTP API (v2) event for `method` `path` with `body`, built from the real fixture.
pub fn http_event(method: &str, path: &str, body: Option<&str>) -> Value {
    let mut event = fixture("http-api-v2");
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    event["rawPath"] = raw_path.into();
    event["rawQueryString"] = query.into();
    event["routeKey"] = "$default".into();
    event["requestContext"]["routeKey"] = "$default".into();
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["http"]["path"] = raw_path.into();
    event["pathParameters"] = Value::Null;
    event["queryStringParameters"] = Value::Null;
    event["cookies"] = Value::Null;
    event["body"] = body.map(Value::from).unwrap_or(Value::Null);
    event
}

/// Status and body (parsed as JSON when it is) of an HTTP API response.
pub fn status_body(response: &Value) -> (u16, Value) {
    let status = response["statusCode"].as_u64().expect("statusCode") as u16;
    let body = response["body"].as_str().unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string())))
}

/// An SQS event with one record per body, from the real fixture's record shape.
pub fn sqs_event(queue_arn: &str, bodies: &[&str]) -> Value {
    let template = fixture("sqs")["Records"][0].clone();
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = template.clone();
            record["messageId"] = format!("msg-{i}").into();
            record["body"] = (*body).into();
            record["eventSourceARN"] = queue_arn.into();
            if queue_arn.ends_with(".fifo") {
                record["attributes"]["MessageGroupId"] = "group-1".into();
            }
            record["messageAttributes"] = serde_json::json!({});
            record
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// The ids in an SQS batch response's `batchItemFailures`.
pub fn failed_ids(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().expect("itemIdentifier").to_string())
        .collect()
}

/// The headers the example `webhook-ingest` guest checks for `body` sent under idempotency `key`:
/// the current timestamp and the HMAC-SHA256 under `secret` of `{timestamp}.{key}.{body}`.
pub fn webhook_headers(secret: &[u8], key: &str, body: &str) -> [(&'static str, String); 2] {
    use hmac::Mac;
    let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{timestamp}.{key}.{body}").as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    [("x-webhook-timestamp", timestamp.to_string()), ("x-signature", signature)]
}

/// The count in the example webhook worker's counter value (`{"n": N, "applied": key}`, or a
/// plain decimal as older workers wrote it).
pub fn counted(value: &[u8]) -> u64 {
    let doc: Value =
        serde_json::from_slice(value).unwrap_or_else(|e| panic!("counter {:?}: {e}", String::from_utf8_lossy(value)));
    doc.as_u64().or_else(|| doc["n"].as_u64()).unwrap_or_else(|| panic!("counter without n: {doc}"))
}

/// SDK configuration for the moto server `scripts/test.sh` starts on 127.0.0.1.
pub async fn aws() -> aws_config::SdkConfig {
    let url = std::env::var("PLUGBOARD_TEST_AWS_ENDPOINT")
        .expect("PLUGBOARD_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test.sh, which starts moto");
    plugboard::backends::aws::sdk_config(Some(&url)).await
}

/// SDK configuration for the dynalite server `scripts/test.sh` starts on 127.0.0.1: a DynamoDB
/// stricter than moto (new tables stay CREATING for a while, as on AWS).
pub async fn dynalite() -> aws_config::SdkConfig {
    let url = std::env::var("PLUGBOARD_TEST_DYNALITE_ENDPOINT").expect(
        "PLUGBOARD_TEST_DYNALITE_ENDPOINT is not set: run the tests with scripts/test.sh, which starts dynalite",
    );
    plugboard::backends::aws::sdk_config(Some(&url)).await
}

/// A fresh DynamoDB table in Spin's layout (partition key `PK`), named after `label`, returned
/// once it is ACTIVE (AWS and dynalite keep a new table CREATING for a while).
pub async fn dynamodb_table(client: &aws_sdk_dynamodb::Client, label: &str) -> String {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let name = format!("{label}-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("PK").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("PK").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .expect("create table");
    for _ in 0..300 {
        let table = client.describe_table().table_name(&name).send().await.expect("describe table");
        if table.table().and_then(|t| t.table_status()) == Some(&aws_sdk_dynamodb::types::TableStatus::Active) {
            return name;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("table {name} did not become ACTIVE in 15 s");
}

/// A fresh versioned bucket in moto.
pub async fn s3_bucket(client: &aws_sdk_s3::Client) -> String {
    let bucket = format!("guests-{}", uuid::Uuid::new_v4().simple());
    client.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let versioning = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    client.put_bucket_versioning().bucket(&bucket).versioning_configuration(versioning).send().await.unwrap();
    bucket
}

/// Upload guest `guest` under `key`; returns the version id.
pub async fn upload(client: &aws_sdk_s3::Client, bucket: &str, key: &str, name: &str) -> String {
    let body = aws_sdk_s3::primitives::ByteStream::from(guest(name));
    let output = client.put_object().bucket(bucket).key(key).body(body).send().await.unwrap();
    output.version_id.expect("a versioned bucket returns a version id")
}

/// `plugboard publish` as a process against moto; its stdout.
pub fn publish(guest_path: &str, destination: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_plugboard"))
        .args(["publish", guest_path, destination])
        .current_dir(root())
        .env("AWS_ENDPOINT_URL", std::env::var("PLUGBOARD_TEST_AWS_ENDPOINT").expect("moto endpoint"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .output()
        .expect("plugboard publish runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The value of `NAME=` in publish's output.
pub fn printed<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap_or_else(|| panic!("no {name} in {stdout}"))
}

/// A sender for a function with no `grants.http`: every request is denied before it is sent.
pub fn no_outbound_http() -> std::sync::Arc<dyn plugboard::capabilities::http::HttpSender> {
    use plugboard::capabilities::http::{client::PooledSender, network::Network};
    std::sync::Arc::new(PooledSender::system(&[], Network::Local))
}

/// A test HTTP/1 server on 127.0.0.1 answering every request with `handler`; returns its port
/// and how many connections it has accepted.
pub async fn serve_http<F, Fut>(handler: F) -> (u16, Arc<std::sync::atomic::AtomicUsize>)
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<http_body_util::Full<hyper::body::Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let accepted = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let handler = handler.clone();
            let service = hyper::service::service_fn(move |request| {
                let answer = handler(request);
                async move { Ok::<_, hyper::Error>(answer.await) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (port, connections)
}
