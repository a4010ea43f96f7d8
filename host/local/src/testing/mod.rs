//! `plugboard test`: a guest run against a folder of cases, in the same engine, role adapters
//! and in-memory backends as everywhere else, so a passing case means the same behaviour on
//! Lambda.
//!
//! A suite folder holds `function.toml` (the function schema; `guest` relative to the folder)
//! and one `<case>.toml` per case ([`case::Case`]).

pub mod build;
mod captured;
pub mod cargo_runner;
pub mod case;
pub mod check;
mod http_stubs;
mod stubs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use self::captured::CapturedLogs;
use self::case::{Case, CaseEvent, Effect, Expect, Invoked, Sent};
use self::http_stubs::StubSender;
use self::stubs::StubInvoker;
use crate::backends::memory::{MemoryKeyValue, MemoryQueue};
use plugboard_core::capabilities::keyvalue::KeyValueTable;
use plugboard_core::config::{FunctionConfig, Role};
use plugboard_core::events::authorizer::{Verdict, verdict};
use plugboard_core::events::http::from_proxy_response;
use plugboard_core::events::{Event, EventResponse};
use plugboard_core::function::{Backends, Function, Invocation};
use plugboard_core::roles::FunctionError;
use plugboard_core::runtime::precompiled::Origin;
use plugboard_core::runtime::{Guest, GuestLoader, Runtime, Trust};

/// The file in a suite folder that describes the function under test.
pub(crate) const FUNCTION_FILE: &str = "function.toml";

/// A guest and its cases.
pub struct Suite {
    /// The suite folder.
    pub dir: PathBuf,
    /// The function under test.
    pub config: FunctionConfig,
    guest: Guest,
    /// How its guest was obtained (compiled now, or from the compile cache).
    pub origin: Origin,
    runtime: Runtime,
    /// The cases by name (file stem), in name order.
    pub cases: Vec<(String, Case)>,
}

/// What one case did.
pub struct CaseResult {
    /// One line per difference from the expectation; empty when it passed.
    pub failures: Vec<String>,
    /// The outcome, in the form `--update` writes as the expectation.
    pub outcome: Expect,
    /// How long the invocation took.
    pub elapsed: Duration,
    /// What the invocation logged at WARN and above (the guest's own error text among it).
    pub logs: Vec<String>,
}

