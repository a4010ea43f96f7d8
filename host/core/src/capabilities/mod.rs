//! One module per WIT interface the host provides; each holds the backend trait it is written
//! over, a small per-function context, a per-call view and an `add_to_linker`.

pub mod bindings;
pub mod config;
pub mod http;
pub mod invoke;
pub mod keyvalue;
pub mod logging;
pub mod queue;
pub mod test_double;

use std::future::Future;

use tokio::time::Instant;

use std::sync::Arc;

use crate::telemetry::{HostCall, InvocationMetrics, TraceContext, TraceId};

/// Facts about the invocation in progress that every capability needs.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// When the invocation must be over; host calls are cut off here too.
    pub deadline: Instant,
    /// How long the call had when it started (the configured timeout or less), for reports.
    pub budget_ms: u64,
    /// How many invokes deep this call is (0 for an event from outside).
    pub depth: u32,
    /// The request id, for logs.
    pub request_id: String,
    /// The guest's wall clock, when pinned (a `plugboard test` case's `now`).
    pub clock: Option<std::time::SystemTime>,
    /// The trace this call belongs to, carried on every message, invoke and request it causes.
    pub trace: Option<TraceContext>,
    /// Where the invocation's measurements go, when metrics are on.
    pub metrics: Option<Arc<InvocationMetrics>>,
}

impl CallInfo {
    /// The trace id for log lines (nothing when the call has no trace).
    pub fn trace_id(&self) -> Option<tracing::field::DisplayValue<TraceId>> {
        self.trace.as_ref().map(|t| tracing::field::display(t.trace_id()))
    }
}

/// Most resource handles (stores, CAS handles, WASI streams, ...) one invocation may hold at
/// once. Each costs host memory outside the guest's cap; 10,000 is far above what the example
/// Rust, Python and JavaScript guests hold and keeps a handle flood to a few tens of MiB.
pub const MAX_HANDLES: usize = 10_000;

/// The invocation's deadline passed while the guest ran or waited on the host.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the invocation's deadline passed")]
pub struct DeadlineExceeded;

/// Run a host operation of `kind`, giving up when the invocation's deadline passes; counted and
/// timed in the invocation's metrics (a deadline counts as a failure).
pub async fn bounded<T, E>(
    call: &CallInfo,
    kind: HostCall,
    work: impl Future<Output = Result<T, E>>,
) -> Result<Result<T, E>, DeadlineExceeded> {
    let started = call.metrics.as_ref().map(|_| std::time::Instant::now());
    let work = tracing::Instrument::instrument(work, crate::telemetry::spans::host_call(kind));
    let result = tokio::time::timeout_at(call.deadline, work).await.map_err(|_| DeadlineExceeded);
    if let (Some(metrics), Some(started)) = (&call.metrics, started) {
        metrics.host_call(kind, started.elapsed(), !matches!(result, Ok(Ok(_))));
    }
    result
}

/// A capability's error: either what the guest sees as its WIT error, or a trap that stops the
/// invocation. Lets the hand-linked imports share one conversion.
pub(crate) trait CapabilityError: From<DeadlineExceeded> {
    /// The WIT error type the guest receives.
    type Wit;
    /// `Ok(wit error)` for the guest, `Err(trap)` to stop the invocation.
    fn for_guest(self) -> Result<Self::Wit, wasmtime::Error>;
    /// A trap, as this error.
    fn trap(error: wasmtime::Error) -> Self;
}

/// A hand-linked import's result: a trap stays a trap, any other failure is the WIT error.
pub(crate) fn guest_result<R, E: CapabilityError>(result: Result<R, E>) -> wasmtime::Result<Result<R, E::Wit>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) => e.for_guest().map(Err),
    }
}

/// One element of a list argument still in guest memory, or the trap reading it raised.
pub(crate) fn list_element<T, E: CapabilityError>(element: Option<wasmtime::Result<T>>) -> Result<T, E> {
    element.ok_or_else(|| E::trap(wasmtime::Error::msg("list index out of range")))?.map_err(E::trap)
}

/// The host side of the interfaces that only declare types.
pub(crate) struct TypesOnly;

impl wasmtime::component::HasData for TypesOnly {
    type Data<'a> = TypesOnly;
}

impl crate::capabilities::bindings::plugboard::host::types::Host for TypesOnly {}
impl crate::capabilities::bindings::plugboard::host::http_types::Host for TypesOnly {}
impl crate::capabilities::bindings::plugboard::host::policy::Host for TypesOnly {}
