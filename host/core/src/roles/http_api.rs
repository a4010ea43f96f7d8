//! `http-api`: API Gateway REST (v1), HTTP API (v2), Function URL and Application Load
//! Balancer events <-> `http-handler`.

use aws_lambda_events::alb::{AlbTargetGroupRequest, AlbTargetGroupResponse};
use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequest,
    ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use aws_lambda_events::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use std::collections::HashMap;
use wasmtime::Store;

use super::{ErrorType, FunctionError, header_fields, query_fields, rest_fields, sorted_fields};
use crate::bindings::plugboard::host::http_types::{HttpRequest, HttpResponse, RequestContext};
use crate::bindings::plugboard::host::types::ContextValue;
use crate::events::EventResponse;
use crate::events::check_length;
use crate::events::http::as_text;
use crate::runtime::{GuestExport, GuestRunner, HostState, HttpHandlerPre, Invocation};

/// Which API Gateway (or Function URL) payload format to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// REST API proxy (payload 1.0).
    RestApi,
    /// HTTP API (payload 2.0).
    HttpApi,
    /// Function URL.
    FunctionUrl,
    /// Application Load Balancer, answering in the header mode the request came in.
    Alb {
        /// The target group has multi-value headers on (the request used `multiValueHeaders`).
        multi_value: bool,
    },
}

/// ALB's limit on a Lambda target's response (and request), smaller than Lambda's own.
pub const MAX_ALB_RESPONSE_BYTES: usize = 1024 * 1024;

/// Run one HTTP request through the guest; a failed guest is a 500, as API Gateway would show.
pub async fn serve(
    runner: &GuestRunner,
    pre: &HttpHandlerPre,
    request: HttpRequest,
    format: Format,
    invocation: &Invocation,
) -> Result<EventResponse, FunctionError> {
    let response = runner.call(pre, &request, runner.call_info(invocation)).await.unwrap_or_else(|failure| {
        let request_id = &invocation.request_id;
        tracing::error!(function = runner.name(), request_id, %failure, "http guest failed; answering 500");
        internal_error()
    });
    to_event_response(format, response)
}

impl GuestExport for HttpRequest {
    type Pre = HttpHandlerPre;
    type Output = HttpResponse;

    async fn call(&self, pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self::Output> {
        match pre {
            HttpHandlerPre::Plugboard(pre) => {
                let instance = HostState::instantiate(store, async |s| pre.instantiate_async(s).await).await?;
                instance.plugboard_host_http_handler().call_handle(store, self).await
            }
            HttpHandlerPre::WasiHttp(pre) => super::wasi_http::call(pre, store, self).await,
        }
    }
}

fn internal_error() -> HttpResponse {
    HttpResponse {
        status: 500,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"message":"Internal Server Error"}"#.to_vec(),
    }
}

fn decode_body(body: Option<String>, base64: bool) -> Result<Vec<u8>, FunctionError> {
    match body {
        None => Ok(Vec::new()),
        Some(text) if base64 => BASE64
            .decode(text.as_bytes())
            .map_err(|e| FunctionError::invalid_event(format!("body is marked base64 but is not: {e}"))),
        Some(text) => Ok(text.into_bytes()),
    }
}

