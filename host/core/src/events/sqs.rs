//! SQS as Lambda's event source delivers it: a batch of records as the event, and the records
//! a worker's answer reports for retry.

use std::collections::HashSet;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};

use super::http::{ACCOUNT, REGION};
use super::{Event, EventResponse};

/// The ARN a local queue's records carry.
pub fn queue_arn(queue: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")
}

/// The batch event for `records`.
pub fn sqs_event(records: Vec<SqsMessage>) -> Event {
    let mut event = SqsEvent::default();
    event.records = records;
    Event::Sqs(event)
}

/// The ids of the records `response` asks to retry; `None` when it is no batch response.
pub fn failed_ids(response: &EventResponse) -> Option<HashSet<String>> {
    match response {
        EventResponse::Sqs(batch) => {
            Some(batch.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect())
        }
        _ => None,
    }
}
