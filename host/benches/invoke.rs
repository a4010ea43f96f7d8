//! Per-invocation cost of the example guests, from a ready `InstancePre`: new store +
//! instantiate + one call per role with a ~1 KiB request (WIT level, pooling and on-demand
//! allocators); the same from event JSON bytes to response JSON bytes; the http-api handler
//! written natively in Rust; one key-value get from a guest; a warm outbound HTTP call against
//! the same call made natively; what EMF metrics add per invocation. Run with `scripts/bench.sh`.

#[path = "invoke/outbound.rs"]
mod outbound;
#[path = "invoke/telemetry.rs"]
mod telemetry;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::SqsEvent;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use plugboard::app::LocalApp;
use plugboard::bindings::authorizer::exports::plugboard::host::authorizer_handler::AuthorizationRequest;
use plugboard::bindings::plugboard::host::http_types::{HttpRequest, RequestContext};
use plugboard::bindings::queue_worker::exports::plugboard::host::queue_handler::IncomingMessage;
use plugboard::config::{FunctionConfig, Role};
use plugboard::function::{Function, Invocation};
use plugboard::runtime::{Allocator, EngineSettings, RolePre, Runtime};
use plugboard::telemetry::InvocationMetrics;
use serde_json::{Value, json};
use sha2::Sha256;

/// What `measured` costs beyond `baseline`, per iteration and per one of `per` operations: the
/// two are timed in turn in one loop, so drift on this shared machine hits both. Never zero,
/// which criterion refuses: a difference within the loop's noise can come out negative, and is
/// reported as (nearly) nothing.
async fn interleaved_difference(
    iters: u64,
    per: u32,
    mut measured: impl AsyncFnMut(),
    mut baseline: impl AsyncFnMut(),
) -> Duration {
    let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..iters {
        let t = Instant::now();
        measured().await;
        with += t.elapsed();
        let t = Instant::now();
        baseline().await;
        without += t.elapsed();
    }
    (with.saturating_sub(without) / per).max(Duration::from_nanos(iters))
}

