//! The API Gateway side of `plugboard dev`: route matching as API Gateway does it, the real
//! proxy event (payload 2.0 or 1.0) built from an HTTP request, and the function's proxy
//! response written back (status, headers, cookies, base64 bodies).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::manifest::Payload;

/// The account id local ARNs carry.
pub const ACCOUNT: &str = "000000000000";
/// The region local ARNs carry.
pub const REGION: &str = "us-east-1";

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

/// A parsed `METHOD /path/{param}/{proxy+}` route.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutePattern {
    /// Upper-case method; `None` for `ANY`.
    method: Option<String>,
    segments: Vec<Segment>,
    /// The path as written (`resource`, route key).
    pub path: String,
}

impl RoutePattern {
    /// Parse a route; errors say what is wrong with it.
    pub fn parse(method: &str, path: &str) -> Result<RoutePattern, String> {
        let method = method.to_ascii_uppercase();
        if !path.starts_with('/') {
            return Err("the path must start with `/`".into());
        }
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let mut segments = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(name) if i + 1 == parts.len() => Segment::Greedy(name.to_string()),
                    Some(_) => return Err("a greedy `{name+}` segment must be the last".into()),
                    None => Segment::Param(name.to_string()),
                },
                None => Segment::Literal(part.to_string()),
            };
            segments.push(segment);
        }
        let method = (method != "ANY").then_some(method);
        Ok(RoutePattern { method, segments, path: path.to_string() })
    }

    /// The path parameters when `method` and `path` match.
    pub fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let mut params = BTreeMap::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Greedy(name) => {
                    if i >= parts.len() {
                        return None;
                    }
                    params.insert(name.clone(), parts[i..].join("/"));
                    return Some(params);
                }
                Segment::Literal(text) if parts.get(i) == Some(&text.as_str()) => {}
                Segment::Param(name) if i < parts.len() => {
                    params.insert(name.clone(), parts[i].to_string());
                }
                _ => return None,
            }
        }
        (parts.len() == self.segments.len()).then_some(params)
    }

    /// Sort key, most specific first: no greedy segment, more literals, a named method.
    fn rank(&self) -> (bool, usize, bool) {
        let greedy = self.segments.iter().any(|s| matches!(s, Segment::Greedy(_)));
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        (greedy, usize::MAX - literals, self.method.is_none())
    }

    /// `GET /items/{id}` (`ANY` for any method): the route key.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method.as_deref().unwrap_or("ANY"), self.path)
    }
}

/// Routes, most specific first, each with its index in the manifest.
pub struct Router {
    routes: Vec<(RoutePattern, usize)>,
}

impl Router {
    /// Order `patterns` by specificity.
    pub fn new(patterns: Vec<RoutePattern>) -> Router {
        let mut routes: Vec<(RoutePattern, usize)> = patterns.into_iter().enumerate().map(|(i, p)| (p, i)).collect();
        routes.sort_by_key(|(p, i)| (p.rank(), *i));
        Router { routes }
    }

    /// The matching route's index, pattern and path parameters.
    pub fn find(&self, method: &str, path: &str) -> Option<(usize, &RoutePattern, BTreeMap<String, String>)> {
        self.routes.iter().find_map(|(p, i)| p.matches(method, path).map(|params| (*i, p, params)))
    }
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

    /// Body as the event carries it: text, or base64 for binary content.
    fn event_body(&self) -> (Value, bool) {
        if self.body.is_empty() {
            return (Value::Null, false);
        }
        let textual = self.header("content-type").is_none_or(|t| {
            t.starts_with("text/") || t.contains("json") || t.contains("xml") || t.contains("x-www-form-urlencoded")
        });
        match std::str::from_utf8(&self.body) {
            Ok(text) if textual => (Value::String(text.to_string()), false),
            _ => (Value::String(base64::engine::general_purpose::STANDARD.encode(&self.body)), true),
        }
    }