/// Authorizer context values and the principal id, from an API Gateway authorizer description.
fn authorizer_context(fields: &HashMap<String, Value>) -> (Option<String>, Vec<(String, ContextValue)>) {
    let principal = fields.get("principalId").and_then(Value::as_str).map(str::to_string);
    // HTTP API puts a Lambda authorizer's context under `lambda`; REST APIs put it inline.
    let source = match fields.get("lambda").and_then(Value::as_object) {
        Some(lambda) => lambda.iter().collect::<Vec<_>>(),
        None => fields.iter().filter(|(k, _)| *k != "principalId" && *k != "integrationLatency").collect(),
    };
    let mut entries: Vec<(String, ContextValue)> = source
        .into_iter()
        .filter_map(|(k, v)| {
            let value = match v {
                Value::String(s) => ContextValue::Text(s.clone()),
                Value::Number(n) => ContextValue::Number(n.as_f64()?),
                Value::Bool(b) => ContextValue::Boolean(*b),
                _ => return None,
            };
            Some((k.clone(), value))
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    (principal, entries)
}

fn context(
    request_id: Option<String>,
    source_ip: Option<String>,
    stage: Option<String>,
    authorizer: Option<&ApiGatewayRequestAuthorizer>,
) -> RequestContext {
    let (principal_id, authorizer) = authorizer.map(|a| authorizer_context(&a.fields)).unwrap_or_default();
    RequestContext { request_id: request_id.unwrap_or_default(), source_ip, stage, principal_id, authorizer }
}

/// The guest's request for a REST API proxy event.
pub(crate) fn from_rest(e: ApiGatewayProxyRequest) -> Result<HttpRequest, FunctionError> {
    let (headers, query) = rest_fields(
        (&e.headers, &e.multi_value_headers),
        (&e.query_string_parameters, &e.multi_value_query_string_parameters),
    );
    let ctx = &e.request_context;
    Ok(HttpRequest {
        method: e.http_method.to_string(),
        raw_path: e.path.clone().unwrap_or_else(|| "/".into()),
        route: e.resource.clone(),
        path_params: sorted_fields(&e.path_parameters),
        query,
        headers,
        context: context(
            ctx.request_id.clone(),
            ctx.identity.source_ip.clone(),
            ctx.stage.clone(),
            Some(&ctx.authorizer),
        ),
        body: decode_body(e.body, e.is_base64_encoded)?,
    })
}

/// The guest's request for an ALB target event. ALB passes query parameters as the client sent
/// them, still percent-encoded: they are decoded here, so the guest sees what API Gateway gives.
pub(crate) fn from_alb(e: AlbTargetGroupRequest) -> Result<HttpRequest, FunctionError> {
    let (headers, query) = rest_fields(
        (&e.headers, &e.multi_value_headers),
        (&e.query_string_parameters, &e.multi_value_query_string_parameters),
    );
    // A raw pair holds no literal `=` or `&` (ALB split on them), so it decodes as one pair.
    let query = query.into_iter().flat_map(|(k, v)| query_fields(&format!("{k}={v}"))).collect();
    // ALB appends the address it saw to X-Forwarded-For: the last entry is the client as far as
    // ALB knows; any before it came from the client and can be anything.
    let forwarded_for = headers.iter().rev().find(|(k, _)| k == "x-forwarded-for").map(|(_, v)| v.clone());
    let source_ip = forwarded_for.and_then(|v| v.rsplit(',').next().map(|ip| ip.trim().to_string()));
    // ALB sends no request id; its trace header identifies the request.
    let trace = headers.iter().find(|(k, _)| k == "x-amzn-trace-id").map(|(_, v)| v.clone());
    let context = RequestContext {
        request_id: trace.unwrap_or_default(),
        source_ip,
        stage: None,
        principal_id: None,
        authorizer: Vec::new(),
    };
    Ok(HttpRequest {
        method: e.http_method.to_string(),
        raw_path: e.path.clone().unwrap_or_else(|| "/".into()),
        route: None,
        path_params: Vec::new(),
        query,
        headers,
        context,
        body: decode_body(e.body, e.is_base64_encoded)?,
    })
}

/// `rawPath` without the `/{stage}` prefix HTTP APIs keep for named stages.
fn strip_stage(raw_path: &str, stage: Option<&str>) -> String {
    match stage {
        Some(stage) if stage != "$default" => {
            let prefix = format!("/{stage}");
            match raw_path.strip_prefix(&prefix) {
                Some("") => "/".to_string(),
                Some(rest) if rest.starts_with('/') => rest.to_string(),
                _ => raw_path.to_string(),
            }
        }
        _ => raw_path.to_string(),
    }
}

/// Headers plus the `cookie` header HTTP API and Function URLs move into `cookies`.
fn headers_with_cookies(headers: &HeaderMap, cookies: Option<&[String]>) -> Vec<(String, String)> {
    let mut fields = header_fields(headers);
    if let Some(cookies) = cookies.filter(|c| !c.is_empty()) {
        fields.push(("cookie".into(), cookies.join("; ")));
    }
    fields
}

/// The guest's request for an HTTP API event.
pub fn from_http_api(e: ApiGatewayV2httpRequest) -> Result<HttpRequest, FunctionError> {
    let ctx = &e.request_context;
    let stage = ctx.stage.clone();
    let raw_path = e.raw_path.as_deref().or(ctx.http.path.as_deref()).unwrap_or("/");
    let route = e
        .route_key
        .as_deref()
        .or(ctx.route_key.as_deref())
        .and_then(|key| key.split_once(' ').map(|(_, path)| path.to_string()));
    Ok(HttpRequest {
        method: ctx.http.method.to_string(),
        raw_path: strip_stage(raw_path, stage.as_deref()),
        route,
        path_params: sorted_fields(&e.path_parameters),
        query: query_fields(e.raw_query_string.as_deref().unwrap_or("")),
        headers: headers_with_cookies(&e.headers, e.cookies.as_deref()),
        context: context(ctx.request_id.clone(), ctx.http.source_ip.clone(), stage, ctx.authorizer.as_ref()),
        body: decode_body(e.body, e.is_base64_encoded)?,
    })
}

/// The guest's request for a Function URL event.
pub(crate) fn from_function_url(e: LambdaFunctionUrlRequest) -> Result<HttpRequest, FunctionError> {
    let ctx = &e.request_context;
    Ok(HttpRequest {
        method: ctx.http.method.clone().unwrap_or_else(|| "GET".into()).to_ascii_uppercase(),
        raw_path: e.raw_path.clone().unwrap_or_else(|| "/".into()),
        route: None,
        path_params: Vec::new(),
        query: query_fields(e.raw_query_string.as_deref().unwrap_or("")),
        headers: headers_with_cookies(&e.headers, e.cookies.as_deref()),
        context: context(ctx.request_id.clone(), ctx.http.source_ip.clone(), None, None),
        body: decode_body(e.body, e.is_base64_encoded)?,
    })
}

/// The response body as API Gateway wants it: text when it is, else base64 with the flag set.
fn encode_body(response: &HttpResponse) -> (Option<Body>, bool) {
    if response.body.is_empty() {
        return (None, false);
    }
    let content_type =
        response.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str());
    match as_text(&response.body, content_type) {
        Some(text) => (Some(Body::Text(text.to_string())), false),
        None => (Some(Body::Binary(response.body.clone())), true),
    }
}

fn header_map(fields: impl Iterator<Item = (String, String)>) -> Result<HeaderMap, FunctionError> {
    let mut map = HeaderMap::new();
    for (name, value) in fields {
        let bad = |e: &dyn std::fmt::Display| {
            FunctionError::new(ErrorType::InvalidResponse, format!("guest header `{name}`: {e}"))
        };
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(&e))?;
        let value = HeaderValue::from_str(&value).map_err(|e| bad(&e))?;
        map.append(header, value);
    }
    Ok(map)
}

