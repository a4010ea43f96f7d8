//! What operators see of a guest's work: the trace it belongs to (carried on everything it
//! causes) and, on Lambda, its metrics. A leaf: it knows nothing of capabilities or roles.

pub mod emf;
pub mod guest_metrics;
pub mod metrics;
pub mod spans;
pub mod trace;

pub use metrics::{HostCall, InvocationMetrics, Metric};
pub use trace::{TraceContext, TraceId};
