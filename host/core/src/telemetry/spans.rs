//! Spans for invocations, queue records and host calls, for an OpenTelemetry exporter. They are
//! TRACE-level spans of target `plugboard::span`, which the log output never enables: without an
//! exporter's layer nothing is built, so logs and the hot path are as without them.

use std::sync::OnceLock;

use tracing::Span;

use super::{HostCall, TraceContext};

/// Joins a span to the trace its work belongs to (set once, by the process's exporter).
pub type JoinTrace = fn(&Span, &TraceContext);

static JOIN: OnceLock<JoinTrace> = OnceLock::new();

/// Make every invocation and record span continue its trace through `join` (the exporter's
/// remote-parent rule); later calls are ignored.
pub fn set_join(join: JoinTrace) {
    let _ = JOIN.set(join);
}

/// The span of one invocation of `function`, joined to `trace`.
pub fn invocation(function: &str, role: &str, request_id: &str, trace: Option<&TraceContext>) -> Span {
    let span =
        tracing::trace_span!(target: "plugboard::span", "invocation", otel.kind = "server", function, role, request_id);
    joined(span, trace)
}

/// The span of one queue record, joined to the trace of the send that queued it.
pub fn record(message_id: &str, trace: Option<&TraceContext>) -> Span {
    let span = tracing::trace_span!(target: "plugboard::span", "record", otel.kind = "consumer", message_id);
    joined(span, trace)
}

/// The span of one host call a guest made.
pub fn host_call(kind: HostCall) -> Span {
    tracing::trace_span!(target: "plugboard::span", "host call", otel.name = kind.name(), otel.kind = "client")
}

fn joined(span: Span, trace: Option<&TraceContext>) -> Span {
    if let (Some(join), Some(trace)) = (JOIN.get(), trace)
        && !span.is_disabled()
    {
        join(&span, trace);
    }
    span
}
