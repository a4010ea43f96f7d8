//! Serving the Lambda Runtime API: the cold start builds the engine, the guest, the SDK clients
//! and the function once; then every event goes through [`Function::handle`], as everywhere.

use plugboard_core::capabilities::http::client::PooledSender;
use plugboard_core::capabilities::http::network::Network;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Context, Diagnostic, LambdaEvent, service_fn};
use serde_json::value::RawValue;

use crate::backends::{DynamoDbKeyValue, LambdaInvoker, SqsQueue, sdk_config, secrets};
use plugboard_core::config::env;
use plugboard_core::events::envelope::{DEPTH_KEY, unwrap_event};
use plugboard_core::function::{Backends, Function, Invocation};
use plugboard_core::runtime::Runtime;
use plugboard_core::runtime::precompiled::Origin;
use plugboard_core::telemetry::{Metric, TraceContext};

pub mod concurrency;
pub mod guest_source;
pub mod telemetry;
pub use guest_source::GuestSource;
use telemetry::{ColdStart, Telemetry};

pub use plugboard_core::config::env::REFRESH_VAR;

/// Time kept back from Lambda's deadline so the guest is stopped and the answer sent in time.
pub(crate) const SAFETY_MARGIN: Duration = Duration::from_millis(250);
/// Keys per `list-keys` page from DynamoDB.
const DYNAMODB_PAGE: i32 = 1000;

/// Sends what the process's span exporter holds (blocking until it is sent): run after each
/// invocation, since Lambda may freeze the process once the response is out.
pub type Flush = Arc<dyn Fn() + Send + Sync>;

/// Build everything once, then serve events until Lambda stops the process; `flush` exports
/// each invocation's spans before its response.
pub async fn run(flush: Option<Flush>) -> anyhow::Result<()> {
    let mut cold_start = ColdStart::begin();
    let sdk = sdk_config(None).await;
    cold_start.lap(Metric::InitSdkConfig);
    let mut app = LambdaApp::start_timed(std::env::vars(), &sdk, &mut cold_start).await?;
    app.flush = flush;
    let app = Arc::new(app);
    let phases: Vec<String> = cold_start
        .phases()
        .iter()
        .map(|(phase, took)| format!("{}={:.2}", phase.name(), took.as_secs_f64() * 1e3))
        .collect();
    tracing::info!(
        function = app.function.name(),
        role = %app.function.role(),
        guest_origin = ?app.origin,
        cold_start_ms = (cold_start.elapsed().as_secs_f64() * 100_000.0).round() / 100.0,
        phases_ms = phases.join(" "),
        "ready"
    );
    app.telemetry.ready(cold_start);
    let handler = service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let app = app.clone();
        async move { app.handle(event).await }
    });
    // One event at a time, unless Lambda Managed Instances set AWS_LAMBDA_MAX_CONCURRENCY: then
    // that many polls at once, each invocation on its own instance.
    lambda_runtime::run_concurrent(handler).await.map_err(|e| anyhow::anyhow!("Lambda runtime: {e}"))
}

/// A function as Lambda runs it: the function and where its guest comes from.
pub struct LambdaApp {
    /// The function, with AWS backends.
    pub function: Arc<Function>,
    /// The guest's source, for refresh.
    pub source: GuestSource,
    /// How the first guest was obtained.
    pub origin: Origin,
    /// Metrics settings, and the cold start still to report.
    pub telemetry: Telemetry,
    /// Exports the invocation's spans, when an exporter is configured.
    pub flush: Option<Flush>,
}

impl LambdaApp {
    /// The cold start: configuration from `vars` (the process environment on Lambda), secrets
    /// resolved, the guest loaded and the SDK clients built from `sdk`.
    pub async fn start(
        vars: impl IntoIterator<Item = (String, String)>,
        sdk: &aws_config::SdkConfig,
    ) -> anyhow::Result<LambdaApp> {
        LambdaApp::start_timed(vars, sdk, &mut ColdStart::begin()).await
    }

