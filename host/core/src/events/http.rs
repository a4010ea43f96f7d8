//! HTTP as API Gateway carries it: a request turned into the proxy event of a route (payload
//! 2.0 or 1.0), a proxy response turned back into HTTP, and the one rule for whether a body
//! travels as text or as base64.

use aws_lambda_events::alb::AlbTargetGroupRequest;
use std::collections::{BTreeMap, HashMap};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequest};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue, Method};
use aws_lambda_events::query_map::QueryMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::route::RoutePattern;
use super::{AuthorizerContext, Event, EventResponse};

/// The account id local ARNs carry.
pub const ACCOUNT: &str = "000000000000";
/// The region local ARNs carry.
pub const REGION: &str = "us-east-1";

/// The proxy event version a route's function receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    /// HTTP API payload format 2.0.
    #[default]
    V2,
    /// REST API (payload format 1.0).
    V1,
    /// An Application Load Balancer target (single-value headers, ALB's default).
    Alb,
}

/// An HTTP request as the gateway saw it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Upper-case method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// Header fields in order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The client's address.
    pub source_ip: String,
}

impl Request {
    /// The value of header `name` (any case); the last one when it is repeated, which is the
    /// value the events' single-value `headers` maps carry, as API Gateway's do.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The method ARN API Gateway gives authorizers for this request. The path is normalised
    /// the way routes are matched (empty segments dropped), so `//items/x/` cannot sidestep a
    /// policy written for `/items/x`.
    pub fn method_arn(&self, api: &str, stage: &str) -> String {
        let path = self.path.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/");
        format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/{stage}/{}/{path}", self.method)
    }

    /// The method, as the events type it.
    pub(crate) fn http_method(&self) -> Result<Method, String> {
        Method::from_bytes(self.method.as_bytes()).map_err(|_| format!("`{}` is not an HTTP method", self.method))
    }

    /// Query parameters by name, every value in order.
    pub(crate) fn query_values(&self) -> BTreeMap<String, Vec<String>> {
        let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(self.query.as_bytes()) {
            all.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        all
    }

    /// Header values by name (cookies left out when `cookies` is false), every value in order.
    fn header_values(&self, cookies: bool) -> BTreeMap<&str, Vec<&str>> {
        let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, value) in self.headers.iter().filter(|(n, _)| cookies || n != "cookie") {
            grouped.entry(name.as_str()).or_default().push(value.as_str());
        }
        grouped
    }

    /// The body as an event carries it: text, or base64 with the flag set.
    fn event_body(&self) -> (Option<String>, bool) {
        if self.body.is_empty() {
            return (None, false);
        }
        match as_text(&self.body, self.header("content-type")) {
            Some(text) => (Some(text.to_string()), false),
            None => (Some(BASE64.encode(&self.body)), true),
        }
    }
}

/// An HTTP response to write back.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields in order (`set-cookie` repeated).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON `{"message": ...}` answer, as API Gateway gives for its own errors.
    pub fn message(status: u16, message: &str) -> Response {
        Response::json(status, &json!({ "message": message }))
    }

    /// A JSON body.
    pub fn json(status: u16, body: &Value) -> Response {
        Response::json_text(status, body.to_string())
    }

    /// A body that is JSON text already.
    pub fn json_text(status: u16, json: String) -> Response {
        let headers = vec![("content-type".to_string(), "application/json".to_string())];
        Response { status, headers, body: json.into_bytes() }
    }
}

/// Whether a body with this content type travels as text (else base64): no type, `text/*`, and
/// the structured text types.
pub(crate) fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let ct = ct.to_ascii_lowercase();
    ct.starts_with("text/")
        || ["json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "csv"].iter().any(|t| ct.contains(t))
}

/// `body` as text when it is UTF-8 of a textual content type; `None` when it must be base64.
pub(crate) fn as_text<'a>(body: &'a [u8], content_type: Option<&str>) -> Option<&'a str> {
    std::str::from_utf8(body).ok().filter(|_| is_text(content_type))
}

/// What an authorizer let through, for the event's `requestContext.authorizer`.
#[derive(Debug, Clone, Copy)]
pub struct Authorized<'a> {
    /// The policy's `principalId`.
    pub principal: Option<&'a str>,
    /// The policy's `context`.
    pub context: &'a AuthorizerContext,
}

/// A route a request matched: its pattern and the path parameters it bound.
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    /// The route's pattern.
    pub pattern: &'a RoutePattern,
    /// Path parameters by name.
    pub params: &'a BTreeMap<String, String>,
}

fn header_map<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>, append: bool) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in entries {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header `{name}`: {e}"))?;
        let value = HeaderValue::from_str(value).map_err(|e| format!("header `{name}`: {e}"))?;
        if append {
            map.append(header, value);
        } else {
            map.insert(header, value);
        }
    }
    Ok(map)
}

