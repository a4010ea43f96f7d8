//! Metrics on Lambda: one CloudWatch EMF document per invocation, written to stdout before the
//! response goes back (Lambda may freeze the process right after), with the cold start and its
//! phases on the first. `PLUGBOARD_METRICS=off` turns it off; `PLUGBOARD_METRICS_NAMESPACE`
//! and `PLUGBOARD_METRICS_DIMENSIONS` (`function`, `role`, comma-separated) shape it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use plugboard_core::events::FunctionError;
use plugboard_core::function::{Function, Invocation};
use plugboard_core::telemetry::emf::{Dimension, EmfSettings, InvocationIds, Preamble};
use plugboard_core::telemetry::{InvocationMetrics, Metric};

/// Turns metrics off.
pub const METRICS_VAR: &str = "PLUGBOARD_METRICS";
/// The CloudWatch namespace (default `Plugboard`).
pub const NAMESPACE_VAR: &str = "PLUGBOARD_METRICS_NAMESPACE";
/// The dimensions metrics are split by (default `function,role`).
pub const DIMENSIONS_VAR: &str = "PLUGBOARD_METRICS_DIMENSIONS";

/// How long each cold-start phase took, reported once, with the first invocation.
#[derive(Debug, Clone)]
pub struct ColdStart {
    started: Instant,
    last: Instant,
    phases: Vec<(Metric, Duration)>,
}

impl ColdStart {
    /// Phases measured from now (the process start, near enough).
    pub fn begin() -> ColdStart {
        let now = Instant::now();
        ColdStart { started: now, last: now, phases: Vec::new() }
    }

    /// End `phase` (one of the `Init*` metrics), begun when the previous one ended.
    pub fn lap(&mut self, phase: Metric) {
        let now = Instant::now();
        self.phases.push((phase, now - self.last));
        self.last = now;
    }

    /// The whole cold start so far.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The phases measured so far, in order.
    pub fn phases(&self) -> &[(Metric, Duration)] {
        &self.phases
    }
}

/// Most recorders kept for reuse: one per invocation in flight on a warm process is enough.
const SPARE_RECORDERS: usize = 8;

/// The metrics settings of this process, the cold start still to report, and the recorders of
/// finished invocations, kept so a warm invocation allocates nothing for its metrics.
pub struct Telemetry {
    emf: Option<EmfSettings>,
    cold_start: Mutex<Option<(ColdStart, Duration)>>,
    spare: Mutex<Vec<Arc<InvocationMetrics>>>,
    /// What the function's documents share, written on its first.
    preamble: OnceLock<Preamble>,
}

impl Telemetry {
    /// Read the settings from `var` (the process environment); a bad value fails the cold start.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Telemetry> {
        let emf = match var(METRICS_VAR).as_deref().map(str::trim) {
            Some("off") | Some("false") | Some("0") => None,
            None | Some("") | Some("emf") | Some("on") | Some("true") | Some("1") => Some(settings(&var)?),
            Some(other) => anyhow::bail!("{METRICS_VAR}={other}: expected `off` or `emf`"),
        };
        Ok(Telemetry { emf, cold_start: Mutex::new(None), spare: Mutex::default(), preamble: OnceLock::new() })
    }

    /// Whether metrics are written.
    pub fn enabled(&self) -> bool {
        self.emf.is_some()
    }

    /// Keep `cold_start` (ended at `ready`) for the first invocation's document.
    pub fn ready(&self, cold_start: ColdStart) {
        let total = cold_start.elapsed();
        *self.cold_start.lock().unwrap_or_else(|e| e.into_inner()) = Some((cold_start, total));
    }

    /// A recorder for one invocation (a finished one's, reset), when metrics are on.
    pub fn begin(&self) -> Option<Arc<InvocationMetrics>> {
        self.emf.as_ref()?;
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Some(spare.unwrap_or_else(|| Arc::new(InvocationMetrics::new())))
    }

    /// Record the invocation's own metrics and write its document to stdout.
    pub fn finish<T>(
        &self,
        function: &Function,
        invocation: Invocation,
        elapsed: Duration,
        result: &Result<T, FunctionError>,
    ) {
        // Unlocked: `write_all` locks once, for the one line, and only when metrics are on.
        self.finish_into(function, invocation, elapsed, result, std::io::stdout());
    }

    /// [`Telemetry::finish`], the document written to `out`; the recorder is kept for the next
    /// invocation unless something still holds it (a task the guest left running).
    pub fn finish_into<T>(
        &self,
        function: &Function,
        mut invocation: Invocation,
        elapsed: Duration,
        result: &Result<T, FunctionError>,
        out: impl Write,
    ) {
        let (Some(settings), Some(metrics)) = (&self.emf, invocation.metrics.take()) else { return };
        metrics.count(Metric::Invocations, 1);
        // 0 too: an error rate needs every invocation's value.
        metrics.count(Metric::Errors, u64::from(result.is_err()));
        metrics.time(Metric::Duration, elapsed);
        if let Some((cold, total)) = self.cold_start.lock().unwrap_or_else(|e| e.into_inner()).take() {
            metrics.count(Metric::ColdStart, 1);
            metrics.time(Metric::InitDuration, total);
            for (phase, took) in cold.phases {
                metrics.time(phase, took);
            }
        }
        let (name, role) = (function.name(), function.role().as_str());
        let ids = InvocationIds {
            request_id: &invocation.request_id,
            trace_id: invocation.trace.as_ref().map(|t| t.trace_id()),
        };
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        // The function's preamble, written once; another function's (a test's) built anew.
        let cached = self.preamble.get_or_init(|| Preamble::new(settings, name, role));
        let other;
        let preamble = if cached.is_for(name, role) {
            cached
        } else {
            other = Preamble::new(settings, name, role);
            &other
        };
        // One write of one line: Lambda takes each stdout line as one log event.
        if let Err(e) = metrics.write_document(preamble, &ids, now_ms, out) {
            tracing::warn!(error = %e, "writing the EMF metrics document failed");
        }
        self.recycle(metrics);
    }

    /// Keep a finished invocation's recorder, reset, unless something still holds it.
    fn recycle(&self, mut metrics: Arc<InvocationMetrics>) {
        if let Some(recorder) = Arc::get_mut(&mut metrics) {
            recorder.reset();
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            if spare.len() < SPARE_RECORDERS {
                spare.push(metrics);
            }
        }
    }
}

