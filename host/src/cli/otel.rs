//! Traces over OpenTelemetry: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces-only variant) is
//! set, as the AWS Distro for OpenTelemetry's Lambda layer sets it, the host's invocation, record
//! and host-call spans are exported over OTLP/HTTP (protobuf), each invocation joined to the trace
//! Lambda gave it (the X-Ray trace id is the OpenTelemetry trace id).

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

use crate::telemetry::TraceContext;
use crate::telemetry::spans;

/// The variables that turn the exporter on.
const ENDPOINT_VARS: [&str; 2] = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];

/// The exporting layer and its provider (flushed after each Lambda invocation, shut down at exit),
/// when an endpoint is configured; a bad configuration is logged and exports nothing.
pub(super) fn layer<S>() -> Option<(Box<dyn Layer<S> + Send + Sync>, SdkTracerProvider)>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    if ENDPOINT_VARS.iter().all(|v| std::env::var_os(v).is_none_or(|e| e.is_empty())) {
        return None;
    }
    let exporter =
        match opentelemetry_otlp::SpanExporter::builder().with_http().with_protocol(Protocol::HttpBinary).build() {
            Ok(exporter) => exporter,
            Err(e) => {
                eprintln!("plugboard: OTLP exporter not started: {e}");
                return None;
            }
        };
    let service = std::env::var("OTEL_SERVICE_NAME")
        .or_else(|_| std::env::var("AWS_LAMBDA_FUNCTION_NAME"))
        .unwrap_or_else(|_| "plugboard".into());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("plugboard"))
        .with_filter(Targets::new().with_target("plugboard::span", tracing::Level::TRACE));
    spans::set_join(join);
    Some((Box::new(layer), provider))
}

/// Make `span` a child of the remote segment `trace` names (or, with none named, of the trace
/// itself under a fresh id), sampled unless the caller decided against it.
fn join(span: &tracing::Span, trace: &TraceContext) {
    let parent = trace.parent().filter(|p| *p != 0).unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0 | 1);
    let flags = if trace.unsampled() { TraceFlags::default() } else { TraceFlags::SAMPLED };
    let remote = SpanContext::new(TraceId::from(trace.id()), SpanId::from(parent), flags, true, TraceState::default());
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}