/// Size of the padding that makes each request about 1 KiB.
const PAD: usize = 1024;
const SECRET: &str = "bench-secret";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join(format!("tests/fixtures/events/{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Load example guest `guest` as a function of `role` with `extra` TOML; the app is leaked so
/// its backends outlive the benchmark.
fn function(runtime: &Runtime, guest: &str, role: &str, extra: &str) -> Arc<Function> {
    let app = Box::leak(Box::new(LocalApp::new(runtime.clone())));
    let config = FunctionConfig::parse(&format!("role = \"{role}\"\n{extra}"), "bench", true).unwrap();
    let bytes =
        std::fs::read(root().join(format!("guests/dist/{guest}.wasm"))).expect("run scripts/build-guests.sh first");
    app.add(guest, config, &bytes).unwrap()
}

fn ingest(runtime: &Runtime) -> Arc<Function> {
    let extra = format!("[grants.queues]\nevents = \"events\"\n[config]\nwebhook_secret = \"{SECRET}\"");
    function(runtime, "webhook_ingest", "http-api", &extra)
}

fn worker(runtime: &Runtime) -> Arc<Function> {
    function(runtime, "webhook_worker", "queue-worker", "[grants.stores]\nevents = \"events\"")
}

fn gatekeeper(runtime: &Runtime) -> Arc<Function> {
    let extra = format!("[grants.stores]\napi-keys = \"keys\"\n[config]\njwt_secret = \"{SECRET}\"");
    function(runtime, "gatekeeper", "authorizer", &extra)
}

fn quotes(runtime: &Runtime) -> Arc<Function> {
    function(runtime, "quotes", "internal-api", "[grants.stores]\npricing = \"pricing\"")
}

/// A ~1 KiB webhook body (unsigned, so ingest answers 401 without enqueueing).
fn webhook_body() -> String {
    json!({ "id": "evt-1", "event": "order.created", "pad": "x".repeat(PAD - 60) }).to_string()
}

fn jwt() -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD
        .encode(json!({ "sub": "bench", "exp": 4_000_000_000u64, "routes": ["GET /orders/*"] }).to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    format!("Bearer {header}.{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn context() -> RequestContext {
    RequestContext { request_id: "r".into(), source_ip: None, stage: None, principal_id: None, authorizer: vec![] }
}

/// What a role's guest is called with, at the WIT level.
enum WitInput {
    Http(HttpRequest),
    Message(IncomingMessage),
    Authorization(AuthorizationRequest),
    Payload(String),
}

/// New store + instantiate + one call of `f`'s guest with `input`, as the role adapters do it
/// (`GuestRunner::call`).
async fn call_wit(f: &Function, input: &WitInput) {
    let runner = f.runner();
    let info = runner.call_info(&Invocation::default());
    match (&f.guest().pre, input) {
        (RolePre::HttpApi(pre), WitInput::Http(request)) => {
            assert_eq!(runner.call(pre, request, info).await.unwrap().status, 401);
        }
        (RolePre::QueueWorker(pre), WitInput::Message(message)) => {
            runner.call(pre, message, info).await.unwrap().unwrap()
        }
        (RolePre::Authorizer(pre), WitInput::Authorization(request)) => {
            black_box(runner.call(pre, request, info).await.unwrap().unwrap());
        }
        (RolePre::InternalApi(pre), WitInput::Payload(payload)) => {
            black_box(runner.call(pre, payload.as_str(), info).await.unwrap().unwrap());
        }
        _ => panic!("{}: the input is for another role", f.name()),
    }
}

/// Store + instantiate + one call of each role's guest, at the WIT level.
fn wit_level(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("instantiate+call (WIT)");
    for (label, allocator) in
        [("pooling", Allocator::Pooling { max_instances: 64 }), ("on-demand", Allocator::OnDemand)]
    {
        let runtime = Runtime::new(EngineSettings { allocator, max_memory_mb: 4096 }).unwrap();
        let request = HttpRequest {
            method: "POST".into(),
            raw_path: "/webhooks".into(),
            route: None,
            path_params: vec![],
            query: vec![],
            headers: vec![("content-type".into(), "application/json".into())],
            body: webhook_body().into_bytes(),
            context: context(),
        };
        let message = IncomingMessage {
            id: "m1".into(),
            body: webhook_body(),
            attributes: vec![],
            receive_count: 1,
            group_id: None,
            source: "q".into(),
        };
        let authorization = AuthorizationRequest {
            token: Some(jwt()),
            method_arn: "arn:aws:execute-api:us-east-1:1:api/prod/GET/orders/o-1".into(),
            method: None,
            path: None,
            headers: vec![("x-pad".into(), "p".repeat(PAD - 300))],
            query: vec![],
            path_params: vec![],
            stage: None,
            request_id: None,
            source_ip: None,
        };
        let payload = json!({ "sku": "w".repeat(PAD - 50), "unit_price": 2.5, "quantity": 40 }).to_string();
        let cases = [
            (ingest(&runtime), WitInput::Http(request)),
            (worker(&runtime), WitInput::Message(message)),
            (gatekeeper(&runtime), WitInput::Authorization(authorization)),
            (quotes(&runtime), WitInput::Payload(payload)),
        ];
        for (f, input) in &cases {
            group.bench_function(BenchmarkId::new(f.role().as_str(), label), |b| {
                b.to_async(&rt).iter(|| call_wit(f, input))
            });
        }
    }
    group.finish();
}

/// ~1 KiB events of each kind, as JSON bytes, with the function that takes them.
fn events(runtime: &Runtime) -> Vec<(Arc<Function>, Vec<u8>)> {
    let mut http = fixture("http-api-v2");
    http["rawPath"] = "/webhooks".into();
    http["requestContext"]["http"]["method"] = "POST".into();
    http["body"] = webhook_body().into();
    let mut sqs = fixture("sqs");
    sqs["Records"].as_array_mut().unwrap().truncate(1);
    sqs["Records"][0]["body"] = webhook_body().into();
    let mut token = fixture("authorizer-token");
    token["authorizationToken"] = jwt().into();
    token["pad"] = "z".repeat(PAD - 300).into();
    let direct = json!({ "sku": "w".repeat(PAD - 50), "unit_price": 2.5, "quantity": 40 });
    [(ingest(runtime), http), (worker(runtime), sqs), (gatekeeper(runtime), token), (quotes(runtime), direct)]
        .into_iter()
        .map(|(f, event)| (f, serde_json::to_vec(&event).unwrap()))
        .collect()
}

/// The WIT input the role adapter makes of `event` (what `call_wit` then costs on its own).
fn wit_input(f: &Function, event: &[u8]) -> WitInput {
    use plugboard::roles::{authorizer, http_api, queue_worker};
    match f.role() {
        Role::HttpApi => WitInput::Http(http_api::from_http_api(serde_json::from_slice(event).unwrap()).unwrap()),
        Role::QueueWorker => {
            let event: SqsEvent = serde_json::from_slice(event).unwrap();
            let record = &event.records[0];
            WitInput::Message(queue_worker::incoming(record, record.message_id.clone().unwrap()))
        }
        Role::Authorizer => WitInput::Authorization(authorizer::from_token(serde_json::from_slice(event).unwrap())),
        Role::InternalApi => WitInput::Payload(String::from_utf8(event.to_vec()).unwrap()),
    }
}

/// Event bytes to response bytes through each role, what of that is glue (the whole path minus
/// store + instantiate + call of the same guest with the same input, timed in turn in the same
/// loop), and the http-api handler written natively.
fn event_level(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let runtime = Runtime::new(EngineSettings::default()).unwrap();
    let all = events(&runtime);
    let mut group = c.benchmark_group("event bytes -> response bytes");
    for (f, bytes) in &all {
        let text = std::str::from_utf8(bytes).unwrap();
        group.bench_function(BenchmarkId::new("guest", f.role().as_str()), |b| {
            b.to_async(&rt).iter(|| async {
                let response = f.invoke_json(text, Invocation::default()).await.unwrap();
                black_box(response.get().len())
            })
        });
        let input = wit_input(f, bytes);
        group.bench_function(BenchmarkId::new("glue", f.role().as_str()), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (f, input) = (f.clone(), &input);
                async move {
                    let whole = async || {
                        black_box(f.invoke_json(text, Invocation::default()).await.unwrap().get().len());
                    };
                    interleaved_difference(iters, 1, whole, async || call_wit(&f, input).await).await
                }
            })
        });
    }
    // webhook-ingest's logic written natively: parse the event and its body, find the key, check
    // the signature over timestamp.key.body, answer 401.
    let http_bytes = all[0].1.clone();
    group.bench_function(BenchmarkId::new("native", "http-api"), |b| {
        b.iter(|| {
            let event: ApiGatewayV2httpRequest = serde_json::from_slice(&http_bytes).unwrap();
            let header = |name: &str| event.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let (signature, timestamp) = (header("x-signature"), header("x-webhook-timestamp"));
            let body = event.body.clone().unwrap_or_default();
            let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let key = parsed["id"].as_str().unwrap_or_default();
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(format!("{timestamp}.{key}.{body}").as_bytes());
            let valid = signature
                .strip_prefix("sha256=")
                .and_then(|h| hex::decode(h).ok())
                .is_some_and(|sig| mac.verify_slice(&sig).is_ok());
            let mut response = ApiGatewayV2httpResponse::default();
            response.status_code = if valid { 202 } else { 401 };
            response.body = Some(Body::Text(json!({ "message": "missing or invalid x-signature" }).to_string()));
            black_box(serde_json::to_vec(&response).unwrap())
        })
    });
    group.finish();
}

