//! {{name}}: an `authorizer` guest. `Authorization: Bearer <token>` equal to the `token` config
//! value is allowed every route; anything else is Unauthorized (401).

use plugboard_guest::{AuthorizationRequest, AuthorizeError, AuthorizerHandler, config};
use plugboard_guest::policy::{Decision, Effect, Statement};

struct Authorizer;

plugboard_guest::authorizer!(Authorizer);

impl AuthorizerHandler for Authorizer {
    fn authorize(request: AuthorizationRequest) -> Result<Decision, AuthorizeError> {
        let presented = request.token.as_deref().and_then(|t| t.strip_prefix("Bearer "));
        let expected = config("token").filter(|t| !t.is_empty());
        if presented.is_none() || presented != expected.as_deref() {
            return Err(AuthorizeError::Unauthorized);
        }
        // `arn:...:api-id/stage/METHOD/path` -> everything under this API and stage.
        let base: Vec<&str> = request.method_arn.splitn(3, '/').collect();
        let resource = format!("{}/{}/*", base.first().copied().unwrap_or_default(), base.get(1).copied().unwrap_or_default());
        Ok(Decision {
            principal_id: "token-holder".into(),
            statements: vec![Statement { effect: Effect::Allow, resources: vec![resource] }],
            context: Vec::new(),
            usage_identifier_key: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugboard_guest::testing;

    const ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:api-id/prod/GET/items";

    // `cargo test` runs this in wasmtime (plugboard cargo-runner, set in .cargo/config.toml),
    // with the config of cases/function.toml.
    #[test]
    fn the_configured_token_is_allowed_and_any_other_is_unauthorized() {
        let decision = Authorizer::authorize(testing::authorization(Some("Bearer let-me-in"), ARN)).unwrap();
        assert_eq!(decision.statements[0].resources, ["arn:aws:execute-api:eu-west-1:123456789012:api-id/prod/*"]);
        let refused = Authorizer::authorize(testing::authorization(Some("Bearer guess"), ARN));
        assert!(matches!(refused, Err(AuthorizeError::Unauthorized)));
    }
}
