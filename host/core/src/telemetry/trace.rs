//! The trace an invocation belongs to, in X-Ray's header form (what Lambda, SQS's
//! `AWSTraceHeader` and `X-Amzn-Trace-Id` carry) and as W3C `traceparent` for outbound HTTP.
//!
//! Parsed strictly: a header comes from outside (a client, a queue record), so only hex ids and a
//! short lineage survive, and what the host writes back out can carry nothing else.

use std::fmt;

/// The header Lambda, API Gateway and AWS SDKs carry a trace in.
pub const XRAY_HEADER: &str = "x-amzn-trace-id";
/// The W3C Trace Context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// The SQS system attribute a message's trace travels in.
pub const SQS_TRACE_ATTRIBUTE: &str = "AWSTraceHeader";

/// Longest `Lineage` value kept (Lambda's recursive-loop detection writes a few dozen bytes).
const MAX_LINEAGE: usize = 64;

/// One trace: its id, the segment that caused this work, and the sampling decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The 128-bit trace id (X-Ray: 32-bit epoch seconds then 96 random bits).
    trace_id: u128,
    /// The id of the segment (span) this work hangs under, when the caller named one.
    parent: Option<u64>,
    /// Whether the trace is sampled, when decided upstream.
    sampled: Option<bool>,
    /// Lambda's recursive-loop counter, kept so AWS can still stop an SQS → Lambda → SQS loop.
    lineage: Option<Box<str>>,
}

impl TraceContext {
    /// Parse an X-Ray header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;
    /// Sampled=1`); `None` when it has no valid root. Unknown fields are dropped.
    pub fn from_xray(header: &str) -> Option<TraceContext> {
        let (mut root, mut parent, mut sampled, mut lineage) = (None, None, None, None);
        for field in header.split(';') {
            let Some((key, value)) = field.trim().split_once('=') else { continue };
            match key {
                "Root" => root = parse_root(value),
                "Parent" => parent = parse_hex_u64(value),
                "Sampled" => {
                    sampled = match value {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    }
                }
                "Lineage" if is_lineage(value) => lineage = Some(value.into()),
                _ => {}
            }
        }
        Some(TraceContext { trace_id: root?, parent, sampled, lineage })
    }

    /// A new trace (for a request that arrived without one, e.g. in `plugboard dev`), in X-Ray's
    /// id form: the current epoch second then random bits.
    pub fn new_root() -> TraceContext {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or_default();
        let random = uuid::Uuid::new_v4().as_u128() & ((1u128 << 96) - 1);
        TraceContext { trace_id: (u128::from(secs) << 96) | random, parent: None, sampled: None, lineage: None }
    }

    /// The trace id as X-Ray prints it (`1-5759e988-bd862e3fe1be46a994272793`), for logs.
    pub fn trace_id(&self) -> TraceId {
        TraceId(self.trace_id)
    }

    /// The 128-bit trace id (what OpenTelemetry calls the trace id).
    pub fn id(&self) -> u128 {
        self.trace_id
    }

    /// The id of the segment this work hangs under, when the caller named one.
    pub fn parent(&self) -> Option<u64> {
        self.parent
    }

    /// Whether the caller decided against sampling this trace.
    pub fn unsampled(&self) -> bool {
        self.sampled == Some(false)
    }

    /// The W3C form of the trace id: 32 lowercase hex digits.
    pub fn w3c_trace_id(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The header to send with work this trace causes (`X-Amzn-Trace-Id`, `AWSTraceHeader`).
    pub fn xray_header(&self) -> String {
        let mut header = format!("Root={}", self.trace_id());
        if let Some(parent) = self.parent {
            header.push_str(&format!(";Parent={parent:016x}"));
        }
        if let Some(sampled) = self.sampled {
            header.push_str(if sampled { ";Sampled=1" } else { ";Sampled=0" });
        }
        if let Some(lineage) = &self.lineage {
            header.push_str(";Lineage=");
            header.push_str(lineage);
        }
        header
    }

    /// The W3C `traceparent` for an outbound request: the parent segment when known, else
    /// `span` (a fresh id for the request), since W3C requires one; sampled unless decided not.
    pub fn traceparent(&self, span: u64) -> String {
        let parent = self.parent.filter(|p| *p != 0).unwrap_or(span.max(1));
        let flags = if self.unsampled() { "00" } else { "01" };
        format!("00-{:032x}-{parent:016x}-{flags}", self.trace_id)
    }
}

/// A trace id printed in X-Ray's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId(u128);

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1-{:08x}-{:024x}", (self.0 >> 96) as u32, self.0 & ((1u128 << 96) - 1))
    }
}

