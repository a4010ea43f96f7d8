//! CloudWatch Embedded Metric Format: one JSON document per invocation, which CloudWatch Logs
//! turns into metrics when Lambda writes it to the function's log (stdout).

use std::io::Write;

use super::guest_metrics::GuestSeries;
use super::metrics::{Metric, Series, Unit};
use super::trace::TraceId;

/// A dimension metrics are split by; fixed names, so no guest or event can add series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// The function's name.
    Function,
    /// The function's role.
    Role,
}

impl Dimension {
    /// The dimension's name in CloudWatch.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Function => "function",
            Dimension::Role => "role",
        }
    }

    /// The dimension a name stands for.
    pub fn parse(name: &str) -> Option<Dimension> {
        match name.trim() {
            "function" => Some(Dimension::Function),
            "role" => Some(Dimension::Role),
            _ => None,
        }
    }
}

/// Where and how metrics are reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfSettings {
    /// The CloudWatch namespace.
    pub namespace: String,
    /// The one dimension set every metric is reported under.
    pub dimensions: Vec<Dimension>,
}

impl Default for EmfSettings {
    fn default() -> Self {
        EmfSettings { namespace: "Plugboard".into(), dimensions: vec![Dimension::Function, Dimension::Role] }
    }
}

/// What every document of one function shares, escaped and written once per process: the
/// directive's namespace and dimension set, and the dimension values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preamble {
    /// `,"CloudWatchMetrics":[{"Namespace":…,"Dimensions":[[…]],"Metrics":[`
    directive: Vec<u8>,
    /// `,"function":"…","role":"…"` (the configured dimensions' values).
    dimensions: Vec<u8>,
    /// The function's name, to tell whether this preamble is the function's.
    function: String,
    /// The function's role.
    role: String,
}

impl Preamble {
    /// The preamble of `function`'s documents under `settings`.
    pub fn new(settings: &EmfSettings, function: &str, role: &str) -> Preamble {
        let mut directive = Vec::with_capacity(128);
        let mut out = Json(&mut directive);
        out.raw(",\"CloudWatchMetrics\":[{\"Namespace\":");
        out.value(settings.namespace.as_str());
        out.raw(",\"Dimensions\":[[");
        for (i, dimension) in settings.dimensions.iter().enumerate() {
            out.separator(i);
            out.value(dimension.as_str());
        }
        out.raw("]],\"Metrics\":[");
        let mut dimensions = Vec::with_capacity(64);
        let mut out = Json(&mut dimensions);
        for dimension in &settings.dimensions {
            out.property(dimension.as_str());
            out.value(match dimension {
                Dimension::Function => function,
                Dimension::Role => role,
            });
        }
        Preamble { directive, dimensions, function: function.to_string(), role: role.to_string() }
    }

    /// Whether this is the preamble of `function` in `role`.
    pub fn is_for(&self, function: &str, role: &str) -> bool {
        self.function == function && self.role == role
    }
}

/// The invocation a document reports, by its ids (kept as properties, so a metric can be traced
/// back to its log lines without costing a dimension).
pub struct InvocationIds<'a> {
    /// The invocation's request id.
    pub request_id: &'a str,
    /// The invocation's trace id, when it has one.
    pub trace_id: Option<TraceId>,
}

