//! Per-invocation store state, the memory cap, and how a failed guest call is described.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::FunctionEnv;
use super::output::CappedOutput;
use crate::capabilities::config::ConfigView;
use crate::capabilities::http::OutboundHttp;
use crate::capabilities::invoke::InvokeView;
use crate::capabilities::keyvalue::KeyValueView;
use crate::capabilities::logging::LoggingView;
use crate::capabilities::queue::QueueView;
use crate::capabilities::test_double::TestDoubleView;
use crate::capabilities::{CallInfo, DeadlineExceeded, MAX_HANDLES};
use crate::telemetry::Metric;

/// Everything one guest instance may touch; a fresh one per invocation and per queue record.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    /// Built on the guest's first `wasi:http` call: most invocations make none.
    http_hooks: Option<OutboundHttp>,
    output: CappedOutput,
    table: ResourceTable,
    limiter: MemoryCap,
    env: Arc<FunctionEnv>,
    call: CallInfo,
}

/// A wall clock that always reads one instant (since the Unix epoch): deterministic test cases.
struct PinnedClock(std::time::Duration);

impl wasmtime_wasi::HostWallClock for PinnedClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        self.0
    }
}

impl HostState {
    /// A store for one call of the function described by `env`.
    pub(crate) fn new_store(engine: &wasmtime::Engine, env: Arc<FunctionEnv>, call: CallInfo) -> Store<HostState> {
        // No environment, no arguments, no preopened directories, no network: a guest sees
        // only its imports. Its stdout/stderr (a Rust panic message, say) is kept, capped, and
        // logged after the call.
        let output = CappedOutput::new(MAX_OUTPUT);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(output.clone()).stderr(output.clone());
        if let Some(at) = call.clock {
            wasi.wall_clock(PinnedClock(at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default()));
        }
        Self::build_store(engine, env, call, wasi, output)
    }

    /// A store for a `wasi:cli` command of `env` (a guest's `cargo test` binary): `args` as
    /// its arguments and this process's stdout and stderr as its own, so the harness's report
    /// reaches the terminal as it is written. Nothing else changes: no environment, no
    /// directories, the same capabilities, cap and deadline.
    pub(crate) fn new_command_store(
        engine: &wasmtime::Engine,
        env: Arc<FunctionEnv>,
        call: CallInfo,
        args: &[String],
    ) -> Store<HostState> {
        let mut wasi = WasiCtx::builder();
        wasi.args(args).inherit_stdout().inherit_stderr();
        Self::build_store(engine, env, call, wasi, CappedOutput::new(0))
    }

