//! Invoke targets answered from a case's stubs, every call recorded.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::case::{Invoked, Stub};
use super::check;
use plugboard_core::capabilities::invoke::{InvokeContext, InvokeError, Invoker};

/// Answers by target function from the stubs; records (guest's name, payload, async).
pub(crate) struct StubInvoker {
    /// Target function -> its stub.
    stubs: BTreeMap<String, Stub>,
    /// Target function -> the guest's name, for targets without a stub.
    aliases: BTreeMap<String, String>,
    calls: Mutex<Vec<Invoked>>,
}

impl StubInvoker {
    /// Stubs keyed by the guest's names, resolved through the function's invoke `grants`.
    pub fn new(grants: &BTreeMap<String, String>, stubs: &BTreeMap<String, Stub>) -> anyhow::Result<Self> {
        let mut by_target = BTreeMap::new();
        for (alias, stub) in stubs {
            let target = grants
                .get(alias)
                .ok_or_else(|| anyhow::anyhow!("stubs.{alias}: the function is granted no target `{alias}`"))?;
            by_target.insert(target.clone(), stub.clone());
        }
        let aliases = grants.iter().map(|(alias, target)| (target.clone(), alias.clone())).collect();
        Ok(StubInvoker { stubs: by_target, aliases, calls: Mutex::new(Vec::new()) })
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Invoked> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, function: &str, payload: &str, is_async: bool) -> Option<&Stub> {
        let alias = self.aliases.get(function).cloned().unwrap_or_else(|| function.to_string());
        let call = Invoked { function: alias, payload: check::recorded(payload.as_bytes()), r#async: is_async };
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
        self.stubs.get(function)
    }
}

#[async_trait]
impl Invoker for StubInvoker {
    async fn call(&self, function: &str, payload: String, _ctx: InvokeContext) -> Result<String, InvokeError> {
        match self.record(function, &payload, false) {
            None => Err(InvokeError::NoSuchTarget),
            Some(Stub { error: Some(message), error_type, .. }) => Err(InvokeError::FunctionFailed {
                error_type: error_type.clone().unwrap_or_else(|| "Error".into()),
                message: message.clone(),
            }),
            Some(stub) => Ok(stub.response.clone().unwrap_or(serde_json::Value::Null).to_string()),
        }
    }

    async fn send_event(&self, function: &str, payload: String, _ctx: InvokeContext) -> Result<(), InvokeError> {
        match self.record(function, &payload, true) {
            None => Err(InvokeError::NoSuchTarget),
            Some(_) => Ok(()),
        }
    }
}
