//! The Lambda-environment encoding of [`FunctionConfig`].
//!
//! | variable | field |
//! |---|---|
//! | `PLUGBOARD_ROLE` | `role` |
//! | `PLUGBOARD_GUEST` | `guest` |
//! | `PLUGBOARD_GUEST_SHA256` | `guest-sha256` |
//! | `PLUGBOARD_PRECOMPILED_SHA256` | `precompiled-sha256`, comma-separated |
//! | `PLUGBOARD_STORES` | `grants.stores`, as `name=table,name=table` |
//! | `PLUGBOARD_READ_ONLY_STORES` | `grants.read-only-stores`, as `name=table,...` |
//! | `PLUGBOARD_QUEUES` | `grants.queues`, as `name=queue-url,...` |
//! | `PLUGBOARD_FUNCTIONS` | `grants.functions`, as `name=function,...` |
//! | `PLUGBOARD_HTTP` | `grants.http`, comma-separated |
//! | `PLUGBOARD_CONFIG_<KEY>` | `config.<key>` (the key lower-cased) |
//! | `PLUGBOARD_TIMEOUT_MS`, `PLUGBOARD_MEMORY_MB`, `PLUGBOARD_MAX_INVOKE_DEPTH` | `limits.*` |
//! | `PLUGBOARD_HTTP_REQUESTS`, `PLUGBOARD_HTTP_BODY_BYTES` | `limits.*` (written when not the default) |
//! | `PLUGBOARD_AUTHORIZER_RESPONSE` | `authorizer-response` (`simple` or `iam`) |
//!
//! A variable set to the empty string counts as unset (a deployment template passes `""` for a
//! parameter left empty), except `PLUGBOARD_CONFIG_*`, where an empty value is a value.
//!
//! The encoding is written here once in both directions: [`from_vars`] reads it, [`to_vars`]
//! writes it (the deployment template renders its values with references to the stack's
//! resources), and a round-trip test holds them together. [`REFRESH_VAR`] is the one runtime
//! setting beside the function's description, read by [`refresh_secs`].

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{AuthorizerResponse, ConfigError, FunctionConfig, Role};

const ORIGIN: &str = "environment";

/// Seconds between ETag checks of an unpinned S3 guest; unset means never.
pub const REFRESH_VAR: &str = "PLUGBOARD_GUEST_REFRESH_SECS";

/// [`REFRESH_VAR`] from `vars`: `None` when unset or empty, an error naming it when it is not
/// a whole number.
pub fn refresh_secs<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Option<u64>, ConfigError> {
    match vars.into_iter().find(|(k, v)| *k == REFRESH_VAR && !v.trim().is_empty()) {
        Some((_, v)) => match number(REFRESH_VAR, v)? {
            Value::Number(n) => Ok(n.as_u64()),
            _ => Ok(None),
        },
        None => Ok(None),
    }
}

/// A resource a grant names: what a deployment writes as a reference to the resource it
/// creates, and a running host reads as the resource's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantTarget<'a> {
    /// A key-value table.
    Table(&'a str),
    /// A queue (its URL on Lambda).
    Queue(&'a str),
    /// A function.
    Function(&'a str),
}

/// Which kind of resource a grant map names.
#[derive(Clone, Copy)]
enum TargetKind {
    Table,
    Queue,
    Function,
}

impl TargetKind {
    fn of(self, name: &str) -> GrantTarget<'_> {
        match self {
            TargetKind::Table => GrantTarget::Table(name),
            TargetKind::Queue => GrantTarget::Queue(name),
            TargetKind::Function => GrantTarget::Function(name),
        }
    }
}

/// One variable's value, before a deployment renders its resource names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue<'a> {
    /// Text, as is.
    Text(String),
    /// `alias=resource,...` pairs.
    Grants(Vec<(&'a str, GrantTarget<'a>)>),
}