impl Suite {
    /// Read `dir/function.toml`, load its guest with `loader` (through its compile cache),
    /// parse every case.
    pub fn load(dir: &Path, loader: &GuestLoader) -> anyhow::Result<Suite> {
        let mut config = FunctionConfig::from_file(&dir.join(FUNCTION_FILE))?;
        let guest_path = dir.join(config.guest.as_deref().context("function.toml names no `guest`")?);
        config.guest = Some(guest_path.display().to_string());
        let bytes = std::fs::read(&guest_path).with_context(|| format!("reading guest {}", guest_path.display()))?;
        let (guest, origin) = loader
            .load(&bytes, config.guest_sha256.as_deref(), config.role, Trust::ComponentOnly)
            .with_context(|| format!("loading {}", guest_path.display()))?;
        let mut cases = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let is_case =
                path.extension().is_some_and(|e| e == "toml") && path.file_name().is_some_and(|n| n != FUNCTION_FILE);
            if !is_case {
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            let case: Case = toml::from_str(&text).with_context(|| format!("case {}", path.display()))?;
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            cases.push((name, case));
        }
        cases.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Suite { dir: dir.to_path_buf(), config, guest, origin, runtime: loader.runtime().clone(), cases })
    }

    /// Run `case` on fresh state.
    pub async fn run(&self, case: &Case) -> CaseResult {
        match self.try_run(case).await {
            Ok(result) => result,
            Err(e) => CaseResult {
                failures: vec![format!("{e:#}")],
                outcome: Expect::default(),
                elapsed: Duration::ZERO,
                logs: Vec::new(),
            },
        }
    }

    /// Write `outcome` as the expectation of case `name`.
    pub fn record(&self, name: &str, case: &Case, outcome: Expect) -> anyhow::Result<()> {
        let mut case = case.clone();
        case.expect = outcome;
        // In the case's own field order; TOML has no null, so a response holding one is written
        // without it (keys then sorted).
        let text = match toml::to_string_pretty(&case) {
            Ok(text) => text,
            Err(_) => toml::to_string_pretty(&strip_nulls(serde_json::to_value(&case)?))?,
        };
        std::fs::write(self.dir.join(format!("{name}.toml")), text)?;
        Ok(())
    }

    async fn try_run(&self, case: &Case) -> anyhow::Result<CaseResult> {
        let grants = &self.config.grants;
        let keyvalue = Arc::new(MemoryKeyValue::new());
        grants.all_stores().for_each(|(_, t, _)| keyvalue.create_table(t));
        for (store, entries) in &case.seed {
            let table = grants.all_stores().find(|(name, ..)| *name == store).and_then(|(_, t, _)| keyvalue.table(t));
            let table = table.with_context(|| format!("seed.{store}: the function is granted no store `{store}`"))?;
            for (key, value) in entries {
                table
                    .set(key, case::body_bytes(value))
                    .await
                    .map_err(|e| anyhow::anyhow!("seed.{store}.{key}: {e:?}"))?;
            }
        }
        let queues = Arc::new(MemoryQueue::new());
        grants.queues.values().for_each(|q| queues.create_queue(q));
        let invoker = Arc::new(StubInvoker::new(&grants.functions, &case.stubs)?);
        let http = StubSender::new(&case.http);
        let mut config = self.config.clone();
        config.config.extend(case.config.clone());
        let backends = Backends {
            keyvalue: keyvalue.clone(),
            queue: queues.clone(),
            invoker: invoker.clone(),
            http: Arc::new(http.clone()),
        };
        let function = Function::new("test", config, self.runtime.clone(), self.guest.clone(), backends);
        let event = case.event(self.config.role).map_err(anyhow::Error::msg)?;
        let clock = case.now.map(|secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
        let invocation = Invocation { request_id: "plugboard-test".into(), clock, ..Invocation::default() };
        let started = Instant::now();
        let logs = CapturedLogs::default();
        let invoke = async {
            match event {
                CaseEvent::Typed(event) => function.invoke(event, invocation).await,
                // A whole event is parsed as Lambda would: a malformed one fails the invocation.
                CaseEvent::Json(text) => match Event::parse(&text, self.config.role, None) {
                    Ok(event) => function.invoke(event, invocation).await,
                    Err(e) => Err(e),
                },
            }
        };
        let result = tracing::instrument::WithSubscriber::with_subscriber(invoke, logs.dispatch()).await;
        let elapsed = started.elapsed();

        let mut outcome = self.outcome(case, &result);
        // Each granted store read once; the recorded outcome and the checks both use it.
        let mut after: BTreeMap<&str, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        for (alias, table, _) in grants.all_stores() {
            let contents: BTreeMap<String, Vec<u8>> =
                keyvalue.table(table).map(|t| t.snapshot()).unwrap_or_default().into_iter().collect();
            if !contents.is_empty() {
                outcome
                    .store
                    .insert(alias.clone(), contents.iter().map(|(k, v)| (k.clone(), check::recorded(v))).collect());
            }
            after.insert(alias, contents);
        }
        let mut sent = Vec::new();
        for (alias, queue) in &grants.queues {
            for stored in queues.messages(queue) {
                let m = &stored.message;
                sent.push(Sent {
                    queue: alias.clone(),
                    body: check::recorded(m.body.as_bytes()),
                    group: m.group_id.clone(),
                });
            }
        }
        outcome.sent = Some(sent);
        outcome.invoked = Some(invoker.calls());
        outcome.fetched = Some(http.fetched());

        let json = result.as_ref().map(EventResponse::to_value).map_err(Clone::clone);
        let mut failures = compare(&case.expect, &outcome, &json);
        failures.extend(http.unstubbed().into_iter().map(|call| format!("http: no stub answers {call}")));
        for (store, entries) in &case.expect.store {
            for (key, want) in entries {
                match after.get(store.as_str()).and_then(|contents| contents.get(key)) {
                    Some(bytes) => failures.extend(check::payload(&format!("store.{store}.{key}"), want, bytes)),
                    None => failures.push(format!("store.{store}.{key}: expected a value, missing")),
                }
            }
        }
        for (store, keys) in &case.expect.absent {
            for key in keys {
                if after.get(store.as_str()).is_some_and(|contents| contents.contains_key(key)) {
                    failures.push(format!("store.{store}.{key}: expected absent, present"));
                }
            }
        }
        Ok(CaseResult { failures, outcome, elapsed, logs: logs.lines() })
    }

    /// The role-specific part of the outcome.
    fn outcome(&self, case: &Case, result: &Result<EventResponse, FunctionError>) -> Expect {
        let mut outcome = Expect::default();
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                if self.config.role == Role::Authorizer && e.is_unauthorized() {
                    outcome.effect = Some(Effect::Unauthorized);
                } else {
                    outcome.error = Some(e.error_message.clone());
                }
                return outcome;
            }
        };
        match self.config.role {
            Role::HttpApi => {
                let answer = from_proxy_response(response);
                outcome.status = Some(answer.status);
                outcome.body = (!answer.body.is_empty()).then(|| check::recorded(&answer.body));
            }
            Role::QueueWorker => {
                let ids = match response {
                    EventResponse::Sqs(batch) => {
                        batch.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
                    }
                    _ => Vec::new(),
                };
                outcome.batch_failures = Some(ids);
            }
            Role::Authorizer => {
                let effect = match verdict(response, &case.method_arn()) {
                    Verdict::Allow { .. } => Effect::Allow,
                    Verdict::Forbidden => Effect::Deny,
                    Verdict::Unauthorized => Effect::Unauthorized,
                    Verdict::Failed => Effect::Failed,
                };
                outcome.effect = Some(effect);
                outcome.response = Some(response.to_value());
            }
            Role::InternalApi => outcome.response = Some(response.to_value()),
        }
        outcome
    }
}

