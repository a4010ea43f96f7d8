//! The one description of a function: role, guest, grants, config values and limits.
//!
//! Three encodings carry it — a TOML/JSON file (`plugboard invoke --config`, each function of
//! the `plugboard dev` manifest) and the Lambda environment ([`env`]) — and all three end in the
//! same `serde` model, so one `Deserialize` plus [`FunctionConfig::validate`] parses every one.

pub mod env;
pub mod http;
pub mod location;
pub mod secret;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a configuration was refused; the text names the field or variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The document does not parse or does not fit the schema.
    #[error("{origin}: {message}")]
    Invalid {
        /// Where the configuration came from (file path, `environment`).
        origin: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ConfigError {
    /// An `Invalid` error from `origin` with `message`.
    pub fn invalid(origin: impl Into<String>, message: impl fmt::Display) -> Self {
        ConfigError::Invalid { origin: origin.into(), message: message.to_string() }
    }
}

/// Which Lambda event a function handles and which guest world it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// API Gateway (REST or HTTP API) or Function URL requests.
    HttpApi,
    /// SQS event-source batches.
    QueueWorker,
    /// API Gateway Lambda authorizer requests.
    Authorizer,
    /// Direct Lambda Invoke with a JSON payload.
    InternalApi,
}

impl Role {
    /// The role's name as written in configuration, e.g. `http-api`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::HttpApi => "http-api",
            Role::QueueWorker => "queue-worker",
            Role::Authorizer => "authorizer",
            Role::InternalApi => "internal-api",
        }
    }

    /// The WIT interface the guest must export for this role.
    pub(crate) fn export_interface(self) -> &'static str {
        match self {
            Role::HttpApi => "plugboard:host/http-handler@0.1.0",
            Role::QueueWorker => "plugboard:host/queue-handler@0.1.0",
            Role::Authorizer => "plugboard:host/authorizer-handler@0.1.0",
            Role::InternalApi => "plugboard:host/internal-handler@0.1.0",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Role as clap::ValueEnum>::from_str(s, false)
            .map_err(|_| format!("unknown role `{s}` (expected http-api, queue-worker, authorizer or internal-api)"))
    }
}

/// What the guest may reach: logical names it uses mapped to the backend resources behind them.
///
/// An allow-list: any name not here is `access-denied` to the guest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Grants {
    /// Key-value stores: logical name -> table.
    #[serde(default)]
    pub stores: BTreeMap<String, String>,
    /// Key-value stores the guest may only read (any write is `access-denied`): logical name ->
    /// table. A name is in `stores` or here, not both.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub read_only_stores: BTreeMap<String, String>,
    /// Queues: logical name -> queue name or URL.
    #[serde(default)]
    pub queues: BTreeMap<String, String>,
    /// Invoke targets: logical name -> function name or ARN.
    #[serde(default)]
    pub functions: BTreeMap<String, String>,
    /// Outbound HTTP: what the guest may call (`scheme://host[:port][ private]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<http::HttpGrant>,
}

impl Grants {
    /// Every granted store: logical name -> (table, whether the guest may write it).
    pub fn all_stores(&self) -> impl Iterator<Item = (&String, &String, Access)> {
        let writable = self.stores.iter().map(|(name, table)| (name, table, Access::ReadWrite));
        writable.chain(self.read_only_stores.iter().map(|(name, table)| (name, table, Access::ReadOnly)))
    }
}

/// What a grant lets the guest do with a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Read only: `get`, `exists`, `list-keys`, `get-many`.
    ReadOnly,
}

/// How much a single invocation may use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock budget of one invocation (and of each SQS record), in milliseconds.
    #[serde(default = "Limits::default_timeout_ms")]
    pub timeout_ms: u64,
    /// Linear memory cap of one guest instance, in MiB.
    #[serde(default = "Limits::default_memory_mb")]
    pub memory_mb: u32,
    /// How deep a chain of nested invokes may go before `depth-exceeded`.
    #[serde(default = "Limits::default_max_invoke_depth")]
    pub max_invoke_depth: u32,
    /// Most outbound HTTP requests one invocation may make.
    #[serde(default = "Limits::default_http_requests")]
    pub http_requests: u32,
    /// Most bytes of one outbound response body (Lambda's synchronous payload limit by default).
    #[serde(default = "Limits::default_http_body_bytes")]
    pub http_body_bytes: u64,
}

impl Limits {
    fn default_timeout_ms() -> u64 {
        10_000
    }
    fn default_memory_mb() -> u32 {
        128
    }
    fn default_max_invoke_depth() -> u32 {
        4
    }
    fn default_http_requests() -> u32 {
        50
    }
    fn default_http_body_bytes() -> u64 {
        6 * 1024 * 1024
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: Self::default_timeout_ms(),
            memory_mb: Self::default_memory_mb(),
            max_invoke_depth: Self::default_max_invoke_depth(),
            http_requests: Self::default_http_requests(),
            http_body_bytes: Self::default_http_body_bytes(),
        }
    }
}

/// The response an authorizer gives an HTTP API payload 2.0 event (a payload 1.0 or REST event
/// always gets an IAM policy: API Gateway accepts nothing else there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthorizerResponse {
    /// An IAM policy document: API Gateway evaluates it per route, also when it is cached.
    #[default]
    Iam,
    /// `{"isAuthorized": ..., "context": ...}` (payload 2.0 with simple responses): the policy
    /// collapsed to a yes/no for the route called, which API Gateway caches per identity, so
    /// an allow for `GET /items/1` would be served for `DELETE /items/1`. Only with caching off.
    Simple,
}

