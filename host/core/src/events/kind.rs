//! Recognising a Lambda event's kind from its JSON shape.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::value::RawValue;

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

/// An object's top-level fields, borrowed from the event text: names and unparsed values.
type Fields<'a> = BTreeMap<Cow<'a, str>, &'a RawValue>;

/// The fields of `raw` when it is an object.
fn fields(raw: &str) -> Option<Fields<'_>> {
    serde_json::from_str(raw).ok()
}

/// The string `raw` holds, if it is one.
fn string<'a>(raw: Option<&&'a RawValue>) -> Option<Cow<'a, str>> {
    raw.and_then(|raw| serde_json::from_str::<Cow<'_, str>>(raw.get()).ok())
}

impl EventKind {
    /// Recognise the event `text` by the fields each kind always carries. A borrowed peek: the
    /// top-level fields (and `requestContext`'s, `Records[0]`'s) are located, none is built.
    pub fn detect(text: &str) -> EventKind {
        let Some(event) = fields(text) else { return EventKind::Direct };
        let first_record = event
            .get("Records")
            .and_then(|records| serde_json::from_str::<Vec<&RawValue>>(records.get()).ok())
            .and_then(|records| records.first().and_then(|first| fields(first.get())));
        if first_record.as_ref().and_then(|r| string(r.get("eventSource"))).as_deref() == Some("aws:sqs") {
            return EventKind::Sqs;
        }
        let field = |name: &str| string(event.get(name));
        let (kind, version) = (field("type"), field("version"));
        match (kind.as_deref(), version.as_deref()) {
            (Some("TOKEN"), _) if event.contains_key("methodArn") => return EventKind::TokenAuthorizer,
            (Some("REQUEST"), Some("2.0")) if event.contains_key("routeArn") => {
                return EventKind::HttpApiAuthorizer;
            }
            (Some("REQUEST"), _) if event.contains_key("methodArn") => return EventKind::RequestAuthorizer,
            _ => {}
        }
        let context = event.get("requestContext").and_then(|c| fields(c.get()));
        if version.as_deref() == Some("2.0") && context.as_ref().is_some_and(|c| c.contains_key("http")) {
            let domain = context.as_ref().and_then(|c| string(c.get("domainName")));
            let is_url = domain.is_some_and(|d| d.contains(".lambda-url."));
            return if is_url { EventKind::FunctionUrl } else { EventKind::HttpApi };
        }
        if event.contains_key("httpMethod") && event.contains_key("requestContext") {
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
