//! How guests reach a Lambda function, against moto on 127.0.0.1: `plugboard publish` and its
//! pinned precompiled artifacts, the compile cache, ETag refresh between invocations, and
//! config values resolved from SSM Parameter Store and Secrets Manager.

mod common;

use std::time::Duration;

use common::{aws, guest, printed, publish, root, s3_bucket, upload};
use lambda_runtime::{Context, LambdaEvent};
use plugboard::config::Role;
use plugboard::lambda::LambdaApp;
use plugboard::runtime::precompiled::{CompileCache, Origin, TARGETS};
use plugboard::runtime::{EngineSettings, GuestError, Runtime};
use serde_json::{Value, json};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn call(app: &LambdaApp, payload: Value) -> Result<Value, String> {
    let raw = serde_json::value::to_raw_value(&payload).expect("a JSON value serialises");
    let answer = app
        .handle(LambdaEvent::new(raw, Context::default()))
        .await
        .map_err(|d| format!("{}: {}", d.error_type, d.error_message))?;
    Ok(serde_json::from_str(answer.get()).expect("the answer is JSON"))
}

/// A probe the chaos guest answers with `{"results": [...]}` and quotes refuses.
fn probe() -> Value {
    json!({ "ops": [{ "op": "config.all" }], "sku": "w1", "unit_price": 2.5, "quantity": 40 })
}

#[tokio::test(flavor = "multi_thread")]
async fn published_artifacts_load_only_when_pinned() {
    let sdk = aws().await;
    let s3 = plugboard::backends::aws::s3::client(&sdk);
    let bucket = s3_bucket(&s3).await;
    let out = publish("guests/dist/chaos.wasm", &format!("s3://{bucket}/svc/chaos.wasm"));
    let (url, pin, precompiled) = (
        printed(&out, "PLUGBOARD_GUEST"),
        printed(&out, "PLUGBOARD_GUEST_SHA256"),
        printed(&out, "PLUGBOARD_PRECOMPILED_SHA256"),
    );
    assert!(url.contains("?versionId="), "{out}");
    assert_eq!(pin, plugboard::runtime::precompiled::sha256_hex(&guest("chaos")));
    // One artifact per architecture, each beside the guest and named by the component's digest
    // and the engine tag.
    let listed = s3.list_objects_v2().bucket(&bucket).prefix("svc/").send().await.unwrap();
    let keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
    for (arch, _) in TARGETS {
        let named = format!("svc/chaos.{}.{arch}-", &pin[..16]);
        assert!(keys.iter().any(|k| k.starts_with(&named) && k.ends_with(".cwasm")), "{keys:?}");
    }
    assert_eq!(precompiled.split(',').count(), 2);

    let env = |precompiled: &str| {
        vars(&[
            ("PLUGBOARD_ROLE", "internal-api"),
            ("PLUGBOARD_GUEST", url),
            ("PLUGBOARD_GUEST_SHA256", pin),
            ("PLUGBOARD_PRECOMPILED_SHA256", precompiled),
        ])
    };
    let app = LambdaApp::start(env(precompiled), &sdk).await.expect("cold start");
    assert_eq!(app.origin, Origin::Precompiled);
    assert_eq!(call(&app, probe()).await.unwrap()["results"], json!([[]]));

    // Artifacts whose digests are not pinned are ignored: the component is compiled instead.
    let app = LambdaApp::start(env(&"0".repeat(64)), &sdk).await.expect("cold start");
    assert_ne!(app.origin, Origin::Precompiled);
    assert_eq!(call(&app, probe()).await.unwrap()["results"], json!([[]]));
}

