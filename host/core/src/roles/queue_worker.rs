//! `queue-worker`: an SQS batch, one fresh guest instance per record, `batchItemFailures` out.
//!
//! A record that fails (guest error, trap, deadline) is reported for retry, never dropped. The
//! records of a standard-queue batch run concurrently; a FIFO batch runs in order and its first
//! failure also reports every later record unprocessed, so order holds.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use wasmtime::Store;

use super::FunctionError;
use crate::bindings::plugboard::host::queue::AttributeValue;
use crate::bindings::queue_worker::QueueWorkerPre;
use crate::bindings::queue_worker::exports::plugboard::host::queue_handler::IncomingMessage;
use crate::capabilities::logging::for_log;
use crate::events::EventResponse;
use crate::runtime::{GuestExport, GuestRunner, HostState, Invocation};
use crate::telemetry::trace::SQS_TRACE_ATTRIBUTE;
use crate::telemetry::{Metric, TraceContext};

impl GuestExport for IncomingMessage {
    type Pre = QueueWorkerPre<HostState>;
    type Output = Result<(), String>;

    async fn call(&self, pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self::Output> {
        let instance = HostState::instantiate(store, async |s| pre.instantiate_async(s).await).await?;
        instance.plugboard_host_queue_handler().call_handle(store, self).await
    }

    fn is_guest_error(output: &Self::Output) -> bool {
        output.is_err()
    }
}

/// Run every record of an SQS event through the guest and report the failures.
pub async fn handle(
    runner: &GuestRunner,
    pre: &QueueWorkerPre<HostState>,
    event: SqsEvent,
    invocation: &Invocation,
) -> Result<EventResponse, FunctionError> {
    let fifo = event.records.iter().any(is_fifo);
    // Without a message id no failure could be reported: fail the whole batch instead.
    let ids = event
        .records
        .iter()
        .map(|r| r.message_id.clone().ok_or_else(|| FunctionError::invalid_event("an SQS record has no messageId")))
        .collect::<Result<Vec<String>, _>>()?;
    let mut failures = Vec::new();
    if fifo {
        // In order; the first failure stops the batch so later messages of the group wait.
        for (record, id) in event.records.iter().zip(&ids) {
            if !failures.is_empty() || !process(runner, pre, invocation, record, id).await {
                failures.push(id.clone());
            }
        }
    } else {
        // A standard queue promises no order: records run at once, sharing the batch's waits.
        let outcomes = futures_util::future::join_all(
            event.records.iter().zip(&ids).map(|(record, id)| process(runner, pre, invocation, record, id)),
        )
        .await;
        failures = ids.iter().zip(outcomes).filter(|(_, ok)| !ok).map(|(id, _)| id.clone()).collect();
    }
    if let Some(metrics) = &invocation.metrics {
        metrics.count(Metric::BatchRecords, ids.len() as u64);
        metrics.count(Metric::BatchItemFailures, failures.len() as u64);
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    Ok(EventResponse::Sqs(response))
}

/// One record through a fresh guest instance; `false` when it must be retried.
async fn process(
    runner: &GuestRunner,
    pre: &QueueWorkerPre<HostState>,
    invocation: &Invocation,
    record: &SqsMessage,
    id: &str,
) -> bool {
    let message = incoming(record, id.to_string());
    let mut call = runner.call_info(invocation);
    // Each record continues the trace of the send that queued it.
    if let Some(trace) = record.attributes.get(SQS_TRACE_ATTRIBUTE).and_then(|h| TraceContext::from_xray(h)) {
        call.trace = Some(trace);
    }
    let (function, trace_id) = (runner.name(), call.trace_id());
    let span = crate::telemetry::spans::record(id, call.trace.as_ref());
    match tracing::Instrument::instrument(runner.call(pre, &message, call), span).await {
        Ok(Ok(())) => true,
        Ok(Err(reason)) => {
            let reason = for_log(&reason);
            tracing::warn!(function, message_id = id, trace_id, %reason, "message failed; it will be retried");
            false
        }
        Err(failure) => {
            tracing::error!(function, message_id = id, trace_id, %failure, "guest failed on message; it will be retried");
            false
        }
    }
}

fn is_fifo(record: &SqsMessage) -> bool {
    record.event_source_arn.as_deref().is_some_and(|arn| arn.ends_with(".fifo"))
        || record.attributes.contains_key("MessageGroupId")
}

/// The guest's message for an SQS record whose id is `id`.
pub fn incoming(record: &SqsMessage, id: String) -> IncomingMessage {
    let mut attributes: Vec<(String, AttributeValue)> = record
        .message_attributes
        .iter()
        .map(|(name, attr)| {
            let data_type = attr.data_type.as_deref().unwrap_or("String");
            let text = attr.string_value.clone().unwrap_or_default();
            let value = if data_type.starts_with("Binary") {
                AttributeValue::Binary(attr.binary_value.as_ref().map(|b| b.to_vec()).unwrap_or_default())
            } else if data_type.starts_with("Number") {
                AttributeValue::Number(text)
            } else {
                AttributeValue::Text(text)
            };
            (name.clone(), value)
        })
        .collect();
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    IncomingMessage {
        id,
        body: record.body.clone().unwrap_or_default(),
        attributes,
        receive_count: record.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1),
        group_id: record.attributes.get("MessageGroupId").cloned(),
        source: record.event_source_arn.clone().unwrap_or_default(),
    }
}