/// Namespace and dimensions from `var`.
fn settings(var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<EmfSettings> {
    let mut settings = EmfSettings::default();
    if let Some(namespace) = var(NAMESPACE_VAR).filter(|n| !n.trim().is_empty()) {
        // CloudWatch: 1-255 characters, no colon-only or control characters.
        anyhow::ensure!(
            namespace.len() <= 255 && !namespace.chars().any(char::is_control) && !namespace.starts_with(':'),
            "{NAMESPACE_VAR}: a CloudWatch namespace is 1-255 printable characters"
        );
        settings.namespace = namespace;
    }
    if let Some(list) = var(DIMENSIONS_VAR) {
        let dimensions: Vec<Dimension> = list
            .split(',')
            .filter(|d| !d.trim().is_empty())
            .map(|d| {
                Dimension::parse(d)
                    .ok_or_else(|| anyhow::anyhow!("{DIMENSIONS_VAR}: unknown dimension `{d}` (known: function, role)"))
            })
            .collect::<anyhow::Result<_>>()?;
        anyhow::ensure!(!dimensions.is_empty(), "{DIMENSIONS_VAR}: name at least one of function, role");
        settings.dimensions = dimensions;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry(vars: &[(&str, &str)]) -> anyhow::Result<Telemetry> {
        Telemetry::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn metrics_are_on_by_default_and_off_with_one_variable() {
        assert_eq!(telemetry(&[]).unwrap().emf, Some(EmfSettings::default()));
        assert!(!telemetry(&[(METRICS_VAR, "off")]).unwrap().enabled());
        assert!(telemetry(&[(METRICS_VAR, "off")]).unwrap().begin().is_none(), "no recorder when off");
        assert!(telemetry(&[(METRICS_VAR, "loud")]).is_err());
    }

    #[test]
    fn a_finished_recorder_is_reused_empty_unless_something_still_holds_it() {
        let t = telemetry(&[]).unwrap();
        let first = t.begin().unwrap();
        first.count(Metric::Invocations, 1);
        let address = Arc::as_ptr(&first);
        t.recycle(first);
        let second = t.begin().unwrap();
        assert_eq!(Arc::as_ptr(&second), address, "reused");
        let mut document = Vec::new();
        let preamble = Preamble::new(&EmfSettings::default(), "f", "http-api");
        let ids = InvocationIds { request_id: "r-2", trace_id: None };
        second.write_document(&preamble, &ids, 0, &mut document).unwrap();
        let document = String::from_utf8(document).unwrap();
        assert!(!document.contains("Invocations"), "and reset: {document}");
        let held = second.clone();
        t.recycle(second);
        assert_ne!(Arc::as_ptr(&t.begin().unwrap()), Arc::as_ptr(&held), "still held: not handed out again");
    }

    #[test]
    fn namespace_and_dimensions_are_configurable_and_checked() {
        let t = telemetry(&[(NAMESPACE_VAR, "Shop/Orders"), (DIMENSIONS_VAR, "function")]).unwrap();
        assert_eq!(t.emf, Some(EmfSettings { namespace: "Shop/Orders".into(), dimensions: vec![Dimension::Function] }));
        assert!(telemetry(&[(DIMENSIONS_VAR, "function,customer")]).is_err(), "no free-form dimensions");
        assert!(telemetry(&[(DIMENSIONS_VAR, " , ")]).is_err());
        assert!(telemetry(&[(NAMESPACE_VAR, &"n".repeat(256))]).is_err());
    }
}
