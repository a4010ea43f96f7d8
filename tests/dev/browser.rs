//! The dashboard in a real browser: Debian's Chromium driven headless by playwright-core
//! (`scripts/browser-env.sh` installs both; the test command runs it) opens the banner's URL,
//! sees a request made with curl appear, and redrives the dead-letter queue from the page; the
//! redriven webhook event is then processed by the worker.

use std::process::Command;
use std::time::{Duration, Instant};

use super::app_dir;
use crate::common::dev::Dev;
use crate::common::root;

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_works_in_chromium() {
    let script = root().join("tests/browser/dashboard.mjs");
    assert!(
        root().join("tests/browser/node_modules/playwright-core").is_dir()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "Chromium or playwright-core is missing: run scripts/browser-env.sh"
    );
    let dev = Dev::start(&app_dir(&[]));
    // A valid event waiting in the dead-letter queue, as if it had failed before.
    let event = serde_json::json!({
        "body": r#"{"id":"evt-redriven","event":"order.created"}"#,
        "attributes": { "idempotency-key": "evt-redriven" },
    });
    let admin = dev.admin_client();
    admin
        .call_with("POST", "queues/plugboard-events-dlq/messages", "application/json", event.to_string().into_bytes())
        .await
        .unwrap();

    let screenshot = std::env::temp_dir().join(format!("plugboard-dashboard-{}.png", uuid::Uuid::new_v4().simple()));
    let out = Command::new("node").arg(&script).args([&dev.dashboard, &dev.url]).arg(&screenshot).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("moved the dead-letter message"), "{stdout}");
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot");
    if let Some(keep) = std::env::var_os("PLUGBOARD_DASHBOARD_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }
    std::fs::remove_file(&screenshot).ok();

    // The redriven event reached the worker and was processed.
    let started = Instant::now();
    loop {
        let record = admin
            .call_with(
                "GET",
                "stores/plugboard-events-store/value?key=event%2Fevt-redriven",
                "application/json",
                Vec::new(),
            )
            .await;
        if record.as_ref().is_ok_and(|r| String::from_utf8_lossy(&r.body).contains(r#""state":"done""#)) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the redriven event was not processed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