impl EnvValue<'_> {
    /// The value with each resource written by `name` (and each alias by `alias`, which a
    /// template uses to escape its substitution syntax).
    pub fn render(&self, alias: &dyn Fn(&str) -> String, name: &dyn Fn(GrantTarget<'_>) -> String) -> String {
        match self {
            EnvValue::Text(text) => text.clone(),
            EnvValue::Grants(pairs) => pairs
                .iter()
                .map(|(a, resource)| format!("{}={}", alias(a), name(*resource)))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// The variables encoding `config`, the inverse of [`from_vars`]: unset fields and empty grant
/// maps are left out, `authorizer-response` is written for an authorizer (or when not the
/// default), config keys are upper-cased.
pub fn to_vars(config: &FunctionConfig) -> Vec<(String, EnvValue<'_>)> {
    let text = |name: &str, value: String| (format!("PLUGBOARD_{name}"), EnvValue::Text(value));
    let mut vars = vec![text("ROLE", config.role.as_str().to_string())];
    vars.extend(config.guest.clone().map(|g| text("GUEST", g)));
    vars.extend(config.guest_sha256.clone().map(|pin| text("GUEST_SHA256", pin)));
    if !config.precompiled_sha256.is_empty() {
        vars.push(text("PRECOMPILED_SHA256", config.precompiled_sha256.join(",")));
    }
    let g = &config.grants;
    let grants = [
        ("STORES", &g.stores, TargetKind::Table),
        ("READ_ONLY_STORES", &g.read_only_stores, TargetKind::Table),
        ("QUEUES", &g.queues, TargetKind::Queue),
        ("FUNCTIONS", &g.functions, TargetKind::Function),
    ];
    for (name, map, kind) in grants {
        if !map.is_empty() {
            let pairs = map.iter().map(|(alias, to)| (alias.as_str(), kind.of(to))).collect();
            vars.push((format!("PLUGBOARD_{name}"), EnvValue::Grants(pairs)));
        }
    }
    if !g.http.is_empty() {
        vars.push(text("HTTP", g.http.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")));
    }
    for (key, value) in &config.config {
        vars.push(text(&format!("CONFIG_{}", key.to_ascii_uppercase()), value.clone()));
    }
    let limits = &config.limits;
    vars.push(text("TIMEOUT_MS", limits.timeout_ms.to_string()));
    vars.push(text("MEMORY_MB", limits.memory_mb.to_string()));
    vars.push(text("MAX_INVOKE_DEPTH", limits.max_invoke_depth.to_string()));
    let defaults = crate::config::Limits::default();
    if limits.http_requests != defaults.http_requests {
        vars.push(text("HTTP_REQUESTS", limits.http_requests.to_string()));
    }
    if limits.http_body_bytes != defaults.http_body_bytes {
        vars.push(text("HTTP_BODY_BYTES", limits.http_body_bytes.to_string()));
    }
    if config.role == Role::Authorizer || config.authorizer_response != AuthorizerResponse::default() {
        vars.push(text("AUTHORIZER_RESPONSE", config.authorizer_response.as_str().to_string()));
    }
    vars
}

/// Build a configuration from `vars` (e.g. `std::env::vars()`); errors name the variable.
pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<FunctionConfig, ConfigError> {
    let mut root = Map::new();
    let mut grants = Map::new();
    let mut config = Map::new();
    let mut limits = Map::new();
    for (name, value) in vars {
        let Some(suffix) = name.strip_prefix("PLUGBOARD_") else { continue };
        if value.trim().is_empty() && !suffix.starts_with("CONFIG_") {
            continue;
        }
        match suffix {
            "ROLE" => set(&mut root, "role", value),
            "GUEST" => set(&mut root, "guest", value),
            "GUEST_SHA256" => set(&mut root, "guest-sha256", value.to_ascii_lowercase()),
            "PRECOMPILED_SHA256" => root.insert("precompiled-sha256".into(), list(&value)),
            "AUTHORIZER_RESPONSE" => set(&mut root, "authorizer-response", value),
            "STORES" => grants.insert("stores".into(), pairs(&name, &value)?),
            "READ_ONLY_STORES" => grants.insert("read-only-stores".into(), pairs(&name, &value)?),
            "QUEUES" => grants.insert("queues".into(), pairs(&name, &value)?),
            "FUNCTIONS" => grants.insert("functions".into(), pairs(&name, &value)?),
            "HTTP" => grants.insert("http".into(), strings(&value)),
            "TIMEOUT_MS" => limits.insert("timeout-ms".into(), number(&name, &value)?),
            "MEMORY_MB" => limits.insert("memory-mb".into(), number(&name, &value)?),
            "MAX_INVOKE_DEPTH" => limits.insert("max-invoke-depth".into(), number(&name, &value)?),
            "HTTP_REQUESTS" => limits.insert("http-requests".into(), number(&name, &value)?),
            "HTTP_BODY_BYTES" => limits.insert("http-body-bytes".into(), number(&name, &value)?),
            // Read by the runtime itself (`refresh_secs`, the log setup, the Lambda metrics),
            // not part of a function's description.
            "GUEST_REFRESH_SECS" | "LOG" | "LOG_FORMAT" | "METRICS" | "METRICS_NAMESPACE" | "METRICS_DIMENSIONS" => {
                None
            }
            _ => match suffix.strip_prefix("CONFIG_") {
                Some(key) if !key.is_empty() => config.insert(key.to_ascii_lowercase(), Value::String(value)),
                _ => return Err(ConfigError::invalid(ORIGIN, format!("unknown variable {name}"))),
            },
        };
    }
    if !root.contains_key("role") {
        return Err(ConfigError::invalid(ORIGIN, "PLUGBOARD_ROLE is not set"));
    }
    root.insert("grants".into(), Value::Object(grants));
    root.insert("config".into(), Value::Object(config));
    root.insert("limits".into(), Value::Object(limits));
    let parsed = FunctionConfig::deserialize(Value::Object(root)).map_err(|e| ConfigError::invalid(ORIGIN, e))?;
    parsed.validate(ORIGIN)?;
    Ok(parsed)
}

fn set(root: &mut Map<String, Value>, key: &str, value: String) -> Option<Value> {
    root.insert(key.into(), Value::String(value))
}

/// Parse `name=resource,name=resource` into a JSON object.
fn pairs(var: &str, text: &str) -> Result<Value, ConfigError> {
    let mut map = Map::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, resource) = entry
            .split_once('=')
            .ok_or_else(|| ConfigError::invalid(ORIGIN, format!("{var}: `{entry}` is not name=resource")))?;
        map.insert(name.trim().to_string(), Value::String(resource.trim().to_string()));
    }
    Ok(Value::Object(map))
}

/// Parse `a,b,c` into a JSON array of strings, as written.
fn strings(text: &str) -> Value {
    Value::Array(text.split(',').map(str::trim).filter(|e| !e.is_empty()).map(|e| Value::String(e.into())).collect())
}

/// Parse `a,b,c` into a JSON array of lower-case strings.
fn list(text: &str) -> Value {
    let items = text.split(',').map(str::trim).filter(|e| !e.is_empty());
    Value::Array(items.map(|e| Value::String(e.to_ascii_lowercase())).collect())
}

fn number(var: &str, text: &str) -> Result<Value, ConfigError> {
    text.trim()
        .parse::<u64>()
        .map(Value::from)
        .map_err(|_| ConfigError::invalid(ORIGIN, format!("{var}: `{text}` is not a whole number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's rendering: every resource by its name.
    fn rendered(config: &FunctionConfig) -> Vec<(String, String)> {
        let name = |r: GrantTarget<'_>| match r {
            GrantTarget::Table(n) | GrantTarget::Queue(n) | GrantTarget::Function(n) => n.to_string(),
        };
        to_vars(config).iter().map(|(k, v)| (k.clone(), v.render(&|a| a.to_string(), &name))).collect()
    }

    #[test]
    fn the_encoding_round_trips_for_every_field() {
        let text = r#"
            role = "authorizer"
            guest = "s3://bucket/guest.wasm?versionId=v1"
            guest-sha256 = "00000000000000000000000000000000000000000000000000000000000000ab"
            precompiled-sha256 = ["00000000000000000000000000000000000000000000000000000000000000cd"]
            authorizer-response = "simple"
            grants.stores = { items = "app-items", keys = "app-keys" }
            grants.read-only-stores = { pricing = "app-pricing" }
            grants.queues = { events = "https://sqs.local/000000000000/app-events" }
            grants.functions = { quotes = "app-quotes" }
            grants.http = ["https://api.example.com", "https://*.hooks.example.com:8443", "http://orders.internal:8080 private", "http://[fd00::/8]"]
            config = { jwt_secret = "ssm:/app/jwt", empty = "" }
            limits = { timeout-ms = 1500, memory-mb = 48, max-invoke-depth = 3, http-requests = 7, http-body-bytes = 1024 }
        "#;
        let config = FunctionConfig::parse(text, "test", true).unwrap();
        assert_eq!(from_vars(rendered(&config)).unwrap(), config);
        let minimal = FunctionConfig::new(Role::QueueWorker);
        assert_eq!(from_vars(rendered(&minimal)).unwrap(), minimal);
    }

    #[test]
    fn grants_the_environment_cannot_carry_are_refused_and_pins_are_lower_cased() {
        for grants in [
            r#"grants.stores = { "a,b" = "t" }"#,
            r#"grants.queues = { q = "u=1" }"#,
            r#"grants.functions = { " f" = "g" }"#,
        ] {
            let err = FunctionConfig::parse(&format!("role = \"http-api\"\n{grants}"), "test", true).unwrap_err();
            assert!(err.to_string().contains("cannot contain"), "{grants}: {err}");
        }
        let pin = "AB".repeat(32);
        let config =
            FunctionConfig::parse(&format!("role = \"http-api\"\nguest-sha256 = \"{pin}\""), "test", true).unwrap();
        assert_eq!(config.guest_sha256.as_deref(), Some(pin.to_ascii_lowercase().as_str()));
        assert_eq!(from_vars(rendered(&config)).unwrap(), config);
    }

    #[test]
    fn the_refresh_interval_is_read_here_and_named_when_wrong() {
        assert_eq!(refresh_secs([(REFRESH_VAR, "30")]).unwrap(), Some(30));
        assert_eq!(refresh_secs([(REFRESH_VAR, " ")]).unwrap(), None);
        assert_eq!(refresh_secs([("OTHER", "1")]).unwrap(), None);
        let err = refresh_secs([(REFRESH_VAR, "soon")]).unwrap_err().to_string();
        assert!(err.contains(REFRESH_VAR), "{err}");
    }
}
