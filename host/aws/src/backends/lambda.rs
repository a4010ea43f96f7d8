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
use plugboard_core::capabilities::invoke::{InvokeContext, InvokeError, Invoker};
use plugboard_core::events::envelope::{DEPTH_KEY, wrap_event};
use plugboard_core::telemetry::TraceContext;
use plugboard_core::telemetry::trace::XRAY_HEADER;

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
        // The callee continues the caller's trace: Lambda reads it from `X-Amzn-Trace-Id`. Set
        // per call, since with concurrent invocations the process environment has no one trace.
        let trace = ctx.trace.as_ref().map(TraceContext::xray_header);
        self.client
            .invoke()
            .function_name(function)
            .invocation_type(kind)
            .client_context(client_context(ctx.depth))
            .payload(Blob::new(payload.into_bytes()))
            .customize()
            .mutate_request(move |request| {
                if let Some(trace) = &trace {
                    request.headers_mut().insert(XRAY_HEADER, trace.clone());
                }
            })
            .send()
            .await
            .map_err(invoke_error)
    }
}

/// The base64 client context Lambda hands the callee: `{"custom": {"plugboard-depth": "N"}}`.
pub(crate) fn client_context(depth: u32) -> String {
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
