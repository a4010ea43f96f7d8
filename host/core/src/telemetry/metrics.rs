//! What one invocation measured, aggregated in place (no allocation per host call) and written
//! once at its end as one EMF document ([`super::emf`]).

use std::sync::Mutex;
use std::time::Duration;

use super::emf::{self, InvocationIds, Preamble};
use super::guest_metrics::{self, GuestMetricError, GuestSample, GuestSeries};

/// Most values kept per timing metric: EMF's limit for one metric in one document. Counts stay
/// exact past it; only the individual latencies beyond the first hundred are dropped.
pub const MAX_VALUES: usize = 100;

/// How a metric is aggregated and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A sum of events.
    Count,
    /// Individual durations, in milliseconds.
    Milliseconds,
}

impl Unit {
    /// The unit's name in CloudWatch.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

macro_rules! metrics {
    ($($(#[doc = $doc:literal])* $name:ident: $unit:ident,)*) => {
        /// Every metric the host reports; names are fixed, so a guest cannot add series.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Metric {
            $($(#[doc = $doc])* $name,)*
        }

        impl Metric {
            /// All metrics, in report order.
            pub const ALL: &'static [Metric] = &[$(Metric::$name,)*];

            /// The metric's name in CloudWatch.
            pub fn name(self) -> &'static str {
                match self {
                    $(Metric::$name => stringify!($name),)*
                }
            }

            /// How it is aggregated.
            pub fn unit(self) -> Unit {
                match self {
                    $(Metric::$name => Unit::$unit,)*
                }
            }

            /// Its entry in an EMF directive's metric list, written once at compile time
            /// (the unit's variant name is its CloudWatch name).
            pub fn directive(self) -> &'static str {
                match self {
                    $(Metric::$name => concat!(
                        "{\"Name\":\"", stringify!($name), "\",\"Unit\":\"", stringify!($unit), "\"}"
                    ),)*
                }
            }
        }
    };
}

metrics! {
    /// One per invocation.
    Invocations: Count,
    /// 1 when the invocation returned a function error (0 otherwise, so rates need no fill).
    Errors: Count,
    /// Event in to response out.
    Duration: Milliseconds,
    /// 1 on the first invocation of a process.
    ColdStart: Count,
    /// Process start to ready, on the first invocation.
    InitDuration: Milliseconds,
    /// Cold-start phase: AWS SDK configuration.
    InitSdkConfig: Milliseconds,
    /// Cold-start phase: the function's configuration and its secrets.
    InitConfig: Milliseconds,
    /// Cold-start phase: engine, linker and pooling allocator.
    InitEngine: Milliseconds,
    /// Cold-start phase: fetching, checking and loading the guest.
    InitGuest: Milliseconds,
    /// Cold-start phase: AWS clients and the function.
    InitClients: Milliseconds,
    /// A guest instance created, per guest call.
    GuestInstantiate: Milliseconds,
    /// Guest calls that returned normally.
    GuestOk: Count,
    /// Guest calls that returned the guest's own error (a failed message, an internal-api error).
    GuestErrors: Count,
    /// Guest calls that trapped.
    GuestTraps: Count,
    /// Guest calls stopped at the deadline.
    GuestDeadlines: Count,
    /// Guest calls stopped at the memory cap.
    GuestMemoryCaps: Count,
    /// Key-value operations.
    KeyValueCalls: Count,
    /// Key-value operations that failed.
    KeyValueErrors: Count,
    /// Key-value operation latency.
    KeyValueLatency: Milliseconds,
    /// Queue sends.
    QueueCalls: Count,
    /// Queue sends that failed.
    QueueErrors: Count,
    /// Queue send latency.
    QueueLatency: Milliseconds,
    /// Invokes of other functions.
    InvokeCalls: Count,
    /// Invokes that failed.
    InvokeErrors: Count,
    /// Invoke latency.
    InvokeLatency: Milliseconds,
    /// Outbound HTTP requests.
    HttpCalls: Count,
    /// Outbound HTTP requests that failed (denied, refused, timed out; not a 5xx answer).
    HttpErrors: Count,
    /// Outbound HTTP latency to the response headers.
    HttpLatency: Milliseconds,
    /// Records in an SQS batch.
    BatchRecords: Count,
    /// Records reported back for retry.
    BatchItemFailures: Count,
    /// Authorizer decisions that allowed.
    AuthorizerAllow: Count,
    /// Authorizer decisions that denied.
    AuthorizerDeny: Count,
    /// Authorizer calls refused without a decision (401).
    AuthorizerUnauthorized: Count,
}

/// The kind of host call a guest made, for the per-capability metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCall {
    /// A `wasi:keyvalue` operation.
    KeyValue,
    /// A queue send.
    Queue,
    /// An invoke.
    Invoke,
    /// An outbound HTTP request.
    Http,
}

impl HostCall {
    /// Its name in spans.
    pub fn name(self) -> &'static str {
        match self {
            HostCall::KeyValue => "keyvalue",
            HostCall::Queue => "queue",
            HostCall::Invoke => "invoke",
            HostCall::Http => "http",
        }
    }

