//! Lambda authorizers in front of routes, as API Gateway runs them: a TOKEN or REQUEST event,
//! the returned IAM policy evaluated against the request's method ARN (explicit deny wins),
//! and the policy cached by identity for the TTL — so a cached policy also decides other routes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::gateway::Request;
use crate::function::{Function, Invocation};
use crate::manifest::{Authorizer, AuthorizerKind};
use crate::roles::authorizer::wildcard_match;

/// What the gateway does with a request after its authorizer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Pass it on with the principal and context.
    Allow {
        /// The policy's `principalId`.
        principal: Option<String>,
        /// The authorizer's `context`.
        context: Map<String, Value>,
    },
    /// 401: no identity, or the authorizer said `Unauthorized`.
    Unauthorized,
    /// 403: the policy does not allow this method ARN.
    Forbidden,
    /// 500: the authorizer failed or answered nonsense.
    Failed,
}

/// One authorizer with its decision cache.
pub struct AuthorizerGate {
    settings: Authorizer,
    function: Arc<Function>,
    cache: std::sync::Mutex<HashMap<String, (Instant, Arc<Value>)>>,
    calls: AtomicU64,
}

impl AuthorizerGate {
    /// A gate calling `function` as `settings` say.
    pub fn new(settings: Authorizer, function: Arc<Function>) -> Self {
        AuthorizerGate { settings, function, cache: Default::default(), calls: AtomicU64::new(0) }
    }

    /// How many times the authorizer function ran (cache misses).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Forget every cached decision of the authorizer function `function` (its guest changed).
    pub fn forget_decisions_of(&self, function: &str) {
        if self.function.name() == function {
            self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// Decide `request` for `method_arn`.
    pub async fn check(&self, request: &Request, method_arn: &str, resource: &str) -> Verdict {
        let Some(identity) = request.header(&self.settings.identity_header).filter(|v| !v.is_empty()) else {
            return Verdict::Unauthorized;
        };
        let ttl = Duration::from_secs(self.settings.cache_ttl_secs);
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.get(identity).filter(|(at, _)| at.elapsed() < ttl).map(|(_, policy)| policy.clone())
        };
        let policy = match cached {
            Some(policy) => policy,
            None => {
                let policy = match self.call(request, identity, method_arn, resource).await {
                    Ok(policy) => Arc::new(policy),
                    Err(verdict) => return verdict,
                };
                if !ttl.is_zero() {
                    let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                    cache.retain(|_, (at, _)| at.elapsed() < ttl);
                    cache.insert(identity.to_string(), (Instant::now(), policy.clone()));
                }
                policy
            }
        };
        evaluate(&policy, method_arn)
    }

    async fn call(
        &self,
        request: &Request,
        identity: &str,
        method_arn: &str,
        resource: &str,
    ) -> Result<Value, Verdict> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let event = match self.settings.kind {
            AuthorizerKind::Token => {
                json!({ "type": "TOKEN", "authorizationToken": identity, "methodArn": method_arn })
            }
            AuthorizerKind::Request => request_event(request, method_arn, resource),
        };
        let invocation = Invocation { request_id: uuid::Uuid::new_v4().to_string(), ..Invocation::default() };
        match self.function.handle(event, invocation).await {
            Ok(policy) if policy.get("policyDocument").is_some() => Ok(policy),
            Ok(other) => {
                tracing::warn!(function = self.function.name(), response = %other, "authorizer answered without a policyDocument");
                Err(Verdict::Failed)
            }
            // API Gateway's contract: exactly this error means 401.
            Err(e) if e.error_message == "Unauthorized" => Err(Verdict::Unauthorized),
            Err(e) => {
                tracing::warn!(function = self.function.name(), error = %e, "authorizer failed");
                Err(Verdict::Failed)
            }
        }
    }
}

/// A REST REQUEST authorizer event (also what an HTTP API sends with payload format 1.0).
pub fn request_event(request: &Request, method_arn: &str, resource: &str) -> Value {
    let headers: Map<String, Value> =
        request.headers.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
    let query: Map<String, Value> = form_urlencoded::parse(request.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
        .collect();
    json!({
        "type": "REQUEST", "methodArn": method_arn, "resource": resource, "path": request.path,
        "httpMethod": request.method, "headers": headers, "queryStringParameters": query,
        "requestContext": { "accountId": super::gateway::ACCOUNT, "apiId": "local", "stage": "dev",
                            "httpMethod": request.method, "resourcePath": resource,
                            "identity": { "sourceIp": request.source_ip } },
    })
}

/// The verdict of `policy` (an authorizer response) for `method_arn`.
pub fn evaluate(policy: &Value, method_arn: &str) -> Verdict {
    let statements = match &policy["policyDocument"]["Statement"] {
        Value::Array(list) => list.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        _ => return Verdict::Failed,
    };
    let matches = |effect: &str| {
        statements.iter().filter(|s| s["Effect"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(effect))).any(|s| {
            let resources = match &s["Resource"] {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            resources.iter().any(|pattern| wildcard_match(pattern, method_arn))
        })
    };
    if matches("Deny") || !matches("Allow") {
        return Verdict::Forbidden;
    }
    let context = policy.get("context").and_then(Value::as_object).cloned().unwrap_or_default();
    Verdict::Allow { principal: policy["principalId"].as_str().map(str::to_string), context }
}