/// One key-value get from a guest: a script of N gets minus a script of N store opens, over N.
fn key_value_get(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let runtime = Runtime::new(EngineSettings::default()).unwrap();
    let f = function(&runtime, "chaos", "internal-api", "[grants.stores]\ndata = \"data\"");
    const N: u32 = 200;
    let gets = json!({ "ops": vec![json!({ "op": "kv.get", "store": "data", "key": "k" }); N as usize] });
    let opens = json!({ "ops": vec![json!({ "op": "kv.open", "store": "data" }); N as usize] });
    // With metrics on, each get is also counted and timed (what the Lambda bootstrap does).
    let recorder = || Invocation { metrics: Some(Arc::new(InvocationMetrics::new())), ..Invocation::default() };
    for (name, metrics_on) in [("key-value get from a guest", false), ("key-value get from a guest, metrics on", true)]
    {
        let invocation = move || if metrics_on { recorder() } else { Invocation::default() };
        c.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (f, gets, opens) = (f.clone(), gets.clone(), opens.clone());
                async move {
                    let with_gets = async || drop(black_box(f.handle(gets.clone(), invocation()).await.unwrap()));
                    let opens_only = async || drop(black_box(f.handle(opens.clone(), invocation()).await.unwrap()));
                    interleaved_difference(iters, N, with_gets, opens_only).await
                }
            })
        });
    }
}

