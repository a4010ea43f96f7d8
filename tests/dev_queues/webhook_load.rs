//! The Scalable Webhook under load and a crash: concurrent signed `POST /webhooks` against
//! `plugboard dev`, the server SIGKILLed mid-stream, restarted, the unacknowledged events sent
//! again (as a webhook sender retries), the queue drained. Every acknowledged event is stored
//! once and counted once: none lost, none counted twice. The quick version runs in the test
//! command; `EVENTS=N scripts/webhook-faults.sh` runs a longer one.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common;
use crate::common::dev::{Dev, depth};
use crate::common::{root, webhook_headers};
use plugboard::capabilities::keyvalue::KeyValueBackend;
use plugboard::dev::admin;
use serde_json::{Value, json};

/// The demo app with a short worker budget, lease and visibility timeout, so a takeover after
/// the kill comes within seconds.
fn app_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plugboard-load-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let dist = root().join("guests/dist").display().to_string();
    let manifest = std::fs::read_to_string(root().join("plugboard.toml"))
        .unwrap()
        .replace("\"guests/dist/", &format!("\"{dist}/"))
        .replace(
            "grants.stores = { events = \"plugboard-events-store\" }\nlimits = { timeout-ms = 5000, memory-mb = 32 }",
            "grants.stores = { events = \"plugboard-events-store\" }\nconfig = { lease_secs = \"2\" }\nlimits = { timeout-ms = 1000, memory-mb = 32 }",
        )
        .replace("visibility-timeout-secs = 30", "visibility-timeout-secs = 3")
        .replace("max-receives = 3", "max-receives = 8");
    assert!(manifest.contains("lease_secs"), "the worker's section of plugboard.toml changed");
    std::fs::write(dir.join("plugboard.toml"), manifest).unwrap();
    dir
}

/// Send every event in `keys` with `concurrency` requests in flight; the keys answered 202.
/// Stops sending once `stop_after` were acknowledged (the rest are left unsent).
async fn send_all(url: &str, keys: &[String], concurrency: usize, stop_after: usize) -> BTreeSet<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, acked, keys, url) = (next.clone(), acked.clone(), keys.to_vec(), url.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= keys.len() || acked.lock().unwrap().len() >= stop_after {
                    return;
                }
                let body = json!({ "id": keys[i], "event": "order.created", "n": i }).to_string();
                let headers = webhook_headers(b"demo-webhook-secret", &keys[i], &body);
                let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                if let Ok(answer) = admin::request("POST", &format!("{url}/webhooks"), &pairs, body.into_bytes()).await
                    && answer.status == 202
                {
                    acked.lock().unwrap().insert(keys[i].clone());
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }

    acked.lock().unwrap().clone()
}

/// What one run saw: events acknowledged, stored (done), counted, and dead-lettered.
struct Outcome {
    acknowledged: usize,
    stored: usize,
    counted: u64,
    dead_lettered: usize,
}

/// `events` events with a SIGKILL after `kill_after` acknowledgements, `plugboard dev` failing
/// `faults`% of deliveries on purpose. Panics if an acknowledged event is neither stored nor
/// dead-lettered.
async fn run(events: usize, kill_after: usize, faults: u8) -> Outcome {
    let dir = app_dir();
    let keys: Vec<String> = (0..events).map(|i| format!("load-{i}")).collect();
    let faults = faults.to_string();
    let args = ["--inject-failures", faults.as_str()];
    let dev = Dev::start_with(&dir, &args);
    let mut acked = send_all(&dev.url, &keys, 16, kill_after).await;
    // Killed while requests are in flight and the worker is busy with the queue.
    drop(dev);
    let dev = Dev::start_with(&dir, &args);
    let unacked: Vec<String> = keys.iter().filter(|k| !acked.contains(*k)).cloned().collect();
    acked.extend(send_all(&dev.url, &unacked, 16, usize::MAX).await);
    let drained = |s: &Value| depth(s, "plugboard-events") == 0;
    dev.wait_for_queues_within("the queue drained", Duration::from_secs(180), drained).await;
    let dead: Value = dev.admin("GET", "queues/plugboard-events-dlq/messages?limit=1000").await;
    let dead: BTreeSet<String> = dead
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| serde_json::from_str::<Value>(m["body"].as_str()?).ok()?["id"].as_str().map(str::to_string))
        .collect();
    drop(dev);

    let db = plugboard::backends::embedded::EmbeddedDb::open(&dir.join(".plugboard"), false).unwrap();
    let kv = plugboard::backends::embedded::EmbeddedKeyValue::new(db);
    let table = kv.open("plugboard-events-store").await.unwrap();
    let mut stored = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = table.list_keys(cursor).await.unwrap();
        for key in page.keys.iter().filter_map(|k| k.strip_prefix("event/")) {
            let record: Value =
                serde_json::from_slice(&table.get(&format!("event/{key}")).await.unwrap().unwrap()).unwrap();
            assert_eq!(record["state"], "done", "event {key} is fully processed: {record}");
            stored.insert(key.to_string());
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let counted = common::counted(&table.get("count/order.created").await.unwrap().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    let lost: Vec<&String> = acked.iter().filter(|k| !stored.contains(*k) && !dead.contains(*k)).collect();
    assert!(lost.is_empty(), "acknowledged but neither stored nor dead-lettered: {lost:?}");
    Outcome { acknowledged: acked.len(), stored: stored.len(), counted, dead_lettered: dead.len() }
}

/// Run, print the figures, and check the counts add up.
async fn check(what: &str, faults: u8) {
    let events = std::env::var("EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(600);
    let o = run(events, events / 3, faults).await;
    println!(
        "webhook {what}: acknowledged {}, stored {}, counted {}, dead-lettered {}, duplicates {}",
        o.acknowledged,
        o.stored,
        o.counted,
        o.dead_lettered,
        o.counted as i64 - o.stored as i64
    );
    assert_eq!(o.acknowledged, events, "every event acknowledged, after the sender's retry");
    assert_eq!(o.counted, o.stored as u64, "each stored event counted exactly once");
    assert_eq!(o.stored + o.dead_lettered, o.acknowledged, "every acknowledged event stored or dead-lettered");
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_webhooks_survive_a_sigkill_stored_and_counted_once() {
    check("under SIGKILL", 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_tenth_of_deliveries_failing_every_event_is_retried_to_its_end() {
    check("under SIGKILL with 10% of deliveries failing", 10).await;
}