    /// Its (count, errors, latency) metrics.
    fn metrics(self) -> (Metric, Metric, Metric) {
        match self {
            HostCall::KeyValue => (Metric::KeyValueCalls, Metric::KeyValueErrors, Metric::KeyValueLatency),
            HostCall::Queue => (Metric::QueueCalls, Metric::QueueErrors, Metric::QueueLatency),
            HostCall::Invoke => (Metric::InvokeCalls, Metric::InvokeErrors, Metric::InvokeLatency),
            HostCall::Http => (Metric::HttpCalls, Metric::HttpErrors, Metric::HttpLatency),
        }
    }
}

/// One metric's aggregate: a count, or the values recorded (at most [`MAX_VALUES`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Sum of counts, or number of values recorded.
    pub count: u64,
    /// The timing values kept, in milliseconds.
    pub values: Vec<f64>,
    /// Whether anything was recorded (a count of 0 is reported: "no failures" is a value).
    pub recorded: bool,
}

/// What one invocation measured; shared by every guest call and host call it makes.
/// Reusable: [`InvocationMetrics::reset`] keeps every buffer's capacity, so a warm process
/// records and reports an invocation without allocating.
#[derive(Debug)]
pub struct InvocationMetrics {
    series: Mutex<Vec<Series>>,
    guest: Mutex<Vec<GuestSeries>>,
    /// The buffer the document is written into.
    line: Mutex<Vec<u8>>,
}

impl Default for InvocationMetrics {
    fn default() -> Self {
        InvocationMetrics::new()
    }
}

impl InvocationMetrics {
    /// Nothing measured yet.
    pub fn new() -> Self {
        InvocationMetrics {
            series: Mutex::new(vec![Series::default(); Metric::ALL.len()]),
            guest: Mutex::default(),
            line: Mutex::new(Vec::with_capacity(1024)),
        }
    }

