//! Traces over OpenTelemetry: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces-only variant) is
//! set, as the AWS Distro for OpenTelemetry's Lambda layer sets it, the host's invocation, record
//! and host-call spans are exported over OTLP/HTTP (protobuf), each invocation joined to the trace
//! Lambda gave it (the X-Ray trace id is the OpenTelemetry trace id).

use std::time::Duration;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider};
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
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

/// The timeout variables, most specific first, in milliseconds as the OTLP exporter reads them.
const TIMEOUT_VARS: [&str; 2] = ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"];
/// The specification's default export timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The exporting layer and its provider (flushed after each Lambda invocation, shut down at exit),
/// when an endpoint is configured; a bad configuration is logged and exports nothing. Exports
/// run on `runtime`.
pub(super) fn layer<S>(runtime: &tokio::runtime::Handle) -> Option<(Box<dyn Layer<S> + Send + Sync>, SdkTracerProvider)>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    if ENDPOINT_VARS.iter().all(|v| std::env::var_os(v).is_none_or(|e| e.is_empty())) {
        return None;
    }
    let client = OnRuntime {
        client: HyperClient::with_default_connector(export_timeout(|v| std::env::var(v).ok()), None),
        runtime: runtime.clone(),
    };
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(client)
        .build()
    {
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

/// One export request's timeout: the first timeout variable set to a number, else the default.
fn export_timeout(var: impl Fn(&str) -> Option<String>) -> Duration {
    TIMEOUT_VARS.iter().find_map(|name| var(name)?.trim().parse().ok()).map_or(DEFAULT_TIMEOUT, Duration::from_millis)
}

/// The exporter's HTTP client: hyper (already linked for the AWS SDK and outbound HTTP) on the
/// host's tokio runtime. The SDK's batch processor exports from its own thread, which has no
/// reactor, so each request is spawned onto the runtime and awaited from that thread.
#[derive(Debug)]
struct OnRuntime {
    client: HyperClient,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime.spawn(async move { client.send_bytes(request).await }).await?
    }
}

/// Make `span` a child of the remote segment `trace` names (or, with none named, of the trace
/// itself under a fresh id), sampled unless the caller decided against it.
fn join(span: &tracing::Span, trace: &TraceContext) {
    let parent = trace.parent().filter(|p| *p != 0).unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0 | 1);
    let flags = if trace.unsampled() { TraceFlags::default() } else { TraceFlags::SAMPLED };
    let remote = SpanContext::new(TraceId::from(trace.id()), SpanId::from(parent), flags, true, TraceState::default());
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The timeout `export_timeout` reads from these variables.
    fn timeout_with(set: &[(&str, &str)]) -> Duration {
        export_timeout(|name| set.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn the_traces_timeout_wins_over_the_general_one_and_junk_is_skipped() {
        assert_eq!(timeout_with(&[]), DEFAULT_TIMEOUT);
        assert_eq!(timeout_with(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")]), Duration::from_millis(2500));
        let both = [("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "300"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")];
        assert_eq!(timeout_with(&both), Duration::from_millis(300));
        let junk = [("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")];
        assert_eq!(timeout_with(&junk), Duration::from_millis(2500));
    }
}
