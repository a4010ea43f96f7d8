//! `plugboard cargo-runner`: `cargo test` inside a Rust guest. Cargo builds the guest's tests
//! for `wasm32-wasip2` as a `wasi:cli` command component and hands it to the target's runner
//! (the scaffold's `.cargo/config.toml` names this one); it runs with the guest's engine settings
//! and imports plus the test doubles, under the function of `cases/function.toml` (grants,
//! config, memory cap), with in-memory backends the tests seed and inspect through the SDK's
//! `testing` module.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;

use super::FUNCTION_FILE;
use super::http_stubs::StubSender;
use crate::backends::memory::{MemoryKeyValue, MemoryQueue};
use plugboard_core::capabilities::invoke::{InvokeContext, InvokeError, Invoker};
use plugboard_core::capabilities::queue::OutgoingMessage;
use plugboard_core::capabilities::test_double::{FunctionError, InvokeKind, RecordedInvoke, TestDoubles};
use plugboard_core::config::FunctionConfig;
use plugboard_core::runtime::{Allocator, Backends, EngineSettings, FunctionEnv, GuestFailure, Runtime};
use wasmtime::Trap;

/// The tests' function's name in logs.
const FUNCTION_NAME: &str = "cargo-test";

/// Where the tests' function is described, relative to the package cargo runs the tests in.
pub fn default_function_file() -> std::path::PathBuf {
    Path::new("cases").join(FUNCTION_FILE)
}

/// Run the test binary `wasm` with `args` under the function of `function_file`; the exit code
/// to end with (the harness's, or 101 as Rust's own test binaries end after a panic).
pub async fn run(wasm: &Path, args: &[String], function_file: &Path, timeout: Duration) -> anyhow::Result<i32> {
    let config = FunctionConfig::from_file(function_file).with_context(|| {
        format!("reading {} (the function the tests run as: role, grants, config)", function_file.display())
    })?;
    let runtime = Runtime::for_guest_tests(EngineSettings { allocator: Allocator::OnDemand, ..Default::default() })
        .map_err(|e| anyhow::anyhow!("starting the engine: {e:#}"))?;
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let command = wasmtime::component::Component::from_binary(runtime.engine(), &bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a component this host can run: {e:#}", wasm.display()))?;
    let doubles = Arc::new(InMemoryDoubles::for_grants(&config));
    let backends = Backends {
        keyvalue: doubles.keyvalue.clone(),
        queue: doubles.queues.clone(),
        invoker: doubles.invoker.clone(),
        // No stubs: every outbound request is refused (cases with `[[http]]` stubs test those).
        http: Arc::new(StubSender::new(&[])),
    };
    let env = FunctionEnv::new(FUNCTION_NAME, config, backends).with_test_doubles(doubles);
    match runtime.run_command(&command, env, &harness_args(wasm, args), timeout).await {
        // The harness exits 101 on a failed test; WASI only carries success or failure (1).
        Ok(1) => Ok(101),
        Ok(code) => Ok(code),
        Err(GuestFailure::Trap { code: Some(Trap::UnreachableCodeReached), .. }) => {
            eprintln!(
                "plugboard cargo-runner: a test panicked (its message is above); wasm has no unwinding, so a panic \
                 ends the test binary and the tests after it do not run"
            );
            Ok(101)
        }
        Err(failure) => {
            eprintln!("plugboard cargo-runner: {} stopped: {failure}", wasm.display());
            Ok(101)
        }
    }
}

/// The harness's arguments: the binary's name first, as a native test binary sees it, then
/// cargo's, with `--nocapture` added. A panic aborts a wasm binary, and a captured test's
/// output — the panic message with it — would be lost with the process.
fn harness_args(wasm: &Path, args: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = std::iter::once(wasm.display().to_string()).chain(args.iter().cloned()).collect();
    if !args.iter().any(|a| a == "--nocapture") {
        argv.push("--nocapture".into());
    }
    argv
}

/// The granted stores and queues (created empty), and invokes answered from the tests' stubs.
struct InMemoryDoubles {
    keyvalue: Arc<MemoryKeyValue>,
    queues: Arc<MemoryQueue>,
    invoker: Arc<StubbedInvoker>,
}

impl InMemoryDoubles {
    fn for_grants(config: &FunctionConfig) -> InMemoryDoubles {
        let keyvalue = Arc::new(MemoryKeyValue::new());
        config.grants.all_stores().for_each(|(_, table, _)| keyvalue.create_table(table));
        let queues = Arc::new(MemoryQueue::new());
        config.grants.queues.values().for_each(|queue| queues.create_queue(queue));
        InMemoryDoubles { keyvalue, queues, invoker: Arc::default() }
    }
}

impl TestDoubles for InMemoryDoubles {
    fn seed(&self, table: &str, key: &str, value: Vec<u8>) {
        // Every granted table was created with the doubles; the view resolved `table` from a grant.
        if let Some(table) = self.keyvalue.table(table) {
            table.put(key, value);
        }
    }

    fn sent(&self, queue: &str) -> Vec<OutgoingMessage> {
        self.queues.messages(queue).into_iter().map(|stored| stored.message).collect()
    }

    fn stub_invoke(&self, function: &str, response: Result<String, FunctionError>) {
        lock(&self.invoker.stubs).insert(function.to_string(), response);
    }

    fn invocations(&self) -> Vec<RecordedInvoke> {
        lock(&self.invoker.calls).clone()
    }

    fn reset(&self) {
        self.keyvalue.clear();
        self.queues.clear();
        lock(&self.invoker.stubs).clear();
        lock(&self.invoker.calls).clear();
    }
}

/// Invokes answered from the stubs the tests set, each recorded; no stub: `no-such-target`.
#[derive(Default)]
struct StubbedInvoker {
    stubs: Mutex<HashMap<String, Result<String, FunctionError>>>,
    calls: Mutex<Vec<RecordedInvoke>>,
}

impl StubbedInvoker {
    /// Record the call; answer from the stub as Lambda would: a RequestResponse call gets the
    /// result or the function error, an Event invoke only that it was accepted.
    fn answer(&self, function: &str, payload: String, kind: InvokeKind) -> Result<String, InvokeError> {
        lock(&self.calls).push(RecordedInvoke { function: function.to_string(), payload, kind });
        match (lock(&self.stubs).get(function), kind) {
            (None, _) => Err(InvokeError::NoSuchTarget),
            (Some(_), InvokeKind::Event) => Ok(String::new()),
            (Some(Ok(json)), InvokeKind::RequestResponse) => Ok(json.clone()),
            (Some(Err(e)), InvokeKind::RequestResponse) => {
                Err(InvokeError::FunctionFailed { error_type: e.error_type.clone(), message: e.message.clone() })
            }
        }
    }
}

#[async_trait]
impl Invoker for StubbedInvoker {
    async fn call(&self, function: &str, payload: String, _ctx: InvokeContext) -> Result<String, InvokeError> {
        self.answer(function, payload, InvokeKind::RequestResponse)
    }

    async fn send_event(&self, function: &str, payload: String, _ctx: InvokeContext) -> Result<(), InvokeError> {
        self.answer(function, payload, InvokeKind::Event).map(drop)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