    /// Forget what was measured, for the next invocation; buffers keep their capacity.
    pub fn reset(&mut self) {
        for series in self.series.get_mut().unwrap_or_else(|e| e.into_inner()) {
            series.count = 0;
            series.values.clear();
            series.recorded = false;
        }
        self.guest.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
        self.line.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<Series>) -> R) -> R {
        f(&mut self.series.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Add `n` to a count metric.
    pub fn count(&self, metric: Metric, n: u64) {
        self.with(|series| {
            let series = &mut series[metric as usize];
            series.count += n;
            series.recorded = true;
        });
    }

    /// Record one duration of a timing metric.
    pub fn time(&self, metric: Metric, elapsed: Duration) {
        self.with(|series| push_time(&mut series[metric as usize], elapsed));
    }

    /// Record one host call: its count, whether it failed, its latency.
    pub fn host_call(&self, kind: HostCall, elapsed: Duration, failed: bool) {
        let (calls, errors, latency) = kind.metrics();
        self.with(|series| {
            series[calls as usize].count += 1;
            series[errors as usize].count += u64::from(failed);
            series[calls as usize].recorded = true;
            series[errors as usize].recorded = true;
            push_time(&mut series[latency as usize], elapsed);
        });
    }

    /// Record a value the guest reported, within the per-invocation bounds.
    pub fn guest(&self, sample: GuestSample) -> Result<(), GuestMetricError> {
        guest_metrics::record(&mut self.guest.lock().unwrap_or_else(|e| e.into_inner()), sample)
    }

    /// What was measured: each metric something was recorded for, in report order (the tests'
    /// view; the host writes the document from the aggregates in place).
    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> Vec<(Metric, Series)> {
        self.with(|series| recorded(series).map(|(m, s)| (m, s.clone())).collect())
    }

    /// Write the invocation's EMF document ([`emf::document`]) and a newline to `out` in one
    /// write, from the aggregates in place, through this recorder's own buffer.
    pub fn write_document(
        &self,
        preamble: &Preamble,
        ids: &InvocationIds<'_>,
        timestamp_ms: u64,
        mut out: impl std::io::Write,
    ) -> std::io::Result<()> {
        let mut line = self.line.lock().unwrap_or_else(|e| e.into_inner());
        line.clear();
        {
            let guest = self.guest.lock().unwrap_or_else(|e| e.into_inner());
            self.with(|series| emf::document(&mut line, preamble, ids, recorded(series), &guest, timestamp_ms));
        }
        line.push(b'\n');
        out.write_all(&line)
    }
}

/// The metrics of `series` (indexed by [`Metric`]) something was recorded for, in report order.
fn recorded(series: &[Series]) -> impl Iterator<Item = (Metric, &Series)> + Clone {
    Metric::ALL.iter().copied().zip(series).filter(|(_, s)| s.recorded)
}

fn push_time(series: &mut Series, elapsed: Duration) {
    series.count += 1;
    series.recorded = true;
    if series.values.len() < MAX_VALUES {
        series.values.push((elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_within_cloudwatch_rules() {
        let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert!(names.len() < 100, "EMF's limit is 100 metrics per document");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
        assert!(Metric::ALL.iter().enumerate().all(|(i, m)| *m as usize == i));
    }

    #[test]
    fn each_directive_entry_names_the_metric_and_its_cloudwatch_unit() {
        for metric in Metric::ALL {
            let entry: serde_json::Value = serde_json::from_str(metric.directive()).unwrap();
            assert_eq!(entry, serde_json::json!({ "Name": metric.name(), "Unit": metric.unit().as_str() }));
        }
    }

    #[test]
    fn timings_keep_at_most_the_emf_limit_and_counts_stay_exact() {
        let metrics = InvocationMetrics::new();
        for _ in 0..150 {
            metrics.host_call(HostCall::KeyValue, Duration::from_micros(1500), false);
        }
        metrics.host_call(HostCall::KeyValue, Duration::from_micros(250), true);
        metrics.count(Metric::Errors, 0);
        let snapshot = metrics.snapshot();
        let get = |m: Metric| snapshot.iter().find(|(x, _)| *x == m).map(|(_, s)| s.clone());
        assert_eq!(get(Metric::KeyValueCalls).unwrap().count, 151);
        assert_eq!(get(Metric::KeyValueErrors).unwrap().count, 1);
        let latency = get(Metric::KeyValueLatency).unwrap();
        assert_eq!((latency.count, latency.values.len(), latency.values[0]), (151, MAX_VALUES, 1.5));
        assert_eq!(get(Metric::Errors).map(|s| s.count), Some(0), "a count of zero is reported");
        assert_eq!(get(Metric::QueueCalls), None, "nothing recorded, nothing reported");
    }

    #[test]
    fn a_reset_recorder_reports_only_what_came_after() {
        let mut metrics = InvocationMetrics::new();
        metrics.host_call(HostCall::Queue, Duration::from_millis(3), true);
        metrics.guest(GuestSample::parse("orders 2").unwrap()).unwrap();
        let preamble = Preamble::new(&emf::EmfSettings::default(), "f", "queue-worker");
        let ids = InvocationIds { request_id: "r-1", trace_id: None };
        let mut before = Vec::new();
        metrics.write_document(&preamble, &ids, 1, &mut before).unwrap();
        assert!(before.ends_with(b"}\n") && before.windows(10).any(|w| w == b"QueueCalls"));
        metrics.reset();
        metrics.count(Metric::Invocations, 1);
        let mut after = Vec::new();
        metrics.write_document(&preamble, &ids, 2, &mut after).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&after).unwrap();
        let names = &doc["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        assert_eq!(names, &serde_json::json!([{ "Name": "Invocations", "Unit": "Count" }]), "{doc}");
        assert!(doc.get("QueueCalls").is_none() && doc.get("guest.orders").is_none());
    }
}
