//! `authorizer`: TOKEN, REQUEST and HTTP API authorizer events -> `authorizer-handler` ->
//! the exact API Gateway authorizer response. Any failure of the guest denies (fails closed).

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse, ApiGatewayV2CustomAuthorizerIamPolicyResponse,
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Map, Value};
use wasmtime::Store;

use super::{ErrorType, FunctionError, header_fields, query_fields, rest_fields, sorted_fields};
use crate::bindings::authorizer::AuthorizerPre;
use crate::bindings::authorizer::exports::plugboard::host::authorizer_handler::{AuthorizationRequest, AuthorizeError};
use crate::bindings::plugboard::host::policy::{Decision, Effect, Statement};
use crate::bindings::plugboard::host::types::ContextValue;
use crate::config::AuthorizerResponse;
use crate::events::EventResponse;
use crate::events::authorizer::statements_allow;
use crate::runtime::{GuestExport, GuestRunner, HostState, Invocation};
use crate::telemetry::Metric;

impl GuestExport for AuthorizationRequest {
    type Pre = AuthorizerPre<HostState>;
    type Output = Result<Decision, AuthorizeError>;

    async fn call(&self, pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self::Output> {
        let instance = HostState::instantiate(store, async |s| pre.instantiate_async(s).await).await?;
        instance.plugboard_host_authorizer_handler().call_authorize(store, self).await
    }

    fn is_guest_error(output: &Self::Output) -> bool {
        matches!(output, Err(AuthorizeError::Failed(_)))
    }
}

/// Principal reported when the caller is refused without a decision.
const NOBODY: &str = "unauthorized";

/// Which API an authorizer answers: REST APIs take an IAM policy (a missing decision is the
/// `Unauthorized` error); HTTP APIs take the function's configured response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// A TOKEN or REQUEST authorizer of a REST API.
    Rest,
    /// An HTTP API authorizer, payload 2.0.
    HttpApi,
}

/// Ask the guest about one authorization request and shape API Gateway's answer.
pub(crate) async fn decide(
    runner: &GuestRunner,
    pre: &AuthorizerPre<HostState>,
    request: AuthorizationRequest,
    api: Api,
    invocation: &Invocation,
) -> Result<EventResponse, FunctionError> {
    let function = runner;
    let decision = match runner.call(pre, &request, runner.call_info(invocation)).await {
        Ok(Ok(decision)) => Some(decision),
        Ok(Err(AuthorizeError::Unauthorized)) => None,
        Ok(Err(AuthorizeError::Failed(reason))) => {
            let reason = crate::capabilities::logging::for_log(&reason);
            tracing::error!(function = function.name(), %reason, "authorizer failed; denying");
            Some(deny_all(&request.method_arn))
        }
        Err(failure) => {
            tracing::error!(function = function.name(), %failure, "authorizer guest failed; denying");
            Some(deny_all(&request.method_arn))
        }
    };
    if let Some(metrics) = &invocation.metrics {
        metrics.count(
            match &decision {
                None => Metric::AuthorizerUnauthorized,
                Some(d) if decision_allows(d, &request.method_arn) => Metric::AuthorizerAllow,
                Some(_) => Metric::AuthorizerDeny,
            },
            1,
        );
    }
    let mode = function.config().authorizer_response;
    Ok(match (decision, api, mode) {
        // REST APIs turn exactly this error message into a 401.
        (None, Api::Rest, _) => return Err(FunctionError::new(ErrorType::Unauthorized, "Unauthorized")),
        (None, Api::HttpApi, AuthorizerResponse::Simple) => simple(false, Map::new()),
        (None, Api::HttpApi, AuthorizerResponse::Iam) => iam_v2(&deny_all(&request.method_arn)),
        (Some(d), Api::HttpApi, AuthorizerResponse::Simple) => {
            simple(decision_allows(&d, &request.method_arn), context_json(&d))
        }
        (Some(d), Api::HttpApi, AuthorizerResponse::Iam) => iam_v2(&d),
        (Some(d), Api::Rest, _) => iam_v1(&d),
    })
}

fn deny_all(method_arn: &str) -> Decision {
    Decision {
        principal_id: NOBODY.into(),
        statements: vec![Statement { effect: Effect::Deny, resources: vec![method_arn.to_string()] }],
        context: Vec::new(),
        usage_identifier_key: None,
    }
}

fn context_json(decision: &Decision) -> Map<String, Value> {
    decision
        .context
        .iter()
        .map(|(k, v)| {
            let value = match v {
                ContextValue::Text(s) => Value::String(s.clone()),
                ContextValue::Number(n) => serde_json::Number::from_f64(*n).map(Value::Number).unwrap_or(Value::Null),
                ContextValue::Boolean(b) => Value::Bool(*b),
            };
            (k.clone(), value)
        })
        .collect()
}

/// Whether the guest's decision lets the caller invoke `arn` (the rule API Gateway applies to
/// the policy the decision becomes).
fn decision_allows(decision: &Decision, arn: &str) -> bool {
    statements_allow(
        decision.statements.iter().map(|s| (matches!(s.effect, Effect::Allow), s.resources.as_slice())),
        arn,
    )
}

