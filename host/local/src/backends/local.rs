//! Invoking other functions of this process by name, as Lambda Invoke would.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};

use async_trait::async_trait;

use plugboard_core::capabilities::invoke::{InvokeContext, InvokeError, Invoker};
use plugboard_core::function::{Function, Invocation};

/// Calls functions registered in this process; holds them weakly so they can own it.
#[derive(Default)]
pub struct LocalInvoker {
    functions: RwLock<HashMap<String, Weak<Function>>>,
}

impl LocalInvoker {
    /// An invoker with no functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Make `function` callable by its name.
    pub(crate) fn register(&self, function: &Arc<Function>) {
        let mut map = self.functions.write().unwrap_or_else(|e| e.into_inner());
        map.insert(function.name().to_string(), Arc::downgrade(function));
    }

    fn find(&self, name: &str) -> Result<Arc<Function>, InvokeError> {
        let map = self.functions.read().unwrap_or_else(|e| e.into_inner());
        map.get(name).and_then(Weak::upgrade).ok_or(InvokeError::NoSuchTarget)
    }
}

/// Refuse a payload that is not JSON, as Lambda's Invoke does before any function runs.
fn check_json(payload: &str) -> Result<(), InvokeError> {
    serde_json::from_str::<&serde_json::value::RawValue>(payload)
        .map(drop)
        .map_err(|e| InvokeError::InvalidPayload(format!("payload is not JSON: {e}")))
}

#[async_trait]
impl Invoker for LocalInvoker {
    async fn call(&self, function: &str, payload: String, ctx: InvokeContext) -> Result<String, InvokeError> {
        let target = self.find(function)?;
        let invocation = Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            depth: ctx.depth,
            deadline: Some(ctx.deadline),
            trace: ctx.trace,
            ..Invocation::default()
        };
        check_json(&payload)?;
        match target.invoke_json(&payload, invocation).await {
            Ok(answer) => Ok(answer.get().to_string()),
            Err(e) => Err(InvokeError::FunctionFailed { error_type: e.error_type.into(), message: e.error_message }),
        }
    }

    async fn send_event(&self, function: &str, payload: String, ctx: InvokeContext) -> Result<(), InvokeError> {
        let target = self.find(function)?;
        check_json(&payload)?;
        // An Event invoke runs on its own budget, not the caller's: the caller has moved on.
        let invocation = Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            depth: ctx.depth,
            trace: ctx.trace,
            ..Invocation::default()
        };
        tokio::spawn(async move {
            if let Err(e) = target.invoke_json(&payload, invocation).await {
                tracing::warn!(function = target.name(), error = %e, "event invocation failed");
            }
        });
        Ok(())
    }
}