impl AuthorizerResponse {
    /// The name the schema and the environment use.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizerResponse::Iam => "iam",
            AuthorizerResponse::Simple => "simple",
        }
    }
}

/// The whole description of one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FunctionConfig {
    /// Which role the function plays.
    pub role: Role,
    /// Where the guest component is: a path, or `s3://bucket/key` on Lambda.
    #[serde(default)]
    pub guest: Option<String>,
    /// The guest's expected sha256 (hex); a guest with other bytes is refused.
    #[serde(default)]
    pub guest_sha256: Option<String>,
    /// sha256 (hex) of precompiled artifacts (`.cwasm`, one per architecture) published beside an
    /// S3 guest; only an artifact whose digest is listed here is loaded (it is native code).
    #[serde(default)]
    pub precompiled_sha256: Vec<String>,
    /// What the guest may reach.
    #[serde(default)]
    pub grants: Grants,
    /// Values the guest reads through `wasi:config`; keys are `[a-z0-9_]+`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Per-invocation limits.
    #[serde(default)]
    pub limits: Limits,
    /// For authorizers: the response kind for HTTP API (v2) events.
    #[serde(default)]
    pub authorizer_response: AuthorizerResponse,
}

impl FunctionConfig {
    /// A configuration with `role` and everything else at its default (no grants).
    pub fn new(role: Role) -> Self {
        FunctionConfig {
            role,
            guest: None,
            guest_sha256: None,
            precompiled_sha256: Vec::new(),
            grants: Grants::default(),
            config: BTreeMap::new(),
            limits: Limits::default(),
            authorizer_response: AuthorizerResponse::default(),
        }
    }

    /// Parse a TOML (`.toml`) or JSON (anything else) document; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, toml_syntax: bool) -> Result<Self, ConfigError> {
        let mut config: FunctionConfig = if toml_syntax {
            toml::from_str(text).map_err(|e| ConfigError::invalid(origin, e.message()))?
        } else {
            serde_json::from_str(text).map_err(|e| ConfigError::invalid(origin, e))?
        };
        // Digests are case-insensitive; lower case, as the environment encoding carries them.
        config.guest_sha256 = config.guest_sha256.map(|pin| pin.to_ascii_lowercase());
        config.precompiled_sha256.iter_mut().for_each(|pin| pin.make_ascii_lowercase());
        config.validate(origin)?;
        Ok(config)
    }

    /// Read and parse a configuration file, TOML or JSON by extension.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let toml_syntax = path.extension().is_some_and(|e| e == "toml");
        Self::parse(&text, &path.display().to_string(), toml_syntax)
    }

    /// Check what the types cannot: names, key syntax and limit ranges.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |msg: String| Err(ConfigError::invalid(origin, msg));
        for (kind, map) in [
            ("grants.stores", &self.grants.stores),
            ("grants.read-only-stores", &self.grants.read_only_stores),
            ("grants.queues", &self.grants.queues),
            ("grants.functions", &self.grants.functions),
        ] {
            for (name, resource) in map {
                if name.is_empty() || resource.is_empty() {
                    return bad(format!("{kind}: empty name or resource in `{name}` = `{resource}`"));
                }
                // The Lambda environment carries a grant map as `name=resource,...` (trimmed).
                let unencodable = |s: &str| s.contains([',', '=']) || s.trim() != s;
                if unencodable(name) || unencodable(resource) {
                    return bad(format!(
                        "{kind}: `{name}` = `{resource}`: names and resources cannot contain `,` or `=` or surrounding spaces"
                    ));
                }
            }
        }
        if let Some(name) = self.grants.read_only_stores.keys().find(|n| self.grants.stores.contains_key(*n)) {
            return bad(format!("store `{name}` is in both grants.stores and grants.read-only-stores"));
        }
        if let Some(guest) = &self.guest {
            location::GuestLocation::parse(guest).map_err(|e| ConfigError::invalid(origin, format!("guest: {e}")))?;
        }
        for key in self.config.keys() {
            let ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return bad(format!("config key `{key}` must be lower-case letters, digits and `_`"));
            }
        }
        let limits = &self.limits;
        if !(1..=900_000).contains(&limits.timeout_ms) {
            return bad(format!("limits.timeout-ms = {} is outside 1..=900000", limits.timeout_ms));
        }
        if limits.http_body_bytes == 0 || limits.http_body_bytes > 64 * 1024 * 1024 {
            return bad(format!("limits.http-body-bytes = {} is outside 1..=67108864", limits.http_body_bytes));
        }
        if !(1..=10_240).contains(&limits.memory_mb) {
            return bad(format!("limits.memory-mb = {} is outside 1..=10240", limits.memory_mb));
        }
        let is_digest = |pin: &str| pin.len() == 64 && pin.bytes().all(|b| b.is_ascii_hexdigit());
        if self.guest_sha256.as_deref().is_some_and(|pin| !is_digest(pin)) {
            return bad("guest-sha256 must be 64 hex digits".to_string());
        }
        if let Some(pin) = self.precompiled_sha256.iter().find(|pin| !is_digest(pin)) {
            return bad(format!("precompiled-sha256: `{pin}` is not 64 hex digits"));
        }
        Ok(())
    }
}
