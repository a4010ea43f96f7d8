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
//! | `PLUGBOARD_CONFIG_<KEY>` | `config.<key>` (the key lower-cased) |
//! | `PLUGBOARD_TIMEOUT_MS`, `PLUGBOARD_MEMORY_MB`, `PLUGBOARD_MAX_INVOKE_DEPTH` | `limits.*` |
//! | `PLUGBOARD_AUTHORIZER_RESPONSE` | `authorizer-response` (`simple` or `iam`) |
//!
//! A variable set to the empty string counts as unset (a deployment template passes `""` for a
//! parameter left empty), except `PLUGBOARD_CONFIG_*`, where an empty value is a value.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ConfigError, FunctionConfig};

const ORIGIN: &str = "environment";

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
            "TIMEOUT_MS" => limits.insert("timeout-ms".into(), number(&name, &value)?),
            "MEMORY_MB" => limits.insert("memory-mb".into(), number(&name, &value)?),
            "MAX_INVOKE_DEPTH" => limits.insert("max-invoke-depth".into(), number(&name, &value)?),
            // Read by the runtime itself, not part of a function's description.
            "GUEST_REFRESH_SECS" | "LOG" | "LOG_FORMAT" => None,
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
