//! A `wasi:cli` command run with a function's capabilities: how `plugboard cargo-runner` runs a
//! guest's `cargo test` binary — the guest's linker and memory cap, one deadline for the run.

use std::sync::Arc;

use tokio::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime_wasi::p2::bindings::Command;

use super::{FunctionEnv, GuestFailure, HostState, Runtime};
use crate::capabilities::CallInfo;

impl Runtime {
    /// Run `command`'s `wasi:cli/run` with `args` (the program name first) and this process's
    /// stdout and stderr; its exit code (0 or 1 as WASI reports success, or the code it passed
    /// to `exit`), or why it was stopped (trap, deadline after `timeout`, memory cap).
    pub async fn run_command(
        &self,
        command: &Component,
        env: FunctionEnv,
        args: &[String],
        timeout: Duration,
    ) -> Result<i32, GuestFailure> {
        let deadline = Instant::now() + timeout;
        let call = CallInfo {
            deadline,
            budget_ms: timeout.as_millis() as u64,
            depth: 0,
            request_id: "command".into(),
            clock: None,
            trace: None,
            metrics: None,
        };
        let mut store = HostState::new_command_store(self.engine(), Arc::new(env), call, args);
        let run = async {
            let instance = Command::instantiate_async(&mut store, command, self.linker()).await?;
            instance.wasi_cli_run().call_run(&mut store).await
        };
        match tokio::time::timeout_at(deadline, run).await {
            Ok(Ok(Ok(()))) => Ok(0),
            Ok(Ok(Err(()))) => Ok(1),
            Ok(Err(e)) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => Err(GuestFailure::classify(Some(e), &store)),
            },
            Err(_) => Err(GuestFailure::classify(None, &store)),
        }
    }
}
