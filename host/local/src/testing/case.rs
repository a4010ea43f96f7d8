//! A test case file: the input (a whole Lambda event or a role's short form), the state and
//! stubs around it, and the expected outcome.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backends::embedded::{Received, StoredMessage, attribute_json};
use crate::manifest::Payload;
use plugboard_core::bindings::plugboard::host::queue::AttributeValue;
use plugboard_core::config::Role;
use plugboard_core::events::Event;
use plugboard_core::events::authorizer::{request_event, token_event};
use plugboard_core::events::http::{Matched, Request, proxy_event};
use plugboard_core::events::route::RoutePattern;

/// One case (`<name>.toml` in a suite folder).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Case {
    /// What the case shows, for the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A whole Lambda event, used as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    /// `http-api` short form: a request, turned into an API Gateway event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// `queue-worker` short form: the messages of one SQS batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// `authorizer` short form: the identity token of a TOKEN event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `internal-api` short form: the invoke payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Key-value state before the call: store (the guest's name for it) -> key -> value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seed: BTreeMap<String, BTreeMap<String, Value>>,
    /// The guest's wall clock for this case, pinned (Unix seconds): signatures and expiries
    /// with a timestamp stay valid. Unset: the real clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<u64>,
    /// Config values for this case, over the suite's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Answers of invoke targets (the guest's name for them); an unstubbed target is missing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stubs: BTreeMap<String, Stub>,
    /// Answers to outbound HTTP requests, matched by method and URL (several for one URL answer
    /// in turn); a request no stub matches fails the case (cases never reach the network).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpStub>,
    /// What must happen.
    #[serde(default)]
    pub expect: Expect,
}

/// One stubbed outbound HTTP exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HttpStub {
    /// The method it answers (any when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The whole URL it answers (scheme, host, port when not the default, path and query).
    pub url: String,
    /// Headers the request must carry (values exact) for this stub to answer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when_headers: BTreeMap<String, String>,
    /// The response status.
    #[serde(default = "HttpStub::ok")]
    pub status: u16,
    /// Response headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The response body: a string as is, anything else as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Or: the request fails this way, and the guest gets the matching `wasi:http` error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<FetchFailure>,
}

impl HttpStub {
    fn ok() -> u16 {
        200
    }
}

/// How a stubbed request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchFailure {
    /// The connection is refused (`connection-refused`).
    ConnectionRefused,
    /// No response in time (`connection-read-timeout`).
    Timeout,
    /// The name does not resolve (`dns-error`).
    Dns,
}

/// An outbound request the guest made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Fetched {
    /// Its method.
    pub method: String,
    /// Its URL.
    pub url: String,
    /// Its body (a JSON subset, or a string, exact); not checked when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// An HTTP request in short form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, optionally with `?query`.
    pub path: String,
    /// The route it matched, for path parameters (`/items/{id}`); default: the path itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Header fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body: a string as is, anything else as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// `v2` (HTTP API, default) or `v1` (REST API).
    #[serde(default)]
    pub payload: Payload,
    /// For an authorizer: a REQUEST event of this request instead of a TOKEN event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authorize: bool,
}

/// One SQS message in short form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Message {
    /// The message id (default `m1`, `m2`, ... by position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The body: a string as is, anything else as JSON.
    pub body: Value,
    /// String attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// The FIFO message group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// How many times it was received, this delivery included (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_count: Option<u32>,
}

/// A stubbed invoke target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Stub {
    /// The JSON it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// Or: it fails with this message ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// ... and this error type (default `Error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

/// The expected outcome; what is left out is not checked.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Expect {
    /// `http-api`: the status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `http-api`: the body, a JSON subset (or a string, exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// `http-api`: header fields that must be present with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The Lambda response JSON, a subset (`internal-api` answers, authorizer policies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// The invocation fails with a message containing this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Key-value state after: store -> key -> value (JSON subset, or a string, exact).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub store: BTreeMap<String, BTreeMap<String, Value>>,
    /// Keys that must not exist after: store -> keys.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub absent: BTreeMap<String, Vec<String>>,
    /// Every message sent, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Vec<Sent>>,
    /// Every invoke, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked: Option<Vec<Invoked>>,
    /// Every outbound HTTP request, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched: Option<Vec<Fetched>>,
    /// `queue-worker`: the ids reported in `batchItemFailures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_failures: Option<Vec<String>>,
    /// `authorizer`: `Allow`, `Deny` (for the request's method ARN) or `Unauthorized`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
}