/// One EMF document for the host's `metrics` and the guest's own `guest` metrics, stamped
/// `timestamp_ms` (epoch milliseconds), appended to `out` as one JSON line (without the
/// newline). Written straight into the buffer, what is fixed per function taken from its
/// `preamble`, not through a `serde_json::Value`: this runs before every response.
pub fn document<'s>(
    out: &mut Vec<u8>,
    preamble: &Preamble,
    ids: &InvocationIds<'_>,
    metrics: impl Iterator<Item = (Metric, &'s Series)> + Clone,
    guest: &'s [GuestSeries],
    timestamp_ms: u64,
) {
    let all = || {
        metrics
            .clone()
            .map(|(m, s)| (MetricName::Host(m), m.unit(), s))
            .chain(guest.iter().map(|g| (MetricName::Guest(&g.name), g.unit, &g.series)))
    };
    let mut out = Json(out);
    out.raw("{\"_aws\":{\"Timestamp\":");
    out.value(&timestamp_ms);
    out.0.extend_from_slice(&preamble.directive);
    for (i, (name, unit, _)) in all().enumerate() {
        out.separator(i);
        match name {
            MetricName::Host(metric) => out.raw(metric.directive()),
            MetricName::Guest(_) => {
                out.raw("{\"Name\":\"");
                out.name(name);
                out.raw("\",\"Unit\":\"");
                out.raw(unit.as_str());
                out.raw("\"}");
            }
        }
    }
    out.raw("]}]}");
    out.0.extend_from_slice(&preamble.dimensions);
    out.property("request_id");
    out.value(ids.request_id);
    if let Some(trace_id) = ids.trace_id {
        out.property("trace_id");
        // `1-<hex>-<hex>`: nothing to escape.
        let _ = write!(out.0, "\"{trace_id}\"");
    }
    for (name, unit, series) in all() {
        out.raw(",\"");
        out.name(name);
        out.raw("\":");
        match unit {
            Unit::Count => out.value(&series.count),
            Unit::Milliseconds if series.values.len() == 1 => out.number(series.values[0]),
            Unit::Milliseconds => {
                out.raw("[");
                for (i, value) in series.values.iter().enumerate() {
                    out.separator(i);
                    out.number(*value);
                }
                out.raw("]");
            }
        }
    }
    out.raw("}");
}

/// A metric's name, and whether it can be trusted to need no escaping.
#[derive(Clone, Copy)]
enum MetricName<'a> {
    /// One of the host's own, an identifier.
    Host(Metric),
    /// A guest's, checked when it was recorded.
    Guest(&'a str),
}

/// A JSON text being written.
struct Json<'a>(&'a mut Vec<u8>);