/// The cold start's guest step: compile the component, load this host's cached `.cwasm`, or
/// load the artifact `plugboard publish` cross-compiled for this architecture.
fn guest_load(c: &mut Criterion) {
    use plugboard::runtime::Guest;
    use plugboard::runtime::precompiled::{CompileCache, TARGETS, cross_engine};
    let runtime = Runtime::new(EngineSettings::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("plugboard-bench-cache-{}", std::process::id()));
    let cache = CompileCache::open(&dir, &runtime).unwrap();
    let mut group = c.benchmark_group("guest load");
    group.sample_size(10);
    for (name, role) in [("quotes", Role::InternalApi), ("items_api", Role::HttpApi)] {
        let wasm = std::fs::read(root().join(format!("guests/dist/{name}.wasm"))).unwrap();
        let triple = TARGETS.iter().find(|(arch, _)| *arch == std::env::consts::ARCH).unwrap().1;
        let published = cross_engine(triple).unwrap().precompile_component(&wasm).unwrap();
        cache.load(&runtime, &wasm, role).unwrap();
        group.bench_function(BenchmarkId::new("compile .wasm", name), |b| {
            b.iter(|| black_box(Guest::load(&runtime, &wasm, role).unwrap()))
        });
        group.bench_function(BenchmarkId::new("cached .cwasm", name), |b| {
            b.iter(|| black_box(cache.load(&runtime, &wasm, role).unwrap()))
        });
        group.bench_function(BenchmarkId::new("published .cwasm", name), |b| {
            b.iter(|| {
                black_box(Guest::load_with(&runtime, &published, role, plugboard::runtime::Trust::Trusted).unwrap())
            })
        });
    }
    group.finish();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same worlds in three languages: a Rust and a Python webhook worker on one SQS message,
/// the Rust Gatekeeper (JWT) and the JavaScript token authorizer on one TOKEN event — per
/// invocation from event to response, and the load (compile, cached) of each component.
fn languages(c: &mut Criterion) {
    use plugboard::runtime::Guest;
    use plugboard::runtime::precompiled::CompileCache;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let runtime = Runtime::new(EngineSettings::default()).unwrap();
    let mut sqs = fixture("sqs");
    sqs["Records"].as_array_mut().unwrap().truncate(1);
    sqs["Records"][0]["body"] = webhook_body().into();
    let mut token = fixture("authorizer-token");
    let tokens = r#"tokens = '{"tok-bench": {"principal": "bench", "routes": ["GET /orders/*"]}}'"#;
    let cases = [
        ("rust", worker(&runtime), sqs.clone()),
        (
            "python",
            function(&runtime, "webhook_worker_py", "queue-worker", "[grants.stores]\nevents = \"events\""),
            sqs,
        ),
        ("rust", gatekeeper(&runtime), {
            token["authorizationToken"] = jwt().into();
            token.clone()
        }),
        ("javascript", function(&runtime, "token_authorizer_js", "authorizer", &format!("[config]\n{tokens}")), {
            token["authorizationToken"] = "Bearer tok-bench".into();
            token
        }),
    ];
    let mut group = c.benchmark_group("languages: event -> response");
    for (language, f, event) in &cases {
        group.bench_function(BenchmarkId::new(f.role().as_str(), language), |b| {
            b.to_async(&rt).iter(|| async { black_box(f.handle(event.clone(), Invocation::default()).await.unwrap()) })
        });
    }
    group.finish();
    let dir = std::env::temp_dir().join(format!("plugboard-bench-lang-{}", std::process::id()));
    let cache = CompileCache::open(&dir, &runtime).unwrap();
    let mut group = c.benchmark_group("languages: guest load");
    group.sample_size(10);
    for (name, role) in [
        ("webhook_worker", Role::QueueWorker),
        ("webhook_worker_py", Role::QueueWorker),
        ("token_authorizer_js", Role::Authorizer),
    ] {
        let wasm = std::fs::read(root().join(format!("guests/dist/{name}.wasm"))).unwrap();
        println!("{name}.wasm: {} bytes", wasm.len());
        cache.load(&runtime, &wasm, role).unwrap();
        group.bench_function(BenchmarkId::new("compile .wasm", name), |b| {
            b.iter(|| black_box(Guest::load(&runtime, &wasm, role).unwrap()))
        });
        group.bench_function(BenchmarkId::new("cached .cwasm", name), |b| {
            b.iter(|| black_box(cache.load(&runtime, &wasm, role).unwrap()))
        });
    }
    group.finish();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The latency one invocation's EMF metrics add, per role.
fn emf_metrics(c: &mut Criterion) {
    let runtime = Runtime::new(EngineSettings::default()).unwrap();
    telemetry::emf_overhead(c, &events(&runtime));
    telemetry::emf_document(c);
}

criterion_group!(
    benches,
    wit_level,
    event_level,
    emf_metrics,
    key_value_get,
    outbound::outbound_call,
    guest_load,
    languages
);
criterion_main!(benches);
