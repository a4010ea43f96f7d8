//! The app manifest (`plugboard.toml`): the app's functions, HTTP routes, authorizers, queues
//! and secrets — the single source of truth `plugboard dev` runs and `plugboard deploy-template`
//! generates the AWS deployment from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use plugboard_core::events::http::Payload;

use plugboard_core::config::location::GuestLocation;
use plugboard_core::config::secret::SecretRef;
use plugboard_core::config::{ConfigError, FunctionConfig, Role};
use plugboard_core::events::route::RoutePattern;

/// The whole app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// App-wide settings.
    #[serde(default)]
    pub app: AppSettings,
    /// Functions by name, each in the function schema (`guest` relative to the manifest).
    pub functions: BTreeMap<String, FunctionConfig>,
    /// HTTP routes, matched like API Gateway (literal segments before `{param}` before `{proxy+}`).
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Lambda authorizers by name, referenced by routes.
    #[serde(default)]
    pub authorizers: BTreeMap<String, Authorizer>,
    /// Queues by name (the name functions' `grants.queues` point at; FIFO names end in `.fifo`).
    #[serde(default)]
    pub queues: BTreeMap<String, Queue>,
    /// Secrets by name, referenced from function config values as `secret:NAME`.
    #[serde(default)]
    pub secrets: BTreeMap<String, Secret>,
}

/// A secret kept in AWS (SSM Parameter Store or Secrets Manager), never in the manifest, with
/// the stand-in value `plugboard dev` uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Secret {
    /// An SSM parameter name (`/app/jwt-secret`), usually a SecureString.
    #[serde(default)]
    pub ssm: Option<String>,
    /// A Secrets Manager secret name or ARN, optionally `#field` of its JSON value.
    #[serde(default)]
    pub secretsmanager: Option<String>,
    /// The value `plugboard dev` uses instead (a local stand-in, not the real secret).
    #[serde(default)]
    pub dev: Option<String>,
}

/// How a function config value names a secret: `secret:NAME`.
pub const SECRET_PREFIX: &str = "secret:";

impl Secret {
    /// The reference the Lambda host resolves at cold start; `None` unless exactly one of
    /// `ssm` and `secretsmanager` is set.
    pub fn reference(&self) -> Option<SecretRef> {
        match (&self.ssm, &self.secretsmanager) {
            (Some(name), None) => Some(SecretRef::Parameter(name.clone())),
            (None, Some(id)) => Some(SecretRef::secrets_manager(id)),
            _ => None,
        }
    }
}

/// App-wide settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AppSettings {
    /// The app's name (stack name, API name).
    #[serde(default = "AppSettings::default_name")]
    pub name: String,
    /// The local HTTP port (`plugboard dev --port` overrides; 0 picks a free one).
    #[serde(default = "AppSettings::default_port")]
    pub port: u16,
    /// Where `plugboard dev` keeps durable state, relative to the manifest.
    #[serde(default = "AppSettings::default_state_dir")]
    pub state_dir: PathBuf,
    /// Deploy every function on Lambda Managed Instances (a capacity provider's EC2 instances,
    /// several invocations per execution environment). A choice made when the functions are
    /// created: Lambda cannot move an existing function onto or off a capacity provider.
    #[serde(default)]
    pub managed_instances: bool,
}

impl AppSettings {
    fn default_name() -> String {
        "plugboard".into()
    }
    fn default_port() -> u16 {
        3000
    }
    fn default_state_dir() -> PathBuf {
        PathBuf::from(".plugboard")
    }
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            name: Self::default_name(),
            port: Self::default_port(),
            state_dir: Self::default_state_dir(),
            managed_instances: false,
        }
    }
}

/// One HTTP route, its method and path parsed when the manifest loads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RouteSpec", into = "RouteSpec")]
pub struct Route {
    /// `GET /items/{id}`, `ANY /files/{proxy+}`, as API Gateway matches it.
    pub pattern: RoutePattern,
    /// The `http-api` function serving it.
    pub function: String,
    /// The authorizer in front of it, if any.
    pub authorizer: Option<String>,
    /// Event version for the function.
    pub payload: Payload,
}

/// A route as the manifest writes it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RouteSpec {
    /// `GET`, `POST`, ... or `ANY`.
    method: String,
    /// `/items/{id}`, `/files/{proxy+}`.
    path: String,
    function: String,
    #[serde(default)]
    authorizer: Option<String>,
    #[serde(default)]
    payload: Payload,
}

impl TryFrom<RouteSpec> for Route {
    type Error = String;

    fn try_from(spec: RouteSpec) -> Result<Route, String> {
        let pattern = RoutePattern::parse(&spec.method, &spec.path)
            .map_err(|e| format!("route {} {}: {e}", spec.method, spec.path))?;
        Ok(Route { pattern, function: spec.function, authorizer: spec.authorizer, payload: spec.payload })
    }
}