impl Json<'_> {
    fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// A string (escaped) or an integer, written by serde_json.
    fn value(&mut self, value: &(impl serde::Serialize + ?Sized)) {
        // Writing a string or an integer into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *self.0, value);
    }

    /// A finite number (durations are); anything else as `0`, so the line stays JSON.
    fn number(&mut self, value: f64) {
        self.value(&if value.is_finite() { value } else { 0.0 });
    }

    /// A metric's name, unquoted. The host's are identifiers; a guest's are checked to be
    /// `[A-Za-z0-9_.-]` when recorded, and checked again here (anything else would be a host
    /// bug): escaped rather than trusted, so the line stays JSON even then.
    fn name(&mut self, name: MetricName<'_>) {
        match name {
            MetricName::Host(metric) => self.raw(metric.name()),
            MetricName::Guest(name) if name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) => {
                self.raw(name)
            }
            MetricName::Guest(name) => {
                let escaped = serde_json::to_string(name).unwrap_or_default();
                // Without the quotes serde_json put around it.
                self.raw(escaped.get(1..escaped.len().saturating_sub(1)).unwrap_or_default());
            }
        }
    }

    /// `,"name":` after the object's earlier members.
    fn property(&mut self, name: &str) {
        self.raw(",");
        self.value(name);
        self.raw(":");
    }

    fn separator(&mut self, index: usize) {
        if index > 0 {
            self.raw(",");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn pairs(metrics: &[(Metric, Series)]) -> impl Iterator<Item = (Metric, &Series)> + Clone {
        metrics.iter().map(|(m, s)| (*m, s))
    }

    /// The function and invocation a test document is for.
    struct Subject<'a> {
        function: &'a str,
        role: &'a str,
        request_id: &'a str,
        trace_id: Option<TraceId>,
    }

    fn doc<'s>(
        settings: &EmfSettings,
        subject: &Subject<'_>,
        metrics: impl Iterator<Item = (Metric, &'s Series)> + Clone,
        guest: &'s [GuestSeries],
        timestamp_ms: u64,
    ) -> Vec<u8> {
        let preamble = Preamble::new(settings, subject.function, subject.role);
        assert!(preamble.is_for(subject.function, subject.role) && !preamble.is_for(subject.function, "other"));
        let ids = InvocationIds { request_id: subject.request_id, trace_id: subject.trace_id };
        let mut out = Vec::new();
        document(&mut out, &preamble, &ids, metrics, guest, timestamp_ms);
        out
    }

    #[test]
    fn a_document_names_every_metric_it_carries_under_one_dimension_set() {
        let metrics = vec![
            (Metric::Invocations, Series { count: 1, values: vec![], recorded: true }),
            (Metric::Duration, Series { count: 1, values: vec![2.5], recorded: true }),
            (Metric::KeyValueLatency, Series { count: 2, values: vec![0.4, 0.6], recorded: true }),
        ];
        let subject = Subject { function: "items", role: "http-api", request_id: "r-1", trace_id: None };
        let doc: Value =
            serde_json::from_slice(&doc(&EmfSettings::default(), &subject, pairs(&metrics), &[], 1_700_000_000_000))
                .expect("JSON");
        let aws = &doc["_aws"];
        assert_eq!(aws["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(aws["CloudWatchMetrics"][0]["Dimensions"], json!([["function", "role"]]));
        assert_eq!(aws["CloudWatchMetrics"][0]["Metrics"][1], json!({ "Name": "Duration", "Unit": "Milliseconds" }));
        assert_eq!((doc["function"].as_str(), doc["role"].as_str()), (Some("items"), Some("http-api")));
        assert_eq!((doc["Invocations"].clone(), doc["Duration"].clone()), (json!(1), json!(2.5)));
        assert_eq!(doc["KeyValueLatency"], json!([0.4, 0.6]));
        assert!(doc.get("trace_id").is_none());
    }

    #[test]
    fn guest_metrics_follow_the_hosts_under_the_same_dimensions() {
        let guest = vec![GuestSeries {
            name: "guest.orders".into(),
            unit: Unit::Count,
            series: Series { count: 3, values: vec![], recorded: true },
        }];
        let host = vec![(Metric::Invocations, Series { count: 1, values: vec![], recorded: true })];
        let subject = Subject { function: "items", role: "http-api", request_id: "r-1", trace_id: None };
        let doc: Value =
            serde_json::from_slice(&doc(&EmfSettings::default(), &subject, pairs(&host), &guest, 1)).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Metrics"][1], json!({ "Name": "guest.orders", "Unit": "Count" }));
        assert_eq!(directive["Dimensions"], json!([["function", "role"]]));
        assert_eq!((doc["guest.orders"].clone(), doc["Invocations"].clone()), (json!(3), json!(1)));
    }

    #[test]
    fn text_is_escaped_and_the_line_stays_one_json_object() {
        let settings = EmfSettings { namespace: "Team \"A\"\n".into(), dimensions: vec![Dimension::Function] };
        let trace = crate::telemetry::TraceContext::from_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
        let trace_id = trace.map(|t| t.trace_id());
        let subject = Subject { function: "f\\n", role: "queue-worker", request_id: "r\u{1}", trace_id };
        let timing = Series { count: 3, values: vec![0.0001, 1e21, f64::NAN], recorded: true };
        // Guest names are checked when recorded; one that was not still cannot break the line.
        let unchecked =
            GuestSeries { name: "guest.a\"b".into(), unit: Unit::Count, series: Series { count: 1, ..timing.clone() } };
        let line = doc(&settings, &subject, pairs(&[(Metric::QueueLatency, timing)]), &[unchecked], 7);
        assert!(!line.contains(&b'\n'), "one line");
        let doc: Value = serde_json::from_slice(&line).expect("JSON");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Team \"A\"\n");
        assert_eq!((doc["function"].as_str(), doc["request_id"].as_str()), (Some("f\\n"), Some("r\u{1}")));
        assert_eq!(doc["QueueLatency"], json!([0.0001, 1e21, 0.0]));
        assert!(doc.get("role").is_none(), "only the configured dimensions");
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(doc["guest.a\"b"], 1);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"], "guest.a\"b");
    }
}
