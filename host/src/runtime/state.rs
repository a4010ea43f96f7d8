//! Per-invocation store state, the memory cap, and how a failed guest call is described.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capabilities::config::ConfigView;
use crate::capabilities::invoke::InvokeView;
use crate::capabilities::keyvalue::KeyValueView;
use crate::capabilities::logging::LoggingView;
use crate::capabilities::queue::QueueView;
use crate::capabilities::{CallInfo, DeadlineExceeded};
use crate::function::FunctionEnv;

/// Everything one guest instance may touch; a fresh one per invocation and per queue record.
pub struct HostState {
    wasi: WasiCtx,
    output: MemoryOutputPipe,
    table: ResourceTable,
    limiter: MemoryCap,
    env: Arc<FunctionEnv>,
    call: CallInfo,
}

impl HostState {
    /// A store for one call of the function described by `env`.
    pub fn new_store(engine: &wasmtime::Engine, env: Arc<FunctionEnv>, call: CallInfo) -> Store<HostState> {
        // No environment, no arguments, no preopened directories, no network: a guest sees
        // only its imports. Its stdout/stderr (a Rust panic message, say) is kept, capped, and
        // logged after the call.
        let output = MemoryOutputPipe::new(MAX_OUTPUT);
        let wasi = WasiCtx::builder().stdout(output.clone()).stderr(output.clone()).build();
        let limiter = MemoryCap::new(u64::from(env.config.limits.memory_mb) * 1024 * 1024);
        let deadline = call.deadline;
        let state = HostState { wasi, output, table: ResourceTable::new(), limiter, env, call };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if tokio::time::Instant::now() >= deadline {
                Err(DeadlineExceeded.into())
            } else {
                // Yield to the executor each tick, so a busy guest never starves other tasks.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    /// The key-value view for this call.
    pub fn keyvalue(&mut self) -> KeyValueView<'_> {
        KeyValueView { ctx: &self.env.keyvalue, table: &mut self.table, call: &self.call }
    }

    /// The queue view for this call.
    pub fn queue(&mut self) -> QueueView<'_> {
        QueueView { ctx: &self.env.queue, call: &self.call }
    }

    /// The invoke view for this call.
    pub fn invoke(&mut self) -> InvokeView<'_> {
        InvokeView { ctx: &self.env.invoke, call: &self.call }
    }

    /// The config view for this call.
    pub fn config(&mut self) -> ConfigView<'_> {
        ConfigView { ctx: &self.env.guest_config }
    }

    /// The logging view for this call.
    pub fn logging(&mut self) -> LoggingView<'_> {
        LoggingView { function: &self.env.name, request_id: &self.call.request_id }
    }

    /// Log what the guest wrote to stdout/stderr during this call, if anything.
    pub fn log_output(&self) {
        let output = self.output.contents();
        if !output.is_empty() {
            let text = String::from_utf8_lossy(&output);
            tracing::info!(target: "guest", function = self.env.name, request_id = self.call.request_id, "{}", text.trim_end());
        }
    }

    /// Whether the guest tried to grow past its memory cap.
    pub fn memory_exceeded(&self) -> bool {
        self.limiter.exceeded
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps linear memory and tables of one store, remembering whether the cap was hit.
pub struct MemoryCap {
    max_bytes: u64,
    exceeded: bool,
}

/// Bytes of guest stdout/stderr kept per call; the rest is dropped.
const MAX_OUTPUT: usize = 64 * 1024;

/// Most table elements one store may hold; generous for Python and JS guests.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl MemoryCap {
    /// A cap of `max_bytes` of linear memory.
    pub fn new(max_bytes: u64) -> Self {
        MemoryCap { max_bytes, exceeded: false }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.max_bytes {
            self.exceeded = true;
            return Err(wasmtime::Error::msg(format!(
                "guest memory would grow to {} MiB, over its cap of {} MiB",
                desired >> 20,
                self.max_bytes >> 20
            )));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Why a guest call produced no answer. The invocation ends; the next one is unaffected.
#[derive(Debug, thiserror::Error)]
pub enum GuestFailure {
    /// The guest (or a host call it waited on) ran past the deadline and was stopped.
    #[error("guest ran past its deadline of {timeout_ms} ms and was stopped")]
    Deadline {
        /// The budget it had.
        timeout_ms: u64,
    },
    /// The guest asked for more memory than its cap.
    #[error("guest exceeded its memory cap of {memory_mb} MiB and was stopped")]
    MemoryCap {
        /// The cap.
        memory_mb: u32,
    },
    /// The guest trapped (panic, unreachable, out-of-bounds access, ...).
    #[error("guest trapped: {0}")]
    Trap(String),
}

impl GuestFailure {
    /// Describe `error` from a call on `store`, or a timeout when `error` is `None`.
    pub fn classify(error: Option<wasmtime::Error>, store: &Store<HostState>) -> Self {
        let limits = &store.data().env.config.limits;
        if store.data().memory_exceeded() {
            return GuestFailure::MemoryCap { memory_mb: limits.memory_mb };
        }
        match error {
            None => GuestFailure::Deadline { timeout_ms: limits.timeout_ms },
            Some(e) if e.is::<DeadlineExceeded>() => GuestFailure::Deadline { timeout_ms: limits.timeout_ms },
            Some(e) => GuestFailure::Trap(format!("{e:#}")),
        }
    }
}