impl From<Route> for RouteSpec {
    fn from(route: Route) -> RouteSpec {
        let (method, path) = (route.pattern.method().to_string(), route.pattern.path.clone());
        RouteSpec { method, path, function: route.function, authorizer: route.authorizer, payload: route.payload }
    }
}

/// How an authorizer is called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorizerKind {
    /// A TOKEN event with the identity header's value.
    #[default]
    Token,
    /// A REQUEST event with the whole request.
    Request,
}

/// A Lambda authorizer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Authorizer {
    /// The `authorizer` function.
    pub function: String,
    /// TOKEN or REQUEST.
    #[serde(default, rename = "type")]
    pub kind: AuthorizerKind,
    /// The header that carries the identity; a request without it is 401 without a call.
    #[serde(default = "Authorizer::default_identity")]
    pub identity_header: String,
    /// How long a decision is reused for the same identity (0: never cached).
    #[serde(default = "Authorizer::default_ttl")]
    pub cache_ttl_secs: u64,
}

impl Authorizer {
    fn default_identity() -> String {
        "Authorization".into()
    }
    fn default_ttl() -> u64 {
        300
    }
}

/// A queue and its worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Queue {
    /// The `queue-worker` function fed by it (none: messages wait, e.g. a dead-letter queue).
    #[serde(default)]
    pub worker: Option<String>,
    /// Most messages per worker event (SQS event source: 1..=10 here).
    #[serde(default = "Queue::default_batch")]
    pub batch_size: u32,
    /// Most worker invocations at once.
    #[serde(default = "Queue::default_concurrency")]
    pub max_concurrency: u32,
    /// Seconds a delivered message stays hidden before it is delivered again.
    #[serde(default = "Queue::default_visibility")]
    pub visibility_timeout_secs: u64,
    /// Receives before a message moves to `dead-letter` (SQS `maxReceiveCount`).
    #[serde(default = "Queue::default_max_receives")]
    pub max_receives: u32,
    /// The dead-letter queue (another queue of this manifest).
    #[serde(default)]
    pub dead_letter: Option<String>,
    /// FIFO queues only: deduplicate a message sent without a deduplication id by the SHA-256 of
    /// its body (SQS `ContentBasedDeduplication`). Off (SQS's default): such a send is refused.
    #[serde(default)]
    pub content_based_deduplication: bool,
}

impl Queue {
    fn default_batch() -> u32 {
        10
    }
    fn default_concurrency() -> u32 {
        2
    }
    fn default_visibility() -> u64 {
        30
    }
    fn default_max_receives() -> u32 {
        3
    }
}

