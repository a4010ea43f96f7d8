//! `authorizer`: TOKEN, REQUEST and HTTP API authorizer events -> `authorizer-handler` ->
//! the exact API Gateway authorizer response. Any failure of the guest denies (fails closed).

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse, ApiGatewayV2CustomAuthorizerIamPolicyResponse,
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Map, Value};

use super::{EventKind, FunctionError, header_fields, parse, query_fields, sorted_fields};
use crate::bindings::authorizer::exports::plugboard::host::authorizer_handler::{AuthorizationRequest, AuthorizeError};
use crate::bindings::plugboard::host::policy::{Decision, Effect, Statement};
use crate::bindings::plugboard::host::types::ContextValue;
use crate::config::AuthorizerResponse;
use crate::function::{Function, Invocation, call_guest};
use crate::runtime::RolePre;

/// Principal reported when the caller is refused without a decision.
const NOBODY: &str = "unauthorized";

/// Ask the guest about one authorizer event and shape API Gateway's answer.
pub async fn handle(
    function: &Function,
    kind: EventKind,
    event: Value,
    invocation: &Invocation,
) -> Result<Value, FunctionError> {
    let request = match kind {
        EventKind::TokenAuthorizer => from_token(parse(event, kind)?),
        EventKind::RequestAuthorizer => from_request(parse(event, kind)?),
        _ => from_http_api(parse(event, kind)?),
    };
    let guest = function.guest();
    let RolePre::Authorizer(pre) = &guest.pre else {
        return Err(FunctionError::new("RoleMismatch", "guest was not loaded for authorizer"));
    };
    let call = function.call_info(invocation);
    let outcome = call_guest!(function, call, pre, |guest, store| guest
        .plugboard_host_authorizer_handler()
        .call_authorize(&mut store, &request));
    let decision = match outcome {
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
    let http_api = kind == EventKind::HttpApiAuthorizer;
    let mode = function.config().authorizer_response;
    let value = match (decision, http_api, mode) {
        // REST APIs turn exactly this error message into a 401.
        (None, false, _) => return Err(FunctionError::new("Unauthorized", "Unauthorized")),
        (None, true, AuthorizerResponse::Simple) => simple(false, Map::new()),
        (None, true, AuthorizerResponse::Iam) => iam_v2(&deny_all(&request.method_arn)),
        (Some(d), true, AuthorizerResponse::Simple) => simple(allows(&d, &request.method_arn), context_json(&d)),
        (Some(d), true, AuthorizerResponse::Iam) => iam_v2(&d),
        (Some(d), false, _) => iam_v1(&d),
    };
    value.map_err(|e| FunctionError::new("InvalidResponse", e))
}

fn deny_all(method_arn: &str) -> Decision {
    Decision {
        principal_id: NOBODY.into(),
        statements: vec![Statement { effect: Effect::Deny, resources: vec![method_arn.to_string()] }],
        context: Vec::new(),
        usage_identifier_key: None,
    }
}

/// Whether `decision` lets the caller invoke `arn`: an explicit deny wins, else any allow.
pub fn allows(decision: &Decision, arn: &str) -> bool {
    let matching = |effect: Effect| {
        decision
            .statements
            .iter()
            .filter(|s| s.effect == effect)
            .any(|s| s.resources.iter().any(|pattern| wildcard_match(pattern, arn)))
    };
    !matching(Effect::Deny) && matching(Effect::Allow)
}

/// IAM-style matching: `*` matches any run of characters, `?` any one character. A `*` in the
/// pattern is always a wildcard, also where the text has a literal `*` (found by fuzzing: taken
/// as a literal there, `DELETE/*` failed to deny the method ARN of `DELETE /*x`).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
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

fn iam_v1(decision: &Decision) -> serde_json::Result<Value> {
    let mut r = ApiGatewayCustomAuthorizerResponse::<Map<String, Value>>::default();
    r.principal_id = Some(decision.principal_id.clone());
    r.policy_document = policy(decision);
    r.context = context_json(decision);
    r.usage_identifier_key = decision.usage_identifier_key.clone();
    serde_json::to_value(r)
}

fn iam_v2(decision: &Decision) -> serde_json::Result<Value> {
    let mut r = ApiGatewayV2CustomAuthorizerIamPolicyResponse::<Map<String, Value>>::default();
    r.principal_id = Some(decision.principal_id.clone());
    r.policy_document = policy(decision);
    r.context = context_json(decision);
    serde_json::to_value(r)
}

fn simple(is_authorized: bool, context: Map<String, Value>) -> serde_json::Result<Value> {
    let mut r = ApiGatewayV2CustomAuthorizerSimpleResponse::<Map<String, Value>>::default();
    r.is_authorized = is_authorized;
    r.context = context;
    serde_json::to_value(r)
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

fn from_token(e: ApiGatewayCustomAuthorizerRequest) -> AuthorizationRequest {
    AuthorizationRequest { token: e.authorization_token, ..empty_request(e.method_arn) }
}

fn from_request(e: ApiGatewayCustomAuthorizerRequestTypeRequest) -> AuthorizationRequest {
    let headers = if e.multi_value_headers.is_empty() { &e.headers } else { &e.multi_value_headers };
    let query = if e.multi_value_query_string_parameters.is_empty() {
        &e.query_string_parameters
    } else {
        &e.multi_value_query_string_parameters
    };
    let mut query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    query.sort();
    let ctx = &e.request_context;
    AuthorizationRequest {
        method: e.http_method.as_ref().map(ToString::to_string),
        path: e.path.clone(),
        headers: header_fields(headers),
        query,
        path_params: sorted_fields(&e.path_parameters),
        stage: ctx.stage.clone(),
        request_id: ctx.request_id.clone(),
        source_ip: ctx.identity.as_ref().and_then(|i| i.source_ip.clone()),
        ..empty_request(e.method_arn.clone())
    }
}

fn from_http_api(e: ApiGatewayV2CustomAuthorizerV2Request) -> AuthorizationRequest {
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