/// A single-value header map: the last value of each name (as REST APIs and ALB fill it).
fn last_values(headers: &BTreeMap<&str, Vec<&str>>) -> Result<HeaderMap, String> {
    header_map(headers.iter().filter_map(|(name, values)| Some((*name, *values.last()?))), false)
}

fn query_map(entries: impl Iterator<Item = (String, Vec<String>)>) -> QueryMap {
    QueryMap::from(entries.collect::<HashMap<String, Vec<String>>>())
}

fn string_map(params: &BTreeMap<String, String>) -> HashMap<String, String> {
    params.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The authorizer description API Gateway adds, with the principal: the event types put it
/// where each payload carries it (`requestContext.authorizer.lambda` in 2.0, inline in 1.0).
fn authorizer_fields(authorized: Authorized<'_>) -> ApiGatewayRequestAuthorizer {
    let mut fields = authorized.context.clone();
    if let Some(principal) = authorized.principal {
        fields.insert("principalId".into(), Value::from(principal));
    }
    let mut description = ApiGatewayRequestAuthorizer::default();
    description.fields = fields.into_iter().collect();
    description
}

/// The proxy event API Gateway sends for `request` on the `matched` route, with what its
/// authorizer let through if it has one.
pub fn proxy_event(
    payload: Payload,
    request: &Request,
    matched: Matched<'_>,
    authorized: Option<Authorized<'_>>,
) -> Result<Event, String> {
    Ok(match payload {
        Payload::V2 => Event::HttpApi(Box::new(http_api_event(request, matched, authorized)?)),
        Payload::V1 => Event::RestApi(Box::new(rest_api_event(request, matched, authorized)?)),
        Payload::Alb => Event::Alb(Box::new(alb_event(request)?)),
    })
}

/// The event an ALB sends a Lambda target (single-value headers: the last value of each; query
/// parameters as the client sent them, not decoded). ALB has no routes or authorizers.
fn alb_event(request: &Request) -> Result<AlbTargetGroupRequest, String> {
    let (body, is_base64_encoded) = request.event_body();
    let headers = request.header_values(true);
    let mut e = AlbTargetGroupRequest::default();
    e.http_method = request.http_method()?;
    e.path = Some(request.path.clone());
    e.headers = last_values(&headers)?;
    let raw = request.query.split('&').filter(|p| !p.is_empty());
    let pairs = raw.map(|p| p.split_once('=').map_or((p.to_string(), String::new()), |(k, v)| (k.into(), v.into())));
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        query.insert(k, vec![v]);
    }
    e.query_string_parameters = QueryMap::from(query);
    e.request_context.elb.target_group_arn =
        Some(format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/local/0000000000000000"));
    e.body = body;
    e.is_base64_encoded = is_base64_encoded;
    Ok(e)
}

fn http_api_event(
    request: &Request,
    matched: Matched<'_>,
    authorized: Option<Authorized<'_>>,
) -> Result<ApiGatewayV2httpRequest, String> {
    let now = chrono::Utc::now();
    let (body, is_base64_encoded) = request.event_body();
    let route_key = matched.pattern.route_key();
    let cookies: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, _)| n == "cookie")
        .flat_map(|(_, v)| v.split(';').map(|c| c.trim().to_string()))
        .filter(|c| !c.is_empty())
        .collect();
    let headers = request.header_values(false);
    let joined: Vec<(&str, String)> = headers.iter().map(|(name, values)| (*name, values.join(","))).collect();
    let mut e = ApiGatewayV2httpRequest::default();
    e.version = Some("2.0".into());
    e.route_key = Some(route_key.clone());
    e.raw_path = Some(request.path.clone());
    e.raw_query_string = Some(request.query.clone());
    e.cookies = (!cookies.is_empty()).then_some(cookies);
    e.headers = header_map(joined.iter().map(|(name, value)| (*name, value.as_str())), false)?;
    e.query_string_parameters = query_map(request.query_values().into_iter().map(|(k, v)| (k, vec![v.join(",")])));
    e.path_parameters = string_map(matched.params);
    let ctx = &mut e.request_context;
    ctx.account_id = Some(ACCOUNT.into());
    ctx.apiid = Some("local".into());
    ctx.domain_name = Some(request.header("host").unwrap_or("127.0.0.1").to_string());
    ctx.domain_prefix = Some("local".into());
    ctx.request_id = Some(uuid::Uuid::new_v4().to_string());
    ctx.route_key = Some(route_key);
    ctx.stage = Some("$default".into());
    ctx.time = Some(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    ctx.time_epoch = now.timestamp_millis();
    ctx.http.method = request.http_method()?;
    ctx.http.path = Some(request.path.clone());
    ctx.http.protocol = Some("HTTP/1.1".into());
    ctx.http.source_ip = Some(request.source_ip.clone());
    ctx.http.user_agent = Some(request.header("user-agent").unwrap_or_default().to_string());
    ctx.authorizer = authorized.map(authorizer_fields);
    e.body = body;
    e.is_base64_encoded = is_base64_encoded;
    Ok(e)
}

