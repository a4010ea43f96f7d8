//! A function: one configured guest with its grants and backends, answering Lambda events.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde_json::Value;
use tokio::time::{Duration, Instant};
use wasmtime::Store;

use crate::capabilities::CallInfo;
use crate::capabilities::config::ConfigCtx;
use crate::capabilities::invoke::{InvokeCtx, Invoker};
use crate::capabilities::keyvalue::{KeyValueBackend, KeyValueCtx};
use crate::capabilities::queue::{QueueBackend, QueueCtx};
use crate::config::{FunctionConfig, Role};
use crate::roles::{self, EventKind, FunctionError};
use crate::runtime::{Guest, GuestFailure, HostState, Runtime};

/// The backends a function's capabilities are served by.
#[derive(Clone)]
pub struct Backends {
    /// Key-value tables.
    pub keyvalue: Arc<dyn KeyValueBackend>,
    /// Queues.
    pub queue: Arc<dyn QueueBackend>,
    /// Other functions.
    pub invoker: Arc<dyn Invoker>,
}

/// What a function's guest can reach, built once per function and shared by its calls.
pub struct FunctionEnv {
    /// The function's name, for logs.
    pub name: String,
    /// Its configuration.
    pub config: FunctionConfig,
    /// Key-value grants and backend.
    pub keyvalue: KeyValueCtx,
    /// Queue grants and backend.
    pub queue: QueueCtx,
    /// Invoke grants and invoker.
    pub invoke: InvokeCtx,
    /// Values for `wasi:config`.
    pub guest_config: ConfigCtx,
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
}

/// A configured, loaded function.
pub struct Function {
    runtime: Runtime,
    guest: RwLock<Guest>,
    env: Arc<FunctionEnv>,
}

impl Function {
    /// Bind `guest` (loaded for `config.role`) to its grants and backends.
    pub fn new(name: &str, config: FunctionConfig, runtime: Runtime, guest: Guest, backends: Backends) -> Self {
        let env = FunctionEnv {
            name: name.to_string(),
            keyvalue: KeyValueCtx::new(&config.grants, backends.keyvalue),
            queue: QueueCtx { grants: config.grants.queues.clone(), backend: backends.queue },
            invoke: InvokeCtx {
                grants: config.grants.functions.clone(),
                max_depth: config.limits.max_invoke_depth,
                invoker: backends.invoker,
            },
            guest_config: ConfigCtx { values: config.config.clone() },
            config,
        };
        Function { runtime, guest: RwLock::new(guest), env: Arc::new(env) }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.env.name
    }

    /// The function's role.
    pub fn role(&self) -> Role {
        self.env.config.role
    }

    /// The function's configuration.
    pub fn config(&self) -> &FunctionConfig {
        &self.env.config
    }

    /// The guest serving calls now (a cheap handle; a call keeps the one it started with).
    pub fn guest(&self) -> Guest {
        self.guest.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The engine and linker the function's guests are loaded with.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Serve later calls with `guest` (a refreshed or hot-reloaded build); calls in flight
    /// finish on the old one. A guest loaded for another role is refused.
    pub fn replace_guest(&self, guest: Guest) -> Result<(), Role> {
        if guest.role != self.role() {
            return Err(guest.role);
        }
        *self.guest.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = guest;
        Ok(())
    }

    /// Answer one Lambda event with the Lambda response, or a Lambda function error.
    pub async fn handle(&self, event: Value, invocation: Invocation) -> Result<Value, FunctionError> {
        roles::handle(self, event, invocation).await
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
        CallInfo { deadline, budget_ms, depth: invocation.depth, request_id, clock: invocation.clock }
    }

    /// A fresh store for one guest call.
    pub fn new_store(&self, call: CallInfo) -> Store<HostState> {
        HostState::new_store(self.runtime.engine(), self.env.clone(), call)
    }

    /// Turn the outcome of a deadline-bounded guest call into its result or a described failure.
    pub fn finish<R>(
        &self,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
        store: &Store<HostState>,
    ) -> Result<R, GuestFailure> {
        store.data().log_output();
        match outcome {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => Err(GuestFailure::classify(Some(e), store)),
            Err(_) => Err(GuestFailure::classify(None, store)),
        }
    }
}

/// Instantiate a role's guest in a fresh store and run `$body` with it, bounded by the deadline.
///
/// `call_guest!(function, call, pre, |guest, store| guest.iface().call_x(&mut store, ..))`
/// evaluates to `Result<R, GuestFailure>`.
macro_rules! call_guest {
    ($function:expr, $call:expr, $pre:expr, |$guest:ident, $store:ident| $body:expr) => {{
        let deadline = $call.deadline;
        let mut $store = $function.new_store($call.clone());
        let outcome = tokio::time::timeout_at(deadline, async {
            let $guest = $pre.instantiate_async(&mut $store).await?;
            $body.await
        })
        .await;
        $function.finish(outcome, &$store)
    }};
}
pub(crate) use call_guest;
