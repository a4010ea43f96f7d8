//! Fuzz harnesses: what each target in `fuzz/` does with one input, here so that the test
//! command replays the committed corpus and every crash input through the same code
//! (`tests/fuzz_corpus.rs`) while `scripts/fuzz.sh` runs them coverage-guided.
//!
//! Each harness takes arbitrary bytes, panics only on a broken property (never on bad input),
//! and checks more than "no crash": answers are well-formed, parsers round-trip, matching obeys
//! its laws.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::app::LocalApp;
use crate::config::{FunctionConfig, env};
use crate::events::authorizer::{PolicyResponse, Verdict, evaluate, wildcard_match};
use crate::events::route::RoutePattern;
use crate::function::{Function, Invocation};
use crate::manifest::Manifest;
use crate::runtime::{EngineSettings, Runtime};

/// The role each function of [`RoleHarness`] plays, picked by an input's first byte.
const ROLES: [(&str, &str, &str); 4] = [
    (
        "items",
        "items_api",
        "role = \"http-api\"\ngrants.stores = { items = \"items\" }\ngrants.functions = { quotes = \"quotes\" }",
    ),
    ("worker", "webhook_worker", "role = \"queue-worker\"\ngrants.stores = { events = \"events\" }"),
    (
        "authorizer",
        "gatekeeper",
        "role = \"authorizer\"\ngrants.read-only-stores = { api-keys = \"keys\" }\nconfig = { jwt_secret = \"fuzz\" }",
    ),
    ("quotes", "quotes", "role = \"internal-api\"\ngrants.read-only-stores = { pricing = \"pricing\" }"),
];

/// Budget of one fuzzed invocation; an answer must come within it plus [`SLACK`].
const TIMEOUT_MS: u64 = 500;
/// Time allowed past the budget for the host to end the call and answer.
const SLACK: Duration = Duration::from_millis(500);

/// One example guest per role over in-memory backends, and a runtime to drive them.
pub struct RoleHarness {
    functions: Vec<std::sync::Arc<Function>>,
    tokio: tokio::runtime::Runtime,
    _app: LocalApp,
}

impl RoleHarness {
    /// Load the guests from `guests_dir` (`guests/dist`).
    pub fn new(guests_dir: &Path) -> anyhow::Result<RoleHarness> {
        let runtime = Runtime::new(EngineSettings::default())?;
        let mut app = LocalApp::new(runtime);
        let mut functions = Vec::new();
        for (name, guest, toml) in ROLES {
            let text = format!("{toml}\nlimits = {{ timeout-ms = {TIMEOUT_MS}, memory-mb = 32 }}");
            let config = FunctionConfig::parse(&text, "fuzz", true)?;
            let bytes = std::fs::read(guests_dir.join(format!("{guest}.wasm")))?;
            functions.push(app.add(name, config, &bytes)?);
        }
        let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(RoleHarness { functions, tokio, _app: app })
    }

    /// The first byte picks the role, the rest is the Lambda event (JSON). Whatever it is, the
    /// call ends within the budget with a response that serialises, or a typed error.
    pub fn run(&self, data: &[u8]) {
        let Some((&pick, rest)) = data.split_first() else {
            return;
        };
        let Ok(event) = std::str::from_utf8(rest) else {
            return;
        };
        let function = &self.functions[usize::from(pick) % self.functions.len()];
        let started = Instant::now();
        let outcome = self.tokio.block_on(function.invoke_json(event, Invocation::default()));
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_millis(TIMEOUT_MS) + SLACK, "{}: answered after {elapsed:?}", function.name());
        match outcome {
            Ok(response) => {
                serde_json::from_str::<Value>(response.get()).expect("a response is JSON");
            }
            Err(error) => assert!(!error.error_type.as_str().is_empty(), "{}: an error has a type", function.name()),
        }
    }
}

/// The input as text: the function schema in TOML and in JSON, the environment encoding (one
/// `NAME=value` per line) and the app manifest. A configuration that parses survives its own
/// round trips (JSON, and the Lambda environment both ways); a manifest that parses renders a
/// template.
pub fn config_parsers(data: &[u8]) {
    let target = |t: env::GrantTarget<'_>| match t {
        env::GrantTarget::Table(n) | env::GrantTarget::Queue(n) | env::GrantTarget::Function(n) => n.to_string(),
    };
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for toml_syntax in [true, false] {
        if let Ok(config) = FunctionConfig::parse(text, "fuzz", toml_syntax) {
            let again = serde_json::to_string(&config).expect("a parsed configuration serialises");
            let reparsed =
                FunctionConfig::parse(&again, "fuzz", false).expect("a configuration re-parses from its JSON");
            assert_eq!(reparsed, config, "JSON round trip");
            let vars = env::to_vars(&config)
                .iter()
                .map(|(k, v)| (k.clone(), v.render(&str::to_string, &target)))
                .collect::<Vec<_>>();
            assert_eq!(
                env::from_vars(vars).expect("its environment encoding parses"),
                config,
                "environment round trip"
            );
        }
    }
    let vars = text.lines().filter_map(|line| line.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string()));
    let _ = env::from_vars(vars);
    if let Ok(manifest) = Manifest::parse(text, "fuzz", Path::new("/fuzz")) {
        let _ = crate::deploy::render(&manifest);
    }
}

/// The input as `pattern\ntext`: IAM wildcard matching, policy evaluation and API Gateway route
/// matching obey their laws (a literal matches itself, `*` matches anything, an allow for a
/// pattern lets exactly what it matches through and a deny of the same pattern wins, a matched
/// route's parameters are segments of the path).
pub fn matching(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, subject) = text.split_once('\n').unwrap_or((text, ""));
    let literal = !pattern.contains(['*', '?']);
    let matched = wildcard_match(pattern, subject);
    if literal {
        assert_eq!(matched, pattern == subject, "a literal pattern matches exactly itself");
    }
    assert!(wildcard_match("*", subject), "`*` matches anything");
    assert!(wildcard_match(&format!("{pattern}*"), &format!("{subject}x")) || !matched, "a match extends");
    let statement = |effect: &str| json!({ "Effect": effect, "Action": "execute-api:Invoke", "Resource": pattern });
    let allow = json!({ "principalId": "p", "policyDocument": { "Statement": [statement("Allow")] } });
    let policy = |value: Value| serde_json::from_value::<PolicyResponse>(value).expect("a policy response");
    let allowed = matches!(evaluate(&policy(allow), subject), Verdict::Allow { .. });
    assert_eq!(allowed, matched, "an allow lets through exactly what its resource matches");
    let both =
        json!({ "principalId": "p", "policyDocument": { "Statement": [statement("Allow"), statement("Deny")] } });
    assert!(!matches!(evaluate(&policy(both), subject), Verdict::Allow { .. }), "an explicit deny wins");
    let (method, path) = pattern.split_once(' ').unwrap_or(("GET", pattern));
    if let Ok(route) = RoutePattern::parse(method, path)
        && let Some(params) = route.matches(method, subject)
    {
        for value in params.values() {
            let from_path = value.split('/').all(|part| subject.split('/').any(|s| s == part));
            assert!(!value.is_empty() && from_path, "a parameter is made of the path's segments: {value:?}");
        }
    }
}
