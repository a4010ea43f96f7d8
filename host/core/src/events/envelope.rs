//! The envelope an Event invoke's payload travels in: Lambda drops the client context of Event
//! invokes, so the nesting depth rides in the payload itself. Written by the Lambda invoker,
//! opened by the bootstrap and by `plugboard dev`'s Invoke API.

/// The client-context key carrying the nesting depth to the callee.
pub const DEPTH_KEY: &str = "plugboard-depth";

/// The key of the envelope an Event invoke's payload travels in: Lambda drops the client
/// context of Event invokes, so the depth rides in the payload itself,
/// `{"plugboard:event": {"depth": N}, "payload": ...}`.
pub(crate) const EVENT_ENVELOPE_KEY: &str = "plugboard:event";

/// `payload` (JSON text) wrapped with the callee's `depth`.
pub fn wrap_event(payload: &str, depth: u32) -> String {
    format!(r#"{{"{EVENT_ENVELOPE_KEY}":{{"depth":{depth}}},"payload":{payload}}}"#)
}

/// The payload and depth of an enveloped Event invoke (JSON text), or `event` itself with depth
/// 0. Only the outermost envelope is opened: a guest that sends an envelope of its own as its
/// payload cannot lower the depth its own invoke is given. A borrowed peek: the payload is a
/// slice of `event`.
pub fn unwrap_event(event: &str) -> (&str, u32) {
    /// Exactly the two fields [`wrap_event`] writes.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope<'a> {
        #[serde(rename = "plugboard:event")]
        meta: Meta,
        #[serde(borrow)]
        payload: &'a serde_json::value::RawValue,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        depth: u64,
    }
    match serde_json::from_str::<Envelope<'_>>(event) {
        Ok(envelope) => (envelope.payload.get(), u32::try_from(envelope.meta.depth).unwrap_or(u32::MAX)),
        Err(_) => (event, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::invoke::EVENT_ENVELOPE_BYTES;

    #[test]
    fn an_event_envelope_round_trips_and_only_the_outer_one_opens() {
        let inner = wrap_event(r#"{"a":1}"#, 0);
        let outer = wrap_event(&inner, 3);
        let (payload, depth) = unwrap_event(&outer);
        assert_eq!(depth, 3);
        assert_eq!(payload, inner);
        assert_eq!(unwrap_event(r#"{"payload": 1, "other": 2}"#), (r#"{"payload": 1, "other": 2}"#, 0));
        assert_eq!(unwrap_event("[1]"), ("[1]", 0));
        assert!(wrap_event("{}", u32::MAX).len() - 2 <= EVENT_ENVELOPE_BYTES);
    }
}