/// What an authorizer decided for the case's method ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// The policy allows it.
    Allow,
    /// The policy does not allow it (403).
    Deny,
    /// No identity, or the authorizer refused (401).
    Unauthorized,
    /// The authorizer failed or answered nonsense (500).
    Failed,
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// A message the guest sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Sent {
    /// The queue (the guest's name for it).
    pub queue: String,
    /// The body: a JSON subset, or a string, exact.
    pub body: Value,
    /// The FIFO group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A call the guest made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Invoked {
    /// The target (the guest's name for it).
    pub function: String,
    /// The payload, a JSON subset.
    pub payload: Value,
    /// An Event (asynchronous) invoke.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub r#async: bool,
}

/// A body value as bytes: strings as they are, anything else as JSON.
pub fn body_bytes(body: &Value) -> Vec<u8> {
    match body {
        Value::String(text) => text.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

/// The event a case sends: a whole Lambda event as written (parsed as Lambda would, so a
/// malformed one fails the invocation), or one built from a short form.
#[derive(Debug)]
pub enum CaseEvent {
    /// A whole Lambda event, as JSON text.
    Json(String),
    /// Built from the case's short form.
    Typed(Event),
}

impl Case {
    /// The Lambda event this case sends to a function of `role`.
    pub fn event(&self, role: Role) -> Result<CaseEvent, String> {
        if let Some(event) = &self.event {
            return Ok(CaseEvent::Json(event.to_string()));
        }
        let event = match role {
            Role::HttpApi => {
                self.request.as_ref().map(http_event).ok_or("an http-api case needs `request` or `event`")??
            }
            Role::QueueWorker if !self.messages.is_empty() => sqs_event(&self.messages),
            Role::QueueWorker => return Err("a queue-worker case needs `messages` or `event`".into()),
            Role::Authorizer => self.authorizer_event()?,
            Role::InternalApi => {
                let payload = self.payload.as_ref().ok_or("an internal-api case needs `payload` or `event`")?;
                Event::Direct(serde_json::value::to_raw_value(payload).map_err(|e| e.to_string())?)
            }
        };
        Ok(CaseEvent::Typed(event))
    }

    /// The method ARN an authorizer case is decided for.
    pub fn method_arn(&self) -> String {
        let request = match &self.request {
            Some(short) => short.request(),
            None => Request { method: "GET".into(), path: "/".into(), ..Request::default() },
        };
        request.method_arn("local", "test")
    }

    fn authorizer_event(&self) -> Result<Event, String> {
        let arn = self.method_arn();
        match (&self.token, &self.request) {
            (Some(token), _) => Ok(token_event(token, &arn)),
            (None, Some(short)) if short.authorize => {
                let request = short.request();
                let resource = short.route.clone().unwrap_or_else(|| request.path.clone());
                request_event(&request, &arn, &resource)
            }
            _ => Err("an authorizer case needs `token`, a `request` with `authorize = true`, or `event`".into()),
        }
    }
}

impl HttpRequest {
    /// The request as the local gateway holds it.
    fn request(&self) -> Request {
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        Request {
            method: self.method.to_ascii_uppercase(),
            path: path.to_string(),
            query: query.to_string(),
            headers: self.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect(),
            body: self.body.as_ref().map(body_bytes).unwrap_or_default(),
            source_ip: "127.0.0.1".into(),
        }
    }
}

fn http_event(short: &HttpRequest) -> Result<Event, String> {
    let request = short.request();
    let route = short.route.clone().unwrap_or_else(|| request.path.clone());
    let pattern = RoutePattern::parse(&short.method, &route)?;
    let params = pattern
        .matches(&request.method, &request.path)
        .ok_or_else(|| format!("path {} does not match route {route}", request.path))?;
    proxy_event(short.payload, &request, Matched { pattern: &pattern, params: &params }, None)
}

fn sqs_event(messages: &[Message]) -> Event {
    let received: Vec<Received> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| Received {
            receipt: format!("receipt-{i}"),
            message: StoredMessage {
                id: m.id.clone().unwrap_or_else(|| format!("m{}", i + 1)),
                body: String::from_utf8_lossy(&body_bytes(&m.body)).into_owned(),
                attributes: m
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), attribute_json(&AttributeValue::Text(v.clone()))))
                    .collect(),
                group_id: m.group.clone(),
                dedup_id: None,
                sent_ms: 0,
                visible_ms: 0,
                receive_count: m.receive_count.unwrap_or(1),
                first_receive_ms: None,
                trace: None,
            },
        })
        .collect();
    crate::backends::embedded::sqs_event("test-queue", &received)
}
