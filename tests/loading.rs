//! Loading guests and configuration: the role check, precompiled guests, the one config
//! schema in its three encodings, event-kind detection, and the `plugboard invoke` CLI.

mod common;

use std::process::Command;

use common::{fixture, guest, root, runtime};
use plugboard::app::LocalApp;
use plugboard::config::{FunctionConfig, Role, env};
use plugboard::events::EventKind;
use plugboard::runtime::{Guest, GuestError, Trust};

#[test]
fn a_guest_of_the_wrong_world_is_refused_naming_what_is_missing() {
    let err = Guest::load(&runtime(), &guest("items_api"), Role::QueueWorker).err().expect("refused");
    let text = err.to_string();
    assert!(matches!(err, GuestError::WrongWorld { .. }), "{text}");
    assert!(text.contains("must export `plugboard:host/queue-handler@0.1.0`"), "{text}");
    assert!(text.contains("plugboard:host/http-handler@0.1.0"), "{text}");
}

#[test]
fn bytes_that_are_not_a_component_are_refused() {
    let core_module = b"\0asm\x01\0\0\0";
    let err = Guest::load(&runtime(), core_module, Role::HttpApi).err().expect("refused");
    assert!(matches!(err, GuestError::NotComponent(_)), "{err}");
    let err = Guest::load(&runtime(), b"definitely not wasm", Role::HttpApi).err().expect("refused");
    assert!(matches!(err, GuestError::NotComponent(_)), "{err}");
}

#[test]
fn every_role_loads_its_example_guest() {
    for (name, role) in [
        ("items_api", Role::HttpApi),
        ("webhook_ingest", Role::HttpApi),
        ("webhook_worker", Role::QueueWorker),
        ("gatekeeper", Role::Authorizer),
        ("quotes", Role::InternalApi),
        ("gatekeeper_admin", Role::InternalApi),
    ] {
        let loaded = Guest::load(&runtime(), &guest(name), role).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(loaded.role(), role);
    }
}

#[test]
fn a_precompiled_guest_loads_and_a_foreign_one_is_refused() {
    let cwasm = runtime().precompile(&guest("quotes")).unwrap();
    // Native code is refused unless its source is trusted.
    let err = Guest::load(&runtime(), &cwasm, Role::InternalApi).err().expect("refused");
    assert!(matches!(err, GuestError::UntrustedPrecompiled), "{err}");
    assert!(Guest::load_with(&runtime(), &cwasm, Role::InternalApi, Trust::Trusted).is_ok());
    // An artifact from an engine compiled with other settings (here: no epoch interruption,
    // so no deadline checks) must not be trusted to run here.
    let foreign_engine = wasmtime::Engine::new(&wasmtime::Config::new()).unwrap();
    let foreign = foreign_engine.precompile_component(&guest("quotes")).unwrap();
    let err = Guest::load_with(&runtime(), &foreign, Role::InternalApi, Trust::Trusted).err().expect("refused");
    assert!(matches!(err, GuestError::Incompatible(_)), "{err}");
}

#[test]
fn a_pinned_guest_must_match_its_sha256() {
    let bytes = guest("quotes");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let mut app = LocalApp::new(runtime());
    let mut config = FunctionConfig::new(Role::InternalApi);
    config.guest_sha256 = Some(digest.to_uppercase());
    assert!(app.add("pinned", config.clone(), &bytes).is_ok());
    config.guest_sha256 = Some("0".repeat(64));
    let err = app.add("wrong", config, &bytes).err().expect("refused");
    assert!(matches!(err, GuestError::PinMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&digest), "{err}");
}