#[test]
fn the_compile_cache_compiles_once_and_survives_a_bad_entry() {
    let runtime = Runtime::new(EngineSettings::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("plugboard-cache-test-{}", uuid::Uuid::new_v4().simple()));
    let cache = CompileCache::open(&dir, &runtime).unwrap();
    let wasm = guest("quotes");
    assert_eq!(cache.load(&runtime, &wasm, Role::InternalApi).unwrap().1, Origin::Compiled);
    assert_eq!(cache.load(&runtime, &wasm, Role::InternalApi).unwrap().1, Origin::Cached);
    // A role mismatch is reported, not blamed on the cache.
    assert!(matches!(cache.load(&runtime, &wasm, Role::HttpApi), Err(GuestError::WrongWorld { .. })));
    // A damaged entry is discarded and the guest compiled again.
    let entry = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&entry, b"not a cwasm").unwrap();
    assert_eq!(cache.load(&runtime, &wasm, Role::InternalApi).unwrap().1, Origin::Compiled);
    assert_eq!(cache.load(&runtime, &wasm, Role::InternalApi).unwrap().1, Origin::Cached);
    // A directory others may write is refused.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(CompileCache::open(&dir, &runtime).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_compile_cache_follows_no_symlink_and_trusts_only_private_entries() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let runtime = Runtime::new(EngineSettings::default()).unwrap();
    let base = std::env::temp_dir().join(format!("plugboard-cache-links-{}", uuid::Uuid::new_v4().simple()));
    let real = base.join("real");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    // A cache directory reached through a symlink (on a shared /tmp: someone else's) is refused.
    symlink(&real, base.join("link")).unwrap();
    assert!(CompileCache::open(&base.join("link"), &runtime).is_err());

    let cache = CompileCache::open(&real, &runtime).unwrap();
    let wasm = guest("quotes");
    assert_eq!(cache.load(&runtime, &wasm, Role::InternalApi).unwrap().1, Origin::Compiled);
    let entry = std::fs::read_dir(&real)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .unwrap();
    // An entry swapped for a symlink is not followed: the guest is compiled again.
    let elsewhere = base.join("elsewhere.cwasm");
    std::fs::rename(&entry, &elsewhere).unwrap();
    symlink(&elsewhere, &entry).unwrap();
    assert_eq!(cache.load(&runtime, &wasm, Role::InternalApi).unwrap().1, Origin::Compiled);
    assert!(!std::fs::symlink_metadata(&entry).unwrap().is_symlink(), "the link was replaced by a real entry");
    assert_eq!(cache.load(&runtime, &wasm, Role::InternalApi).unwrap().1, Origin::Cached);
    // An entry others may write is not trusted either.
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(cache.load(&runtime, &wasm, Role::InternalApi).unwrap().1, Origin::Compiled);
    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unpinned_s3_guest_refreshes_by_etag_and_a_bad_one_is_not_swapped_in() {
    let sdk = aws().await;
    let s3 = plugboard::backends::aws::s3::client(&sdk);
    let bucket = s3_bucket(&s3).await;
    upload(&s3, &bucket, "svc.wasm", "quotes").await;
    let location = format!("s3://{bucket}/svc.wasm");
    let env = vars(&[
        ("PLUGBOARD_ROLE", "internal-api"),
        ("PLUGBOARD_GUEST", &location),
        ("PLUGBOARD_GUEST_REFRESH_SECS", "1"),
    ]);
    let app = LambdaApp::start(env, &sdk).await.expect("cold start");
    let quotes_answer = |r: Result<Value, String>| r.is_err_and(|e| e.contains("StoreError"));
    assert!(quotes_answer(call(&app, probe()).await), "quotes serves first");

    upload(&s3, &bucket, "svc.wasm", "chaos").await;
    assert!(quotes_answer(call(&app, probe()).await), "not re-checked before the interval");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call(&app, probe()).await.unwrap()["results"], json!([[]]), "the new guest serves");

    // A guest for another role is logged and the current one serves on.
    upload(&s3, &bucket, "svc.wasm", "items_api").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call(&app, probe()).await.unwrap()["results"], json!([[]]));

    // Refresh with a pin or a version is a contradiction, refused at cold start.
    for extra in [("PLUGBOARD_GUEST_SHA256", "0".repeat(64)), ("PLUGBOARD_GUEST", format!("{location}?versionId=x"))] {
        let mut env = vars(&[
            ("PLUGBOARD_ROLE", "internal-api"),
            ("PLUGBOARD_GUEST", &location),
            ("PLUGBOARD_GUEST_REFRESH_SECS", "1"),
        ]);
        env.push((extra.0.to_string(), extra.1));
        let err = LambdaApp::start(env, &sdk).await.err().expect("refused");
        assert!(format!("{err:#}").contains("PLUGBOARD_GUEST_REFRESH_SECS"), "{err:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn config_values_resolve_from_ssm_and_secrets_manager() {
    let sdk = aws().await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let parameter = format!("/plugboard/{id}/jwt");
    ssm.put_parameter()
        .name(&parameter)
        .value("from-ssm")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let secret = format!("plugboard-{id}");
    secrets.create_secret().name(&secret).secret_string(r#"{"hmac":"from-secrets-manager"}"#).send().await.unwrap();

    let chaos = root().join("guests/dist/chaos.wasm").display().to_string();
    let base = [("PLUGBOARD_ROLE", "internal-api"), ("PLUGBOARD_GUEST", chaos.as_str())];
    let mut env = vars(&base);
    env.extend(vars(&[
        ("PLUGBOARD_CONFIG_JWT", &format!("ssm:{parameter}")),
        ("PLUGBOARD_CONFIG_HMAC", &format!("secretsmanager:{secret}#hmac")),
        ("PLUGBOARD_CONFIG_WHOLE", &format!("secretsmanager:{secret}")),
        ("PLUGBOARD_CONFIG_PLAIN", "as-written"),
    ]));
    let app = LambdaApp::start(env, &sdk).await.expect("cold start");
    let result = call(&app, probe()).await.unwrap();
    let all: std::collections::BTreeMap<String, String> = result["results"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    assert_eq!(all["jwt"], "from-ssm");
    assert_eq!(all["hmac"], "from-secrets-manager");
    assert_eq!(all["whole"], r#"{"hmac":"from-secrets-manager"}"#);
    assert_eq!(all["plain"], "as-written");

    // A missing parameter fails the cold start naming the key and the reference.
    let mut env = vars(&base);
    env.push(("PLUGBOARD_CONFIG_JWT".into(), format!("ssm:/plugboard/{id}/missing")));
    let err = format!("{:#}", LambdaApp::start(env, &sdk).await.err().expect("refused"));
    assert!(err.contains("`jwt`") && err.contains("ParameterNotFound"), "{err}");
}
