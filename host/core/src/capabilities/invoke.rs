//! `plugboard:host/invoke` over an [`Invoker`]; grants and the nesting limit are checked here.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::time::Instant;
use wasmtime::component::{HasData, Linker};

use super::{CallInfo, DeadlineExceeded, bounded};
use crate::capabilities::bindings::plugboard::host::invoke::{self, Error};
use crate::capabilities::bindings::plugboard::host::types::FunctionError;
use crate::telemetry::{HostCall, TraceContext};

/// Lambda's payload limit for RequestResponse invokes.
pub(crate) const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Lambda's payload limit for Event invokes.
pub(crate) const MAX_EVENT_PAYLOAD: usize = 1024 * 1024;
/// Bytes of an Event payload kept for the envelope that carries the depth on Lambda.
pub(crate) const EVENT_ENVELOPE_BYTES: usize = 64;

/// Why an invoke failed; everything but `Trap` reaches the guest as the WIT error.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The target name was not granted to this function.
    #[error("access denied")]
    AccessDenied,
    /// The granted function does not exist.
    #[error("no such target")]
    NoSuchTarget,
    /// The target ran and failed.
    #[error("{error_type}: {message}")]
    FunctionFailed {
        /// The target's error type.
        error_type: String,
        /// The target's message.
        message: String,
    },
    /// The invoke chain is too deep.
    #[error("invoke depth limit exceeded")]
    DepthExceeded,
    /// The payload is not acceptable.
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
    /// The call ran out of time.
    #[error("timed out")]
    Timeout,
    /// Any other failure, with the backend's code in the text.
    #[error("{0}")]
    Other(String),
    /// Not for the guest: the invocation is being stopped.
    #[error(transparent)]
    Trap(wasmtime::Error),
}

impl From<DeadlineExceeded> for InvokeError {
    fn from(e: DeadlineExceeded) -> Self {
        InvokeError::Trap(e.into())
    }
}

impl From<InvokeError> for Error {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::AccessDenied => Error::AccessDenied,
            InvokeError::NoSuchTarget => Error::NoSuchTarget,
            InvokeError::FunctionFailed { error_type, message } => {
                Error::FunctionFailed(FunctionError { error_type, message })
            }
            InvokeError::DepthExceeded => Error::DepthExceeded,
            InvokeError::InvalidPayload(m) => Error::InvalidPayload(m),
            InvokeError::Timeout => Error::Timeout,
            other => Error::Other(other.to_string()),
        }
    }
}

/// What the callee inherits from its caller.
#[derive(Debug, Clone)]
pub struct InvokeContext {
    /// The callee's nesting depth (the caller's plus one).
    pub depth: u32,
    /// The caller's deadline; a sync callee cannot outlive it.
    pub deadline: Instant,
    /// The caller's trace, which the callee continues.
    pub trace: Option<TraceContext>,
}

/// Calls other functions by name or ARN.
#[async_trait]
pub trait Invoker: Send + Sync {
    /// RequestResponse: run `function` with `payload` and return its JSON result.
    async fn call(&self, function: &str, payload: String, ctx: InvokeContext) -> Result<String, InvokeError>;
    /// Event: queue `function` to run with `payload`; returns once accepted.
    async fn send_event(&self, function: &str, payload: String, ctx: InvokeContext) -> Result<(), InvokeError>;
}

/// What one function's guest may invoke: logical target -> function, the limit and the invoker.
#[derive(Clone)]
pub(crate) struct InvokeCtx {
    /// Granted targets.
    pub grants: BTreeMap<String, String>,
    /// The deepest nesting allowed.
    pub max_depth: u32,
    /// How functions are called.
    pub invoker: Arc<dyn Invoker>,
}

/// The guest-facing view of [`InvokeCtx`] for one call.
pub(crate) struct InvokeView<'a> {
    /// The function's grants and invoker.
    pub ctx: &'a InvokeCtx,
    /// The invocation in progress.
    pub call: &'a CallInfo,
}

struct HasInvoke;

impl HasData for HasInvoke {
    type Data<'a> = InvokeView<'a>;
}

/// Link `plugboard:host/invoke` into `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> InvokeView<'_>,
) -> wasmtime::Result<()> {
    invoke::add_to_linker::<T, HasInvoke>(linker, view)
}

impl InvokeView<'_> {
    /// Resolve the target, check depth and payload, and build the callee's context.
    fn prepare(&self, target: &str, payload: &str, limit: usize) -> Result<(String, InvokeContext), InvokeError> {
        let Some(function) = self.ctx.grants.get(target) else {
            tracing::warn!(target, "guest invoked a function it was not granted");
            return Err(InvokeError::AccessDenied);
        };
        // Saturating: a forged depth of u32::MAX must not wrap to 0 and reopen the chain.
        let depth = self.call.depth.saturating_add(1);
        if depth > self.ctx.max_depth {
            return Err(InvokeError::DepthExceeded);
        }
        if payload.len() > limit {
            return Err(InvokeError::InvalidPayload(format!(
                "payload is {} bytes; the limit is {limit}",
                payload.len()
            )));
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(payload) {
            return Err(InvokeError::InvalidPayload(format!("payload is not JSON: {e}")));
        }
        Ok((function.clone(), InvokeContext { depth, deadline: self.call.deadline, trace: self.call.trace.clone() }))
    }
}

impl invoke::Host for InvokeView<'_> {
    fn convert_error(&mut self, err: InvokeError) -> wasmtime::Result<Error> {
        match err {
            InvokeError::Trap(trap) => Err(trap),
            other => Ok(other.into()),
        }
    }

    async fn call(&mut self, target: String, payload: String) -> Result<String, InvokeError> {
        let (function, ctx) = self.prepare(&target, &payload, MAX_SYNC_PAYLOAD)?;
        bounded(self.call, HostCall::Invoke, self.ctx.invoker.call(&function, payload, ctx)).await?
    }

    async fn send_event(&mut self, target: String, payload: String) -> Result<(), InvokeError> {
        // Room for the depth envelope an Event invoke travels in on Lambda.
        let (function, ctx) = self.prepare(&target, &payload, MAX_EVENT_PAYLOAD - EVENT_ENVELOPE_BYTES)?;
        bounded(self.call, HostCall::Invoke, self.ctx.invoker.send_event(&function, payload, ctx)).await?
    }
}
