//! Queues on SQS: `SendMessage` for one message, `SendMessageBatch` for more, with attributes,
//! delay, FIFO group and deduplication ids and the trace (`AWSTraceHeader`); per-entry failures
//! come back per entry. A queue is named by URL, or by name (resolved once).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    SendMessageBatchRequestEntry,
};

use super::describe;
use plugboard_core::bindings::plugboard::host::queue::AttributeValue;
use plugboard_core::capabilities::queue::{OutgoingMessage, QueueBackend, QueueError};
use plugboard_core::telemetry::TraceContext;

/// SQS queues, one client for all.
pub struct SqsQueue {
    client: Client,
    urls: Mutex<HashMap<String, String>>,
}

impl SqsQueue {
    /// Queues reached through `client`.
    pub fn new(client: Client) -> Self {
        SqsQueue { client, urls: Mutex::new(HashMap::new()) }
    }

    /// The URL of `queue` (a URL already, or a name looked up once).
    async fn url(&self, queue: &str) -> Result<String, QueueError> {
        if queue.starts_with("https://") || queue.starts_with("http://") {
            return Ok(queue.to_string());
        }
        if let Some(url) = self.urls.lock().unwrap_or_else(|e| e.into_inner()).get(queue) {
            return Ok(url.clone());
        }
        let output = self.client.get_queue_url().queue_name(queue).send().await.map_err(queue_error)?;
        let url = output.queue_url.ok_or_else(|| QueueError::Other("GetQueueUrl returned no URL".into()))?;
        self.urls.lock().unwrap_or_else(|e| e.into_inner()).insert(queue.to_string(), url.clone());
        Ok(url)
    }
}

fn queue_error<E>(err: SdkError<E>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match describe(&err) {
        (Some(code), _) if code.contains("NonExistentQueue") || code.contains("QueueDoesNotExist") => {
            QueueError::NoSuchQueue
        }
        // The sender's mistake (e.g. a FIFO message without a deduplication id): the guest's.
        (Some(code), text) if code.contains("InvalidParameterValue") => QueueError::InvalidMessage(text),
        (_, text) => QueueError::Other(text),
    }
}

fn attribute(value: &AttributeValue) -> Result<MessageAttributeValue, QueueError> {
    let builder = MessageAttributeValue::builder();
    let builder = match value {
        AttributeValue::Text(s) => builder.data_type("String").string_value(s),
        AttributeValue::Number(n) => builder.data_type("Number").string_value(n),
        AttributeValue::Binary(b) => builder.data_type("Binary").binary_value(Blob::new(b.clone())),
    };
    builder.build().map_err(|e| QueueError::InvalidMessage(e.to_string()))
}

/// One message as a batch entry (also the fields of a single `SendMessage`).
fn entry(
    id: usize,
    message: OutgoingMessage,
    trace: Option<&TraceContext>,
) -> Result<SendMessageBatchRequestEntry, QueueError> {
    let mut builder = SendMessageBatchRequestEntry::builder()
        .id(id.to_string())
        .message_body(message.body)
        .set_delay_seconds(message.delay_seconds.map(|d| d as i32))
        .set_message_group_id(message.group_id)
        .set_message_deduplication_id(message.deduplication_id);
    for (name, value) in &message.attributes {
        builder = builder.message_attributes(name, attribute(value)?);
    }
    if let Some(trace) = trace {
        let header = MessageSystemAttributeValue::builder()
            .data_type("String")
            .string_value(trace.xray_header())
            .build()
            .map_err(|e| QueueError::Other(e.to_string()))?;
        builder = builder.message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, header);
    }
    builder.build().map_err(|e| QueueError::InvalidMessage(e.to_string()))
}

impl SqsQueue {
    /// One message with `SendMessage`: the same fields as its batch entry.
    async fn send_one(&self, url: String, entry: SendMessageBatchRequestEntry) -> Result<String, QueueError> {
        let output = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(entry.message_body)
            .set_delay_seconds(entry.delay_seconds)
            .set_message_attributes(entry.message_attributes)
            .set_message_system_attributes(entry.message_system_attributes)
            .set_message_group_id(entry.message_group_id)
            .set_message_deduplication_id(entry.message_deduplication_id)
            .send()
            .await
            .map_err(queue_error)?;
        output.message_id.ok_or_else(|| QueueError::Other("SQS returned no message id".into()))
    }
}

#[async_trait]
impl QueueBackend for SqsQueue {
    async fn send_batch(
        &self,
        queue: &str,
        mut messages: Vec<OutgoingMessage>,
        trace: Option<&TraceContext>,
    ) -> Result<Vec<Result<String, QueueError>>, QueueError> {
        let url = self.url(queue).await?;
        let count = messages.len();
        if count == 1
            && let Some(message) = messages.pop()
        {
            return Ok(vec![Ok(self.send_one(url, entry(0, message, trace)?).await?)]);
        }
        // Only a FIFO batch with an entry lacking a deduplication id can be refused whole for one
        // entry: keep a copy for the per-entry resend just then.
        let at_risk = count > 1
            && plugboard_core::capabilities::queue::is_fifo(queue)
            && messages.iter().any(|m| m.deduplication_id.is_none());
        let kept = at_risk.then(|| messages.clone());
        let entries =
            messages.into_iter().enumerate().map(|(i, m)| entry(i, m, trace)).collect::<Result<Vec<_>, _>>()?;
        let sent = self.client.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await;
        let output = match sent.map_err(queue_error) {
            Ok(output) => output,
            // SQS refuses a whole batch for one entry's mistake (a FIFO message without a
            // deduplication id on a queue without content-based deduplication): send them one
            // by one, so each entry fails or succeeds alone, as everywhere else.
            Err(QueueError::InvalidMessage(_)) if let Some(messages) = kept => {
                let mut results = Vec::with_capacity(count);
                for message in messages {
                    results.push(match self.send_batch(queue, vec![message], trace).await {
                        Ok(mut one) => one
                            .pop()
                            .unwrap_or_else(|| Err(QueueError::Other("SQS reported nothing for this entry".into()))),
                        Err(e) => Err(e),
                    });
                }
                return Ok(results);
            }
            Err(e) => return Err(e),
        };
        let mut results: Vec<Result<String, QueueError>> =
            (0..count).map(|_| Err(QueueError::Other("SQS reported nothing for this entry".into()))).collect();
        for ok in output.successful() {
            if let Some(slot) = ok.id().parse::<usize>().ok().and_then(|i| results.get_mut(i)) {
                *slot = Ok(ok.message_id().to_string());
            }
        }
        for failed in output.failed() {
            if let Some(slot) = failed.id().parse::<usize>().ok().and_then(|i| results.get_mut(i)) {
                let text = format!("{}: {}", failed.code(), failed.message().unwrap_or(""));
                *slot =
                    Err(if failed.sender_fault() { QueueError::InvalidMessage(text) } else { QueueError::Other(text) });
            }
        }
        Ok(results)
    }
}