#[test]
fn toml_json_and_environment_encode_the_same_schema() {
    let toml = r#"
        role = "http-api"
        guest = "s3://bucket/items.wasm"
        [grants.stores]
        items = "items-table"
        [grants.queues]
        events = "https://sqs.us-east-1.amazonaws.com/1/events"
        [grants.functions]
        quotes = "quotes-fn"
        [config]
        jwt_secret = "x"
        [limits]
        timeout-ms = 2500
        memory-mb = 256
    "#;
    let from_toml = FunctionConfig::parse(toml, "toml", true).unwrap();
    let json = serde_json::to_string(&from_toml).unwrap();
    let from_json = FunctionConfig::parse(&json, "json", false).unwrap();
    let vars = [
        ("PLUGBOARD_ROLE", "http-api"),
        ("PLUGBOARD_GUEST", "s3://bucket/items.wasm"),
        ("PLUGBOARD_STORES", "items=items-table"),
        ("PLUGBOARD_QUEUES", "events=https://sqs.us-east-1.amazonaws.com/1/events"),
        ("PLUGBOARD_FUNCTIONS", "quotes=quotes-fn"),
        ("PLUGBOARD_CONFIG_JWT_SECRET", "x"),
        ("PLUGBOARD_TIMEOUT_MS", "2500"),
        ("PLUGBOARD_MEMORY_MB", "256"),
        ("HOME", "/root"),
    ];
    let from_env = env::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
    assert_eq!(from_toml, from_json);
    assert_eq!(from_toml, from_env);
    assert_eq!(from_toml.limits.max_invoke_depth, 4, "defaults fill the rest");
}

