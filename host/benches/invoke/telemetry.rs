//! What one invocation's metrics cost: the same event through each role as the bootstrap handles
//! it with metrics on (every host call counted and timed, the document written) minus with
//! `PLUGBOARD_METRICS=off`, timed in turn in the same loop — the latency Lambda sees added
//! before the response.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use plugboard::function::{Function, Invocation};
use plugboard::lambda::telemetry::Telemetry;
use plugboard::telemetry::emf::{EmfSettings, InvocationIds, Preamble};
use plugboard::telemetry::{HostCall, InvocationMetrics, Metric};

/// One invocation recorded as the bootstrap records it (a warm process's reused recorder, when
/// metrics are on), its document written to a sink instead of stdout.
async fn as_the_bootstrap(f: &Function, event: &str, telemetry: &Telemetry) {
    let invocation = Invocation { request_id: "r-1".into(), metrics: telemetry.begin(), ..Invocation::default() };
    let started = Instant::now();
    let result = f.invoke_json(event, invocation.clone()).await;
    telemetry.finish_into(f, invocation, started.elapsed(), &result, std::io::sink());
    black_box(result.map(|r| r.get().len()).ok());
}

/// Per role: the added time of recording and building the document.
pub fn emf_overhead(c: &mut Criterion, events: &[(Arc<Function>, Vec<u8>)]) {
    let rt = tokio::runtime::Runtime::new().unwrap();

    let mut group = c.benchmark_group("EMF metrics added");
    for (f, bytes) in events {
        // One per function, as on Lambda (its preamble is the function's).
        let on = Telemetry::from_vars(|_| None).unwrap();
        let off = Telemetry::from_vars(|name| (name == "PLUGBOARD_METRICS").then(|| "off".to_string())).unwrap();
        let text = std::str::from_utf8(bytes).unwrap();
        group.bench_function(BenchmarkId::new("metrics", f.role().as_str()), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (f, on, off) = (f.clone(), &on, &off);
                async move {
                    let metrics_on = async || as_the_bootstrap(&f, text, on).await;
                    super::interleaved_difference(iters, 1, metrics_on, async || as_the_bootstrap(&f, text, off).await)
                        .await
                }
            })
        });
    }
    group.finish();
}

/// What recording a typical invocation on a reused recorder (outcome, duration, instantiate,
/// two key-value calls) and writing its document cost on their own, without a guest: the part
/// the interleaved figure above is too noisy to show below a microsecond.
pub fn emf_document(c: &mut Criterion) {
    let preamble = Preamble::new(&EmfSettings::default(), "items", "http-api");
    c.bench_function("EMF document/record + write", |b| {
        let mut metrics = InvocationMetrics::new();
        let mut sink = Vec::with_capacity(1024);
        b.iter(|| {
            metrics.reset();
            metrics.time(Metric::GuestInstantiate, Duration::from_micros(9));
            metrics.count(Metric::GuestOk, 1);
            metrics.host_call(HostCall::KeyValue, Duration::from_micros(410), false);
            metrics.host_call(HostCall::KeyValue, Duration::from_micros(380), false);
            metrics.count(Metric::Invocations, 1);
            metrics.count(Metric::Errors, 0);
            metrics.time(Metric::Duration, Duration::from_micros(1900));
            let ids = InvocationIds { request_id: "5c1e0d2a-8b1f-4f7e", trace_id: None };
            sink.clear();
            metrics.write_document(&preamble, &ids, 1_700_000_000_000, &mut sink).unwrap();
            black_box(sink.len())
        })
    });
}
