//! `plugboard:host/queue` over a [`QueueBackend`]; SQS's message rules are checked here, once.

mod link;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use wasmtime::component::Linker;

use super::{CallInfo, DeadlineExceeded, bounded};
use crate::capabilities::bindings::plugboard::host::queue::Error;
use crate::telemetry::{HostCall, TraceContext};

pub use crate::capabilities::bindings::plugboard::host::queue::{AttributeValue, OutgoingMessage};

/// SQS's limit on one message, body and attributes together, and on one batch.
pub(crate) const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SQS's limit on entries in one `SendMessageBatch`.
pub(crate) const MAX_BATCH: usize = 10;
/// SQS's limit on message attributes.
pub(crate) const MAX_ATTRIBUTES: usize = 10;
/// SQS's limit on a message group id or deduplication id.
pub(crate) const MAX_ID_BYTES: usize = 128;
/// SQS's longest per-message delay.
pub(crate) const MAX_DELAY_SECONDS: u32 = 900;

/// Why a send failed; everything but `Trap` reaches the guest as the WIT error.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue name was not granted to this function.
    #[error("access denied")]
    AccessDenied,
    /// The granted queue does not exist.
    #[error("no such queue")]
    NoSuchQueue,
    /// The message breaks a queue rule.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// Any other failure, with the backend's code in the text.
    #[error("{0}")]
    Other(String),
    /// Not for the guest: the invocation is being stopped.
    #[error(transparent)]
    Trap(wasmtime::Error),
}

impl From<DeadlineExceeded> for QueueError {
    fn from(e: DeadlineExceeded) -> Self {
        QueueError::Trap(e.into())
    }
}

impl super::CapabilityError for QueueError {
    type Wit = Error;
    fn for_guest(self) -> Result<Error, wasmtime::Error> {
        match self {
            QueueError::Trap(trap) => Err(trap),
            other => Ok(other.into()),
        }
    }
    fn trap(error: wasmtime::Error) -> Self {
        QueueError::Trap(error)
    }
}

impl From<QueueError> for Error {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::AccessDenied => Error::AccessDenied,
            QueueError::NoSuchQueue => Error::NoSuchQueue,
            QueueError::InvalidMessage(m) => Error::InvalidMessage(m),
            other => Error::Other(other.to_string()),
        }
    }
}

/// A queue backend. Messages reaching it already satisfy SQS's rules.
#[async_trait]
pub trait QueueBackend: Send + Sync {
    /// Send up to [`MAX_BATCH`] messages to `queue` (a name or URL); one result per message.
    /// `trace` travels with each message (SQS's `AWSTraceHeader`), so its worker continues it.
    async fn send_batch(
        &self,
        queue: &str,
        messages: Vec<OutgoingMessage>,
        trace: Option<&TraceContext>,
    ) -> Result<Vec<Result<String, QueueError>>, QueueError>;
}

/// Whether `queue` (name or URL) is a FIFO queue, by SQS's naming rule.
pub fn is_fifo(queue: &str) -> bool {
    queue.ends_with(".fifo")
}

/// The size SQS counts for a message: body plus attribute names, types and values.
pub(crate) fn message_size(message: &OutgoingMessage) -> usize {
    let attributes: usize = message
        .attributes
        .iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::Text(s) => "String".len() + s.len(),
                    AttributeValue::Number(s) => "Number".len() + s.len(),
                    AttributeValue::Binary(b) => "Binary".len() + b.len(),
                }
        })
        .sum();
    message.body.len() + attributes
}

