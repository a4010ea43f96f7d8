//! Lambda authorizers in front of routes, as API Gateway runs them: a TOKEN or REQUEST event,
//! the returned IAM policy evaluated against the request's method ARN (explicit deny wins),
//! and the policy cached by identity for the TTL — so a cached policy also decides other routes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::manifest::{Authorizer, AuthorizerKind};
use plugboard_core::events::EventResponse;
use plugboard_core::events::authorizer::{PolicyResponse, Verdict, evaluate, request_event, token_event};
use plugboard_core::events::http::Request;
use plugboard_core::function::{Function, Invocation};

/// Characters of a cached identity (a token) the dashboard shows.
const IDENTITY_SHOWN: usize = 12;

/// One authorizer with its decision cache.
pub(crate) struct AuthorizerGate {
    settings: Authorizer,
    function: Arc<Function>,
    cache: std::sync::Mutex<HashMap<String, (Instant, Arc<PolicyResponse>)>>,
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

    /// The decisions cached now, for the dashboard (an identity shown by its first characters).
    pub(crate) fn cached(&self) -> Vec<serde_json::Value> {
        let ttl = Duration::from_secs(self.settings.cache_ttl_secs);
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let mut cached: Vec<_> = cache
            .iter()
            .filter(|(_, (at, _))| at.elapsed() < ttl)
            .map(|(identity, (at, policy))| {
                let shown: String = identity.chars().take(IDENTITY_SHOWN).collect();
                let shown = if shown.len() < identity.len() { format!("{shown}…") } else { shown };
                serde_json::json!({
                    "identity": shown,
                    "principal": policy.principal_id,
                    "expires_in_secs": ttl.saturating_sub(at.elapsed()).as_secs(),
                    "policy": policy.policy_document,
                })
            })
            .collect();
        cached.sort_by_key(|d| d["expires_in_secs"].as_u64());
        cached
    }

    /// The function it calls.
    pub(crate) fn function_name(&self) -> &str {
        self.function.name()
    }

    /// Forget every cached decision of the authorizer function `function` (its guest changed).
    pub(crate) fn forget_decisions_of(&self, function: &str) {
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
    ) -> Result<PolicyResponse, Verdict> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let event = match self.settings.kind {
            AuthorizerKind::Token => token_event(identity, method_arn),
            AuthorizerKind::Request => match request_event(request, method_arn, resource) {
                Ok(event) => event,
                Err(e) => {
                    tracing::warn!(function = self.function.name(), error = %e, "no authorizer event for the request");
                    return Err(Verdict::Failed);
                }
            },
        };
        let invocation = Invocation { request_id: uuid::Uuid::new_v4().to_string(), ..Invocation::default() };
        match self.function.invoke(event, invocation).await {
            Ok(EventResponse::AuthorizerPolicy(policy)) => Ok(*policy),
            Ok(other) => {
                let response = other.to_value();
                tracing::warn!(function = self.function.name(), %response, "authorizer answered without a REST policy");
                Err(Verdict::Failed)
            }
            Err(e) if e.is_unauthorized() => Err(Verdict::Unauthorized),
            Err(e) => {
                tracing::warn!(function = self.function.name(), error = %e, "authorizer failed");
                Err(Verdict::Failed)
            }
        }
    }
}
