//! Spans over OTLP: the bootstrap under cargo-lambda's emulator with `OTEL_EXPORTER_OTLP_ENDPOINT`
//! pointing at an OTLP/HTTP receiver on 127.0.0.1 built here from the `opentelemetry-proto`
//! types, which decodes every export it is sent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};

use super::{Lambda, common};
use common::{aws, dynamodb_table};

/// An OTLP/HTTP receiver: its port and every span it was sent.
async fn receiver() -> (u16, Arc<Mutex<Vec<Span>>>) {
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let kept = spans.clone();
    let (port, _) = common::serve_http(move |request: hyper::Request<hyper::body::Incoming>| {
        let kept = kept.clone();
        async move {
            assert_eq!(request.uri().path(), "/v1/traces");
            let body = request.into_body().collect().await.expect("the export's body").to_bytes();
            let export = ExportTraceServiceRequest::decode(body).expect("a protobuf ExportTraceServiceRequest");
            for resource in export.resource_spans {
                for scope in resource.scope_spans {
                    kept.lock().unwrap().extend(scope.spans);
                }
            }
            hyper::Response::builder()
                .header("content-type", "application/x-protobuf")
                .body(http_body_util::Full::new(hyper::body::Bytes::new()))
                .unwrap()
        }
    })
    .await;
    (port, spans)
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    span.attributes.iter().find(|a| a.key == key).and_then(|a| match a.value.as_ref()?.value.as_ref()? {
        Any::StringValue(s) => Some(s.clone()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_and_its_host_calls_are_spans_of_lambdas_trace() {
    let (port, spans) = receiver().await;
    let table = dynamodb_table(&aws_sdk_dynamodb::Client::new(&aws().await), "pricing").await;
    let dir = std::env::temp_dir().join(format!("plugboard-otlp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let stdout = dir.join("stdout");
    let lambda = Lambda::start_writing(
        &[
            ("PLUGBOARD_ROLE", "internal-api".into()),
            ("PLUGBOARD_GUEST", "guests/dist/quotes.wasm".into()),
            ("PLUGBOARD_STORES", format!("pricing={table}")),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}")),
        ],
        std::process::Stdio::from(std::fs::File::create(&stdout).unwrap()),
        std::process::Stdio::null(),
    );
    let quote = lambda.invoke(&json!({ "sku": "w1", "unit_price": 2.5, "quantity": 40 })).unwrap();
    assert_eq!(quote["total"], 95.0);
    // Flushed before the response went back: the spans are there (allow the receiver a moment).
    let started = Instant::now();
    while !spans.lock().unwrap().iter().any(|s| s.name == "invocation") {
        assert!(started.elapsed() < Duration::from_secs(10), "no invocation span arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let spans = spans.lock().unwrap().clone();
    let invocation = spans.iter().find(|s| s.name == "invocation").unwrap();
    let emf: Value = serde_json::from_str(std::fs::read_to_string(&stdout).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(attribute(invocation, "request_id").as_deref(), emf["request_id"].as_str(), "{invocation:?}");
    assert_eq!(attribute(invocation, "role").as_deref(), Some("internal-api"));
    // The OpenTelemetry trace id is Lambda's X-Ray trace id.
    let xray = emf["trace_id"].as_str().expect("the emulator sent a trace header");
    assert_eq!(hex::encode(&invocation.trace_id), xray.trim_start_matches("1-").replace('-', ""));
    assert!(!invocation.parent_span_id.is_empty(), "the invocation hangs under Lambda's segment");
    let calls: Vec<&Span> = spans.iter().filter(|s| s.parent_span_id == invocation.span_id).collect();
    assert!(calls.iter().any(|s| s.name == "keyvalue"), "the guest's key-value reads are child spans: {spans:?}");
    assert!(calls.iter().all(|s| s.trace_id == invocation.trace_id));
    std::fs::remove_dir_all(&dir).ok();
}