impl Manifest {
    /// Read, parse and check `path`; function guests become paths relative to its folder.
    pub fn load(path: &Path) -> Result<Manifest, ConfigError> {
        let origin = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: origin.clone(), source })?;
        Self::parse(&text, &origin, path.parent().unwrap_or(Path::new(".")))
    }

    /// Parse and check manifest `text` (named `origin` in errors); relative guest paths and the
    /// state directory are taken relative to `base`.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Manifest, ConfigError> {
        let origin = origin.to_string();
        let mut manifest: Manifest = toml::from_str(text).map_err(|e| ConfigError::invalid(&origin, e))?;
        for (name, function) in &mut manifest.functions {
            function.validate(&format!("{origin}: functions.{name}"))?;
            if let Some(guest) = &function.guest
                && !GuestLocation::parse(guest).is_ok_and(|location| location.is_s3())
            {
                function.guest = Some(base.join(guest).display().to_string());
            }
        }
        manifest.app.state_dir = base.join(&manifest.app.state_dir);
        manifest.check().map_err(|message| ConfigError::invalid(&origin, message))?;
        Ok(manifest)
    }

    /// Every reference points at something of the right kind; the message names the place.
    pub fn check(&self) -> Result<(), String> {
        let role_of = |place: &str, name: &str, role: Role| -> Result<(), String> {
            match self.functions.get(name) {
                None => Err(format!("{place}: no function `{name}`")),
                Some(f) if f.role != role => Err(format!("{place}: function `{name}` is {}, not {role}", f.role)),
                Some(_) => Ok(()),
            }
        };
        for (name, function) in &self.functions {
            if function.guest.is_none() {
                return Err(format!("functions.{name}: `guest` is missing"));
            }
            for queue in function.grants.queues.values() {
                if !self.queues.contains_key(queue) {
                    return Err(format!("functions.{name}.grants.queues: no queue `{queue}`"));
                }
            }
            for target in function.grants.functions.values() {
                if !self.functions.contains_key(target) {
                    return Err(format!("functions.{name}.grants.functions: no function `{target}`"));
                }
            }
            for (key, value) in &function.config {
                if let Some(secret) = value.strip_prefix(SECRET_PREFIX)
                    && !self.secrets.contains_key(secret)
                {
                    return Err(format!("functions.{name}.config.{key}: no secret `{secret}`"));
                }
            }
        }
        for (name, secret) in &self.secrets {
            if secret.reference().is_none() {
                return Err(format!("secrets.{name}: set exactly one of `ssm` and `secretsmanager`"));
            }
        }
        for (i, route) in self.routes.iter().enumerate() {
            let place = format!("routes[{i}] ({})", route.pattern.route_key());
            role_of(&place, &route.function, Role::HttpApi)?;
            if let Some(name) = &route.authorizer {
                if route.payload == Payload::Alb {
                    return Err(format!(
                        "{place}: an ALB target has no Lambda authorizer (ALB authenticates with OIDC or Cognito on the listener); remove authorizer = \"{name}\""
                    ));
                }
                let authorizer =
                    self.authorizers.get(name).ok_or_else(|| format!("{place}: no authorizer `{name}`"))?;
                // HTTP APIs (payload v2) have no TOKEN authorizers: dev must not allow what AWS refuses.
                if authorizer.kind == AuthorizerKind::Token && route.payload == Payload::V2 {
                    return Err(format!(
                        "{place}: authorizer `{name}` is type = \"token\", which only REST API routes (payload = \"v1\") support; use type = \"request\""
                    ));
                }
            }
        }
        for (name, authorizer) in &self.authorizers {
            role_of(&format!("authorizers.{name}"), &authorizer.function, Role::Authorizer)?;
            // Manifest authorizers get payload 1.0 events (dev and the template), where a simple
            // response does not exist: the setting would silently do nothing.
            let response = self.functions.get(&authorizer.function).map(|f| f.authorizer_response);
            if response == Some(plugboard_core::config::AuthorizerResponse::Simple) {
                return Err(format!(
                    "functions.{}: authorizer-response = \"simple\" has no effect behind authorizers.{name}, which gets payload 1.0 events answered with IAM policies; remove it",
                    authorizer.function
                ));
            }
        }
        for (name, queue) in &self.queues {
            let place = format!("queues.{name}");
            if let Some(worker) = &queue.worker {
                role_of(&place, worker, Role::QueueWorker)?;
            }
            if queue.content_based_deduplication && !name.ends_with(".fifo") {
                return Err(format!("{place}: content-based-deduplication is for FIFO queues (`.fifo`) only"));
            }
            if !(1..=10).contains(&queue.batch_size) || queue.max_concurrency == 0 || queue.max_receives == 0 {
                return Err(format!("{place}: batch-size must be 1..=10, max-concurrency and max-receives at least 1"));
            }
            if let Some(dlq) = &queue.dead_letter {
                if !self.queues.contains_key(dlq) || dlq == name {
                    return Err(format!("{place}.dead-letter: no other queue `{dlq}`"));
                }
                if dlq.ends_with(".fifo") != name.ends_with(".fifo") {
                    return Err(format!(
                        "{place}.dead-letter: a FIFO queue needs a FIFO dead-letter queue and vice versa"
                    ));
                }
            }
        }
        Ok(())
    }

    /// `function`'s configuration as `plugboard dev` runs it: `secret:NAME` values replaced by
    /// the secrets' `dev` stand-ins.
    pub fn dev_config(&self, function: &str) -> Result<FunctionConfig, String> {
        let mut config = self.functions.get(function).ok_or_else(|| format!("no function `{function}`"))?.clone();
        for (key, value) in &mut config.config {
            if let Some(name) = value.strip_prefix(SECRET_PREFIX) {
                let secret = self
                    .secrets
                    .get(name)
                    .ok_or_else(|| format!("functions.{function}.config.{key}: no secret `{name}`"))?;
                *value = secret.dev.clone().ok_or_else(|| {
                    format!("functions.{function}.config.{key}: secret `{name}` has no `dev` value for plugboard dev")
                })?;
            }
        }
        Ok(config)
    }

    /// The queues `function` is the worker of, by name.
    pub fn queues_worked_by<'a>(&'a self, function: &'a str) -> impl Iterator<Item = (&'a String, &'a Queue)> + 'a {
        self.queues.iter().filter(move |(_, q)| q.worker.as_deref() == Some(function))
    }

    /// The tables the functions are granted.
    pub fn tables(&self) -> Vec<String> {
        let mut tables: Vec<String> =
            self.functions.values().flat_map(|f| f.grants.all_stores().map(|(_, t, _)| t.clone())).collect();
        tables.sort();
        tables.dedup();
        tables
    }
}
