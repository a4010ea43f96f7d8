//! Lambda authorizers as API Gateway drives them: the TOKEN and REQUEST events it sends for a
//! request, and the one evaluation of the IAM policy an authorizer answers with (an explicit
//! deny wins, else any allow), used by `plugboard dev`, `plugboard test` and the authorizer
//! role's simple responses alike.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::IamPolicyEffect;
use aws_lambda_events::query_map::QueryMap;

use super::http::{ACCOUNT, Request};
use super::{AuthorizerContext, Event, EventResponse};

/// An authorizer's IAM policy response, as REST APIs take it.
pub type PolicyResponse = ApiGatewayCustomAuthorizerResponse<AuthorizerContext>;

/// What API Gateway does with a request after its authorizer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Pass it on with the principal and context.
    Allow {
        /// The policy's `principalId`.
        principal: Option<String>,
        /// The authorizer's `context`.
        context: AuthorizerContext,
    },
    /// 401: no identity, or the authorizer said `Unauthorized`.
    Unauthorized,
    /// 403: the policy does not allow this method ARN.
    Forbidden,
    /// 500: the authorizer failed or answered nonsense.
    Failed,
}

/// The TOKEN event for `token` on `method_arn`.
pub fn token_event(token: &str, method_arn: &str) -> Event {
    let mut e = ApiGatewayCustomAuthorizerRequest::default();
    e.type_ = Some("TOKEN".into());
    e.authorization_token = Some(token.to_string());
    e.method_arn = Some(method_arn.to_string());
    Event::TokenAuthorizer(Box::new(e))
}

/// The REST REQUEST authorizer event for `request` on route `resource` (also what an HTTP API
/// sends with payload format 1.0). Repeated headers and query parameters carry their last value.
pub fn request_event(request: &Request, method_arn: &str, resource: &str) -> Result<Event, String> {
    let method = request.http_method()?;
    let mut e = ApiGatewayCustomAuthorizerRequestTypeRequest::default();
    e.type_ = Some("REQUEST".into());
    e.method_arn = Some(method_arn.to_string());
    e.resource = Some(resource.to_string());
    e.path = Some(request.path.clone());
    e.http_method = Some(method.clone());
    for (name, value) in &request.headers {
        let name = aws_lambda_events::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("header `{name}`: {e}"))?;
        let value = value.parse().map_err(|e| format!("header `{name}`: {e}"))?;
        e.headers.insert(name, value);
    }
    let query = request.query_values();
    e.query_string_parameters = QueryMap::from(
        query
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.last()?.clone())))
            .collect::<std::collections::HashMap<_, _>>(),
    );
    let ctx = &mut e.request_context;
    ctx.account_id = Some(ACCOUNT.into());
    ctx.apiid = Some("local".into());
    ctx.stage = Some("dev".into());
    ctx.http_method = Some(method);
    ctx.resource_path = Some(resource.to_string());
    let mut identity = aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequestIdentity::default();
    identity.source_ip = Some(request.source_ip.clone());
    ctx.identity = Some(identity);
    Ok(Event::RequestAuthorizer(Box::new(e)))
}

/// Whether `policy` lets the caller invoke `arn`: an explicit deny wins, else any allow.
pub fn allows(policy: &ApiGatewayCustomAuthorizerPolicy, arn: &str) -> bool {
    statements_allow(policy.statement.iter().map(|s| (s.effect == IamPolicyEffect::Allow, s.resource.as_slice())), arn)
}

/// [`allows`] over statements given as (whether it allows, its resource patterns), so a
/// guest's decision is judged by the same rule without being turned into a policy first.
pub(crate) fn statements_allow<'a>(statements: impl Iterator<Item = (bool, &'a [String])>, arn: &str) -> bool {
    let mut allowed = false;
    for (allows, resources) in statements {
        if resources.iter().any(|pattern| wildcard_match(pattern, arn)) {
            if !allows {
                return false;
            }
            allowed = true;
        }
    }
    allowed
}

/// The verdict of an authorizer's policy response for `method_arn`.
pub fn evaluate(response: &PolicyResponse, method_arn: &str) -> Verdict {
    if allows(&response.policy_document, method_arn) {
        Verdict::Allow { principal: response.principal_id.clone(), context: response.context.clone() }
    } else {
        Verdict::Forbidden
    }
}

/// The verdict of any authorizer answer for `method_arn`: an IAM policy (REST or HTTP API) is
/// evaluated, a simple response says it outright, anything else is a failed authorizer.
pub fn verdict(response: &EventResponse, method_arn: &str) -> Verdict {
    match response {
        EventResponse::AuthorizerPolicy(r) => evaluate(r, method_arn),
        EventResponse::HttpApiAuthorizerPolicy(r) if allows(&r.policy_document, method_arn) => {
            Verdict::Allow { principal: r.principal_id.clone(), context: r.context.clone() }
        }
        EventResponse::HttpApiAuthorizerPolicy(_) => Verdict::Forbidden,
        EventResponse::HttpApiAuthorizerSimple(r) if r.is_authorized => {
            Verdict::Allow { principal: None, context: r.context.clone() }
        }
        EventResponse::HttpApiAuthorizerSimple(_) => Verdict::Forbidden,
        _ => Verdict::Failed,
    }
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
