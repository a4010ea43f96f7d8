//! What each function of the running app did, for the dashboard: invocations, errors, latency
//! percentiles over the recent ones, the last error, and the recent log lines. Taken from the
//! log events the host already writes (one `invocation done` / `invocation failed` per
//! invocation from `plugboard_core::function`, the guest's own lines under target `guest` at
//! INFO and above, warnings naming a function) by a tracing layer, so every path — routes,
//! the Invoke API, queue workers, authorizers, nested invokes — is counted in one place. An
//! error is a failed invocation, or a guest failure its role answered for (an HTTP guest's trap
//! answered 500, an authorizer's failure answered with a deny, a failed queue message): the
//! events with a `failure` or `reason` field. Memory stays bounded:
//! [`RECENT_DURATIONS`] durations and [`RECENT_LINES`] lines per function.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// Durations kept per function for its percentiles.
pub const RECENT_DURATIONS: usize = 512;
/// Log lines kept per function.
pub const RECENT_LINES: usize = 50;
/// Longest log line kept, in bytes (a guest may log a megabyte at once).
const MAX_LINE: usize = 2048;
/// Functions tracked at most (names come from the manifest; this only bounds a mistake).
const MAX_FUNCTIONS: usize = 256;

/// One log line as the dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// Epoch milliseconds.
    pub at_ms: u64,
    /// `ERROR`, `WARN`, `INFO`, ...
    pub level: String,
    /// The message with its notable fields (`error`).
    pub text: String,
}

/// One function's recent activity.
#[derive(Debug, Default)]
struct FunctionActivity {
    invocations: u64,
    errors: u64,
    durations_ms: VecDeque<f64>,
    last_error: Option<LogLine>,
    lines: VecDeque<LogLine>,
}

/// One function's activity as the dashboard reads it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FunctionSummary {
    /// Invocations since the server started.
    pub invocations: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median duration over the recent invocations, in milliseconds.
    pub p50_ms: Option<f64>,
    /// 99th percentile duration over the recent invocations, in milliseconds.
    pub p99_ms: Option<f64>,
    /// The last failure's reason.
    pub last_error: Option<String>,
    /// Recent log lines, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
}

/// Every function's activity.
#[derive(Debug, Default)]
pub struct Activity {
    functions: Mutex<BTreeMap<String, FunctionActivity>>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The `q` quantile (0..=1) of `sorted`, nearest rank.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    Some(sorted[((last as f64) * q).round() as usize])
}

impl Activity {
    fn with(&self, function: &str, change: impl FnOnce(&mut FunctionActivity)) {
        let mut functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        if !functions.contains_key(function) && functions.len() >= MAX_FUNCTIONS {
            return;
        }
        change(functions.entry(function.to_string()).or_default());
    }

    /// Count one invocation of `function` that took `duration_ms`, failed with `error` if any.
    pub fn invocation(&self, function: &str, duration_ms: f64, error: Option<String>) {
        self.with(function, |f| {
            f.invocations += 1;
            if f.durations_ms.len() == RECENT_DURATIONS {
                f.durations_ms.pop_front();
            }
            f.durations_ms.push_back(duration_ms);
        });
        if let Some(error) = error {
            self.failure(function, "WARN", error);
        }
    }

    /// Count one failure of `function` (a failed invocation, or a guest failure its role
    /// answered for), `text` saying why.
    pub fn failure(&self, function: &str, level: &str, text: String) {
        self.with(function, |f| {
            f.errors += 1;
            f.last_error = Some(LogLine { at_ms: now_ms(), level: level.to_string(), text });
        });
    }

    /// Keep one log line of `function`.
    pub fn line(&self, function: &str, level: &str, mut text: String) {
        if text.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        self.with(function, |f| {
            if f.lines.len() == RECENT_LINES {
                f.lines.pop_front();
            }
            f.lines.push_back(LogLine { at_ms: now_ms(), level: level.to_string(), text });
        });
    }

    /// Each function's summary, by name.
    pub fn summaries(&self) -> BTreeMap<String, FunctionSummary> {
        let functions = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        functions
            .iter()
            .map(|(name, f)| {
                let mut sorted: Vec<f64> = f.durations_ms.iter().copied().collect();
                sorted.sort_by(f64::total_cmp);
                let summary = FunctionSummary {
                    invocations: f.invocations,
                    errors: f.errors,
                    p50_ms: quantile(&sorted, 0.5),
                    p99_ms: quantile(&sorted, 0.99),
                    last_error: f.last_error.as_ref().map(|l| l.text.clone()),
                    lines: f.lines.iter().map(|l| format!("{} {}", l.level, l.text)).collect(),
                };
                (name.clone(), summary)
            })
            .collect()
    }

    /// The tracing layer that feeds this record.
    pub fn layer(self: &Arc<Self>) -> ActivityLayer {
        ActivityLayer { activity: self.clone() }
    }
}