fn rest_api_event(
    request: &Request,
    matched: Matched<'_>,
    authorized: Option<Authorized<'_>>,
) -> Result<ApiGatewayProxyRequest, String> {
    let (body, is_base64_encoded) = request.event_body();
    let method = request.http_method()?;
    let headers = request.header_values(true);
    let query = request.query_values();
    let mut e = ApiGatewayProxyRequest::default();
    e.resource = Some(matched.pattern.path.clone());
    e.path = Some(request.path.clone());
    e.http_method = method.clone();
    e.headers = last_values(&headers)?;
    e.multi_value_headers =
        header_map(headers.iter().flat_map(|(name, values)| values.iter().map(move |v| (*name, *v))), true)?;
    e.query_string_parameters = query_map(query.iter().filter_map(|(k, v)| Some((k.clone(), vec![v.last()?.clone()]))));
    e.multi_value_query_string_parameters = query_map(query.into_iter());
    e.path_parameters = string_map(matched.params);
    let ctx = &mut e.request_context;
    ctx.account_id = Some(ACCOUNT.into());
    ctx.apiid = Some("local".into());
    ctx.resource_id = Some("local".into());
    ctx.resource_path = Some(matched.pattern.path.clone());
    ctx.http_method = method;
    ctx.path = Some(format!("/dev{}", request.path));
    ctx.stage = Some("dev".into());
    ctx.request_id = Some(uuid::Uuid::new_v4().to_string());
    ctx.request_time_epoch = chrono::Utc::now().timestamp_millis();
    ctx.protocol = Some("HTTP/1.1".into());
    ctx.identity.source_ip = Some(request.source_ip.clone());
    ctx.identity.user_agent = Some(request.header("user-agent").unwrap_or_default().to_string());
    if let Some(authorized) = authorized {
        ctx.authorizer = authorizer_fields(authorized);
    }
    e.body = body;
    e.is_base64_encoded = is_base64_encoded;
    Ok(e)
}

/// Header fields of a response map, names lower-case, every value.
fn fields_of(map: &HeaderMap) -> impl Iterator<Item = (String, String)> + '_ {
    map.iter().map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
}

/// The bytes of a response body: binary as it is, text decoded when it is marked base64 (as it
/// is when read from JSON); `None` when it is marked base64 but is not.
fn body_bytes(body: Option<&Body>, is_base64_encoded: bool) -> Option<Vec<u8>> {
    match body {
        Some(Body::Binary(bytes)) => Some(bytes.clone()),
        Some(Body::Text(text)) if is_base64_encoded => BASE64.decode(text).ok(),
        Some(Body::Text(text)) => Some(text.as_bytes().to_vec()),
        _ => Some(Vec::new()),
    }
}

/// The HTTP response for a function's answer to a proxy event; anything else (a response of
/// another kind, a status no HTTP response has, a body marked base64 that is not) is a 502, as
/// API Gateway answers a malformed integration response.
pub fn from_proxy_response(response: &EventResponse) -> Response {
    let (status, headers, body) = match response {
        EventResponse::RestApi(r) => (
            r.status_code,
            merged_headers(&r.headers, &r.multi_value_headers, &[]),
            body_bytes(r.body.as_ref(), r.is_base64_encoded),
        ),
        EventResponse::HttpApi(r) => (
            r.status_code,
            merged_headers(&r.headers, &r.multi_value_headers, &r.cookies),
            body_bytes(r.body.as_ref(), r.is_base64_encoded),
        ),
        EventResponse::FunctionUrl(r) => {
            let text = r.body.as_deref().unwrap_or_default();
            let body = if r.is_base64_encoded { BASE64.decode(text).ok() } else { Some(text.as_bytes().to_vec()) };
            (r.status_code, merged_headers(&r.headers, &HeaderMap::new(), &r.cookies), body)
        }
        EventResponse::Alb(r) => (
            r.status_code,
            merged_headers(&r.headers, &r.multi_value_headers, &[]),
            body_bytes(r.body.as_ref(), r.is_base64_encoded),
        ),
        _ => (0, Vec::new(), None),
    };
    match (u16::try_from(status), body) {
        (Ok(status), Some(body)) => Response { status, headers, body },
        _ => Response::message(502, "Internal Server Error"),
    }
}

/// Response headers as API Gateway merges them: `headers`, each name in `multi` replacing the
/// same name there with all its values, then `cookies` as `set-cookie`.
fn merged_headers(single: &HeaderMap, multi: &HeaderMap, cookies: &[String]) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> =
        fields_of(single).filter(|(name, _)| !multi.contains_key(name.as_str())).collect();
    headers.extend(fields_of(multi));
    headers.extend(cookies.iter().map(|c| ("set-cookie".to_string(), c.clone())));
    headers
}
