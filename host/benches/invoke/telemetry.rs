//! What one invocation's metrics cost: the same event through each role with an EMF recorder
//! (every host call counted and timed) and its document built, minus the same event without,
//! timed in turn in the same loop — the latency Lambda sees added before the response.

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use plugboard::function::{Function, Invocation};
use plugboard::telemetry::emf::{self, EmfSettings, Subject};
use plugboard::telemetry::{InvocationMetrics, Metric};

/// One invocation recorded as the bootstrap records it, its document written to a sink.
async fn with_metrics(f: &Function, event: &str, settings: &EmfSettings) {
    let metrics = Arc::new(InvocationMetrics::new());
    let invocation = Invocation { request_id: "r-1".into(), metrics: Some(metrics.clone()), ..Invocation::default() };
    let started = Instant::now();
    let result = f.invoke_json(event, invocation).await;
    metrics.count(Metric::Invocations, 1);
    metrics.count(Metric::Errors, u64::from(result.is_err()));
    metrics.time(Metric::Duration, started.elapsed());
    let subject = Subject { function: f.name(), role: f.role().as_str(), request_id: "r-1", trace_id: None };
    let mut line = emf::document(settings, &subject, &metrics.snapshot(), &metrics.guest_snapshot(), 1_700_000_000_000);
    line.push(b'\n');
    std::io::sink().write_all(&line).unwrap();
    black_box(result.map(|r| r.get().len()).ok());
}

/// Per role: the added time of recording and building the document.
pub fn emf_overhead(c: &mut Criterion, events: &[(Arc<Function>, Vec<u8>)]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let settings = EmfSettings::default();
    let mut group = c.benchmark_group("EMF metrics added");
    for (f, bytes) in events {
        let text = std::str::from_utf8(bytes).unwrap();
        group.bench_function(BenchmarkId::new("metrics", f.role().as_str()), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (f, settings) = (f.clone(), &settings);
                async move {
                    let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
                    for _ in 0..iters {
                        let t = Instant::now();
                        with_metrics(&f, text, settings).await;
                        with += t.elapsed();
                        let t = Instant::now();
                        black_box(f.invoke_json(text, Invocation::default()).await.map(|r| r.get().len()).ok());
                        without += t.elapsed();
                    }
                    // For the cheapest role the difference is within one loop's noise and can
                    // come out negative: report it as (nearly) nothing rather than zero time,
                    // which criterion refuses.
                    with.saturating_sub(without).max(Duration::from_nanos(iters))
                }
            })
        });
    }
    group.finish();
}
