//! How `plugboard dev` (and `plugboard test`) deliver received messages: as the records of
//! the SQS event Lambda's event source would send.

use std::collections::HashMap;

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::sqs::{SqsMessage, SqsMessageAttribute};
use base64::Engine as _;
use md5::{Digest, Md5};
use serde_json::Value;

use super::Received;
use plugboard_core::events::Event;
use plugboard_core::events::http::{ACCOUNT, REGION};
use plugboard_core::events::sqs::queue_arn;
use plugboard_core::telemetry::trace::SQS_TRACE_ATTRIBUTE;

/// The SQS event Lambda's event source would send for `received` from `queue`.
pub fn sqs_event(queue: &str, received: &[Received]) -> Event {
    let source_arn = queue_arn(queue);
    let records = received
        .iter()
        .map(|r| {
            let m = &r.message;
            let mut attributes = HashMap::from([
                ("ApproximateReceiveCount".to_string(), m.receive_count.to_string()),
                ("SentTimestamp".to_string(), m.sent_ms.to_string()),
                ("SenderId".to_string(), ACCOUNT.to_string()),
                ("ApproximateFirstReceiveTimestamp".to_string(), m.first_receive_ms.unwrap_or(m.sent_ms).to_string()),
            ]);
            if let Some(trace) = &m.trace {
                attributes.insert(SQS_TRACE_ATTRIBUTE.to_string(), trace.clone());
            }
            if let Some(group) = &m.group_id {
                attributes.insert("MessageGroupId".into(), group.clone());
                if let Some(dedup) = &m.dedup_id {
                    attributes.insert("MessageDeduplicationId".into(), dedup.clone());
                }
            }
            let mut record = SqsMessage::default();
            record.message_id = Some(m.id.clone());
            record.receipt_handle = Some(r.receipt.clone());
            record.body = Some(m.body.clone());
            record.md5_of_body = Some(hex::encode(Md5::digest(m.body.as_bytes())));
            record.attributes = attributes;
            record.message_attributes = m.attributes.iter().map(|(k, v)| (k.clone(), message_attribute(v))).collect();
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(source_arn.clone());
            record.aws_region = Some(REGION.into());
            record
        })
        .collect();
    plugboard_core::events::sqs::sqs_event(records)
}

/// A stored attribute (kept in the event's `messageAttributes` JSON form) as the event types it.
fn message_attribute(stored: &Value) -> SqsMessageAttribute {
    let text = |name: &str| stored.get(name).and_then(Value::as_str).map(str::to_string);
    let mut attribute = SqsMessageAttribute::default();
    attribute.data_type = text("dataType");
    attribute.string_value = text("stringValue");
    attribute.binary_value =
        text("binaryValue").and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()).map(|bytes| {
            let mut data = Base64Data::default();
            *data = bytes;
            data
        });
    attribute
}
