//! What a case's invocation logged at WARN and above — a role's reason for a failed message or
//! a denial, the guest's own error lines — kept to show under a failed case, since `plugboard
//! test` otherwise prints only its report.

use std::io;
use std::sync::{Arc, Mutex};

/// The lines one invocation logged.
#[derive(Clone, Default)]
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
}

/// Most bytes kept per case: a looping guest's flood stays bounded.
const MAX_BYTES: usize = 16 * 1024;

impl CapturedLogs {
    /// A subscriber that writes WARN and above, plain text without time, into this buffer.
    pub fn dispatch(&self) -> tracing::Dispatch {
        let buffer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .with_writer(move || buffer.clone())
            .finish();
        tracing::Dispatch::new(subscriber)
    }

    /// The lines captured so far.
    pub fn lines(&self) -> Vec<String> {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buffer).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
    }
}

impl io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = MAX_BYTES.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
