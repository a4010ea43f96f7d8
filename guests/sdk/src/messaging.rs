//! Queue and invoke helpers taking serde values.

use serde::{Serialize, de::DeserializeOwned};

use crate::queue::{self, OutgoingMessage};
use crate::{FunctionError, invoke};

/// Send `body` as JSON to `queue_name`; the message id.
pub fn send_json<T: Serialize>(queue_name: &str, body: &T) -> Result<String, queue::Error> {
    let body = serde_json::to_string(body).map_err(|e| queue::Error::InvalidMessage(e.to_string()))?;
    let message =
        OutgoingMessage { body, attributes: Vec::new(), delay_seconds: None, group_id: None, deduplication_id: None };
    queue::send(queue_name, &message)
}

/// Call `target` with `request` as JSON and read its JSON answer.
pub fn call_json<Req: Serialize, Resp: DeserializeOwned>(target: &str, request: &Req) -> Result<Resp, invoke::Error> {
    let payload = serde_json::to_string(request).map_err(|e| invoke::Error::InvalidPayload(e.to_string()))?;
    let answer = invoke::call(target, &payload)?;
    serde_json::from_str(&answer).map_err(|e| invoke::Error::Other(format!("{target} answered with invalid JSON: {e}")))
}

impl FunctionError {
    /// An error of `error_type` (a stable name callers match on) saying `message`.
    pub fn new(error_type: &str, message: impl Into<String>) -> Self {
        FunctionError { error_type: error_type.into(), message: message.into() }
    }
}

/// An `internal-api` payload parsed as `T`; a `ValidationError` naming the problem otherwise.
pub fn parse_payload<T: DeserializeOwned>(payload: &str) -> Result<T, FunctionError> {
    serde_json::from_str(payload).map_err(|e| FunctionError::new("ValidationError", format!("invalid payload: {e}")))
}

/// `value` as an `internal-api` answer.
pub fn to_payload<T: Serialize>(value: &T) -> Result<String, FunctionError> {
    serde_json::to_string(value).map_err(|e| FunctionError::new("InternalError", e.to_string()))
}
