//! A function: one configured guest with its grants and backends, answering Lambda events.

use std::sync::RwLock;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::{FunctionConfig, Role};
use crate::events::{ErrorType, Event, EventKind, EventResponse, FunctionError};
use crate::roles;
pub use crate::runtime::{Backends, FunctionEnv, Invocation};
use crate::runtime::{Guest, GuestRunner, Runtime};
use crate::telemetry::spans;
use tracing::Instrument;

/// A configured, loaded function.
pub struct Function {
    runtime: Runtime,
    guest: RwLock<Guest>,
    runner: GuestRunner,
}

impl Function {
    /// Bind `guest` (loaded for `config.role`) to its grants and backends.
    pub fn new(name: &str, config: FunctionConfig, runtime: Runtime, guest: Guest, backends: Backends) -> Self {
        let env = FunctionEnv::new(name, config, backends);
        let runner = GuestRunner::new(runtime.engine().clone(), env);
        Function { runtime, guest: RwLock::new(guest), runner }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        self.runner.name()
    }

    /// The function's role.
    pub fn role(&self) -> Role {
        self.runner.config().role
    }

    /// The function's configuration.
    pub fn config(&self) -> &FunctionConfig {
        self.runner.config()
    }

    /// What runs this function's guest calls (store, deadline, outcome).
    pub fn runner(&self) -> &GuestRunner {
        &self.runner
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
        if guest.role() != self.role() {
            return Err(guest.role());
        }
        *self.guest.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = guest;
        Ok(())
    }

    /// Answer one typed event with its typed response, or a Lambda function error (also when the
    /// response is larger than Lambda returns). What `plugboard dev` and `plugboard test` call.
    pub async fn invoke(&self, event: Event, invocation: Invocation) -> Result<EventResponse, FunctionError> {
        let (kind, started) = (event.kind(), std::time::Instant::now());
        let span = self.span(&invocation);
        let result = roles::respond(&self.runner, &self.guest(), event, &invocation).instrument(span).await;
        let result = result.and_then(|response| response.check_size().map(|()| response));
        self.log_outcome(kind, &invocation, started, result.as_ref().err());
        result
    }

    /// Answer one event given as JSON text (as Lambda and the Invoke API deliver it) with the
    /// response's JSON, serialised once: the event is parsed straight into its typed form, of
    /// `invocation.kind` when set, else of the kind its shape shows.
    pub async fn invoke_json(&self, event: &str, invocation: Invocation) -> Result<Box<RawValue>, FunctionError> {
        let started = std::time::Instant::now();
        let event = match Event::parse(event, self.role(), invocation.kind) {
            Ok(event) => event,
            Err(e) => {
                self.log_outcome(invocation.kind.unwrap_or(EventKind::Direct), &invocation, started, Some(&e));
                return Err(e);
            }
        };
        let kind = event.kind();
        let span = self.span(&invocation);
        let result = roles::respond(&self.runner, &self.guest(), event, &invocation)
            .instrument(span)
            .await
            .and_then(EventResponse::into_json);
        self.log_outcome(kind, &invocation, started, result.as_ref().err());
        result
    }

    /// Answer one event given as a JSON value with the response's JSON value: for tools and
    /// tests that hold JSON values. Goes through [`Function::invoke_json`], as Lambda does.
    pub async fn handle(&self, event: Value, invocation: Invocation) -> Result<Value, FunctionError> {
        let response = self.invoke_json(&event.to_string(), invocation).await?;
        serde_json::from_str(response.get()).map_err(|e| FunctionError::new(ErrorType::InvalidResponse, e))
    }

    /// The invocation's span (built only when an exporter wants it).
    fn span(&self, invocation: &Invocation) -> tracing::Span {
        spans::invocation(self.name(), self.role().as_str(), &invocation.request_id, invocation.trace.as_ref())
    }

    /// One log line per invocation: done, or failed with why.
    fn log_outcome(
        &self,
        kind: EventKind,
        invocation: &Invocation,
        started: std::time::Instant,
        error: Option<&FunctionError>,
    ) {
        let (function, role, request_id) = (self.name(), self.role(), &invocation.request_id);
        let trace_id = invocation.trace.as_ref().map(|t| tracing::field::display(t.trace_id()));
        let elapsed_us = started.elapsed().as_micros() as u64;
        match error {
            None => tracing::info!(function, %role, %kind, request_id, trace_id, elapsed_us, "invocation done"),
            Some(e) => {
                let text = e.to_string();
                let error = crate::capabilities::logging::for_log(&text);
                tracing::warn!(function, %role, %kind, request_id, trace_id, elapsed_us, %error, "invocation failed")
            }
        }
    }
}
