//! The `queue-worker` adapter: per-record instances, partial batch failure, FIFO ordering.

mod common;

use common::{call, failed_ids, fixture, single, sqs_event};

const CHAOS: &str = r#"
role = "queue-worker"
[limits]
timeout-ms = 300
memory-mb = 32
"#;

const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:jobs";
const FIFO: &str = "arn:aws:sqs:us-east-1:123456789012:jobs.fifo";

#[tokio::test]
async fn only_failed_records_are_reported() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let event = sqs_event(QUEUE, &["ok", "fail", "ok", "trap", "loop", "alloc:100", "ok"]);
    let response = call(&f, event).await.expect("a batch response, not a function error");
    assert_eq!(failed_ids(&response), ["msg-1", "msg-3", "msg-4", "msg-5"]);
}

#[tokio::test]
async fn every_record_gets_a_fresh_instance() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    // The chaos worker fails when its instance has served a call before.
    let response = call(&f, sqs_event(QUEUE, &["ok"; 5])).await.unwrap();
    assert!(failed_ids(&response).is_empty(), "{response}");
}

#[tokio::test]
async fn fifo_batch_stops_at_the_first_failure_and_reports_the_rest() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let response = call(&f, sqs_event(FIFO, &["ok", "fail", "ok", "ok"])).await.unwrap();
    assert_eq!(failed_ids(&response), ["msg-1", "msg-2", "msg-3"]);
}

#[tokio::test]
async fn real_fifo_fixture_is_recognised_as_fifo() {
    let (_app, f) = single("worker", "webhook_worker", "role = \"queue-worker\"\n[grants.stores]\nevents = \"events\"");
    let response = call(&f, fixture("sqs-fifo")).await.unwrap();
    // The second record is poison; the third is held back to keep the group's order.
    assert_eq!(failed_ids(&response), ["22d6ee51-4cc7-4302-9e22-7cd8afdaadf5", "33d6ee51-4cc7-4302-9e22-7cd8afdaadf5"]);
}

#[tokio::test]
async fn a_batch_with_no_message_id_fails_whole_so_nothing_is_lost() {
    let (_app, f) = single("chaos", "chaos", CHAOS);
    let mut event = sqs_event(QUEUE, &["ok"]);
    event["Records"][0].as_object_mut().unwrap().remove("messageId");
    let err = call(&f, event).await.unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent");
    assert!(failed_ids(&call(&f, sqs_event(QUEUE, &["ok"])).await.unwrap()).is_empty());
}
