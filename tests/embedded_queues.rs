//! `plugboard dev`'s queues in the embedded database follow SQS's delivery rules: visibility
//! timeout and receive count, delays, FIFO order per group and deduplication, dead-lettering
//! after the maximum receives, and redrive.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use plugboard::backends::embedded::{EmbeddedDb, EmbeddedQueues, QueueSettings};
use plugboard::capabilities::queue::{OutgoingMessage, QueueBackend, QueueError};

fn message(body: &str, group: Option<&str>) -> OutgoingMessage {
    OutgoingMessage {
        body: body.into(),
        attributes: vec![],
        delay_seconds: None,
        group_id: group.map(Into::into),
        deduplication_id: None,
    }
}

fn queues() -> Arc<EmbeddedQueues> {
    let dir = std::env::temp_dir().join(format!("plugboard-q-{}", uuid::Uuid::new_v4().simple()));
    let settings = |fifo, dlq: Option<&str>| QueueSettings {
        fifo,
        content_based_dedup: fifo,
        visibility_timeout_ms: 300,
        max_receives: dlq.map(|_| 2),
        dead_letter: dlq.map(Into::into),
    };
    let all = HashMap::from([
        ("jobs".to_string(), settings(false, Some("jobs-dlq"))),
        ("jobs-dlq".to_string(), settings(false, None)),
        ("orders.fifo".to_string(), settings(true, None)),
    ]);
    Arc::new(EmbeddedQueues::new(EmbeddedDb::open(&dir, false).unwrap(), all))
}

fn bodies(received: &[plugboard::backends::embedded::Received]) -> Vec<&str> {
    received.iter().map(|r| r.message.body.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn visibility_timeout_redelivers_until_the_dead_letter_queue_and_redrive_returns() {
    let q = queues();
    let sent = q.send_batch("jobs", vec![message("a", None), message("b", None)], None).await.unwrap();
    assert_eq!(sent.len(), 2);
    let first = q.receive("jobs", 10).await.unwrap();
    assert_eq!(bodies(&first), ["a", "b"]);
    assert!(q.receive("jobs", 10).await.unwrap().is_empty(), "hidden while in flight");
    q.delete("jobs", vec![first[0].receipt.clone()]).await.unwrap();

    tokio::time::sleep(Duration::from_millis(350)).await;
    let again = q.receive("jobs", 10).await.unwrap();
    assert_eq!(bodies(&again), ["b"]);
    assert_eq!(again[0].message.receive_count, 2);
    // A stale receipt (from the first delivery) deletes nothing.
    q.delete("jobs", vec![first[1].receipt.clone()]).await.unwrap();

    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(q.receive("jobs", 10).await.unwrap().is_empty(), "past 2 receives it moves instead");
    let stats = q.stats();
    let depth = |name: &str| stats.iter().find(|s| s.name == name).map(|s| s.visible + s.in_flight).unwrap();
    assert_eq!((depth("jobs"), depth("jobs-dlq")), (0, 1));
    assert_eq!(q.peek("jobs-dlq", 5).unwrap()[0].body, "b");

    assert_eq!(q.redrive("jobs-dlq").await.unwrap(), ("jobs".to_string(), 1));
    let back = q.receive("jobs", 10).await.unwrap();
    assert_eq!((bodies(&back), back[0].message.receive_count), (vec!["b"], 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn fifo_delivers_in_order_per_group_and_drops_duplicates() {
    let q = queues();
    let ids = q
        .send_batch(
            "orders.fifo",
            vec![message("g1-a", Some("g1")), message("g1-b", Some("g1")), message("g2-a", Some("g2"))],
            None,
        )
        .await
        .unwrap();
    let duplicate = q.send_batch("orders.fifo", vec![message("g1-a", Some("g1"))], None).await.unwrap();
    assert_eq!(duplicate[0].as_ref().unwrap(), ids[0].as_ref().unwrap(), "a duplicate answers with the first id");

    let first = q.receive("orders.fifo", 1).await.unwrap();
    assert_eq!(bodies(&first), ["g1-a"]);
    assert_eq!(bodies(&q.receive("orders.fifo", 10).await.unwrap()), ["g2-a"], "g1 waits for its message in flight");
    q.delete("orders.fifo", vec![first[0].receipt.clone()]).await.unwrap();
    assert_eq!(bodies(&q.receive("orders.fifo", 10).await.unwrap()), ["g1-b"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_group_is_not_work_a_poller_should_wake_for() {
    let q = queues();
    q.send_batch("orders.fifo", vec![message("g1-a", Some("g1")), message("g1-b", Some("g1"))], None).await.unwrap();
    assert!(q.has_visible("orders.fifo"));
    let first = q.receive("orders.fifo", 1).await.unwrap();
    assert_eq!(bodies(&first), ["g1-a"]);
    // g1-b is ready but its group waits for g1-a: nothing a receive would hand out.
    assert!(!q.has_visible("orders.fifo"), "a poller would spin on receives that return nothing");
    assert!(q.receive("orders.fifo", 10).await.unwrap().is_empty());
    assert_eq!(q.stats().iter().find(|s| s.name == "orders.fifo").unwrap().empty_receives, 1);
    q.delete("orders.fifo", vec![first[0].receipt.clone()]).await.unwrap();
    assert!(q.has_visible("orders.fifo"));
}

#[tokio::test(flavor = "multi_thread")]
async fn delays_hide_messages_and_unknown_queues_are_refused() {
    let q = queues();
    let delayed = OutgoingMessage { delay_seconds: Some(1), ..message("later", None) };
    q.send_batch("jobs", vec![delayed], None).await.unwrap();
    assert!(q.receive("jobs", 10).await.unwrap().is_empty());
    assert_eq!(q.stats().iter().find(|s| s.name == "jobs").unwrap().delayed, 1);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(bodies(&q.receive("jobs", 10).await.unwrap()), ["later"]);
    assert!(matches!(q.send_batch("nope", vec![message("x", None)], None).await, Err(QueueError::NoSuchQueue)));
}
