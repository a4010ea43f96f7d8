//! `internal-api`: a direct invoke's JSON in, the guest's JSON out, or a typed function error.

use serde_json::value::RawValue;
use wasmtime::Store;

use super::{ErrorType, FunctionError};
use crate::bindings::internal_api::InternalApiPre;
use crate::bindings::plugboard::host::types::FunctionError as GuestError;
use crate::events::{EventResponse, check_length};
use crate::runtime::{GuestExport, GuestRunner, HostState, Invocation};

impl GuestExport for str {
    type Pre = InternalApiPre<HostState>;
    type Output = Result<String, GuestError>;

    async fn call(&self, pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self::Output> {
        let instance = HostState::instantiate(store, async |s| pre.instantiate_async(s).await).await?;
        instance.plugboard_host_internal_handler().call_handle(store, self).await
    }

    fn is_guest_error(output: &Self::Output) -> bool {
        output.is_err()
    }
}

/// Run one direct invocation; a guest error becomes a function error with the guest's type.
/// The payload reaches the guest as the caller's JSON text, and its answer (checked to be JSON)
/// goes back as the guest wrote it.
pub async fn handle(
    runner: &GuestRunner,
    pre: &InternalApiPre<HostState>,
    payload: Box<RawValue>,
    invocation: &Invocation,
) -> Result<EventResponse, FunctionError> {
    match runner.call(pre, payload.get(), runner.call_info(invocation)).await {
        Ok(Ok(answer)) => {
            check_length(answer.len())?;
            RawValue::from_string(answer).map(EventResponse::Direct).map_err(|e| {
                FunctionError::new(ErrorType::InvalidResponse, format!("guest answered with invalid JSON: {e}"))
            })
        }
        Ok(Err(e)) => {
            check_length(e.error_type.len() + e.message.len())?;
            Err(FunctionError { error_type: ErrorType::Guest(e.error_type), error_message: e.message })
        }
        Err(failure) => Err(FunctionError::new(ErrorType::GuestFailed, failure)),
    }
}
