//! `cargo test` inside Rust guests: the test binary (a `wasm32-wasip2` command component) runs
//! through `plugboard cargo-runner` with in-memory backends seeded and inspected by the SDK's
//! `testing` module; the harness's output, filters and exit code pass through, and a test
//! binary (it imports the test doubles) loads nowhere but in the runner.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::root;

/// `cargo test ARGS` in `dir` (or with `--manifest-path` among ARGS) with this build's
/// `plugboard cargo-runner` as the `wasm32-wasip2` runner and the example guests' target dir.
fn cargo_test(dir: &Path, args: &[&str]) -> (Output, String) {
    let target = std::env::var_os("PLUGBOARD_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("guests/target"));
    let out = Command::new("cargo")
        .arg("test")
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TARGET_WASM32_WASIP2_RUNNER", format!("{} cargo-runner", env!("CARGO_BIN_EXE_plugboard")))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, text)
}

/// The test binary cargo reported running (`Running unittests src/lib.rs (PATH)`).
fn test_binary(output: &str) -> PathBuf {
    let line = output.lines().find(|l| l.contains("Running unittests")).expect("cargo names the test binary");
    let path = line.rsplit_once('(').and_then(|(_, rest)| rest.strip_suffix(')')).unwrap();
    PathBuf::from(path)
}

#[test]
fn the_example_guests_tests_pass_in_wasmtime_with_seeded_and_inspected_backends() {
    let guests = root().join("guests");
    let packages = ["-p", "items-api", "-p", "quotes", "-p", "webhook-ingest"];
    let (out, text) = cargo_test(&guests, &[&["--locked", "--target", "wasm32-wasip2"][..], &packages].concat());
    assert!(out.status.success(), "{text}");
    for test in [
        "tests::a_quote_asks_the_quotes_function_and_passes_its_validation_error_on ... ok",
        "tests::operators_tiers_in_the_read_only_store_replace_the_built_in_ones ... ok",
        "tests::a_signed_webhook_is_queued_with_its_key ... ok",
    ] {
        assert!(text.contains(test), "{test}: {text}");
    }
    assert_eq!(text.matches("test result: ok.").count(), 3, "one harness per guest: {text}");

    // The harness's arguments pass through: a filter runs one test.
    let (out, text) =
        cargo_test(&guests, &["--locked", "--target", "wasm32-wasip2", "-p", "quotes", "--", "zero_quantity"]);
    assert!(
        out.status.success() && text.contains("1 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out"),
        "{text}"
    );

    // The test binary imports the test doubles: `plugboard invoke` (Lambda's loader) refuses it.
    let binary = guests.join(test_binary(&text));
    let invoke = Command::new(env!("CARGO_BIN_EXE_plugboard"))
        .args(["invoke", "--role", "internal-api", "--guest"])
        .arg(&binary)
        .arg("--event")
        .arg(root().join("tests/fixtures/events/direct-quote.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&invoke.stderr);
    assert!(!invoke.status.success() && stderr.contains("test-double"), "{stderr}");
}

#[test]
fn scaffolded_guests_of_every_role_ship_a_passing_test_and_a_failing_one_fails_cargo_test() {
    let base = std::env::temp_dir().join(format!("plugboard-cargo-test-{}", uuid::Uuid::new_v4().simple()));
    let roles = [
        ("http-api", "tests::hello_greets_by_name_and_counts_visits"),
        ("queue-worker", "tests::a_message_is_stored_under_its_id_and_a_bad_one_fails"),
        ("authorizer", "tests::the_configured_token_is_allowed_and_any_other_is_unauthorized"),
        ("internal-api", "tests::a_name_is_greeted_and_anything_else_is_a_validation_error"),
    ];
    for (role, test) in roles {
        let dir = base.join(role);
        let new = Command::new(env!("CARGO_BIN_EXE_plugboard"))
            .args(["new", "--role", role, "--dir"])
            .arg(&dir)
            .arg(format!("my-{role}"))
            .output()
            .unwrap();
        assert!(new.status.success(), "{}", String::from_utf8_lossy(&new.stderr));
        let config = std::fs::read_to_string(dir.join(".cargo/config.toml")).unwrap();
        assert!(config.contains("runner = \"plugboard cargo-runner\""), "{config}");
        // Plain `cargo test`: the scaffold's config picks the target (the runner comes from the
        // env here, as `plugboard` is not on this machine's PATH).
        let (out, text) = cargo_test(&dir, &[]);
        assert!(out.status.success() && text.contains(&format!("{test} ... ok")), "{role}: {text}");
    }

    let dir = base.join("http-api");
    let source = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let edit = |from: &str, to: &str| {
        assert!(source.contains(from), "{source}");
        std::fs::write(dir.join("src/lib.rs"), source.replace(from, to)).unwrap();
    };
    edit(r#"], "hello, Ada");"#, r#"], "hello, Bob");"#);
    let (out, text) = cargo_test(&dir, &[]);
    assert_eq!(out.status.code(), Some(101), "a failed test fails the run as natively: {text}");
    assert!(text.contains("assertion `left == right` failed") && text.contains("hello, Bob"), "{text}");
    // A queue the function was not granted is an error, not an empty list that passes.
    edit("testing::reset();", r#"testing::reset(); assert!(testing::sent("evnts").is_empty());"#);
    let (out, text) = cargo_test(&dir, &[]);
    assert!(out.status.code() == Some(101) && text.contains("granted no queue `evnts`"), "{text}");
    std::fs::remove_dir_all(&base).ok();
}