/// Check one message against SQS's rules for `queue`.
pub fn check_message(queue: &str, message: &OutgoingMessage) -> Result<(), QueueError> {
    let invalid = |m: String| Err(QueueError::InvalidMessage(m));
    let size = message_size(message);
    if message.body.is_empty() {
        return invalid("the message body must not be empty".into());
    }
    if size > MAX_MESSAGE_BYTES {
        return invalid(format!("message is {size} bytes; the limit is {MAX_MESSAGE_BYTES}"));
    }
    if message.attributes.len() > MAX_ATTRIBUTES {
        return invalid(format!("{} attributes; the limit is {MAX_ATTRIBUTES}", message.attributes.len()));
    }
    for (name, value) in &message.attributes {
        if let AttributeValue::Number(n) = value
            && n.parse::<f64>().is_err()
        {
            return invalid(format!("number attribute `{name}` = `{n}` is not a number"));
        }
    }
    if is_fifo(queue) {
        if message.group_id.as_deref().is_none_or(str::is_empty) {
            return invalid("FIFO queues need a message group id".into());
        }
        if message.delay_seconds.is_some_and(|d| d > 0) {
            return invalid("FIFO queues take no per-message delay".into());
        }
    } else if message.deduplication_id.is_some() {
        return invalid("only FIFO queues take a deduplication id".into());
    }
    if message.delay_seconds.is_some_and(|d| d > MAX_DELAY_SECONDS) {
        return invalid(format!("delay-seconds must be at most {MAX_DELAY_SECONDS}"));
    }
    Ok(())
}

/// The key a FIFO queue deduplicates `message` by, as SQS does: its deduplication id, or, on a
/// queue with content-based deduplication, the hex SHA-256 of its body (not its attributes). A
/// FIFO send with neither is refused, as SQS refuses it.
pub fn dedup_key(message: &OutgoingMessage, content_based: bool) -> Result<String, QueueError> {
    match &message.deduplication_id {
        Some(id) => Ok(id.clone()),
        None if content_based => Ok(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(message.body.as_bytes()))),
        None => Err(QueueError::InvalidMessage(
            "the queue has no content-based deduplication, so a FIFO message needs a deduplication id".into(),
        )),
    }
}

/// What one function's guest may send to: logical queue name -> queue, and the backend.
#[derive(Clone)]
pub(crate) struct QueueCtx {
    /// Granted queues.
    pub grants: BTreeMap<String, String>,
    /// Where the queues live.
    pub backend: Arc<dyn QueueBackend>,
}

/// The guest-facing view of [`QueueCtx`] for one call.
pub(crate) struct QueueView<'a> {
    /// The function's grants and backend.
    pub ctx: &'a QueueCtx,
    /// The invocation in progress.
    pub call: &'a CallInfo,
}

/// Link `plugboard:host/queue` into `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> QueueView<'_>,
) -> wasmtime::Result<()> {
    link::add_to_linker(linker, view)
}

impl QueueView<'_> {
    fn resolve(&self, name: &str) -> Result<&str, QueueError> {
        self.ctx.grants.get(name).map(String::as_str).ok_or_else(|| {
            tracing::warn!(queue = name, "guest sent to a queue it was not granted");
            QueueError::AccessDenied
        })
    }

    /// Send one message (already within SQS's size limits) to the granted queue `name`.
    async fn send(&mut self, name: &str, message: OutgoingMessage) -> Result<String, QueueError> {
        let queue = self.resolve(name)?;
        check_message(queue, &message)?;
        let mut results = bounded(
            self.call,
            HostCall::Queue,
            self.ctx.backend.send_batch(queue, vec![message], self.call.trace.as_ref()),
        )
        .await??;
        results.pop().unwrap_or_else(|| Err(QueueError::Other("backend returned no result".into())))
    }

    /// Send a batch (already within SQS's count and size limits) to the granted queue `name`;
    /// entries that break a rule fail alone, the rest go to the backend in one call.
    async fn send_batch(
        &mut self,
        name: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Result<Vec<Result<String, Error>>, QueueError> {
        let queue = self.resolve(name)?.to_string();
        let mut results: Vec<Option<Result<String, Error>>> = Vec::with_capacity(messages.len());
        let mut valid = Vec::new();
        let mut positions = Vec::new();
        for (i, message) in messages.into_iter().enumerate() {
            match check_message(&queue, &message) {
                Ok(()) => {
                    positions.push(i);
                    valid.push(message);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e.into()))),
            }
        }
        if !valid.is_empty() {
            let sent = bounded(
                self.call,
                HostCall::Queue,
                self.ctx.backend.send_batch(&queue, valid, self.call.trace.as_ref()),
            )
            .await??;
            for (position, result) in positions.into_iter().zip(sent) {
                results[position] = Some(match result {
                    Err(QueueError::Trap(t)) => return Err(QueueError::Trap(t)),
                    other => other.map_err(Error::from),
                });
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Other("backend returned no result".into()))))
            .collect())
    }
}
