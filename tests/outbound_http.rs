//! Outbound HTTP from a real guest (the chaos probe's `http.fetch`, through
//! `wasi:http/outgoing-handler`) against a real HTTP server on 127.0.0.1: grants are an
//! allow-list, resolved addresses are vetted before any socket opens (names mapped by an
//! injected resolver; nothing is ever sent to a non-loopback address), the URL alone picks the
//! target, redirects come back to the guest, and deadline, body cap and request cap hold.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{call, config, guest, runtime};
use http_body_util::Full;
use hyper::body::Bytes;
use plugboard::backends::local::LocalInvoker;
use plugboard::backends::memory::{MemoryKeyValue, MemoryQueue};
use plugboard::capabilities::http::client::{BoxFuture, Dial, PooledSender, Resolve, TcpDial};
use plugboard::capabilities::http::network::Network;
use plugboard::capabilities::keyvalue::KeyValueBackend;
use plugboard::function::{Backends, Function};
use plugboard::runtime::Guest;
use serde_json::{Value, json};

/// What the test server saw.
#[derive(Default)]
struct Seen {
    hello: AtomicUsize,
    hosts: std::sync::Mutex<Vec<String>>,
}

/// A server on 127.0.0.1: `/hello`, `/redirect` (302 to `/hello`), `/slow` (10 s), `/big` (2 MiB);
/// what it saw, and how many connections it accepted.
async fn server() -> (u16, Arc<Seen>, Arc<AtomicUsize>) {
    let seen = Arc::new(Seen::default());
    let state = seen.clone();
    let (port, connections) = common::serve_http(move |request: hyper::Request<hyper::body::Incoming>| {
        let state = state.clone();
        async move {
            let host = request.headers().get("host").map(|h| h.to_str().unwrap_or("").to_string());
            state.hosts.lock().unwrap().push(host.unwrap_or_default());
            let response = hyper::Response::builder();
            let response = match request.uri().path() {
                "/hello" => {
                    state.hello.fetch_add(1, Ordering::SeqCst);
                    response.header("set-cookie", "a=1").body(Full::new(Bytes::from("hello")))
                }
                "/redirect" => response.status(302).header("location", "/hello").body(Full::default()),
                "/slow" => {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    response.body(Full::default())
                }
                "/big" => response.body(Full::new(Bytes::from(vec![b'x'; 2 << 20]))),
                _ => response.status(404).body(Full::default()),
            };
            response.expect("a valid response")
        }
    })
    .await;
    (port, seen, connections)
}

/// Names the tests make up, resolved to the addresses an attacker would pick.
struct MapResolver(HashMap<String, Vec<IpAddr>>);

impl Resolve for MapResolver {
    fn resolve(&self, host: String) -> BoxFuture<std::io::Result<Vec<IpAddr>>> {
        let found = self.0.get(&host).cloned().ok_or_else(|| std::io::Error::other(format!("no such name {host}")));
        Box::pin(async move { found })
    }
}

/// Counts every dial; dials loopback for real and refuses anything else without a socket.
#[derive(Default)]
struct CountingDial(AtomicUsize);

impl Dial for CountingDial {
    fn dial(&self, address: SocketAddr) -> BoxFuture<std::io::Result<tokio::net::TcpStream>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        if address.ip().is_loopback() {
            TcpDial.dial(address)
        } else {
            Box::pin(async { Err(std::io::ErrorKind::ConnectionRefused.into()) })
        }
    }
}

/// The probe as an internal API with `toml` (grants, limits) on `network`.
fn probe(toml: &str, network: Network, names: &[(&str, &str)], dial: Arc<CountingDial>) -> Function {
    let config = config(&format!("role = \"internal-api\"\n{toml}"));
    let resolver = MapResolver(names.iter().map(|(n, ip)| (n.to_string(), vec![ip.parse().unwrap()])).collect());
    let sender = PooledSender::new(&config.grants.http, network, Arc::new(resolver), dial);
    let backends = Backends {
        keyvalue: Arc::new(MemoryKeyValue::new()),
        queue: Arc::new(MemoryQueue::new()),
        invoker: Arc::new(LocalInvoker::new()),
        http: Arc::new(sender),
    };
    let guest = Guest::load(&runtime(), &guest("chaos"), config.role).unwrap();
    Function::new("probe", config, runtime(), guest, backends)
}

