//! Lambda events and responses, typed: the one place they are recognised, parsed, built and
//! read. Lambda hands the bootstrap JSON text, which is parsed once into the concrete
//! `aws_lambda_events` struct (after a borrowed peek at its shape) and answered with a response
//! serialised once; `plugboard dev` and `plugboard test` build the same structs directly and read
//! the typed responses back, with no JSON in between.

pub mod authorizer;
pub mod envelope;
mod error;
pub mod http;
mod kind;
pub mod route;
pub mod sqs;

use aws_lambda_events::alb::{AlbTargetGroupRequest, AlbTargetGroupResponse};
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse, ApiGatewayProxyRequest, ApiGatewayProxyResponse,
    ApiGatewayV2CustomAuthorizerIamPolicyResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
    ApiGatewayV2CustomAuthorizerV2Request, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use aws_lambda_events::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

pub use error::{ErrorType, FunctionError};
pub use kind::EventKind;

use crate::config::Role;

/// Lambda's limit on a synchronous response.
pub(crate) const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// The context map authorizer responses carry.
pub(crate) type AuthorizerContext = Map<String, Value>;

/// A Lambda event of one of the kinds the roles take.
#[derive(Debug, Clone)]
pub enum Event {
    /// API Gateway REST API proxy event (payload format 1.0).
    RestApi(Box<ApiGatewayProxyRequest>),
    /// API Gateway HTTP API event (payload format 2.0).
    HttpApi(Box<ApiGatewayV2httpRequest>),
    /// Lambda Function URL event.
    FunctionUrl(Box<LambdaFunctionUrlRequest>),
    /// Application Load Balancer target event.
    Alb(Box<AlbTargetGroupRequest>),
    /// SQS event-source batch.
    Sqs(SqsEvent),
    /// REST API TOKEN authorizer event.
    TokenAuthorizer(Box<ApiGatewayCustomAuthorizerRequest>),
    /// REST API (or HTTP API format 1.0) REQUEST authorizer event.
    RequestAuthorizer(Box<ApiGatewayCustomAuthorizerRequestTypeRequest>),
    /// HTTP API authorizer event, payload format 2.0.
    HttpApiAuthorizer(Box<ApiGatewayV2CustomAuthorizerV2Request>),
    /// A direct invocation: any JSON, kept as its text.
    Direct(Box<RawValue>),
}

impl Event {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::RestApi(_) => EventKind::RestApi,
            Event::HttpApi(_) => EventKind::HttpApi,
            Event::FunctionUrl(_) => EventKind::FunctionUrl,
            Event::Alb(_) => EventKind::Alb,
            Event::Sqs(_) => EventKind::Sqs,
            Event::TokenAuthorizer(_) => EventKind::TokenAuthorizer,
            Event::RequestAuthorizer(_) => EventKind::RequestAuthorizer,
            Event::HttpApiAuthorizer(_) => EventKind::HttpApiAuthorizer,
            Event::Direct(_) => EventKind::Direct,
        }
    }

    /// Parse the JSON text of an event for a function of `role`: of kind `kind` when the caller
    /// knows it, else recognised by its shape (an `internal-api` function takes any JSON as a
    /// direct invocation). The concrete struct is deserialised once, straight from the text.
    pub fn parse(text: &str, role: Role, kind: Option<EventKind>) -> Result<Event, FunctionError> {
        let kind = match kind {
            Some(kind) => kind,
            None if role == Role::InternalApi => EventKind::Direct,
            None => EventKind::detect(text),
        };
        fn typed<T: serde::de::DeserializeOwned>(text: &str, kind: EventKind) -> Result<T, FunctionError> {
            // Tracking the path costs on every field, so only a malformed event is parsed again
            // with it, for a message naming the field at fault (`requestContext.httpMethod`).
            if let Ok(event) = serde_json::from_str(text) {
                return Ok(event);
            }
            let mut json = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut json).map_err(|e| {
                let at = e.path().to_string();
                let at = if at == "." { String::new() } else { format!(" at `{at}`") };
                FunctionError::invalid_event(format!("malformed {kind} event{at}: {}", e.inner()))
            })
        }
        Ok(match kind {
            EventKind::RestApi => Event::RestApi(typed(text, kind)?),
            EventKind::HttpApi => Event::HttpApi(typed(text, kind)?),
            EventKind::FunctionUrl => Event::FunctionUrl(typed(text, kind)?),
            EventKind::Alb => Event::Alb(typed(text, kind)?),
            EventKind::Sqs => Event::Sqs(typed(text, kind)?),
            EventKind::TokenAuthorizer => Event::TokenAuthorizer(typed(text, kind)?),
            EventKind::RequestAuthorizer => Event::RequestAuthorizer(typed(text, kind)?),
            EventKind::HttpApiAuthorizer => Event::HttpApiAuthorizer(typed(text, kind)?),
            EventKind::Direct => Event::Direct(
                RawValue::from_string(text.to_string())
                    .map_err(|e| FunctionError::invalid_event(format!("the event is not JSON: {e}")))?,
            ),
        })
    }
}

