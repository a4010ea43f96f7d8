//! Role adapters: a Lambda event in, a WIT call, the exact Lambda response out. One file per role.

pub mod authorizer;
mod event;
pub mod http_api;
pub mod internal_api;
pub mod queue_worker;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use event::EventKind;

use crate::config::Role;
use crate::function::{Function, Invocation};

/// Lambda's limit on a synchronous response.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// A Lambda function error: what the Runtime API's `/error` endpoint and Invoke report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{error_type}: {error_message}")]
pub struct FunctionError {
    /// A stable name, e.g. `InvalidEvent` or a guest's own `error-type`.
    pub error_type: String,
    /// What went wrong.
    pub error_message: String,
}

impl FunctionError {
    /// An error of `error_type` saying `message`.
    pub fn new(error_type: &str, message: impl std::fmt::Display) -> Self {
        FunctionError { error_type: error_type.to_string(), error_message: message.to_string() }
    }

    /// The event could not be used by this role.
    pub fn invalid_event(message: impl std::fmt::Display) -> Self {
        Self::new("InvalidEvent", message)
    }
}

/// Answer `event` with `function`: detect its kind, run the role adapter, check the size.
pub async fn handle(function: &Function, event: Value, invocation: Invocation) -> Result<Value, FunctionError> {
    let role = function.role();
    let kind = match invocation.kind {
        Some(kind) => kind,
        None if role == Role::InternalApi => EventKind::Direct,
        None => EventKind::detect(&event),
    };
    if !kind.fits(role) {
        return Err(FunctionError::invalid_event(format!("a {role} function cannot handle a {kind} event")));
    }
    let started = std::time::Instant::now();
    let result = match role {
        Role::HttpApi => http_api::handle(function, kind, event, &invocation).await,
        Role::QueueWorker => queue_worker::handle(function, event, &invocation).await,
        Role::Authorizer => authorizer::handle(function, kind, event, &invocation).await,
        Role::InternalApi => internal_api::handle(function, event, &invocation).await,
    };
    let result = result.and_then(check_size);
    let elapsed_us = started.elapsed().as_micros() as u64;
    match &result {
        Ok(_) => {
            tracing::info!(function = function.name(), %role, %kind, request_id = invocation.request_id, elapsed_us, "invocation done")
        }
        Err(e) => {
            tracing::warn!(function = function.name(), %role, %kind, request_id = invocation.request_id, elapsed_us, error = %crate::capabilities::logging::for_log(&e.to_string()), "invocation failed")
        }
    }
    result
}

/// Counts the bytes written to it, so a response's JSON size is known without building it.
#[derive(Default)]
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Refuse a response Lambda would refuse, rather than let it be cut.
fn check_size(response: Value) -> Result<Value, FunctionError> {
    let mut count = ByteCount::default();
    let size = serde_json::to_writer(&mut count, &response).map(|()| count.0).unwrap_or(usize::MAX);
    check_length(size)?;
    Ok(response)
}

/// Refuse an answer of at least `size` bytes when that is over Lambda's limit. Adapters call it
/// with the guest's raw answer length before converting it, so an oversized answer is never
/// copied or encoded.
fn check_length(size: usize) -> Result<(), FunctionError> {
    if size > MAX_RESPONSE_BYTES {
        return Err(FunctionError::new(
            "ResponseTooLarge",
            format!("response is at least {size} bytes; Lambda's limit is {MAX_RESPONSE_BYTES}"),
        ));
    }
    Ok(())
}

/// Parse `event` as `T`, with an `InvalidEvent` error naming the kind on failure.
fn parse<T: serde::de::DeserializeOwned>(event: Value, kind: EventKind) -> Result<T, FunctionError> {
    serde_json::from_value(event).map_err(|e| FunctionError::invalid_event(format!("malformed {kind} event: {e}")))
}

/// Name/value pairs from an HTTP header map, in order, names lower-case.
fn header_fields(headers: &aws_lambda_events::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

/// Name/value pairs from a map, sorted by name so the order is stable.
fn sorted_fields<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = map.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    fields.sort();
    fields
}

/// Query pairs from a raw query string, in order, percent-decoded.
fn query_fields(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}
