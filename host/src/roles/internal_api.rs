//! `internal-api`: a direct invoke's JSON in, the guest's JSON out, or a typed function error.

use serde_json::Value;

use super::{FunctionError, check_length};
use crate::function::{Function, Invocation, call_guest};
use crate::runtime::RolePre;

/// Run one direct invocation; a guest error becomes a function error with the guest's type.
pub async fn handle(function: &Function, event: Value, invocation: &Invocation) -> Result<Value, FunctionError> {
    let guest = function.guest();
    let RolePre::InternalApi(pre) = &guest.pre else {
        return Err(FunctionError::new("RoleMismatch", "guest was not loaded for internal-api"));
    };
    let payload = event.to_string();
    let call = function.call_info(invocation);
    let outcome = call_guest!(function, call, pre, |guest, store| guest
        .plugboard_host_internal_handler()
        .call_handle(&mut store, &payload));
    match outcome {
        Ok(Ok(answer)) => {
            check_length(answer.len())?;
            serde_json::from_str(&answer)
                .map_err(|e| FunctionError::new("InvalidResponse", format!("guest answered with invalid JSON: {e}")))
        }
        Ok(Err(e)) => {
            check_length(e.error_type.len() + e.message.len())?;
            Err(FunctionError { error_type: e.error_type, error_message: e.message })
        }
        Err(failure) => Err(FunctionError::new("GuestFailed", failure)),
    }
}
