//! CloudWatch Embedded Metric Format: one JSON document per invocation, which CloudWatch Logs
//! turns into metrics when Lambda writes it to the function's log (stdout).

use serde_json::{Map, Value, json};

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
/// `timestamp_ms` (epoch milliseconds).
pub fn document(
    settings: &EmfSettings,
    subject: &Subject<'_>,
    metrics: &[(Metric, Series)],
    guest: &[GuestSeries],
    timestamp_ms: u64,
) -> String {
    let all: Vec<(&str, Unit, &Series)> = metrics
        .iter()
        .map(|(m, s)| (m.name(), m.unit(), s))
        .chain(guest.iter().map(|g| (g.name.as_str(), g.unit, &g.series)))
        .collect();
    let definitions: Vec<Value> =
        all.iter().map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() })).collect();
    let dimensions: Vec<&str> = settings.dimensions.iter().map(|d| d.as_str()).collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": settings.namespace,
                "Dimensions": [dimensions],
                "Metrics": definitions,
            }],
        }),
    );
    for dimension in &settings.dimensions {
        let value = match dimension {
            Dimension::Function => subject.function,
            Dimension::Role => subject.role,
        };
        root.insert(dimension.as_str().into(), value.into());
    }
    root.insert("request_id".into(), subject.request_id.into());
    if let Some(trace_id) = &subject.trace_id {
        root.insert("trace_id".into(), trace_id.as_str().into());
    }
    for (name, unit, series) in all {
        let value = match unit {
            Unit::Count => json!(series.count),
            Unit::Milliseconds if series.values.len() == 1 => json!(series.values[0]),
            Unit::Milliseconds => json!(series.values),
        };
        root.insert(name.into(), value);
    }
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
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
            serde_json::from_str(&document(&EmfSettings::default(), &subject, &metrics, &[], 1_700_000_000_000))
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
        let doc: Value = serde_json::from_str(&document(&EmfSettings::default(), &subject, &host, &guest, 1)).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Metrics"][1], json!({ "Name": "guest.orders", "Unit": "Count" }));
        assert_eq!(directive["Dimensions"], json!([["function", "role"]]));
        assert_eq!((doc["guest.orders"].clone(), doc["Invocations"].clone()), (json!(3), json!(1)));
    }
}