/// Response headers for HTTP API and Function URLs: `set-cookie` split out, repeats comma-joined.
fn joined_headers(response: &HttpResponse) -> Result<(HeaderMap, Vec<String>), FunctionError> {
    let (joined, cookies) = join_repeats(response, true);
    Ok((header_map(joined.into_iter())?, cookies))
}

/// One value per name: repeats comma-joined; `set-cookie` (which a comma would break) either
/// split out (`split_cookies`) or, where a response has no place for more, the last one kept.
fn join_repeats(response: &HttpResponse, split_cookies: bool) -> (Vec<(String, String)>, Vec<String>) {
    let mut cookies = Vec::new();
    let mut joined: Vec<(String, String)> = Vec::new();
    for (name, value) in &response.headers {
        let name = name.to_ascii_lowercase();
        let cookie = name == "set-cookie";
        match joined.iter_mut().find(|(k, _)| *k == name) {
            _ if cookie && split_cookies => cookies.push(value.clone()),
            Some(existing) if cookie => existing.1 = value.clone(),
            Some(existing) => {
                existing.1.push(',');
                existing.1.push_str(value);
            }
            None => joined.push((name, value.clone())),
        }
    }
    (joined, cookies)
}

/// `200 OK`, `404 Not Found`: the status line ALB wants.
fn status_description(status: u16) -> String {
    let reason = hyper::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

/// The fewest bytes `response` can take once encoded: its header text and its body (base64 when
/// it is not text). Known before anything is copied.
fn least_encoded_size(response: &HttpResponse) -> usize {
    let headers: usize = response.headers.iter().map(|(name, value)| name.len() + value.len()).sum();
    let body = response.body.len();
    let body = if std::str::from_utf8(&response.body).is_ok() { body } else { body.div_ceil(3) * 4 };
    headers + body
}

/// Most headers a guest's answer may carry (the `http` crate's header map panics past 32,768).
pub const MAX_RESPONSE_HEADERS: usize = 1_000;

fn to_event_response(format: Format, response: HttpResponse) -> Result<EventResponse, FunctionError> {
    if response.headers.len() > MAX_RESPONSE_HEADERS {
        return Err(FunctionError::new(
            ErrorType::InvalidResponse,
            format!(
                "the guest answered with {} headers; at most {MAX_RESPONSE_HEADERS} are allowed",
                response.headers.len()
            ),
        ));
    }
    let least = least_encoded_size(&response);
    check_length(least)?;
    if matches!(format, Format::Alb { .. }) && least > MAX_ALB_RESPONSE_BYTES {
        return Err(FunctionError::new(
            ErrorType::ResponseTooLarge,
            format!("response is at least {least} bytes; an ALB target's limit is {MAX_ALB_RESPONSE_BYTES}"),
        ));
    }
    let (body, is_base64_encoded) = encode_body(&response);
    let status_code = i64::from(response.status);
    Ok(match format {
        Format::RestApi => {
            let mut r = ApiGatewayProxyResponse::default();
            r.status_code = status_code;
            // Every header goes in multiValueHeaders, so repeats (set-cookie) all survive.
            r.multi_value_headers = header_map(response.headers.iter().cloned())?;
            r.body = body;
            r.is_base64_encoded = is_base64_encoded;
            EventResponse::RestApi(r)
        }
        Format::HttpApi => {
            let (headers, cookies) = joined_headers(&response)?;
            let mut r = ApiGatewayV2httpResponse::default();
            r.status_code = status_code;
            r.headers = headers;
            r.cookies = cookies;
            r.body = body;
            r.is_base64_encoded = is_base64_encoded;
            EventResponse::HttpApi(r)
        }
        Format::FunctionUrl => {
            let (headers, cookies) = joined_headers(&response)?;
            let mut r = LambdaFunctionUrlResponse::default();
            r.status_code = status_code;
            r.headers = headers;
            r.cookies = cookies;
            r.body = body.map(|b| match b {
                Body::Text(t) => t,
                Body::Binary(bytes) => BASE64.encode(bytes),
                _ => String::new(),
            });
            r.is_base64_encoded = is_base64_encoded;
            EventResponse::FunctionUrl(r)
        }
        Format::Alb { multi_value } => {
            let mut r = AlbTargetGroupResponse::default();
            r.status_code = status_code;
            r.status_description = Some(status_description(response.status));
            if multi_value {
                r.multi_value_headers = header_map(response.headers.iter().cloned())?;
            } else {
                // One value per name in this mode: repeats are comma-joined, and of several
                // cookies only the last survives (turn multi-value headers on for more).
                r.headers = header_map(join_repeats(&response, false).0.into_iter())?;
            }
            r.body = body;
            r.is_base64_encoded = is_base64_encoded;
            EventResponse::Alb(r)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;
    use crate::events::http::{Authorized, Matched, Payload, Request, proxy_event};
    use crate::events::route::RoutePattern;

    /// What a guest behind an authorizer sees of it, for a `plugboard dev` event of `payload`.
    fn seen(payload: Payload) -> RequestContext {
        let request = Request { method: "GET".into(), path: "/items/7".into(), ..Request::default() };
        let pattern = RoutePattern::parse("GET", "/items/{id}").unwrap();
        let params = pattern.matches("GET", "/items/7").unwrap();
        let context = serde_json::Map::from_iter([("tier".to_string(), Value::from("gold"))]);
        let authorized = Authorized { principal: Some("alice"), context: &context };
        let event = proxy_event(payload, &request, Matched { pattern: &pattern, params: &params }, Some(authorized));
        let request = match event.unwrap() {
            Event::HttpApi(e) => from_http_api(*e).unwrap(),
            Event::RestApi(e) => from_rest(*e).unwrap(),
            other => panic!("not a proxy event: {other:?}"),
        };
        request.context
    }

    #[test]
    fn the_authorizers_principal_and_context_reach_the_guest_in_both_payloads() {
        for payload in [Payload::V2, Payload::V1] {
            let context = seen(payload);
            assert_eq!(context.principal_id.as_deref(), Some("alice"), "{payload:?}");
            assert!(
                matches!(context.authorizer.as_slice(), [(k, ContextValue::Text(v))] if k == "tier" && v == "gold"),
                "{payload:?}: {:?}",
                context.authorizer
            );
        }
    }
}