/// The response to an [`Event`], as the function's caller (API Gateway, the SQS event source,
/// an invoker) reads it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventResponse {
    /// To a REST API proxy event.
    RestApi(ApiGatewayProxyResponse),
    /// To an HTTP API event.
    HttpApi(ApiGatewayV2httpResponse),
    /// To a Function URL event.
    FunctionUrl(LambdaFunctionUrlResponse),
    /// To an Application Load Balancer target event.
    Alb(AlbTargetGroupResponse),
    /// To an SQS batch: the records to retry.
    Sqs(SqsBatchResponse),
    /// A REST API authorizer's IAM policy.
    AuthorizerPolicy(Box<ApiGatewayCustomAuthorizerResponse<AuthorizerContext>>),
    /// An HTTP API authorizer's IAM policy.
    HttpApiAuthorizerPolicy(Box<ApiGatewayV2CustomAuthorizerIamPolicyResponse<AuthorizerContext>>),
    /// An HTTP API authorizer's simple response.
    HttpApiAuthorizerSimple(ApiGatewayV2CustomAuthorizerSimpleResponse<AuthorizerContext>),
    /// A direct invocation's answer, kept as its JSON text.
    Direct(Box<RawValue>),
}

impl EventResponse {
    /// The response's JSON, serialised once, or `ResponseTooLarge` when Lambda would refuse it.
    pub(crate) fn into_json(self) -> Result<Box<RawValue>, FunctionError> {
        let raw = match self {
            EventResponse::Direct(raw) => raw,
            typed => serde_json::value::to_raw_value(&typed)
                .map_err(|e| FunctionError::new(ErrorType::InvalidResponse, e))?,
        };
        check_length(raw.get().len())?;
        Ok(raw)
    }

    /// Refuse the response when Lambda would, counting its JSON without building it.
    pub(crate) fn check_size(&self) -> Result<(), FunctionError> {
        let mut count = ByteCount::default();
        let size = serde_json::to_writer(&mut count, self).map(|()| count.0).unwrap_or(usize::MAX);
        check_length(size)
    }

    /// The response as a JSON value, for tools that compare or print it.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Counts the bytes written to it, so a response's JSON size is known without building it.
#[derive(Default)]
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Refuse an answer of at least `size` bytes when that is over Lambda's limit. Adapters call it
/// with the guest's raw answer length before converting it, so an oversized answer is never
/// copied or encoded.
pub(crate) fn check_length(size: usize) -> Result<(), FunctionError> {
    if size > MAX_RESPONSE_BYTES {
        return Err(FunctionError::new(
            ErrorType::ResponseTooLarge,
            format!("response is at least {size} bytes; Lambda's limit is {MAX_RESPONSE_BYTES}"),
        ));
    }
    Ok(())
}