/// Feeds an [`Activity`] from the process's log events.
pub struct ActivityLayer {
    activity: Arc<Activity>,
}

/// The fields of one event the record uses.
#[derive(Default)]
struct Fields {
    function: Option<String>,
    message: String,
    /// `error`: why an invocation (or a host step) failed.
    error: Option<String>,
    /// `failure` or `reason`: why the guest failed where its role answered for it.
    failure: Option<String>,
    elapsed_us: Option<u64>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "function" => self.function = Some(value.to_string()),
            "error" => self.error = Some(value.to_string()),
            "failure" | "reason" => self.failure = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "elapsed_us" {
            self.elapsed_us = Some(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = || format!("{value:?}");
        match field.name() {
            "message" => self.message = text(),
            "error" => self.error = Some(text()),
            "failure" | "reason" => self.failure = Some(text()),
            "function" => self.function = Some(text().trim_matches('"').to_string()),
            _ => {}
        }
    }
}

/// The host target whose events are the per-invocation lines.
const FUNCTION_TARGET: &str = "plugboard_core::function";

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ActivityLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        let level = *metadata.level();
        let guest = metadata.target() == "guest";
        let per_invocation = metadata.target() == FUNCTION_TARGET;
        // Guest lines (INFO and above reach this layer), the host's warnings and errors, and the
        // invocation lines.
        if !(guest || per_invocation || level <= tracing::Level::WARN) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(function) = fields.function.as_deref() else { return };
        let is_outcome = per_invocation && matches!(fields.message.as_str(), "invocation done" | "invocation failed");
        if is_outcome {
            let ms = fields.elapsed_us.unwrap_or(0) as f64 / 1000.0;
            let failed = fields.message == "invocation failed";
            self.activity.invocation(function, ms, failed.then(|| fields.error.clone().unwrap_or_default()));
            if !failed {
                return;
            }
        }
        if let Some(failure) = &fields.failure {
            self.activity.failure(function, level.as_str(), format!("{}: {failure}", fields.message));
        }
        let text = match fields.error.as_ref().or(fields.failure.as_ref()) {
            Some(why) => format!("{}: {why}", fields.message),
            None => fields.message.clone(),
        };
        self.activity.line(function, level.as_str(), text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn invocations_errors_percentiles_and_lines_come_from_the_log_events() {
        let activity = Arc::new(Activity::default());
        let subscriber = tracing_subscriber::registry().with(activity.layer());
        tracing::subscriber::with_default(subscriber, || {
            for us in [1000u64, 2000, 3000, 4000] {
                tracing::info!(target: "plugboard_core::function", function = "items", elapsed_us = us, "invocation done");
            }
            tracing::warn!(target: "plugboard_core::function", function = "items", elapsed_us = 9000u64, error = "trap: unreachable", "invocation failed");
            tracing::info!(target: "guest", function = "items", "hello from the guest");
            tracing::info!(target: "plugboard_local::dev", function = "items", "invocation"); // the gateway's line
            tracing::warn!(function = "gatekeeper", error = "bad token", "authorizer failed");
            tracing::info!(target: "plugboard_core::function", function = "web", elapsed_us = 500u64, "invocation done");
            let failure = "wasm trap: unreachable";
            tracing::error!(function = "web", %failure, "http guest failed; answering 500");
            tracing::warn!("no function named");
        });
        let summaries = activity.summaries();
        let items = &summaries["items"];
        assert_eq!((items.invocations, items.errors), (5, 1));
        assert_eq!((items.p50_ms, items.p99_ms), (Some(3.0), Some(9.0)));
        assert_eq!(items.last_error.as_deref(), Some("trap: unreachable"));
        assert_eq!(items.lines, ["WARN invocation failed: trap: unreachable", "INFO hello from the guest"]);
        assert_eq!(summaries["gatekeeper"].lines, ["WARN authorizer failed: bad token"]);
        let web = &summaries["web"];
        assert_eq!((web.invocations, web.errors), (1, 1), "a trap answered 500 is an error");
        assert_eq!(web.last_error.as_deref(), Some("http guest failed; answering 500: wasm trap: unreachable"));
        assert_eq!(summaries.len(), 3);
    }

    #[test]
    fn memory_stays_bounded() {
        let activity = Activity::default();
        for i in 0..(RECENT_DURATIONS + 10) {
            activity.invocation("f", i as f64, None);
            activity.line("f", "INFO", "x".repeat(MAX_LINE * 2));
        }
        let functions = activity.functions.lock().unwrap();
        let f = &functions["f"];
        assert_eq!((f.durations_ms.len(), f.lines.len()), (RECENT_DURATIONS, RECENT_LINES));
        assert!(f.lines[0].text.len() <= MAX_LINE + '…'.len_utf8());
        assert_eq!(f.invocations as usize, RECENT_DURATIONS + 10);
    }
}