#[test]
fn bad_configuration_names_the_field_or_variable() {
    let err = FunctionConfig::parse("role = \"http-api\"\ntimeout = 5", "f.toml", true).unwrap_err().to_string();
    assert!(err.contains("f.toml") && err.contains("timeout"), "{err}");
    let err = FunctionConfig::parse("role = \"web\"", "f.toml", true).unwrap_err().to_string();
    assert!(err.contains("web"), "{err}");
    let err =
        FunctionConfig::parse("role = \"http-api\"\n[limits]\nmemory-mb = 0", "f.toml", true).unwrap_err().to_string();
    assert!(err.contains("limits.memory-mb"), "{err}");
    let err = FunctionConfig::parse("role = \"http-api\"\n[config]\nBad-Key = \"v\"", "f.toml", true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Bad-Key"), "{err}");

    let vars = |list: &[(&str, &str)]| list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    let err = env::from_vars(vars(&[("PLUGBOARD_GUEST", "x.wasm")])).unwrap_err().to_string();
    assert!(err.contains("PLUGBOARD_ROLE"), "{err}");
    let err = env::from_vars(vars(&[("PLUGBOARD_ROLE", "http-api"), ("PLUGBOARD_TIMEOUT_MS", "soon")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("PLUGBOARD_TIMEOUT_MS"), "{err}");
    let err =
        env::from_vars(vars(&[("PLUGBOARD_ROLE", "http-api"), ("PLUGBOARD_STORES", "items")])).unwrap_err().to_string();
    assert!(err.contains("PLUGBOARD_STORES"), "{err}");
    let err = env::from_vars(vars(&[("PLUGBOARD_ROLE", "http-api"), ("PLUGBOARD_TYPO", "1")])).unwrap_err().to_string();
    assert!(err.contains("PLUGBOARD_TYPO"), "{err}");
}

#[test]
fn empty_variables_are_unset_except_config_values() {
    // What a deployment template passes for a parameter left empty.
    let vars = [
        ("PLUGBOARD_ROLE", "internal-api"),
        ("PLUGBOARD_GUEST_SHA256", ""),
        ("PLUGBOARD_PRECOMPILED_SHA256", ""),
        ("PLUGBOARD_STORES", " "),
        ("PLUGBOARD_CONFIG_GREETING", ""),
    ];
    let config = env::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
    assert_eq!(config.guest_sha256, None);
    assert!(config.precompiled_sha256.is_empty() && config.grants.stores.is_empty());
    assert_eq!(config.config.get("greeting").map(String::as_str), Some(""));
}

#[test]
fn every_fixture_is_recognised_as_its_kind() {
    for (name, kind) in [
        ("http-api-v2", EventKind::HttpApi),
        ("rest-api-v1", EventKind::RestApi),
        ("function-url", EventKind::FunctionUrl),
        ("sqs", EventKind::Sqs),
        ("sqs-fifo", EventKind::Sqs),
        ("authorizer-token", EventKind::TokenAuthorizer),
        ("authorizer-request", EventKind::RequestAuthorizer),
        ("authorizer-http-api", EventKind::HttpApiAuthorizer),
        ("direct-quote", EventKind::Direct),
    ] {
        assert_eq!(EventKind::detect(&fixture(name).to_string()), kind, "{name}");
    }
}

fn plugboard(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_plugboard"))
        .args(args)
        .current_dir(root())
        .env("PLUGBOARD_GUESTS_DIR", root().join("guests/dist"))
        .output()
        .expect("plugboard runs");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (output.status.code().unwrap_or(-1), text(output.stdout), text(output.stderr))
}

#[test]
fn cli_invoke_prints_the_lambda_response() {
    let (code, out, err) = plugboard(&[
        "invoke",
        "--config",
        "examples/functions/quotes.toml",
        "--event",
        "tests/fixtures/events/direct-quote.json",
    ]);
    assert_eq!(code, 0, "{err}");
    let response: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(response["total"], 95.0);

    let (code, out, _) = plugboard(&[
        "invoke",
        "--config",
        "examples/functions/items-api.toml",
        "--with",
        "quotes=examples/functions/quotes.toml",
        "--event",
        "tests/fixtures/events/sqs.json",
    ]);
    assert_eq!(code, 1);
    let error: serde_json::Value = serde_json::from_str(&out).expect("a Lambda error object");
    assert_eq!(error["errorType"], "InvalidEvent");

    let (code, _, err) = plugboard(&[
        "invoke",
        "--role",
        "http-api",
        "--guest",
        "guests/dist/quotes.wasm",
        "--event",
        "tests/fixtures/events/http-api-v2.json",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("must export `plugboard:host/http-handler@0.1.0`"), "{err}");
}

#[test]
fn cli_logs_why_a_guest_failed_and_what_it_printed() {
    let dir = std::env::temp_dir().join(format!("plugboard-trap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let event = dir.join("trap.json");
    std::fs::write(&event, r#"{"ops":[{"op":"trap"}]}"#).unwrap();
    let (code, out, err) = plugboard(&[
        "invoke",
        "--role",
        "internal-api",
        "--guest",
        "guests/dist/chaos.wasm",
        "--event",
        event.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("GuestFailed"), "{out}");
    assert!(err.contains("chaos: asked to trap"), "the guest's panic message is logged: {err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cli_precompile_writes_a_loadable_artifact() {
    let dir = std::env::temp_dir().join(format!("plugboard-precompile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("quotes.cwasm");
    let (code, _, err) = plugboard(&["precompile", "guests/dist/quotes.wasm", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, stdout, err) = plugboard(&[
        "invoke",
        "--config",
        "examples/functions/quotes.toml",
        "--guest",
        out.to_str().unwrap(),
        "--event",
        "tests/fixtures/events/direct-quote.json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("\"total\": 95.0"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn one_loader_runs_a_pinned_cwasm_and_only_a_pinned_one() {
    use plugboard::runtime::GuestLoader;
    use plugboard::runtime::precompiled::Origin;
    let loader = GuestLoader::new(runtime(), None);
    let cwasm = runtime().precompile(&guest("quotes")).unwrap();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&cwasm));
    let (_, origin) = loader.load(&cwasm, Some(&digest), Role::InternalApi, Trust::ComponentOnly).expect("pinned");
    assert_eq!(origin, Origin::Precompiled);
    let err = loader.load(&cwasm, None, Role::InternalApi, Trust::ComponentOnly).err().expect("unpinned");
    assert!(matches!(err, GuestError::UntrustedPrecompiled), "{err}");
    let err = loader.load(&cwasm, Some(&"0".repeat(64)), Role::InternalApi, Trust::Trusted).err().expect("wrong pin");
    assert!(matches!(err, GuestError::PinMismatch { .. }), "{err}");
}

#[test]
fn a_test_suite_compiles_its_guest_once_through_the_compile_cache() {
    use plugboard::runtime::GuestLoader;
    use plugboard::runtime::precompiled::Origin;
    use plugboard::testing::Suite;
    let cache = std::env::temp_dir().join(format!("plugboard-suite-cache-{}", uuid::Uuid::new_v4().simple()));
    let loader = GuestLoader::new(runtime(), Some(&cache));
    let suite = root().join("guests/items-api/cases");
    assert_eq!(Suite::load(&suite, &loader).unwrap().origin, Origin::Compiled);
    let again = Suite::load(&suite, &loader).unwrap();
    assert_eq!(again.origin, Origin::Cached, "the second run takes the compiled guest from the cache");
    std::fs::remove_dir_all(&cache).unwrap();
}
