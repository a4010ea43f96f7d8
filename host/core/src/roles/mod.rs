//! Role adapters: a typed Lambda event in, a WIT call, the exact Lambda response out. One file
//! per role.

pub mod authorizer;
pub mod http_api;
pub(crate) mod internal_api;
pub mod queue_worker;
pub mod wasi_http;

pub use crate::events::{ErrorType, FunctionError};

use crate::events::{Event, EventResponse};
use crate::runtime::{Guest, GuestRunner, Invocation, RolePre};

/// Answer `event` with `function`'s guest: the dispatch happens once, on the guest's
/// pre-instance and the event's kind together; an event the role does not take is refused.
pub(crate) async fn respond(
    runner: &GuestRunner,
    guest: &Guest,
    event: Event,
    invocation: &Invocation,
) -> Result<EventResponse, FunctionError> {
    use authorizer::Api;
    use http_api::Format;
    let inv = invocation;
    match (&guest.pre, event) {
        (RolePre::HttpApi(pre), Event::RestApi(e)) => {
            http_api::serve(runner, pre, http_api::from_rest(*e)?, Format::RestApi, inv).await
        }
        (RolePre::HttpApi(pre), Event::HttpApi(e)) => {
            http_api::serve(runner, pre, http_api::from_http_api(*e)?, Format::HttpApi, inv).await
        }
        (RolePre::HttpApi(pre), Event::FunctionUrl(e)) => {
            http_api::serve(runner, pre, http_api::from_function_url(*e)?, Format::FunctionUrl, inv).await
        }
        (RolePre::HttpApi(pre), Event::Alb(e)) => {
            let format = Format::Alb { multi_value: !e.multi_value_headers.is_empty() };
            http_api::serve(runner, pre, http_api::from_alb(*e)?, format, inv).await
        }
        (RolePre::QueueWorker(pre), Event::Sqs(e)) => queue_worker::handle(runner, pre, e, inv).await,
        (RolePre::Authorizer(pre), Event::TokenAuthorizer(e)) => {
            authorizer::decide(runner, pre, authorizer::from_token(*e), Api::Rest, inv).await
        }
        (RolePre::Authorizer(pre), Event::RequestAuthorizer(e)) => {
            authorizer::decide(runner, pre, authorizer::from_request(*e), Api::Rest, inv).await
        }
        (RolePre::Authorizer(pre), Event::HttpApiAuthorizer(e)) => {
            authorizer::decide(runner, pre, authorizer::from_http_api(*e), Api::HttpApi, inv).await
        }
        (RolePre::InternalApi(pre), Event::Direct(payload)) => internal_api::handle(runner, pre, payload, inv).await,
        (pre, event) => Err(FunctionError::invalid_event(format!(
            "a {} function cannot handle a {} event",
            pre.role(),
            event.kind()
        ))),
    }
}

/// Name/value pairs from an HTTP header map, in order, names lower-case.
fn header_fields(headers: &aws_lambda_events::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

/// Name/value pairs, in the order the guest sees them.
type Fields = Vec<(String, String)>;

/// Headers and query of a REST-style event (proxy or REQUEST authorizer): the multi-value maps
/// when the event has them (they keep repeats), else the single-value ones; query sorted by
/// name, as those maps have no order.
fn rest_fields(
    (headers, multi_headers): (&aws_lambda_events::http::HeaderMap, &aws_lambda_events::http::HeaderMap),
    (query, multi_query): (&aws_lambda_events::query_map::QueryMap, &aws_lambda_events::query_map::QueryMap),
) -> (Fields, Fields) {
    let headers = if multi_headers.is_empty() { headers } else { multi_headers };
    let query = if multi_query.is_empty() { query } else { multi_query };
    let mut query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    query.sort();
    (header_fields(headers), query)
}

/// Name/value pairs from a map, sorted by name so the order is stable.
fn sorted_fields<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = map.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    fields.sort();
    fields
}

/// Query pairs from a raw query string, in order, percent-decoded.
fn query_fields(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}
