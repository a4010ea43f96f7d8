//! Invoking other functions with Lambda Invoke: `RequestResponse` returns the payload or the
//! target's typed error (from `X-Amz-Function-Error` and its `{errorType, errorMessage}`);
//! `Event` returns once Lambda accepted it. The nesting depth travels in the client context, and
//! for Event invokes (whose client context Lambda drops) in an envelope around the payload.

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::describe;
#[cfg(test)]
use crate::capabilities::invoke::EVENT_ENVELOPE_BYTES;
use crate::capabilities::invoke::{InvokeContext, InvokeError, Invoker};

/// The client-context key carrying the nesting depth to the callee.
pub const DEPTH_KEY: &str = "plugboard-depth";

/// Lambda functions, one client for all.
pub struct LambdaInvoker {
    client: Client,
}

impl LambdaInvoker {
    /// Functions reached through `client`.
    pub fn new(client: Client) -> Self {
        LambdaInvoker { client }
    }

    async fn invoke(
        &self,
        function: &str,
        payload: String,
        ctx: InvokeContext,
        kind: InvocationType,
    ) -> Result<aws_sdk_lambda::operation::invoke::InvokeOutput, InvokeError> {
        self.client
            .invoke()
            .function_name(function)
            .invocation_type(kind)
            .client_context(client_context(ctx.depth))
            .payload(Blob::new(payload.into_bytes()))
            .send()
            .await
            .map_err(invoke_error)
    }
}

/// The key of the envelope an Event invoke's payload travels in: Lambda drops the client
/// context of Event invokes, so the depth rides in the payload itself,
/// `{"plugboard:event": {"depth": N}, "payload": ...}`.
pub const EVENT_ENVELOPE_KEY: &str = "plugboard:event";

/// `payload` (JSON text) wrapped with the callee's `depth`.
pub fn wrap_event(payload: &str, depth: u32) -> String {
    format!(r#"{{"{EVENT_ENVELOPE_KEY}":{{"depth":{depth}}},"payload":{payload}}}"#)
}

/// The payload and depth of an enveloped Event invoke (JSON text), or `event` itself with depth
/// 0. Only the outermost envelope is opened: a guest that sends an envelope of its own as its
/// payload cannot lower the depth its own invoke is given. A borrowed peek: the payload is a
/// slice of `event`.
pub fn unwrap_event(event: &str) -> (&str, u32) {
    /// Exactly the two fields [`wrap_event`] writes.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope<'a> {
        #[serde(rename = "plugboard:event")]
        meta: Meta,
        #[serde(borrow)]
        payload: &'a serde_json::value::RawValue,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        depth: u64,
    }
    match serde_json::from_str::<Envelope<'_>>(event) {
        Ok(envelope) => (envelope.payload.get(), u32::try_from(envelope.meta.depth).unwrap_or(u32::MAX)),
        Err(_) => (event, 0),
    }
}

/// The base64 client context Lambda hands the callee: `{"custom": {"plugboard-depth": "N"}}`.
pub fn client_context(depth: u32) -> String {
    BASE64.encode(serde_json::json!({ "custom": { DEPTH_KEY: depth.to_string() } }).to_string())
}

fn invoke_error<E>(err: SdkError<E>) -> InvokeError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match describe(&err) {
        (Some(code), _) if code == "ResourceNotFoundException" => InvokeError::NoSuchTarget,
        (Some(code), text) if code == "RequestTooLargeException" || code == "InvalidRequestContentException" => {
            InvokeError::InvalidPayload(text)
        }
        (_, text) => InvokeError::Other(text),
    }
}

/// The target's error from a failed invocation's payload (`{"errorType", "errorMessage"}`).
fn function_failed(payload: &[u8]) -> InvokeError {
    let parsed: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let text = |key: &str| parsed.get(key).and_then(Value::as_str).map(str::to_string);
    InvokeError::FunctionFailed {
        error_type: text("errorType").unwrap_or_else(|| "Unhandled".into()),
        message: text("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned()),
    }
}

#[async_trait]
impl Invoker for LambdaInvoker {
    async fn call(&self, function: &str, payload: String, ctx: InvokeContext) -> Result<String, InvokeError> {
        let output = self.invoke(function, payload, ctx, InvocationType::RequestResponse).await?;
        let body = output.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
        if output.function_error().is_some() {
            return Err(function_failed(&body));
        }
        String::from_utf8(body).map_err(|_| InvokeError::Other("the target answered with non-UTF-8 bytes".into()))
    }

    async fn send_event(&self, function: &str, payload: String, ctx: InvokeContext) -> Result<(), InvokeError> {
        self.invoke(function, wrap_event(&payload, ctx.depth), ctx, InvocationType::Event).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_envelope_round_trips_and_only_the_outer_one_opens() {
        let inner = wrap_event(r#"{"a":1}"#, 0);
        let outer = wrap_event(&inner, 3);
        let (payload, depth) = unwrap_event(&outer);
        assert_eq!(depth, 3);
        assert_eq!(payload, inner);
        assert_eq!(unwrap_event(r#"{"payload": 1, "other": 2}"#), (r#"{"payload": 1, "other": 2}"#, 0));
        assert_eq!(unwrap_event("[1]"), ("[1]", 0));
        assert!(wrap_event("{}", u32::MAX).len() - 2 <= EVENT_ENVELOPE_BYTES);
    }
}
