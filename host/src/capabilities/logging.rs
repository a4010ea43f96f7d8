//! `wasi:logging/logging`: guest log lines become host `tracing` events tagged as guest output.

use wasmtime::component::{HasData, Linker};

use crate::bindings::wasi::logging::logging::{self, Level};

/// Longest guest log message kept; the rest is cut so a guest cannot flood the log.
const MAX_MESSAGE: usize = 16 * 1024;

/// The guest-facing view for logging.
pub struct LoggingView<'a> {
    /// The function the guest belongs to.
    pub function: &'a str,
    /// The request being served.
    pub request_id: &'a str,
}

struct HasLogging;

impl HasData for HasLogging {
    type Data<'a> = LoggingView<'a>;
}

/// Link `wasi:logging/logging` into `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> LoggingView<'_>,
) -> wasmtime::Result<()> {
    logging::add_to_linker::<T, HasLogging>(linker, view)
}

impl logging::Host for LoggingView<'_> {
    async fn log(&mut self, level: Level, context: String, mut message: String) -> wasmtime::Result<()> {
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("…[truncated]");
        }
        let (function, request_id) = (self.function, self.request_id);
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(target: "guest", function, request_id, context, "{message}")
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