/// The differences between what `expect` asks and what happened.
fn compare(expect: &Expect, outcome: &Expect, result: &Result<Value, FunctionError>) -> Vec<String> {
    let mut failures = Vec::new();
    match (result, &expect.error) {
        (Err(e), None) if outcome.effect.is_none() || expect.effect.is_none() => {
            failures.push(format!("the function failed: {}: {}", e.error_type, e.error_message));
        }
        (Err(e), Some(want)) if !e.error_message.contains(want.as_str()) => {
            failures.push(format!("error: expected a message containing {want:?}, got {:?}", e.error_message));
        }
        (Ok(_), Some(want)) => {
            failures.push(format!("error: expected a failure containing {want:?}, the function succeeded"))
        }
        _ => {}
    }
    if let Some(want) = expect.status
        && outcome.status != Some(want)
    {
        failures
            .push(format!("status: expected {want}, got {}", outcome.status.map_or("none".into(), |s| s.to_string())));
    }
    if let Some(want) = &expect.body {
        let have = outcome.body.as_ref().map(case::body_bytes).unwrap_or_default();
        failures.extend(check::payload("body", want, &have));
    }
    if let (Some(want), Ok(response)) = (&expect.response, result) {
        failures.extend(check::subset("response", want, response));
    }
    if let Ok(response) = result {
        let headers = response.get("headers").and_then(Value::as_object);
        for (name, want) in &expect.headers {
            let have = headers
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .and_then(|(_, v)| v.as_str());
            if have != Some(want.as_str()) {
                failures.push(format!("headers.{name}: expected {want:?}, got {have:?}"));
            }
        }
    }
    if let Some(want) = &expect.sent {
        failures.extend(compare_list("sent", want, outcome.sent.as_deref().unwrap_or_default(), |at, w, h| {
            let mut lines = check::payload(&format!("{at}.body"), &w.body, &case::body_bytes(&h.body));
            if w.queue != h.queue || (w.group.is_some() && w.group != h.group) {
                lines.push(format!(
                    "{at}: expected queue {} group {:?}, got queue {} group {:?}",
                    w.queue, w.group, h.queue, h.group
                ));
            }
            lines
        }));
    }
    if let Some(want) = &expect.invoked {
        failures.extend(compare_list(
            "invoked",
            want,
            outcome.invoked.as_deref().unwrap_or_default(),
            |at, w: &Invoked, h| {
                let mut lines = check::subset(&format!("{at}.payload"), &w.payload, &h.payload);
                if w.function != h.function || w.r#async != h.r#async {
                    lines.push(format!(
                        "{at}: expected {} (async {}), got {} (async {})",
                        w.function, w.r#async, h.function, h.r#async
                    ));
                }
                lines
            },
        ));
    }
    if let Some(want) = &expect.fetched {
        failures.extend(compare_list("fetched", want, outcome.fetched.as_deref().unwrap_or_default(), |at, w, h| {
            let mut lines = match (&w.body, &h.body) {
                (Some(want), have) => check::payload(
                    &format!("{at}.body"),
                    want,
                    &have.as_ref().map(case::body_bytes).unwrap_or_default(),
                ),
                (None, _) => Vec::new(),
            };
            if !w.method.eq_ignore_ascii_case(&h.method) || w.url != h.url {
                lines.push(format!("{at}: expected {} {}, got {} {}", w.method, w.url, h.method, h.url));
            }
            lines
        }));
    }
    if let Some(want) = &expect.batch_failures {
        let mut want = want.clone();
        let mut have = outcome.batch_failures.clone().unwrap_or_default();
        want.sort();
        have.sort();
        if want != have {
            failures.push(format!("batch-failures: expected {want:?}, got {have:?}"));
        }
    }
    if let Some(want) = &expect.effect
        && outcome.effect.as_ref() != Some(want)
    {
        let have = outcome.effect.map_or("none".to_string(), |e| e.to_string());
        failures.push(format!("effect: expected {want}, got {have}"));
    }
    failures
}

fn compare_list<T>(what: &str, want: &[T], have: &[T], each: impl Fn(&str, &T, &T) -> Vec<String>) -> Vec<String> {
    if want.len() != have.len() {
        return vec![format!("{what}: expected {} entries, got {}", want.len(), have.len())];
    }
    want.iter().zip(have).enumerate().flat_map(|(i, (w, h))| each(&format!("{what}[{i}]"), w, h)).collect()
}

/// TOML has no null: drop null fields and entries before writing a case.
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        Value::Array(list) => Value::Array(list.into_iter().filter(|v| !v.is_null()).map(strip_nulls).collect()),
        other => other,
    }
}
