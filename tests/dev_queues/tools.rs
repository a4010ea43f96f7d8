//! `plugboard queue send` and `plugboard kv` against a running `plugboard dev`, and SIGTERM
//! stopping it as Ctrl-C does.

use std::time::{Duration, Instant};

use super::{app_dir, stats_of};
use crate::common::dev::{Dev, depth};

/// `plugboard kv get STORE KEY`'s output once the key holds a value (within 20 s).
fn wait_for_value(dev: &Dev, store: &str, key: &str) -> String {
    let started = Instant::now();
    loop {
        let out = dev.cli_output("kv", &["get", store, key]);
        if out.status.success() {
            return String::from_utf8(out.stdout).unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_sent_from_the_cli_is_worked_and_its_result_read_back_with_kv() {
    let dir = app_dir("tools.fifo", "tools-dlq.fifo", 5);
    let dev = Dev::start(&dir);
    let id = dev.cli("queue", &["send", "tools.fifo", "append:seen:hello", "--group", "g", "--attr", "source=cli"]);
    assert!(!id.trim().is_empty(), "prints the message id");
    assert_eq!(wait_for_value(&dev, "data", "seen"), r#"["hello"]"#, "the worker stored the body");

    let key = "a b/c?d&e=%";
    dev.cli("kv", &["put", "data", key, "value 1"]);
    assert_eq!(dev.cli("kv", &["get", "data", key]), "value 1", "any key survives the URL");
    let listed = dev.cli("kv", &["list", "data"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), vec![key, "seen"], "{listed}");
    dev.cli("kv", &["delete", "data", key]);
    let gone = dev.cli_output("kv", &["get", "data", key]);
    assert!(!gone.status.success() && String::from_utf8_lossy(&gone.stderr).contains("404 no value at"));
    assert_eq!(dev.cli("kv", &["stores"]), "data\n");

    // Refusals name the rule: SQS's (no delay on a FIFO queue), the manifest's (no such store).
    let refused = dev.cli_output("queue", &["send", "tools.fifo", "x", "--group", "g", "--delay", "5"]);
    assert!(!refused.status.success(), "a FIFO queue takes no per-message delay");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("400"), "{}", String::from_utf8_lossy(&refused.stderr));
    let unknown = dev.cli_output("kv", &["list", "nope"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("the app's stores: data"));
    let no_queue = dev.cli_output("queue", &["send", "nope", "x"]);
    assert!(String::from_utf8_lossy(&no_queue.stderr).contains("no queue nope"));
    assert_eq!(depth(&dev.admin("GET", "queues").await, "tools.fifo"), 0, "the refused ones were not queued");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_server_like_ctrl_c_with_its_last_deletes_made_durable() {
    let dir = app_dir("term.fifo", "term-dlq.fifo", 60);
    let dev = Dev::start(&dir);
    dev.cli("queue", &["send", "term.fifo", "append:done:1", "--group", "g"]);
    assert_eq!(wait_for_value(&dev, "data", "done"), r#"["1"]"#);
    dev.wait_for_queues("the message deleted", |s| depth(s, "term.fifo") == 0).await;
    // The delete is committed lazily; only a clean stop makes it durable.
    let status = dev.terminate();
    assert!(status.success(), "a clean exit, not death by signal: {status}");
    let dev = Dev::start(&dir);
    let stats = dev.admin("GET", "queues").await;
    assert_eq!(
        depth(&stats, "term.fifo"),
        0,
        "processed before SIGTERM, not delivered again: {}",
        stats_of(&stats, "term.fifo")
    );
}
