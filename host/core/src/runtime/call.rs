//! One guest call: a fresh store for the function's environment, the guest instantiated and
//! its export called within the deadline, and the outcome turned into a result or a described
//! failure. The role adapters say what to call ([`GuestExport`]); this module says how.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::{Duration, Instant};
use wasmtime::{Engine, Store};

use super::{GuestFailure, HostState};
use crate::capabilities::CallInfo;
use crate::capabilities::config::ConfigCtx;
use crate::capabilities::http::{HttpSender, OutboundHttpCtx};
use crate::capabilities::invoke::{InvokeCtx, Invoker};
use crate::capabilities::keyvalue::{KeyValueBackend, KeyValueCtx};
use crate::capabilities::queue::{QueueBackend, QueueCtx};
use crate::capabilities::test_double::TestDoubles;
use crate::config::FunctionConfig;
use crate::events::EventKind;
use crate::telemetry::{InvocationMetrics, Metric, TraceContext};

/// The backends a function's capabilities are served by.
#[derive(Clone)]
pub struct Backends {
    /// Key-value tables.
    pub keyvalue: Arc<dyn KeyValueBackend>,
    /// Queues.
    pub queue: Arc<dyn QueueBackend>,
    /// Other functions.
    pub invoker: Arc<dyn Invoker>,
    /// Outbound HTTP (built for the function's `grants.http`, e.g. a `PooledSender`).
    pub http: Arc<dyn HttpSender>,
}

/// What a function's guest can reach, built once per function and shared by its calls.
pub struct FunctionEnv {
    /// The function's name, for logs.
    pub name: String,
    /// Its configuration.
    pub config: FunctionConfig,
    /// Key-value grants and backend.
    pub(crate) keyvalue: KeyValueCtx,
    /// Queue grants and backend.
    pub(crate) queue: QueueCtx,
    /// Invoke grants and invoker.
    pub(crate) invoke: InvokeCtx,
    /// Values for `wasi:config`.
    pub(crate) guest_config: ConfigCtx,
    /// Outbound HTTP grants and sender.
    pub(crate) http: Arc<OutboundHttpCtx>,
    /// The in-memory backends' test view (`plugboard cargo-runner` only).
    pub(crate) test_doubles: Option<Arc<dyn TestDoubles>>,
}

impl FunctionEnv {
    /// What `config`'s guest can reach through `backends`.
    pub fn new(name: &str, config: FunctionConfig, backends: Backends) -> FunctionEnv {
        FunctionEnv {
            name: name.to_string(),
            keyvalue: KeyValueCtx::new(&config.grants, backends.keyvalue),
            queue: QueueCtx { grants: config.grants.queues.clone(), backend: backends.queue },
            invoke: InvokeCtx {
                grants: config.grants.functions.clone(),
                max_depth: config.limits.max_invoke_depth,
                invoker: backends.invoker,
            },
            guest_config: ConfigCtx { values: config.config.clone() },
            http: Arc::new(OutboundHttpCtx {
                grants: config.grants.http.clone(),
                sender: backends.http,
                max_requests: config.limits.http_requests,
                max_body_bytes: config.limits.http_body_bytes,
            }),
            test_doubles: None,
            config,
        }
    }

    /// This environment with `doubles` behind `plugboard:host/test-double`.
    pub fn with_test_doubles(mut self, doubles: Arc<dyn TestDoubles>) -> FunctionEnv {
        self.test_doubles = Some(doubles);
        self
    }
}

/// How one event arrived.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The request id (Lambda's, or made up locally).
    pub request_id: String,
    /// Invoke nesting depth; 0 for an event from outside.
    pub depth: u32,
    /// A deadline set by the caller (Lambda's remaining time, an invoking guest's deadline).
    pub deadline: Option<Instant>,
    /// The event kind, when the caller knows it better than shape detection.
    pub kind: Option<EventKind>,
    /// The guest's wall clock, pinned (a `plugboard test` case's `now`); `None`: the real one.
    pub clock: Option<SystemTime>,
    /// The trace the event belongs to (Lambda's trace header, a queue record's, a dev request's).
    pub trace: Option<TraceContext>,
    /// Where its measurements go (on Lambda, unless metrics are off).
    pub metrics: Option<Arc<InvocationMetrics>>,
}