/// Each op's result.
async fn fetch(function: &Function, fetches: Vec<Value>) -> Vec<Value> {
    let ops: Vec<Value> = fetches.into_iter().map(|f| json!({ "op": "http.fetch" }).merge(f)).collect();
    let answer = call(function, json!({ "ops": ops })).await.expect("the probe answers");
    answer["results"].as_array().unwrap().clone()
}

trait Merge {
    fn merge(self, other: Value) -> Value;
}

impl Merge for Value {
    fn merge(mut self, other: Value) -> Value {
        for (k, v) in other.as_object().unwrap() {
            self[k] = v.clone();
        }
        self
    }
}

fn error_of(result: &Value) -> &str {
    result["error"].as_str().unwrap_or_else(|| panic!("expected an error, got {result}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_granted_call_is_answered_and_anything_else_is_denied() {
    let (port, seen, _) = server().await;
    let dial = Arc::new(CountingDial::default());
    let f = probe(&format!("grants.http = [\"http://127.0.0.1:{port}\"]"), Network::Local, &[], dial.clone());
    let r = fetch(
        &f,
        vec![
            json!({ "url": format!("http://127.0.0.1:{port}/hello") }),
            json!({ "url": format!("http://127.0.0.1:{}/hello", port + 1) }),
            json!({ "url": format!("https://127.0.0.1:{port}/hello") }),
            json!({ "url": "http://localhost/hello", "method": "POST", "body": "x".repeat(20_000) }),
            // User information would reach the server in Host and open a connection per name.
            json!({ "url": format!("http://someone@127.0.0.1:{port}/hello") }),
        ],
    )
    .await;
    assert_eq!(r[0]["status"], 200, "{}", r[0]);
    assert_eq!(r[0]["body"], "hello");
    assert!(r[0]["headers"].as_array().unwrap().contains(&json!(["set-cookie", "a=1"])), "{}", r[0]);
    for denied in &r[1..4] {
        assert!(error_of(denied).contains("HttpRequestDenied"), "{denied}");
    }
    assert!(error_of(&r[4]).contains("HttpRequestUriInvalid"), "{}", r[4]);
    assert_eq!(dial.0.load(Ordering::SeqCst), 1, "only the granted call opened a connection");
    assert_eq!(seen.hosts.lock().unwrap().as_slice(), [format!("127.0.0.1:{port}")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_lambda_names_resolving_to_host_local_or_private_addresses_are_refused_before_any_socket() {
    let (port, _, connections) = server().await;
    let dial = Arc::new(CountingDial::default());
    let names = [
        ("loopback.example.test", "127.0.0.1"),
        ("metadata.example.test", "169.254.169.254"),
        ("mapped.example.test", "::ffff:127.0.0.1"),
        ("inner.example.test", "10.0.0.1"),
    ];
    let grants: Vec<String> = names.iter().map(|(n, _)| format!("\"http://{n}:{port}\"")).collect();
    let toml = format!("grants.http = [{}, \"http://127.0.0.1:{port}\"]", grants.join(", "));
    let f = probe(&toml, Network::Lambda, &names, dial.clone());
    let mut fetches: Vec<Value> =
        names.iter().map(|(n, _)| json!({ "url": format!("http://{n}:{port}/hello") })).collect();
    fetches.push(json!({ "url": format!("http://127.0.0.1:{port}/hello") }));
    let r = fetch(&f, fetches).await;
    for (result, target) in r.iter().zip(names.iter().map(|(n, _)| *n).chain(["127.0.0.1 (granted literally)"])) {
        assert!(error_of(result).contains("DestinationIpProhibited"), "{target}: {result}");
    }
    assert_eq!(dial.0.load(Ordering::SeqCst), 0, "no socket was opened");
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_reached_only_through_a_grant_that_opts_in() {
    let dial = Arc::new(CountingDial::default());
    let names = [("orders.internal", "10.0.0.7"), ("public.example.test", "10.0.0.8")];
    let toml = "grants.http = [\"http://orders.internal private\", \"http://public.example.test\"]";
    let f = probe(toml, Network::Lambda, &names, dial.clone());
    let r =
        fetch(&f, vec![json!({ "url": "http://public.example.test/" }), json!({ "url": "http://orders.internal/" })])
            .await;
    assert!(error_of(&r[0]).contains("DestinationIpProhibited"), "{}", r[0]);
    // Vetted and dialled (the test's dialler refuses non-loopback addresses without a socket).
    assert!(error_of(&r[1]).contains("ConnectionRefused"), "{}", r[1]);
    assert_eq!(dial.0.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_url_alone_picks_the_target_and_redirects_come_back_to_the_guest() {
    let (port, seen, _) = server().await;
    let f = probe(&format!("grants.http = [\"http://127.0.0.1:{port}\"]"), Network::Local, &[], Arc::default());
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let r = fetch(
        &f,
        vec![
            json!({ "url": url("/hello"), "headers": { "host": "evil.example" } }),
            json!({ "url": url("/redirect") }),
        ],
    )
    .await;
    assert!(error_of(&r[0]).contains("Forbidden"), "a guest cannot set Host: {}", r[0]);
    assert_eq!(r[1]["status"], 302, "{}", r[1]);
    assert!(r[1]["headers"].as_array().unwrap().contains(&json!(["location", "/hello"])));
    assert_eq!(seen.hello.load(Ordering::SeqCst), 0, "the redirect was not followed");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_servers_big_bodies_and_too_many_requests_are_cut_off() {
    let (port, _, _) = server().await;
    let grants = format!("grants.http = [\"http://127.0.0.1:{port}\"]");
    let limits = "[limits]\ntimeout-ms = 5000\nhttp-body-bytes = 1024\nhttp-requests = 3";
    let f = probe(&format!("{grants}\n{limits}"), Network::Local, &[], Arc::default());
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let started = Instant::now();
    let r = fetch(
        &f,
        vec![
            json!({ "url": url("/slow"), "first-byte-timeout-ms": 300 }),
            json!({ "url": url("/big") }),
            json!({ "url": url("/hello") }),
            json!({ "url": url("/hello") }),
        ],
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(3), "the slow call took {:?}", started.elapsed());
    assert!(error_of(&r[0]).contains("ConnectionReadTimeout"), "{}", r[0]);
    // The body ends in an error within the cap (wasmtime-wasi-http gives body errors no
    // `http-error-code`, so the guest sees a failed read, not the code).
    assert!(error_of(&r[1]).starts_with("body"), "{}", r[1]);
    assert!(r[1]["read"].as_u64().unwrap() <= 1024, "{}", r[1]);
    assert_eq!(r[2]["status"], 200);
    assert!(error_of(&r[3]).contains("HttpRequestDenied"), "the fourth request is over the cap: {}", r[3]);

    // Without a timeout of its own, the call ends with the invocation.
    let short = format!("{grants}\n[limits]\ntimeout-ms = 800");
    let f = probe(&short, Network::Local, &[], Arc::default());
    let started = Instant::now();
    let outcome = call(&f, json!({ "ops": [{ "op": "http.fetch", "url": url("/slow") }] })).await;
    assert!(outcome.is_err(), "the invocation hit its deadline: {outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_calls_reuse_their_connection() {
    let (port, seen, connections) = server().await;
    let f = probe(&format!("grants.http = [\"http://127.0.0.1:{port}\"]"), Network::Local, &[], Arc::default());
    for _ in 0..3 {
        let r = fetch(&f, vec![json!({ "url": format!("http://127.0.0.1:{port}/hello") })]).await;
        assert_eq!(r[0]["status"], 200, "{}", r[0]);
    }
    assert_eq!(seen.hello.load(Ordering::SeqCst), 3);
    assert_eq!(connections.load(Ordering::SeqCst), 1, "three invocations, one pooled connection");
}

/// What the downstream saw per idempotency key: how often it applied it, and the trace headers
/// (`x-amzn-trace-id`, `traceparent`) of each request.
type Applied = Arc<std::sync::Mutex<HashMap<String, usize>>>;
type TracesSeen = Arc<std::sync::Mutex<HashMap<String, Vec<(String, String)>>>>;

/// The downstream the webhook queue protects: counts the requests it accepted per idempotency
/// key, answers 503 to every third request and stalls every fifth past the worker's budget.
async fn flaky_backend() -> (u16, Applied, TracesSeen) {
    let applied: Applied = Arc::default();
    let traces: TracesSeen = Arc::default();
    let requests = Arc::new(AtomicUsize::new(0));
    let (state, seen) = (applied.clone(), traces.clone());
    let (port, _) = common::serve_http(move |request: hyper::Request<hyper::body::Incoming>| {
        let (state, seen, requests) = (state.clone(), seen.clone(), requests.clone());
        async move {
            let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
            let key = request.headers().get("idempotency-key").map(|k| k.to_str().unwrap_or("").to_string());
            let header =
                |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let trace = (header("x-amzn-trace-id"), header("traceparent"));
            seen.lock().unwrap().entry(key.clone().unwrap_or_default()).or_default().push(trace);
            let status = if n % 5 == 0 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                503
            } else if n % 3 == 0 {
                503
            } else {
                *state.lock().unwrap().entry(key.unwrap_or_default()).or_default() += 1;
                200
            };
            hyper::Response::builder().status(status).body(Full::<Bytes>::default()).expect("a valid response")
        }
    })
    .await;
    (port, applied, traces)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_worker_forwards_every_event_and_the_downstream_applies_each_key_once() {
    let (port, applied, traces) = flaky_backend().await;
    let dir = std::env::temp_dir().join(format!("plugboard-forward-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let dist = common::root().join("guests/dist");
    let manifest = format!(
        r#"[app]
name = "forward"
state-dir = ".plugboard"

[functions.ingest]
role = "http-api"
guest = "{dist}/webhook_ingest.wasm"
grants.queues = {{ events = "events" }}
config = {{ webhook_secret = "s3cret" }}

[functions.worker]
role = "queue-worker"
guest = "{dist}/webhook_worker.wasm"
grants.stores = {{ events = "events-store" }}
grants.http = ["http://127.0.0.1:{port}"]
config = {{ downstream_url = "http://127.0.0.1:{port}/events", lease_secs = "3" }}
limits = {{ timeout-ms = 1500 }}

[[routes]]
method = "POST"
path = "/webhooks"
function = "ingest"

[queues.events]
worker = "worker"
batch-size = 5
max-concurrency = 2
visibility-timeout-secs = 4
max-receives = 20
dead-letter = "events-dlq"

[queues.events-dlq]
"#,
        dist = dist.display()
    );
    std::fs::write(dir.join("plugboard.toml"), manifest).unwrap();
    let dev = common::dev::Dev::start(&dir);
    let keys: Vec<String> = (0..20).map(|i| format!("evt-{i}")).collect();
    // Each event arrives with its sender's trace, which the gateway continues.
    let root = |i: usize| format!("1-6752ae00-{i:024x}");
    for (i, key) in keys.iter().enumerate() {
        let body = format!("{{\"event\":\"order.created\",\"key\":\"{key}\"}}");
        let signed = common::webhook_headers(b"s3cret", key, &body);
        let trace = format!("Root={};Parent=00000000000000{i:02x};Sampled=1", root(i + 1));
        let headers = [
            ("idempotency-key", key.as_str()),
            (signed[0].0, &signed[0].1),
            (signed[1].0, &signed[1].1),
            ("x-amzn-trace-id", &trace),
        ];
        assert_eq!(dev.send("POST", "/webhooks", &headers, &body).await.status, 202);
    }
    let started = Instant::now();
    loop {
        let done = applied.lock().unwrap().len();
        if done == keys.len() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{done} of {} events reached the downstream", keys.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    dev.wait_for_queues("drained", |s| common::dev::depth(s, "events") == 0).await;
    drop(dev);
    // At least once downstream (a key may arrive twice when a 200 was lost to the deadline;
    // the downstream applies it once by its key) and exactly once in the worker's count.
    let deliveries = applied.lock().unwrap().clone();
    let repeated: usize = deliveries.values().map(|n| n - 1).sum();
    println!("downstream: {} keys, {repeated} repeated deliveries", deliveries.len());
    assert!(keys.iter().all(|k| deliveries.contains_key(k)), "{deliveries:?}");
    // The trace crossed the pipeline: ingest -> queue (AWSTraceHeader) -> worker -> downstream.
    let traces = traces.lock().unwrap().clone();
    for (i, key) in keys.iter().enumerate() {
        let (xray, w3c) = (root(i + 1), root(i + 1).replace("1-", "").replace('-', ""));
        for (xray_header, traceparent) in &traces[key] {
            assert!(
                xray_header.starts_with(&format!("Root={xray};Parent=00000000000000{i:02x};Sampled=1")),
                "{key}: {xray_header}"
            );
            assert!(
                traceparent.starts_with(&format!("00-{w3c}-")) && traceparent.ends_with("-01"),
                "{key}: {traceparent}"
            );
        }
    }
    let db = plugboard::backends::embedded::EmbeddedDb::open(&dir.join(".plugboard"), false).unwrap();
    let table = plugboard::backends::embedded::EmbeddedKeyValue::new(db).open("events-store").await.unwrap();
    let count = table.get("count/order.created").await.unwrap().expect("a count");
    assert_eq!(common::counted(&count), keys.len() as u64, "each event counted once");
}