fn policy(decision: &Decision) -> ApiGatewayCustomAuthorizerPolicy {
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = decision
        .statements
        .iter()
        .filter(|s| !s.resources.is_empty())
        .map(|s| {
            let mut statement = IamPolicyStatement::default();
            statement.action = vec!["execute-api:Invoke".into()];
            statement.effect = match s.effect {
                Effect::Allow => IamPolicyEffect::Allow,
                Effect::Deny => IamPolicyEffect::Deny,
            };
            statement.resource = s.resources.clone();
            statement
        })
        .collect();
    policy
}

fn iam_v1(decision: &Decision) -> EventResponse {
    let mut r = ApiGatewayCustomAuthorizerResponse::<Map<String, Value>>::default();
    r.principal_id = Some(decision.principal_id.clone());
    r.policy_document = policy(decision);
    r.context = context_json(decision);
    r.usage_identifier_key = decision.usage_identifier_key.clone();
    EventResponse::AuthorizerPolicy(Box::new(r))
}

fn iam_v2(decision: &Decision) -> EventResponse {
    let mut r = ApiGatewayV2CustomAuthorizerIamPolicyResponse::<Map<String, Value>>::default();
    r.principal_id = Some(decision.principal_id.clone());
    r.policy_document = policy(decision);
    r.context = context_json(decision);
    EventResponse::HttpApiAuthorizerPolicy(Box::new(r))
}

fn simple(is_authorized: bool, context: Map<String, Value>) -> EventResponse {
    let mut r = ApiGatewayV2CustomAuthorizerSimpleResponse::<Map<String, Value>>::default();
    r.is_authorized = is_authorized;
    r.context = context;
    EventResponse::HttpApiAuthorizerSimple(r)
}

fn empty_request(method_arn: Option<String>) -> AuthorizationRequest {
    AuthorizationRequest {
        token: None,
        method_arn: method_arn.unwrap_or_default(),
        method: None,
        path: None,
        headers: Vec::new(),
        query: Vec::new(),
        path_params: Vec::new(),
        stage: None,
        request_id: None,
        source_ip: None,
    }
}

/// The guest's request for a TOKEN authorizer event.
pub fn from_token(e: ApiGatewayCustomAuthorizerRequest) -> AuthorizationRequest {
    AuthorizationRequest { token: e.authorization_token, ..empty_request(e.method_arn) }
}

/// The guest's request for a REQUEST authorizer event.
pub(crate) fn from_request(e: ApiGatewayCustomAuthorizerRequestTypeRequest) -> AuthorizationRequest {
    let (headers, query) = rest_fields(
        (&e.headers, &e.multi_value_headers),
        (&e.query_string_parameters, &e.multi_value_query_string_parameters),
    );
    let ctx = &e.request_context;
    AuthorizationRequest {
        method: e.http_method.as_ref().map(ToString::to_string),
        path: e.path.clone(),
        headers,
        query,
        path_params: sorted_fields(&e.path_parameters),
        stage: ctx.stage.clone(),
        request_id: ctx.request_id.clone(),
        source_ip: ctx.identity.as_ref().and_then(|i| i.source_ip.clone()),
        ..empty_request(e.method_arn.clone())
    }
}

/// The guest's request for an HTTP API authorizer event.
pub fn from_http_api(e: ApiGatewayV2CustomAuthorizerV2Request) -> AuthorizationRequest {
    let ctx = &e.request_context;
    let mut headers = header_fields(&e.headers);
    if !e.cookies.is_empty() {
        headers.push(("cookie".into(), e.cookies.join("; ")));
    }
    AuthorizationRequest {
        method: Some(ctx.http.method.to_string()),
        path: e.raw_path.clone(),
        headers,
        query: query_fields(e.raw_query_string.as_deref().unwrap_or("")),
        path_params: sorted_fields(&e.path_parameters),
        stage: ctx.stage.clone(),
        request_id: ctx.request_id.clone(),
        source_ip: ctx.http.source_ip.clone(),
        ..empty_request(e.route_arn.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::authorizer::allows;

    #[test]
    fn a_decision_is_judged_exactly_as_the_policy_it_becomes() {
        let arn = "arn:aws:execute-api:us-east-1:1:abc/prod/GET/items/lamp";
        let statement = |effect, resources: &[&str]| Statement {
            effect,
            resources: resources.iter().map(|r| r.to_string()).collect(),
        };
        let cases = [
            (vec![statement(Effect::Allow, &["arn:aws:execute-api:*:*:abc/prod/GET/items/*"])], true),
            (vec![statement(Effect::Allow, &["*"]), statement(Effect::Deny, &[arn])], false),
            (vec![statement(Effect::Allow, &[]), statement(Effect::Deny, &["*/POST/*"])], false),
            (vec![statement(Effect::Deny, &["*/POST/*"]), statement(Effect::Allow, &["*/GET/*"])], true),
            (vec![], false),
        ];
        for (statements, expected) in cases {
            let decision =
                Decision { principal_id: "p".into(), statements, context: vec![], usage_identifier_key: None };
            assert_eq!(decision_allows(&decision, arn), expected, "{:?}", decision.statements);
            assert_eq!(allows(&policy(&decision), arn), expected);
        }
    }
}
