//! Serving the Lambda Runtime API: the cold start builds the engine, the guest, the SDK clients
//! and the function once; then every event goes through [`Function::handle`], as everywhere.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use lambda_runtime::{Context, Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::backends::aws::{DynamoDbKeyValue, LambdaInvoker, SqsQueue, lambda::DEPTH_KEY, sdk_config, secrets};
use crate::config::env;
use crate::function::{Backends, Function, Invocation};
use crate::runtime::precompiled::Origin;
use crate::runtime::{EngineSettings, Runtime};

mod guest_source;
pub use guest_source::{GuestSource, Loaded};

/// Seconds between ETag checks of an unpinned S3 guest; unset means never.
pub const REFRESH_VAR: &str = "PLUGBOARD_GUEST_REFRESH_SECS";

/// Time kept back from Lambda's deadline so the guest is stopped and the answer sent in time.
pub const SAFETY_MARGIN: Duration = Duration::from_millis(250);
/// Keys per `list-keys` page from DynamoDB.
const DYNAMODB_PAGE: i32 = 1000;

/// Build everything once, then serve events until Lambda stops the process.
pub async fn run() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let sdk = sdk_config(None).await;
    let app = Arc::new(LambdaApp::start(std::env::vars(), &sdk).await?);
    tracing::info!(
        function = app.function.name(),
        role = %app.function.role(),
        guest_origin = ?app.origin,
        cold_start_ms = started.elapsed().as_millis() as u64,
        "ready"
    );
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { app.handle(event).await }
    });
    lambda_runtime::run(handler).await.map_err(|e| anyhow::anyhow!("Lambda runtime: {e}"))
}

/// A function as Lambda runs it: the function and where its guest comes from.
pub struct LambdaApp {
    /// The function, with AWS backends.
    pub function: Arc<Function>,
    /// The guest's source, for refresh.
    pub source: GuestSource,
    /// How the first guest was obtained.
    pub origin: Origin,
}

impl LambdaApp {
    /// The cold start: configuration from `vars` (the process environment on Lambda), secrets
    /// resolved, the guest loaded and the SDK clients built from `sdk`.
    pub async fn start(vars: impl IntoIterator<Item = (String, String)>, sdk: &aws_config::SdkConfig) -> anyhow::Result<LambdaApp> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let mut config = env::from_vars(vars.iter().cloned())?;
        secrets::resolve(sdk, &mut config.config).await?;
        let refresh_secs = match vars.iter().find(|(k, v)| k == REFRESH_VAR && !v.trim().is_empty()) {
            Some((_, v)) => Some(v.trim().parse::<u64>().with_context(|| format!("{REFRESH_VAR}: `{v}` is not a whole number"))?),
            None => None,
        };
        let runtime = Runtime::new(EngineSettings::default())?;
        let source = GuestSource::new(sdk, &config, &runtime, refresh_secs)?;
        let loaded = source.load(&runtime, config.role).await?;
        let backends = Backends {
            keyvalue: Arc::new(DynamoDbKeyValue::new(aws_sdk_dynamodb::Client::new(sdk), DYNAMODB_PAGE)),
            queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk))),
            invoker: Arc::new(LambdaInvoker::new(aws_sdk_lambda::Client::new(sdk))),
        };
        let name = vars
            .iter()
            .find(|(k, _)| k == "AWS_LAMBDA_FUNCTION_NAME")
            .map_or_else(|| "plugboard".to_string(), |(_, v)| v.clone());
        let function = Arc::new(Function::new(&name, config, runtime, loaded.guest, backends));
        Ok(LambdaApp { function, source, origin: loaded.origin })
    }

    /// Answer one Lambda event (refreshing the guest first when that is due).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
        self.source.refresh_if_due(&self.function).await;
        let invocation = invocation(&event.context, SystemTime::now());
        self.function.handle(event.payload, invocation).await.map_err(|e| Diagnostic {
            error_type: e.error_type,
            error_message: e.error_message,
        })
    }
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
