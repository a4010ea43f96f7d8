//! The admin API's client, for `plugboard queue`, `plugboard kv` and tests.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::PREFIX;
use super::token::AdminToken;

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

/// A running dev server's admin API, called with its admin token.
pub struct AdminClient {
    base: String,
    token: AdminToken,
}

impl AdminClient {
    /// The admin API of the dev server at `base` (e.g. `http://127.0.0.1:3000`).
    pub fn new(base: &str, token: AdminToken) -> AdminClient {
        AdminClient { base: base.trim_end_matches('/').to_string(), token }
    }

    /// Call `path` (under the admin prefix) with a JSON answer.
    pub async fn call(&self, method: &str, path: &str) -> anyhow::Result<Value> {
        self.call_with(method, path, "application/json", Vec::new()).await.map(|answer| answer.json())
    }

    /// [`AdminClient::call`] with a body of `content_type`, the answer as it came; a status of
    /// 300 or more is an error with the server's message.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<HttpAnswer> {
        let uri = format!("{}{PREFIX}{path}", self.base);
        let bearer = format!("Bearer {}", self.token.secret());
        let headers = [("content-type", content_type), ("authorization", bearer.as_str())];
        let answer = request(method, &uri, &headers, body).await.map_err(|e| {
            anyhow::anyhow!("cannot reach the dev server at {} (is `plugboard dev` running?): {e}", self.base)
        })?;
        anyhow::ensure!(
            answer.status < 300,
            "{method} {uri}: {} {}",
            answer.status,
            answer.json()["message"].as_str().unwrap_or_default()
        );
        Ok(answer)
    }
}

/// `key` as a query parameter value.
pub fn encode_key(key: &str) -> String {
    form_urlencoded::byte_serialize(key.as_bytes()).collect()
}
