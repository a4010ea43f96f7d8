//! Recognising a Lambda event's kind from its JSON shape.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
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
    /// Application Load Balancer target event (single- or multi-value headers).
    Alb,
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

/// A field's unparsed value, borrowed from the event text, when the field is there (also when
/// it is `null`: presence is what the shapes are told apart by).
#[derive(Default)]
struct Field<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(|raw| Field(Some(raw)))
    }
}

impl Field<'_> {
    fn present(&self) -> bool {
        self.0.is_some()
    }

    /// The string the field holds, if it is one.
    fn text(&self) -> Option<Cow<'_, str>> {
        self.0.and_then(|raw| serde_json::from_str::<Cow<'_, str>>(raw.get()).ok())
    }
}

/// The top-level fields the event shapes are told apart by; the rest of the event is skipped
/// unparsed, nothing is allocated. (JSON naming one of these fields twice is no event shape.)
#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(rename = "Records", default, borrow)]
    records: Field<'a>,
    #[serde(rename = "type", default, borrow)]
    kind: Field<'a>,
    #[serde(default, borrow)]
    version: Field<'a>,
    #[serde(rename = "methodArn", default, borrow)]
    method_arn: Field<'a>,
    #[serde(rename = "routeArn", default, borrow)]
    route_arn: Field<'a>,
    #[serde(rename = "requestContext", default, borrow)]
    request_context: Field<'a>,
    #[serde(rename = "httpMethod", default, borrow)]
    http_method: Field<'a>,
}

/// The fields of `requestContext` that tell an HTTP API event from a Function URL event.
#[derive(Deserialize)]
struct ContextShape<'a> {
    #[serde(default, borrow)]
    http: Field<'a>,
    #[serde(rename = "domainName", default, borrow)]
    domain_name: Field<'a>,
    #[serde(default, borrow)]
    elb: Field<'a>,
}

/// The field an SQS record is told by.
#[derive(Deserialize)]
struct RecordShape<'a> {
    #[serde(rename = "eventSource", default, borrow)]
    event_source: Field<'a>,
}

/// The first element of a JSON array, the rest skipped unparsed.
struct First<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for First<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = First<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First<'a>, A::Error> {
                let first = seq.next_element::<&'a RawValue>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
        }
        deserializer.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

/// `text` parsed as `T`, or `None` when it does not have that shape.
fn peek<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    raw.and_then(|raw| serde_json::from_str(raw.get()).ok())
}

impl EventKind {
    /// Recognise the event `text` by the fields each kind always carries. A borrowed peek: the
    /// top-level fields (and `requestContext`'s, `Records[0]`'s) are located, none is built.
    pub fn detect(text: &str) -> EventKind {
        // Only an object is an event of a shape (serde would also take an array, by position).
        if !text.trim_start().starts_with('{') {
            return EventKind::Direct;
        }
        let Ok(event) = serde_json::from_str::<Shape<'_>>(text) else { return EventKind::Direct };
        let first_record = peek::<First<'_>>(event.records.0).and_then(|first| peek::<RecordShape<'_>>(first.0));
        if first_record.is_some_and(|r| r.event_source.text().as_deref() == Some("aws:sqs")) {
            return EventKind::Sqs;
        }
        let (kind, version) = (event.kind.text(), event.version.text());
        match (kind.as_deref(), version.as_deref()) {
            (Some("TOKEN"), _) if event.method_arn.present() => return EventKind::TokenAuthorizer,
            (Some("REQUEST"), Some("2.0")) if event.route_arn.present() => return EventKind::HttpApiAuthorizer,
            (Some("REQUEST"), _) if event.method_arn.present() => return EventKind::RequestAuthorizer,
            _ => {}
        }
        let context = peek::<ContextShape<'_>>(event.request_context.0);
        if version.as_deref() == Some("2.0") && context.as_ref().is_some_and(|c| c.http.present()) {
            let domain = context.as_ref().and_then(|c| c.domain_name.text().map(Cow::into_owned));
            let is_url = domain.is_some_and(|d| d.contains(".lambda-url."));
            return if is_url { EventKind::FunctionUrl } else { EventKind::HttpApi };
        }
        if event.http_method.present() && context.as_ref().is_some_and(|c| c.elb.present()) {
            return EventKind::Alb;
        }
        if event.http_method.present() && event.request_context.present() {
            return EventKind::RestApi;
        }
        EventKind::Direct
    }

    /// Whether a function of `role` handles this kind.
    pub fn fits(self, role: Role) -> bool {
        use EventKind::*;
        match role {
            Role::HttpApi => matches!(self, RestApi | HttpApi | FunctionUrl | Alb),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_object_has_an_event_shape() {
        assert_eq!(EventKind::detect(r#"{"Records":[{"eventSource":"aws:sqs"}]}"#), EventKind::Sqs);
        assert_eq!(EventKind::detect(r#"[[{"eventSource":"aws:sqs"}]]"#), EventKind::Direct);
        assert_eq!(EventKind::detect(r#" {"type":"TOKEN","methodArn":null}"#), EventKind::TokenAuthorizer);
    }
}