    /// Query parameters: (single or comma-joined values, every value).
    fn query_maps(&self) -> (Map<String, Value>, Map<String, Value>) {
        let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(self.query.as_bytes()) {
            all.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        let joined = all.iter().map(|(k, v)| (k.clone(), Value::from(v.join(",")))).collect();
        let multi = all.into_iter().map(|(k, v)| (k, json!(v))).collect();
        (joined, multi)
    }
}

fn null_if_empty(map: Map<String, Value>) -> Value {
    if map.is_empty() { Value::Null } else { Value::Object(map) }
}

/// The proxy event for `request` on route `pattern`, with the authorizer's context if any.
pub fn proxy_event(
    payload: Payload,
    request: &Request,
    pattern: &RoutePattern,
    params: &BTreeMap<String, String>,
    authorizer: Option<(&Option<String>, &Map<String, Value>)>,
) -> Value {
    let now = chrono::Utc::now();
    let (body, base64) = request.event_body();
    let (query, multi_query) = request.query_maps();
    let path_params: Map<String, Value> = params.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
    let request_id = uuid::Uuid::new_v4().to_string();
    let user_agent = request.header("user-agent").unwrap_or_default();
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in request.headers.iter().filter(|(n, _)| payload == Payload::V1 || n != "cookie") {
        grouped.entry(name.clone()).or_default().push(value.clone());
    }
    match payload {
        Payload::V2 => {
            let headers: Map<String, Value> =
                grouped.iter().map(|(k, v)| (k.clone(), Value::from(v.join(",")))).collect();
            let cookies: Vec<String> = request
                .headers
                .iter()
                .filter(|(n, _)| n == "cookie")
                .flat_map(|(_, v)| v.split(';').map(|c| c.trim().to_string()).collect::<Vec<_>>())
                .filter(|c| !c.is_empty())
                .collect();
            let route_key = pattern.route_key();
            let mut context = json!({
                "accountId": ACCOUNT, "apiId": "local", "domainName": request.header("host").unwrap_or("127.0.0.1"),
                "domainPrefix": "local", "requestId": request_id, "routeKey": route_key, "stage": "$default",
                "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(), "timeEpoch": now.timestamp_millis(),
                "http": { "method": request.method, "path": request.path, "protocol": "HTTP/1.1",
                          "sourceIp": request.source_ip, "userAgent": user_agent },
            });
            if let Some((principal, ctx)) = authorizer {
                let mut lambda = ctx.clone();
                if let Some(p) = principal {
                    lambda.insert("principalId".into(), Value::from(p.as_str()));
                }
                context["authorizer"] = json!({ "lambda": lambda });
            }
            json!({
                "version": "2.0", "routeKey": route_key, "rawPath": request.path, "rawQueryString": request.query,
                "cookies": if cookies.is_empty() { Value::Null } else { json!(cookies) },
                "headers": headers, "queryStringParameters": null_if_empty(query),
                "pathParameters": null_if_empty(path_params), "requestContext": context,
                "body": body, "isBase64Encoded": base64,
            })
        }
        Payload::V1 => {
            let headers: Map<String, Value> =
                grouped.iter().map(|(k, v)| (k.clone(), Value::from(v.last().cloned().unwrap_or_default()))).collect();
            let multi_headers: Map<String, Value> = grouped.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            let single_query: Map<String, Value> = multi_query
                .iter()
                .map(|(k, v)| (k.clone(), v.as_array().and_then(|a| a.last()).cloned().unwrap_or(Value::Null)))
                .collect();
            let mut context = json!({
                "accountId": ACCOUNT, "apiId": "local", "resourceId": "local", "resourcePath": pattern.path,
                "httpMethod": request.method, "path": format!("/dev{}", request.path), "stage": "dev",
                "requestId": request_id, "requestTimeEpoch": now.timestamp_millis(), "protocol": "HTTP/1.1",
                "identity": { "sourceIp": request.source_ip, "userAgent": user_agent },
            });
            if let Some((principal, ctx)) = authorizer {
                let mut fields = ctx.clone();
                if let Some(p) = principal {
                    fields.insert("principalId".into(), Value::from(p.as_str()));
                }
                context["authorizer"] = Value::Object(fields);
            }
            json!({
                "resource": pattern.path, "path": request.path, "httpMethod": request.method,
                "headers": headers, "multiValueHeaders": multi_headers,
                "queryStringParameters": null_if_empty(single_query), "multiValueQueryStringParameters": null_if_empty(multi_query),
                "pathParameters": null_if_empty(path_params), "stageVariables": null, "requestContext": context,
                "body": body, "isBase64Encoded": base64,
            })
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
        let headers = vec![("content-type".to_string(), "application/json".to_string())];
        Response { status, headers, body: body.to_string().into_bytes() }
    }
}

/// The HTTP response for a function's proxy response; a malformed one is a 502, as API Gateway.
pub fn from_proxy_response(value: &Value) -> Response {
    let Some(status) = value.get("statusCode").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()) else {
        return Response::message(502, "Internal Server Error");
    };
    let mut headers = Vec::new();
    if let Some(map) = value.get("headers").and_then(Value::as_object) {
        headers.extend(map.iter().filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string()))));
    }
    if let Some(map) = value.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in map {
            let name = name.to_ascii_lowercase();
            headers.retain(|(n, _)| *n != name);
            let values = values.as_array().into_iter().flatten().filter_map(Value::as_str);
            headers.extend(values.map(|v| (name.clone(), v.to_string())));
        }
    }
    for cookie in value.get("cookies").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        headers.push(("set-cookie".into(), cookie.to_string()));
    }
    let text = value.get("body").and_then(Value::as_str).unwrap_or_default();
    let body = if value.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => bytes,
            Err(_) => return Response::message(502, "Internal Server Error"),
        }
    } else {
        text.as_bytes().to_vec()
    };
    Response { status, headers, body }
}