    /// [`LambdaApp::start`], timing its phases into `cold_start`.
    pub async fn start_timed(
        vars: impl IntoIterator<Item = (String, String)>,
        sdk: &aws_config::SdkConfig,
        cold_start: &mut ColdStart,
    ) -> anyhow::Result<LambdaApp> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let var = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let telemetry = Telemetry::from_vars(var)?;
        let mut config = env::from_vars(vars.iter().cloned())?;
        secrets::resolve(sdk, &mut config.config).await?;
        let refresh_secs = env::refresh_secs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        cold_start.lap(Metric::InitConfig);
        let parallel = concurrency::max_concurrency(var(concurrency::MAX_CONCURRENCY_VAR).as_deref());
        let function_mb = var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|mb| mb.parse().ok());
        if let Some(warning) = concurrency::memory_warning(parallel, config.limits.memory_mb, function_mb) {
            tracing::warn!(concurrency = parallel, "{warning}");
        }
        let runtime = Runtime::new(concurrency::engine_settings(parallel))?;
        cold_start.lap(Metric::InitEngine);
        let source = GuestSource::new(sdk, &config, &runtime, refresh_secs)?;
        let loaded = source.load(config.role).await?;
        cold_start.lap(Metric::InitGuest);
        let backends = Backends {
            keyvalue: Arc::new(DynamoDbKeyValue::new(aws_sdk_dynamodb::Client::new(sdk), DYNAMODB_PAGE)),
            queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk))),
            invoker: Arc::new(LambdaInvoker::new(aws_sdk_lambda::Client::new(sdk))),
            http: Arc::new(PooledSender::system(&config.grants.http, Network::Lambda)),
        };
        let name = vars
            .iter()
            .find(|(k, _)| k == "AWS_LAMBDA_FUNCTION_NAME")
            .map_or_else(|| "plugboard".to_string(), |(_, v)| v.clone());
        let function = Arc::new(Function::new(&name, config, runtime, loaded.guest, backends));
        cold_start.lap(Metric::InitClients);
        Ok(LambdaApp { function, source, origin: loaded.origin, telemetry, flush: None })
    }

    /// Answer one Lambda event (refreshing the guest first when that is due): the event's text
    /// is parsed once into its typed form, the response serialised once for the Runtime API.
    pub async fn handle(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Box<RawValue>, Diagnostic> {
        self.source.refresh_if_due(&self.function).await;
        let started = std::time::Instant::now();
        let mut invocation = invocation(&event.context, SystemTime::now());
        let (payload, envelope_depth) = unwrap_event(event.payload.get());
        invocation.depth = invocation.depth.max(envelope_depth);
        invocation.metrics = self.telemetry.begin();
        let result = self.function.invoke_json(payload, invocation.clone()).await;
        let deadline = invocation.deadline;
        // Written before the response leaves: Lambda may freeze the process right after it.
        self.telemetry.finish(&self.function, invocation, started.elapsed(), &result);
        if let Some(flush) = self.flush.clone() {
            match flush_by(flush, deadline.map(flush_deadline)).await {
                FlushOutcome::Done => {}
                FlushOutcome::Late => tracing::warn!("the span export was not done in time; answering without it"),
                FlushOutcome::Panicked => tracing::warn!("the span export panicked"),
            }
        }
        result.map_err(|e| Diagnostic { error_type: e.error_type.into(), error_message: e.error_message })
    }
}

/// How one Lambda event is delivered to the function: its request id, invoke depth and deadline.
pub fn invocation(context: &Context, now: SystemTime) -> Invocation {
    let depth =
        context.client_context.as_ref().and_then(|c| c.custom.get(DEPTH_KEY)).and_then(|d| d.parse().ok()).unwrap_or(0);
    let now_ms = now.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    Invocation {
        request_id: context.request_id.clone(),
        depth,
        deadline: deadline(context.deadline, now_ms),
        trace: context.xray_trace_id.as_deref().and_then(TraceContext::from_xray),
        ..Invocation::default()
    }
}

/// Time kept back from Lambda's own deadline for posting the response after a span export.
const RESPONSE_RESERVE: Duration = Duration::from_millis(50);

/// How a span export ended, as far as the response is concerned.
#[derive(Debug, PartialEq, Eq)]
enum FlushOutcome {
    /// Everything was handed to the collector.
    Done,
    /// Not done by the deadline; the response went without waiting.
    Late,
    /// The exporter panicked.
    Panicked,
}

