//! The dev server's admin API under `/_plugboard/` (queue depths, peek, redrive, authorizer
//! calls) and the client `plugboard queue` uses to reach it.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::DevApp;
use plugboard_core::events::http::{Request, Response};

/// The admin API's path prefix.
pub(crate) const PREFIX: &str = "/_plugboard/";

/// Answer an admin request.
pub async fn answer(app: &DevApp, request: &Request) -> Response {
    let rest = request.path.trim_start_matches(PREFIX);
    let parts: Vec<&str> = rest.split('/').collect();
    match (request.method.as_str(), parts.as_slice()) {
        ("GET", ["queues"]) => Response::json(200, &json!(app.queues.stats())),
        ("GET", ["queues", name, "messages"]) => {
            let limit = form_urlencoded::parse(request.query.as_bytes())
                .find(|(k, _)| k == "limit")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(10);
            match app.queues.peek(name, limit) {
                Ok(messages) => Response::json(200, &json!(messages)),
                Err(e) => Response::message(404, &e.to_string()),
            }
        }
        ("POST", ["queues", name, "redrive"]) => match app.queues.redrive(name).await {
            Ok((to, moved)) => Response::json(200, &json!({ "from": name, "to": to, "moved": moved })),
            Err(e) => Response::message(400, &e.to_string()),
        },
        ("GET", ["authorizers"]) => Response::json(200, &json!(app.authorizer_calls())),
        _ => Response::message(404, "Not Found"),
    }
}

/// An HTTP response as [`request`] returns it.
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Header fields, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One plain-HTTP request (the dev server is HTTP on 127.0.0.1): for `plugboard queue` and tests.
pub async fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> anyhow::Result<HttpAnswer> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut builder = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = client.request(builder.body(Full::new(Bytes::from(body)))?).await?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    Ok(HttpAnswer { status, headers, body })
}

/// Call the admin API of the dev server at `base` (e.g. `http://127.0.0.1:3000`).
pub async fn call(base: &str, method: &str, path: &str) -> anyhow::Result<Value> {
    let uri = format!("{}{PREFIX}{path}", base.trim_end_matches('/'));
    let answer = request(method, &uri, &[], Vec::new())
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the dev server at {base} (is `plugboard dev` running?): {e}"))?;
    let value = answer.json();
    anyhow::ensure!(answer.status < 300, "{uri}: {} {}", answer.status, value["message"].as_str().unwrap_or_default());
    Ok(value)
}
