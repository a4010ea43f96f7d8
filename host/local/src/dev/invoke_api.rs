//! The Lambda Invoke API on the dev server (`POST /2015-03-31/functions/{name}/invocations`),
//! so the AWS SDK or CLI pointed at the local endpoint calls a function as it would in AWS.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};

use plugboard_core::events::envelope::{DEPTH_KEY, unwrap_event};
use plugboard_core::events::http::{Request, Response};
use plugboard_core::function::{Function, Invocation};

/// The path prefix of the Invoke API.
pub(crate) const PREFIX: &str = "/2015-03-31/functions/";

/// The function name in `/2015-03-31/functions/{name}/invocations` (a name, `name:qualifier`
/// or an ARN), or `None` for another path.
pub fn target(path: &str) -> Option<String> {
    let name = path.strip_prefix(PREFIX)?.strip_suffix("/invocations")?;
    let name = percent_decode(name);
    let name = match name.strip_prefix("arn:") {
        Some(_) => name.split(':').nth(6).unwrap_or_default().to_string(),
        None => name.split(':').next().unwrap_or_default().to_string(),
    };
    Some(name)
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

fn aws_error(status: u16, kind: &str, message: &str) -> Response {
    let mut response = Response::json(status, &json!({ "Type": "User", "message": message }));
    response.headers.push(("x-amzn-errortype".into(), kind.into()));
    response
}

/// Nesting depth from `X-Amz-Client-Context` (base64 JSON with `custom.plugboard-depth`).
fn depth(request: &Request) -> u32 {
    let Some(encoded) = request.header("x-amz-client-context") else { return 0 };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else { return 0 };
    let context: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    context["custom"][DEPTH_KEY].as_str().and_then(|d| d.parse().ok()).unwrap_or(0)
}

/// Answer one Invoke API request against `functions`, as `invocation` (its ids).
pub async fn invoke(
    request: &Request,
    name: &str,
    functions: &HashMap<String, Arc<Function>>,
    mut invocation: Invocation,
) -> Response {
    let Some(function) = functions.get(name).cloned() else {
        return aws_error(404, "ResourceNotFoundException", &format!("Function not found: {name}"));
    };
    let body = if request.body.is_empty() { b"{}".as_slice() } else { &request.body };
    let payload = match std::str::from_utf8(body).map_err(|e| e.to_string()).and_then(|text| {
        serde_json::from_str::<&serde_json::value::RawValue>(text).map(|_| text).map_err(|e| e.to_string())
    }) {
        Ok(text) => text,
        Err(e) => {
            return aws_error(
                400,
                "InvalidRequestContentException",
                &format!("Could not parse request body into json: {e}"),
            );
        }
    };
    // As on Lambda: an Event payload sent by a Plugboard host carries its depth in an envelope.
    let (payload, envelope_depth) = unwrap_event(payload);
    invocation.depth = depth(request).max(envelope_depth);
    let mut response = match request.header("x-amz-invocation-type").unwrap_or("RequestResponse") {
        "Event" => {
            let payload = payload.to_string();
            tokio::spawn(async move {
                if let Err(e) = function.invoke_json(&payload, invocation).await {
                    tracing::warn!(function = function.name(), error = %e, "event invocation failed");
                }
            });
            Response { status: 202, headers: Vec::new(), body: Vec::new() }
        }
        "DryRun" => Response { status: 204, headers: Vec::new(), body: Vec::new() },
        "RequestResponse" => match function.invoke_json(payload, invocation).await {
            Ok(result) => Response::json_text(200, result.get().to_string()),
            Err(e) => {
                let mut response =
                    Response::json(200, &json!({ "errorType": e.error_type, "errorMessage": e.error_message }));
                response.headers.push(("x-amz-function-error".into(), "Unhandled".into()));
                response
            }
        },
        other => return aws_error(400, "InvalidParameterValueException", &format!("unknown invocation type {other}")),
    };
    response.headers.push(("x-amz-executed-version".into(), "$LATEST".into()));
    response
}
