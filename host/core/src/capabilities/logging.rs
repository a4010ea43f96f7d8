//! `wasi:logging/logging`: guest log lines become host `tracing` events tagged as guest output;
//! lines in the metric context are the guest's own metrics ([`crate::telemetry::guest_metrics`]).

use wasmtime::component::{HasData, Linker};

use crate::capabilities::bindings::wasi::logging::logging::{self, Level};
use crate::telemetry::guest_metrics::{GuestSample, METRIC_CONTEXT};

/// Longest guest log message kept; the rest is cut so a guest cannot flood the log.
const MAX_MESSAGE: usize = 16 * 1024;
/// Longest guest log context kept: it names where a line comes from, not what happened.
const MAX_CONTEXT: usize = 256;

/// The guest-facing view for logging.
pub(crate) struct LoggingView<'a> {
    /// The function the guest belongs to.
    pub function: &'a str,
    /// The call being served (request id and trace, for every line).
    pub call: &'a super::CallInfo,
}

struct HasLogging;

impl HasData for HasLogging {
    type Data<'a> = LoggingView<'a>;
}

/// Link `wasi:logging/logging` into `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> LoggingView<'_>,
) -> wasmtime::Result<()> {
    logging::add_to_linker::<T, HasLogging>(linker, view)
}

impl logging::Host for LoggingView<'_> {
    async fn log(&mut self, level: Level, mut context: String, mut message: String) -> wasmtime::Result<()> {
        let (function, request_id, trace_id) = (self.function, &self.call.request_id, self.call.trace_id());
        if context == METRIC_CONTEXT {
            // A metric: recorded on Lambda (its EMF line reports it), logged where none is kept.
            let recorded = GuestSample::parse(&message).and_then(|sample| match &self.call.metrics {
                Some(metrics) => metrics.guest(sample).map(|()| true),
                None => Ok(false),
            });
            match recorded {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(error) => {
                    let line = for_log(&message);
                    tracing::warn!(target: "guest", function, request_id, trace_id, %error, "metric refused: {line}");
                    return Ok(());
                }
            }
        }
        truncate(&mut message, MAX_MESSAGE);
        truncate(&mut context, MAX_CONTEXT);
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(target: "guest", function, request_id, trace_id, context, "{message}")
            };
        }
        match level {
            Level::Trace => emit!(trace),
            Level::Debug => emit!(debug),
            Level::Info => emit!(info),
            Level::Warn => emit!(warn),
            Level::Error | Level::Critical => emit!(error),
        }
        Ok(())
    }
}

/// Guest text (an error reason, a message) as the host logs it: cut at the message limit, so no
/// single log line is as large as the guest's memory.
pub(crate) fn for_log(text: &str) -> std::borrow::Cow<'_, str> {
    match cut_at(text, MAX_MESSAGE) {
        None => text.into(),
        Some(cut) => format!("{}…[truncated]", &text[..cut]).into(),
    }
}

/// Cut `text` to at most `max` bytes (on a character boundary), marking the cut.
fn truncate(text: &mut String, max: usize) {
    if let Some(cut) = cut_at(text, max) {
        text.truncate(cut);
        text.push_str("…[truncated]");
    }
}

/// Where to cut `text` to keep at most `max` bytes on a character boundary; `None` when it fits.
fn cut_at(text: &str, max: usize) -> Option<usize> {
    (text.len() > max).then(|| (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let mut text = "é".repeat(10);
        truncate(&mut text, 5);
        assert_eq!(text, "éé…[truncated]");
        let mut short = "ok".to_string();
        truncate(&mut short, 5);
        assert_eq!(short, "ok");
    }
}