    fn build_store(
        engine: &wasmtime::Engine,
        env: Arc<FunctionEnv>,
        call: CallInfo,
        mut wasi: wasmtime_wasi::WasiCtxBuilder,
        output: CappedOutput,
    ) -> Store<HostState> {
        let wasi = wasi.max_random_size(MAX_RANDOM_BYTES).build();
        let limiter = MemoryCap::new(u64::from(env.config.limits.memory_mb) * 1024 * 1024);
        let deadline = call.deadline;
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HANDLES);
        let state = HostState { wasi, http: WasiHttpCtx::new(), http_hooks: None, output, table, limiter, env, call };
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
    pub(crate) fn keyvalue(&mut self) -> KeyValueView<'_> {
        KeyValueView { ctx: &self.env.keyvalue, table: &mut self.table, call: &self.call }
    }

    /// The queue view for this call.
    pub(crate) fn queue(&mut self) -> QueueView<'_> {
        QueueView { ctx: &self.env.queue, call: &self.call }
    }

    /// The invoke view for this call.
    pub(crate) fn invoke(&mut self) -> InvokeView<'_> {
        InvokeView { ctx: &self.env.invoke, call: &self.call }
    }

    /// The config view for this call.
    pub(crate) fn config(&mut self) -> ConfigView<'_> {
        ConfigView { ctx: &self.env.guest_config }
    }

    /// The logging view for this call.
    pub(crate) fn logging(&mut self) -> LoggingView<'_> {
        LoggingView { function: &self.env.name, call: &self.call }
    }

    /// The test-double view for this call (linked for `plugboard cargo-runner` only).
    pub(crate) fn test_double(&mut self) -> TestDoubleView<'_> {
        let env = &self.env;
        let (stores, queues, functions) = (&env.keyvalue.grants, &env.queue.grants, &env.invoke.grants);
        TestDoubleView { doubles: env.test_doubles.as_ref(), stores, queues, functions }
    }

    /// Log what the guest wrote to stdout/stderr during this call, if anything.
    pub(crate) fn log_output(&self) {
        let (output, dropped_bytes) = self.output.contents();
        if !output.is_empty() {
            let text = String::from_utf8_lossy(&output);
            let (function, request_id, trace_id) = (&self.env.name, &self.call.request_id, self.call.trace_id());
            if dropped_bytes > 0 {
                tracing::info!(target: "guest", function, request_id, trace_id, dropped_bytes, "{} …[output over {MAX_OUTPUT} bytes dropped]", text.trim_end());
            } else {
                tracing::info!(target: "guest", function, request_id, trace_id, "{}", text.trim_end());
            }
        }
    }

    /// The call this store serves.
    pub(crate) fn call(&self) -> &CallInfo {
        &self.call
    }

    /// Run `instantiate` on `store`, timed as the guest's instantiate time when metrics are
    /// on (no clock read when they are off): every role's export call starts with it.
    pub async fn instantiate<I>(
        store: &mut Store<HostState>,
        instantiate: impl AsyncFnOnce(&mut Store<HostState>) -> wasmtime::Result<I>,
    ) -> wasmtime::Result<I> {
        let started = store.data().call.metrics.is_some().then(std::time::Instant::now);
        let instance = instantiate(&mut *store).await?;
        if let (Some(metrics), Some(started)) = (&store.data().call.metrics, started) {
            metrics.time(Metric::GuestInstantiate, started.elapsed());
        }
        Ok(instance)
    }

    /// Whether the guest tried to grow past its memory cap.
    pub(crate) fn memory_exceeded(&self) -> bool {
        self.limiter.exceeded
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let (env, call) = (&self.env, &self.call);
        let hooks = self.http_hooks.get_or_insert_with(|| OutboundHttp::new(env.http.clone(), &env.name, call));
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps the linear memory of one store — all its memories together, since a component may
/// have several — and its tables, remembering whether the cap was hit.
pub(crate) struct MemoryCap {
    max_bytes: u64,
    /// Bytes of linear memory the store's memories hold together.
    used_bytes: u64,
    /// What the last approved growth added, taken back if that growth then fails.
    approved_bytes: u64,
    exceeded: bool,
}

/// Bytes of guest stdout/stderr kept per call; the rest is dropped (counted in the log line).
const MAX_OUTPUT: usize = 64 * 1024;

/// Most bytes one `wasi:random` call may ask the host for (wasmtime's default is 64 MiB).
const MAX_RANDOM_BYTES: u64 = 1024 * 1024;

/// Most table elements one store may hold; generous for Python and JS guests.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl MemoryCap {
    /// A cap of `max_bytes` of linear memory.
    pub fn new(max_bytes: u64) -> Self {
        MemoryCap { max_bytes, used_bytes: 0, approved_bytes: 0, exceeded: false }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        // Memories only grow, and a new one starts at `current == 0`: the store's total moves
        // by the difference. Saturating: a 64-bit memory may ask for nearly 2^64 bytes, which
        // must not wrap the total around to a small number.
        let total = self.used_bytes.saturating_sub(current as u64).saturating_add(desired as u64);
        if total > self.max_bytes {
            self.exceeded = true;
            return Err(wasmtime::Error::msg(format!(
                "guest memories would grow to {} MiB together, over the cap of {} MiB",
                total >> 20,
                self.max_bytes >> 20
            )));
        }
        self.approved_bytes = total - self.used_bytes;
        self.used_bytes = total;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // The growth just approved did not happen (e.g. the pool slot is smaller): uncount it.
        self.used_bytes -= std::mem::take(&mut self.approved_bytes);
        Ok(())
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Why a guest call produced no answer. The invocation ends; the next one is unaffected.
#[derive(Debug, thiserror::Error)]
pub enum GuestFailure {
    /// The guest (or a host call it waited on) ran past the deadline and was stopped.
    #[error("guest ran past its deadline ({budget_ms} ms budget) and was stopped")]
    Deadline {
        /// The time it had: the configured timeout, or less when the caller's deadline was nearer.
        budget_ms: u64,
    },
    /// The guest asked for more memory than its cap.
    #[error("guest exceeded its memory cap of {memory_mb} MiB and was stopped")]
    MemoryCap {
        /// The cap.
        memory_mb: u32,
    },
    /// The guest trapped (panic, unreachable, out-of-bounds access, ...) or a host call it made
    /// failed in a way the guest cannot see.
    #[error("guest trapped: {message}")]
    Trap {
        /// wasmtime's trap code, when it was a trap of the guest's own code.
        code: Option<wasmtime::Trap>,
        /// The whole error chain, with the guest's backtrace.
        message: String,
    },
}

impl GuestFailure {
    /// Describe `error` from a call on `store`, or a timeout when `error` is `None`.
    pub(crate) fn classify(error: Option<wasmtime::Error>, store: &Store<HostState>) -> Self {
        let state = store.data();
        if state.memory_exceeded() {
            return GuestFailure::MemoryCap { memory_mb: state.env.config.limits.memory_mb };
        }
        let budget_ms = state.call.budget_ms;
        match error {
            None => GuestFailure::Deadline { budget_ms },
            Some(e) if e.is::<DeadlineExceeded>() => GuestFailure::Deadline { budget_ms },
            Some(e) => {
                GuestFailure::Trap { code: e.downcast_ref::<wasmtime::Trap>().copied(), message: format!("{e:#}") }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_every_memory_of_the_store_together() {
        let mut cap = MemoryCap::new(32 << 20);
        assert!(cap.memory_growing(0, 20 << 20, None).is_ok(), "one memory under the cap");
        assert!(cap.memory_growing(0, 20 << 20, None).is_err(), "a second one takes the total over it");
        assert!(cap.exceeded);
        let mut cap = MemoryCap::new(32 << 20);
        assert!(cap.memory_growing(0, 8 << 20, None).is_ok());
        assert!(cap.memory_growing(8 << 20, 30 << 20, None).is_ok(), "growth counts by the difference");
        assert!(cap.memory_growing(30 << 20, 33 << 20, None).is_err());
        // A 64-bit memory asking for nearly 2^64 bytes does not wrap the total around.
        assert!(cap.memory_growing(30 << 20, usize::MAX - 0xffff, None).is_err());
        assert!(cap.memory_growing(30 << 20, 33 << 20, None).is_err(), "the total still counts 30 MiB");
        // A growth approved but then failed is taken back.
        let mut cap = MemoryCap::new(32 << 20);
        assert!(cap.memory_growing(0, 20 << 20, None).is_ok());
        cap.memory_grow_failed(wasmtime::Error::msg("no room in the slot")).unwrap();
        assert!(cap.memory_growing(0, 20 << 20, None).is_ok());
    }
}
