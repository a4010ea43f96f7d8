//! Gatekeeper: a Lambda authorizer that accepts, in `Authorization: Bearer ...`, either an HS256
//! JWT (secret in the `jwt_secret` config value; `iss` and `aud` checked when `jwt_issuer` and
//! `jwt_audience` are configured) or an API key registered in the `api-keys` store by
//! `gatekeeper-admin`. `Authorization` is the only credential read, because it is the
//! authorizer's identity source: API Gateway answers 401 without calling the authorizer when it
//! is missing, so a key in any other header would never get here. It answers with a policy
//! allowing only the caller's routes, and a context (`principal`, `auth`, `routes`) the protected
//! function reads. Missing or bad credentials are `unauthorized` (401).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use plugboard_guest::policy::{Decision, Effect, Statement};
use plugboard_guest::{AuthorizationRequest, AuthorizeError, AuthorizerHandler, ContextValue, config, kv, store};
use serde::Deserialize;
use sha2::{Digest, Sha256};

struct Gatekeeper;

plugboard_guest::authorizer!(Gatekeeper);

/// Who the caller is and what they may call (`METHOD /path` patterns, `*` wildcards).
struct Caller {
    principal: String,
    auth: &'static str,
    routes: Vec<String>,
}

/// The claims Gatekeeper reads from a JWT.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    iss: Option<String>,
    /// One audience or several (RFC 7519 allows both).
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    routes: Option<Vec<String>>,
}

/// A JWT's `aud`: one string or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(aud) => aud == wanted,
            Audience::Many(list) => list.iter().any(|aud| aud == wanted),
        }
    }
}

/// An API key's record in the `api-keys` store (written by gatekeeper-admin).
#[derive(Deserialize)]
struct ApiKeyRecord {
    principal: String,
    routes: Vec<String>,
    #[serde(default)]
    revoked: bool,
}

impl AuthorizerHandler for Gatekeeper {
    fn authorize(request: AuthorizationRequest) -> Result<Decision, AuthorizeError> {
        let caller = identify(&request)?;
        let base = arn_base(&request.method_arn)
            .ok_or_else(|| AuthorizeError::Failed(format!("unexpected method ARN `{}`", request.method_arn)))?;
        let resources: Vec<String> = caller.routes.iter().filter_map(|r| route_resource(&base, r)).collect();
        let statements = if resources.is_empty() {
            vec![Statement { effect: Effect::Deny, resources: vec![format!("{base}*")] }]
        } else {
            vec![Statement { effect: Effect::Allow, resources }]
        };
        Ok(Decision {
            principal_id: caller.principal.clone(),
            statements,
            context: vec![
                ("principal".into(), ContextValue::Text(caller.principal)),
                ("auth".into(), ContextValue::Text(caller.auth.into())),
                ("routes".into(), ContextValue::Text(caller.routes.join(","))),
            ],
            usage_identifier_key: None,
        })
    }
}

fn header<'a>(request: &'a AuthorizationRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn identify(request: &AuthorizationRequest) -> Result<Caller, AuthorizeError> {
    let authorization = request.token.as_deref().or_else(|| header(request, "authorization"));
    match authorization.and_then(|a| a.strip_prefix("Bearer ")).map(str::trim) {
        Some(bearer) if bearer.split('.').count() == 3 => verify_jwt(bearer),
        Some(key) => lookup_api_key(key),
        None => Err(AuthorizeError::Unauthorized),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn verify_jwt(token: &str) -> Result<Caller, AuthorizeError> {
    let secret = config("jwt_secret")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuthorizeError::Failed("jwt_secret is not configured".into()))?;
    let mut parts = token.split('.');
    let (header, payload, signature) = match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) => (h, p, s),
        _ => return Err(AuthorizeError::Unauthorized),
    };
    let header: serde_json::Value = decode_json(header)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(AuthorizeError::Unauthorized); // Refuses `none` and every other algorithm.
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| AuthorizeError::Unauthorized)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|e| AuthorizeError::Failed(e.to_string()))?;
    mac.update(&token.as_bytes()[..token.rfind('.').unwrap_or(0)]);
    mac.verify_slice(&signature).map_err(|_| AuthorizeError::Unauthorized)?;
    let claims: Claims = decode_json(payload)?;
    let now = now();
    if claims.exp <= now || claims.nbf.is_some_and(|nbf| nbf > now) {
        return Err(AuthorizeError::Unauthorized);
    }
    if let Some(issuer) = config("jwt_issuer")
        && claims.iss.as_deref() != Some(issuer.as_str())
    {
        return Err(AuthorizeError::Unauthorized);
    }
    // A token minted for another service with the same secret is not one for us.
    if let Some(audience) = config("jwt_audience").filter(|a| !a.is_empty())
        && !claims.aud.as_ref().is_some_and(|aud| aud.contains(&audience))
    {
        return Err(AuthorizeError::Unauthorized);
    }
    let routes = claims.routes.unwrap_or_else(|| {
        config("default_routes").map(|r| r.split(',').map(|s| s.trim().to_string()).collect()).unwrap_or_default()
    });
    Ok(Caller { principal: claims.sub, auth: "jwt", routes })
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, AuthorizeError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| AuthorizeError::Unauthorized)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthorizeError::Unauthorized)
}

fn lookup_api_key(key: &str) -> Result<Caller, AuthorizeError> {
    if key.is_empty() {
        return Err(AuthorizeError::Unauthorized);
    }
    let bucket = store::open("api-keys").map_err(|e| AuthorizeError::Failed(format!("open api-keys: {e:?}")))?;
    let id = hex::encode(Sha256::digest(key.as_bytes()));
    let record = kv::get_json::<ApiKeyRecord>(&bucket, &format!("key/{id}"))
        .map_err(|e| AuthorizeError::Failed(e.to_string()))?;
    match record {
        Some(r) if !r.revoked => Ok(Caller { principal: r.principal, auth: "api-key", routes: r.routes }),
        Some(_) => {
            plugboard_guest::info!("revoked API key presented");
            Err(AuthorizeError::Unauthorized)
        }
        None => Err(AuthorizeError::Unauthorized),
    }
}

/// `arn:aws:execute-api:region:account:api-id/stage/` from a method or route ARN.
fn arn_base(method_arn: &str) -> Option<String> {
    let mut parts = method_arn.splitn(3, '/');
    let (api, stage) = (parts.next()?, parts.next()?);
    api.starts_with("arn:").then(|| format!("{api}/{stage}/"))
}

/// `GET /orders/*` -> `{base}GET/orders/*`.
fn route_resource(base: &str, route: &str) -> Option<String> {
    let (method, path) = route.trim().split_once(' ')?;
    let path = path.trim().trim_start_matches('/');
    Some(format!("{base}{}/{path}", method.trim().to_ascii_uppercase()))
}
