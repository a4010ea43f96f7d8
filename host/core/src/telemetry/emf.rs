//! CloudWatch Embedded Metric Format: one JSON document per invocation, which CloudWatch Logs
//! turns into metrics when Lambda writes it to the function's log (stdout).

use super::guest_metrics::GuestSeries;
use super::metrics::{Metric, Series, Unit};

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

/// The function an EMF document describes, and the invocation's ids (kept as properties, so a
/// metric can be traced back to its log lines without costing a dimension).
pub struct Subject<'a> {
    /// The function's name.
    pub function: &'a str,
    /// The function's role.
    pub role: &'a str,
    /// The invocation's request id.
    pub request_id: &'a str,
    /// The invocation's trace id, when it has one.
    pub trace_id: Option<String>,
}

/// One EMF document for the host's `metrics` and the guest's own `guest` metrics, stamped
/// `timestamp_ms` (epoch milliseconds), as one JSON line's bytes (without the newline). Written
/// straight into one buffer, not through a `serde_json::Value`: this runs before every response.
pub fn document(
    settings: &EmfSettings,
    subject: &Subject<'_>,
    metrics: &[(Metric, Series)],
    guest: &[GuestSeries],
    timestamp_ms: u64,
) -> Vec<u8> {
    let all = || {
        metrics
            .iter()
            .map(|(m, s)| (m.name(), m.unit(), s))
            .chain(guest.iter().map(|g| (g.name.as_str(), g.unit, &g.series)))
    };
    let mut out = Json(Vec::with_capacity(512 + 48 * (metrics.len() + guest.len())));
    out.raw(&format!("{{\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":[{{\"Namespace\":"));
    out.string(&settings.namespace);
    out.raw(",\"Dimensions\":[[");
    for (i, dimension) in settings.dimensions.iter().enumerate() {
        out.separator(i);
        out.string(dimension.as_str());
    }
    out.raw("]],\"Metrics\":[");
    for (i, (name, unit, _)) in all().enumerate() {
        out.separator(i);
        out.raw("{\"Name\":");
        out.string(name);
        out.raw(",\"Unit\":");
        out.string(unit.as_str());
        out.raw("}");
    }
    out.raw("]}]}");
    for dimension in &settings.dimensions {
        let value = match dimension {
            Dimension::Function => subject.function,
            Dimension::Role => subject.role,
        };
        out.property(dimension.as_str());
        out.string(value);
    }
    out.property("request_id");
    out.string(subject.request_id);
    if let Some(trace_id) = &subject.trace_id {
        out.property("trace_id");
        out.string(trace_id);
    }
    for (name, unit, series) in all() {
        out.property(name);
        match unit {
            Unit::Count => out.raw(&series.count.to_string()),
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
    out.0
}

/// A JSON text being written.
struct Json(Vec<u8>);

impl Json {
    fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// `text` as a JSON string, escaped by serde_json.
    fn string(&mut self, text: &str) {
        // Writing a `str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut self.0, text);
    }

    /// A finite number (durations are); anything else as `0`, so the line stays JSON.
    fn number(&mut self, value: f64) {
        if value.is_finite() {
            self.raw(&value.to_string());
        } else {
            self.raw("0");
        }
    }

    /// `,"name":` after the object's earlier members.
    fn property(&mut self, name: &str) {
        self.raw(",");
        self.string(name);
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

    #[test]
    fn a_document_names_every_metric_it_carries_under_one_dimension_set() {
        let metrics = vec![
            (Metric::Invocations, Series { count: 1, values: vec![], recorded: true }),
            (Metric::Duration, Series { count: 1, values: vec![2.5], recorded: true }),
            (Metric::KeyValueLatency, Series { count: 2, values: vec![0.4, 0.6], recorded: true }),
        ];
        let subject = Subject { function: "items", role: "http-api", request_id: "r-1", trace_id: None };
        let doc: Value =
            serde_json::from_slice(&document(&EmfSettings::default(), &subject, &metrics, &[], 1_700_000_000_000))
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
            serde_json::from_slice(&document(&EmfSettings::default(), &subject, &host, &guest, 1)).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Metrics"][1], json!({ "Name": "guest.orders", "Unit": "Count" }));
        assert_eq!(directive["Dimensions"], json!([["function", "role"]]));
        assert_eq!((doc["guest.orders"].clone(), doc["Invocations"].clone()), (json!(3), json!(1)));
    }

    #[test]
    fn text_is_escaped_and_the_line_stays_one_json_object() {
        let settings = EmfSettings { namespace: "Team \"A\"\n".into(), dimensions: vec![Dimension::Function] };
        let subject =
            Subject { function: "f\\n", role: "queue-worker", request_id: "r\u{1}", trace_id: Some("1-a".into()) };
        let timing = Series { count: 3, values: vec![0.0001, 1e21, f64::NAN], recorded: true };
        let line = document(&settings, &subject, &[(Metric::QueueLatency, timing)], &[], 7);
        assert!(!line.contains(&b'\n'), "one line");
        let doc: Value = serde_json::from_slice(&line).expect("JSON");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Team \"A\"\n");
        assert_eq!((doc["function"].as_str(), doc["request_id"].as_str()), (Some("f\\n"), Some("r\u{1}")));
        assert_eq!(doc["QueueLatency"], json!([0.0001, 1e21, 0]));
        assert!(doc.get("role").is_none(), "only the configured dimensions");
    }
}
