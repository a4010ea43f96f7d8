//! The Lambda invoker over the wire: against recorded Lambda Invoke responses served on
//! 127.0.0.1 (no emulator reproduces a target's `FunctionError`), and against moto.

mod common;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::aws;
use plugboard::backends::aws::{LambdaInvoker, sdk_config};
use plugboard::capabilities::invoke::{InvokeContext, InvokeError, Invoker};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Responses recorded from Lambda's Invoke API, keyed by function name.
fn recorded(function: &str) -> String {
    let (status, headers, body) = match function {
        "quotes" => ("200 OK", "X-Amz-Executed-Version: $LATEST\r\n", r#"{"total":95.0}"#),
        "failing" => (
            "200 OK",
            "X-Amz-Executed-Version: $LATEST\r\nX-Amz-Function-Error: Unhandled\r\n",
            r#"{"errorType":"ValidationError","errorMessage":"quantity must be positive"}"#,
        ),
        "background" => ("202 Accepted", "", ""),
        _ => (
            "404 Not Found",
            "x-amzn-ErrorType: ResourceNotFoundException\r\n",
            r#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"}"#,
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nx-amzn-RequestId: 5b9d6e0e-0000-4000-8000-000000000001\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Serve recorded responses on 127.0.0.1, keeping each request's head for inspection.
async fn recorded_lambda() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then as much body as Content-Length says.
            let head_end = loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < head_end + length {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let function = head.split('/').nth(3).unwrap_or("").to_string();
            log.lock().unwrap().push(head);
            let _ = socket.write_all(recorded(&function).as_bytes()).await;
        }
    });
    (url, seen)
}

fn ctx(depth: u32) -> InvokeContext {
    InvokeContext { depth, deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(5), trace: None }
}

#[tokio::test]
async fn request_response_maps_payloads_and_function_errors() {
    let (url, seen) = recorded_lambda().await;
    let invoker = LambdaInvoker::new(aws_sdk_lambda::Client::new(&sdk_config(Some(&url)).await));

    let answer = invoker.call("quotes", r#"{"quantity":40}"#.into(), ctx(2)).await.unwrap();
    assert_eq!(answer, r#"{"total":95.0}"#);
    let failed = invoker.call("failing", "{}".into(), ctx(1)).await.unwrap_err();
    assert!(
        matches!(&failed, InvokeError::FunctionFailed { error_type, message } if error_type == "ValidationError" && message == "quantity must be positive"),
        "{failed:?}"
    );
    assert!(matches!(invoker.call("nope", "{}".into(), ctx(1)).await, Err(InvokeError::NoSuchTarget)));
    invoker.send_event("background", "{}".into(), ctx(1)).await.unwrap();

    let heads = seen.lock().unwrap().clone();
    let header = |head: &str, name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    // The depth travels to the callee in the client context.
    let context = header(&heads[0], "x-amz-client-context").expect("client context sent");
    let context: Value = serde_json::from_slice(&BASE64.decode(context).unwrap()).unwrap();
    assert_eq!(context["custom"]["plugboard-depth"], "2");
    assert_eq!(header(&heads[0], "x-amz-invocation-type").as_deref(), Some("RequestResponse"));
    assert_eq!(header(&heads[3], "x-amz-invocation-type").as_deref(), Some("Event"));
}

#[tokio::test]
async fn a_missing_function_in_moto_is_no_such_target() {
    let invoker = LambdaInvoker::new(aws_sdk_lambda::Client::new(&aws().await));
    assert!(matches!(invoker.call("never-created", "{}".into(), ctx(1)).await, Err(InvokeError::NoSuchTarget)));
    assert!(matches!(invoker.send_event("never-created", "{}".into(), ctx(1)).await, Err(InvokeError::NoSuchTarget)));
}
