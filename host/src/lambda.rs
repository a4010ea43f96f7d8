//! Serving the Lambda Runtime API: the cold start builds the engine, the guest, the SDK clients
//! and the function once; then every event goes through [`Function::handle`], as everywhere.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use lambda_runtime::{Context, Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::backends::aws::s3::{S3Location, fetch};
use crate::backends::aws::{DynamoDbKeyValue, LambdaInvoker, SqsQueue, lambda::DEPTH_KEY, sdk_config};
use crate::config::env;
use crate::function::{Backends, Function, Invocation};
use crate::runtime::{EngineSettings, Guest, Runtime, Trust, check_pin};

/// Time kept back from Lambda's deadline so the guest is stopped and the answer sent in time.
pub const SAFETY_MARGIN: Duration = Duration::from_millis(250);
/// Keys per `list-keys` page from DynamoDB.
const DYNAMODB_PAGE: i32 = 1000;

/// Build everything once, then serve events until Lambda stops the process.
pub async fn run() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let function = cold_start().await?;
    tracing::info!(
        function = function.name(),
        role = %function.role(),
        cold_start_ms = started.elapsed().as_millis() as u64,
        "ready"
    );
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let function = function.clone();
        async move { handle(&function, event).await }
    });
    lambda_runtime::run(handler).await.map_err(|e| anyhow::anyhow!("Lambda runtime: {e}"))
}

/// Read the configuration from the environment and load the function with AWS backends.
pub async fn cold_start() -> anyhow::Result<Arc<Function>> {
    let config = env::from_vars(std::env::vars())?;
    let location = config.guest.clone().context("PLUGBOARD_GUEST is not set")?;
    let sdk = sdk_config(None).await;
    let bytes = read_guest(&sdk, &location).await?;
    check_pin(&bytes, config.guest_sha256.as_deref())?;
    // Precompiled native code runs only when its exact bytes are pinned.
    let trust = if config.guest_sha256.is_some() { Trust::Trusted } else { Trust::ComponentOnly };
    let runtime = Runtime::new(EngineSettings::default())?;
    let guest = Guest::load_with(&runtime, &bytes, config.role, trust)
        .with_context(|| format!("loading guest {location}"))?;
    let backends = Backends {
        keyvalue: Arc::new(DynamoDbKeyValue::new(aws_sdk_dynamodb::Client::new(&sdk), DYNAMODB_PAGE)),
        queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&sdk))),
        invoker: Arc::new(LambdaInvoker::new(aws_sdk_lambda::Client::new(&sdk))),
    };
    let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "plugboard".into());
    Ok(Arc::new(Function::new(&name, config, runtime, guest, backends)))
}

/// The guest's bytes from `s3://bucket/key[?versionId=...]` or a path.
async fn read_guest(sdk: &aws_config::SdkConfig, location: &str) -> anyhow::Result<Vec<u8>> {
    if location.starts_with("s3://") {
        let parsed = S3Location::parse(location)
            .with_context(|| format!("PLUGBOARD_GUEST={location} is not s3://bucket/key[?versionId=...]"))?;
        // Path-style addressing only for a local AWS-protocol server (tests); AWS gets the default.
        let local = std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(local).build());
        return fetch(&client, &parsed).await.map_err(|e| anyhow::anyhow!("fetching guest {location}: {e}"));
    }
    tokio::fs::read(location).await.with_context(|| format!("reading guest {location}"))
}

/// How one Lambda event is delivered to the function: its request id, invoke depth and deadline.
pub fn invocation(context: &Context, now: SystemTime) -> Invocation {
    let depth = context
        .client_context
        .as_ref()
        .and_then(|c| c.custom.get(DEPTH_KEY))
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let now_ms = now.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    // A deadline already past (emulators send odd ones) falls back to the configured timeout.
    let deadline = context
        .deadline
        .checked_sub(now_ms)
        .map(Duration::from_millis)
        .and_then(|left| left.checked_sub(SAFETY_MARGIN))
        .filter(|left| !left.is_zero())
        .map(|left| tokio::time::Instant::now() + left);
    Invocation { request_id: context.request_id.clone(), depth, deadline, kind: None }
}

async fn handle(function: &Function, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let invocation = invocation(&event.context, SystemTime::now());
    function.handle(event.payload, invocation).await.map_err(|e| Diagnostic {
        error_type: e.error_type,
        error_message: e.error_message,
    })
}
