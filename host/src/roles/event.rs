//! Recognising a Lambda event's kind from its JSON shape.

use std::fmt;

use serde_json::Value;

use crate::config::Role;

/// The kinds of event Plugboard's roles take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventKind {
    /// API Gateway REST API proxy event (payload format 1.0).
    RestApi,
    /// API Gateway HTTP API event (payload format 2.0).
    HttpApi,
    /// Lambda Function URL event.
    FunctionUrl,
    /// SQS event-source batch.
    Sqs,
    /// REST API TOKEN authorizer event.
    TokenAuthorizer,
    /// REST API (or HTTP API format 1.0) REQUEST authorizer event.
    RequestAuthorizer,
    /// HTTP API authorizer event, payload format 2.0.
    HttpApiAuthorizer,
    /// A direct invocation: any JSON.
    Direct,
}

impl EventKind {
    /// Recognise `event` by the fields each kind always carries.
    pub fn detect(event: &Value) -> EventKind {
        let field = |name: &str| event.get(name).and_then(Value::as_str);
        let is_sqs = event
            .get("Records")
            .and_then(Value::as_array)
            .and_then(|records| records.first())
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            == Some("aws:sqs");
        if is_sqs {
            return EventKind::Sqs;
        }
        match (field("type"), field("version")) {
            (Some("TOKEN"), _) if event.get("methodArn").is_some() => return EventKind::TokenAuthorizer,
            (Some("REQUEST"), Some("2.0")) if event.get("routeArn").is_some() => {
                return EventKind::HttpApiAuthorizer;
            }
            (Some("REQUEST"), _) if event.get("methodArn").is_some() => return EventKind::RequestAuthorizer,
            _ => {}
        }
        let context = event.get("requestContext");
        if field("version") == Some("2.0") && context.and_then(|c| c.get("http")).is_some() {
            let domain = context.and_then(|c| c.get("domainName")).and_then(Value::as_str).unwrap_or("");
            return if domain.contains(".lambda-url.") { EventKind::FunctionUrl } else { EventKind::HttpApi };
        }
        if event.get("httpMethod").is_some() && context.is_some() {
            return EventKind::RestApi;
        }
        EventKind::Direct
    }

    /// Whether a function of `role` handles this kind.
    pub fn fits(self, role: Role) -> bool {
        use EventKind::*;
        match role {
            Role::HttpApi => matches!(self, RestApi | HttpApi | FunctionUrl),
            Role::QueueWorker => self == Sqs,
            Role::Authorizer => matches!(self, TokenAuthorizer | RequestAuthorizer | HttpApiAuthorizer),
            Role::InternalApi => self == Direct,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = clap::ValueEnum::to_possible_value(self).map(|v| v.get_name().to_string());
        f.write_str(name.as_deref().unwrap_or("unknown"))
    }
}