/// The latest a span export may hold the response: Lambda's own deadline (the guest's deadline
/// plus its [`SAFETY_MARGIN`]) less [`RESPONSE_RESERVE`] — so a guest stopped at its deadline,
/// whose spans matter most, still leaves the export time.
fn flush_deadline(guest_deadline: tokio::time::Instant) -> tokio::time::Instant {
    guest_deadline + SAFETY_MARGIN.saturating_sub(RESPONSE_RESERVE)
}

/// Run `flush` off the async workers (the export blocks until the collector has the spans),
/// waiting no later than `deadline`: a collector that hangs must not hold the response past the
/// invocation's time. The export carries on in its thread; spans it had not taken yet go with
/// a later flush, a batch it was sending when Lambda froze the process may be lost. Without a
/// deadline the exporter's own timeout bounds it.
async fn flush_by(flush: Flush, deadline: Option<tokio::time::Instant>) -> FlushOutcome {
    let export = tokio::task::spawn_blocking(move || flush());
    let joined = match deadline {
        Some(at) => match tokio::time::timeout_at(at, export).await {
            Ok(joined) => joined,
            Err(_) => return FlushOutcome::Late,
        },
        None => export.await,
    };
    if joined.is_ok() { FlushOutcome::Done } else { FlushOutcome::Panicked }
}

/// Longest a Lambda invocation can run: no real deadline lies further back than this.
const MAX_LAMBDA_TIMEOUT_MS: u64 = 900_000;

/// The invocation's deadline, [`SAFETY_MARGIN`] early, from Lambda's `deadline_ms` (epoch
/// milliseconds). A deadline that cannot be real (zero, or further back than Lambda's longest
/// timeout: emulators send such values) is no deadline, and the configured timeout applies; a
/// real one that has passed or is within the margin means the time is up: the call fails at once.
fn deadline(deadline_ms: u64, now_ms: u64) -> Option<tokio::time::Instant> {
    let now = tokio::time::Instant::now();
    if deadline_ms.saturating_add(MAX_LAMBDA_TIMEOUT_MS) < now_ms {
        tracing::debug!(
            deadline_ms,
            now_ms,
            "the Runtime API sent an impossible deadline; using the configured timeout"
        );
        return None;
    }
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(SAFETY_MARGIN);
    Some(now + left)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_800_000_000_000;

    fn left(deadline_ms: u64) -> Option<Duration> {
        deadline(deadline_ms, NOW_MS).map(|at| at.saturating_duration_since(tokio::time::Instant::now()))
    }

    #[tokio::test]
    async fn a_hanging_span_export_does_not_hold_the_response_past_the_deadline() {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = std::sync::Mutex::new(hold);
        let hang: Flush = Arc::new(move || {
            let _ = hold.lock().unwrap().recv();
        });
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        assert_eq!(flush_by(hang, Some(deadline)).await, FlushOutcome::Late);
        assert!(started.elapsed() < Duration::from_secs(2), "waited {:?}", started.elapsed());
        drop(release);
        let quick: Flush = Arc::new(|| ());
        assert_eq!(flush_by(quick.clone(), None).await, FlushOutcome::Done);
        let panics: Flush = Arc::new(|| panic!("exporter bug"));
        assert_eq!(flush_by(panics, None).await, FlushOutcome::Panicked);
        // A guest stopped at its deadline: the export still has Lambda's margin.
        let guest_deadline = tokio::time::Instant::now();
        assert_eq!(flush_by(quick, Some(flush_deadline(guest_deadline))).await, FlushOutcome::Done);
    }

    #[test]
    fn a_real_deadline_keeps_the_margin() {
        let left = left(NOW_MS + 3_000).expect("a deadline");
        assert!(left <= Duration::from_millis(2_750) && left > Duration::from_millis(2_500), "{left:?}");
    }

    #[test]
    fn a_deadline_inside_the_margin_or_past_leaves_no_time() {
        assert_eq!(left(NOW_MS + 100), Some(Duration::ZERO));
        assert_eq!(left(NOW_MS - 5_000), Some(Duration::ZERO));
    }

    #[test]
    fn an_impossible_deadline_means_the_configured_timeout() {
        assert_eq!(left(0), None);
        assert_eq!(left(NOW_MS - MAX_LAMBDA_TIMEOUT_MS - 1), None);
    }
}