/// `1-<8 hex>-<24 hex>` as one 128-bit id.
fn parse_root(value: &str) -> Option<u128> {
    let rest = value.strip_prefix("1-")?;
    let (time, random) = rest.split_once('-')?;
    if time.len() != 8 || random.len() != 24 || !is_hex(time) || !is_hex(random) {
        return None;
    }
    let id = (u128::from(u32::from_str_radix(time, 16).ok()?) << 96) | u128::from_str_radix(random, 16).ok()?;
    (id != 0).then_some(id)
}

/// Exactly 16 hex digits.
fn parse_hex_u64(value: &str) -> Option<u64> {
    (value.len() == 16 && is_hex(value)).then(|| u64::from_str_radix(value, 16).ok()).flatten()
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A lineage value as Lambda writes it, short: `|`-separated `<8 hex digits>:<counter>` entries
/// (`a87bd80c:1|68fd508a:5`).
fn is_lineage(value: &str) -> bool {
    let entry = |e: &str| {
        e.split_once(':').is_some_and(|(hash, counter)| {
            hash.len() == 8
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !counter.is_empty()
                && counter.len() <= 10
                && counter.bytes().all(|b| b.is_ascii_digit())
        })
    };
    value.len() <= MAX_LINEAGE && value.split('|').all(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn an_xray_header_round_trips_and_becomes_a_traceparent() {
        let trace = TraceContext::from_xray(HEADER).expect("a valid header");
        assert_eq!(trace.trace_id().to_string(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(trace.xray_header(), HEADER);
        assert_eq!(trace.traceparent(7), "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01");
        let unsampled = TraceContext::from_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0").unwrap();
        assert_eq!(unsampled.traceparent(0xab), "00-5759e988bd862e3fe1be46a994272793-00000000000000ab-00");
    }

    #[test]
    fn lineage_is_kept_and_anything_else_dropped() {
        let trace = TraceContext::from_xray(&format!("{HEADER};Lineage=a87bd80c:1;Self=1-abc;X=<script>")).unwrap();
        assert_eq!(trace.xray_header(), format!("{HEADER};Lineage=a87bd80c:1"));
        let chain = TraceContext::from_xray(&format!("{HEADER};Lineage=a87bd80c:1|68fd508a:5")).unwrap();
        assert_eq!(chain.xray_header(), format!("{HEADER};Lineage=a87bd80c:1|68fd508a:5"));
        let forged = TraceContext::from_xray(&format!("{HEADER};Lineage=a;b\r\nX-Evil: 1")).unwrap();
        assert_eq!(forged.xray_header(), HEADER, "a lineage with other bytes is dropped");
    }

    #[test]
    fn headers_without_a_valid_root_are_refused() {
        for bad in [
            "",
            "Parent=53995c3f42cd8ad8",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98-bd862e3fe1be46a9942727930",
            "Root=1-5759e988-bd862e3fe1be46a99427279g",
            "Root=1-00000000-000000000000000000000000",
            "Root=1-+759e988-bd862e3fe1be46a994272793",
        ] {
            assert_eq!(TraceContext::from_xray(bad), None, "{bad}");
        }
        let bad_parent = TraceContext::from_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz").unwrap();
        assert_eq!(bad_parent.xray_header(), "Root=1-5759e988-bd862e3fe1be46a994272793");
    }

    #[test]
    fn a_new_root_is_a_valid_xray_id_of_now() {
        let trace = TraceContext::new_root();
        let parsed = TraceContext::from_xray(&trace.xray_header()).expect("parses back");
        assert_eq!(parsed, trace);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let secs = u64::from_str_radix(&trace.trace_id().to_string()[2..10], 16).unwrap();
        assert!(now.abs_diff(secs) < 5, "{secs} vs {now}");
        assert_ne!(TraceContext::new_root(), trace);
    }
}