/// A role's export called on a freshly instantiated guest: implemented once per role, for the
/// WIT input the role adapter builds (the request record, the message, the payload text).
pub trait GuestExport: Sync {
    /// The role's pre-instantiated component.
    type Pre: Sync;
    /// What the export returns.
    type Output;

    /// Instantiate `pre` in `store` (through [`HostState::instantiate`], which times it)
    /// and call the role's export with this input.
    fn call<'a>(
        &'a self,
        pre: &'a Self::Pre,
        store: &'a mut Store<HostState>,
    ) -> impl Future<Output = wasmtime::Result<Self::Output>> + Send + 'a;

    /// Whether `output` is the guest's own error (a failed message, an internal-api error), for
    /// the metrics; the role decides what it means for the invocation.
    fn is_guest_error(_output: &Self::Output) -> bool {
        false
    }
}

/// Runs one function's guest calls: its engine and environment.
#[derive(Clone)]
pub struct GuestRunner {
    engine: Engine,
    env: Arc<FunctionEnv>,
}

impl GuestRunner {
    /// Calls of `env`'s guests on `engine`.
    pub fn new(engine: Engine, env: FunctionEnv) -> GuestRunner {
        GuestRunner { engine, env: Arc::new(env) }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.env.name
    }

    /// The function's configuration.
    pub fn config(&self) -> &FunctionConfig {
        &self.env.config
    }

    /// The call facts for one guest call starting now: the configured timeout, or the
    /// caller's deadline when that comes first — also when it has already passed, so a call
    /// with no time left fails at once instead of running on borrowed time.
    pub fn call_info(&self, invocation: &Invocation) -> CallInfo {
        let now = Instant::now();
        let own = now + Duration::from_millis(self.env.config.limits.timeout_ms);
        let deadline = invocation.deadline.map_or(own, |given| given.min(own));
        let budget_ms = deadline.saturating_duration_since(now).as_millis() as u64;
        let request_id = invocation.request_id.clone();
        let (trace, metrics) = (invocation.trace.clone(), invocation.metrics.clone());
        CallInfo { deadline, budget_ms, depth: invocation.depth, request_id, clock: invocation.clock, trace, metrics }
    }

    /// A fresh store for one guest call.
    pub(crate) fn new_store(&self, call: CallInfo) -> Store<HostState> {
        HostState::new_store(&self.engine, self.env.clone(), call)
    }

    /// Call `input`'s export on a fresh instance of `pre`, bounded by `call`'s deadline; the
    /// guest's captured output is logged either way.
    pub async fn call<E: GuestExport + ?Sized>(
        &self,
        pre: &E::Pre,
        input: &E,
        call: CallInfo,
    ) -> Result<E::Output, GuestFailure> {
        let deadline = call.deadline;
        let mut store = self.new_store(call);
        let outcome = tokio::time::timeout_at(deadline, input.call(pre, &mut store)).await;
        store.data().log_output();
        let result = match outcome {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => Err(GuestFailure::classify(Some(e), &store)),
            Err(_) => Err(GuestFailure::classify(None, &store)),
        };
        if let Some(metrics) = &store.data().call().metrics {
            metrics.count(outcome_metric::<E>(&result), 1);
        }
        result
    }
}

/// The metric a guest call's outcome counts toward.
fn outcome_metric<E: GuestExport + ?Sized>(result: &Result<E::Output, GuestFailure>) -> Metric {
    match result {
        Ok(output) if E::is_guest_error(output) => Metric::GuestErrors,
        Ok(_) => Metric::GuestOk,
        Err(GuestFailure::Deadline { .. }) => Metric::GuestDeadlines,
        Err(GuestFailure::MemoryCap { .. }) => Metric::GuestMemoryCaps,
        Err(GuestFailure::Trap { .. }) => Metric::GuestTraps,
    }
}
