//! A warm outbound HTTP call from a guest (the chaos probe's `http.fetch`, pooled connection,
//! vetting connector) against the same GET made natively with a pooled `hyper-util` client, to
//! the same server on 127.0.0.1.

use std::hint::black_box;

use criterion::Criterion;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use plugboard::function::Invocation;
use plugboard::runtime::{EngineSettings, Runtime};
use serde_json::json;

/// A server answering every request with `hello`.
async fn server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(|_: hyper::Request<hyper::body::Incoming>| async {
                Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from_static(b"hello"))))
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    port
}

/// Calls per invocation: the guest's per-call cost is (N fetches - N no-ops) / N.
const N: u32 = 50;

pub fn outbound_call(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let port = rt.block_on(server());
    let url = format!("http://127.0.0.1:{port}/hello");
    let runtime = Runtime::new(EngineSettings::default()).unwrap();
    let grant = format!("grants.http = [\"http://127.0.0.1:{port}\"]");
    let f = super::function(&runtime, "chaos", "internal-api", &grant);
    let fetches = json!({ "ops": vec![json!({ "op": "http.fetch", "url": url }); N as usize] });
    let noops = json!({ "ops": vec![json!({ "op": "noop" }); N as usize] });
    let mut group = c.benchmark_group("outbound http: warm GET");
    group.bench_function("guest", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (f, fetches, noops) = (f.clone(), fetches.clone(), noops.clone());
            async move {
                let with_fetches =
                    async || drop(black_box(f.handle(fetches.clone(), Invocation::default()).await.unwrap()));
                let noops_only =
                    async || drop(black_box(f.handle(noops.clone(), Invocation::default()).await.unwrap()));
                super::interleaved_difference(iters, N, with_fetches, noops_only).await
            }
        })
    });
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri: hyper::Uri = url.parse().unwrap();
    group.bench_function("native", |b| {
        b.to_async(&rt).iter(|| {
            let (client, uri) = (client.clone(), uri.clone());
            async move {
                let response = client.get(uri).await.unwrap();
                black_box(response.into_body().collect().await.unwrap().to_bytes());
            }
        })
    });
    group.finish();
}
