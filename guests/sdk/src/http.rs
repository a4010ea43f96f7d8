//! Helpers over the HTTP request and response records.

use serde::{Serialize, de::DeserializeOwned};

use crate::kv::KvError;
use crate::{HttpRequest, HttpResponse};

impl HttpRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The path parameter `name`.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        find(&self.path_params, name)
    }

    /// The first query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        find(&self.query, name)
    }

    /// The body parsed as JSON `T`; a 400 response saying why otherwise.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpResponse> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpResponse::error(400, &format!("body is not valid JSON: {e}")))
    }

    /// The path split into non-empty segments.
    pub fn segments(&self) -> Vec<&str> {
        self.raw_path.split('/').filter(|s| !s.is_empty()).collect()
    }
}

fn find<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

impl HttpResponse {
    /// A JSON response with `status`.
    pub fn json<T: Serialize>(status: u16, body: &T) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec()),
        }
    }

    /// A JSON `{"message": ...}` error response with `status`.
    pub fn error(status: u16, message: &str) -> HttpResponse {
        HttpResponse::json(status, &serde_json::json!({ "message": message }))
    }

    /// An empty response with `status`.
    pub fn empty(status: u16) -> HttpResponse {
        HttpResponse { status, headers: Vec::new(), body: Vec::new() }
    }
}

impl HttpResponse {
    /// A 200 JSON response.
    pub fn ok<T: Serialize>(body: &T) -> HttpResponse {
        HttpResponse::json(200, body)
    }

    /// This response with header `name: value` added.
    pub fn with_header(mut self, name: &str, value: &str) -> HttpResponse {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }
}

/// A key-value failure inside a handler is the server's fault: 500.
impl From<KvError> for HttpResponse {
    fn from(e: KvError) -> Self {
        HttpResponse::error(500, &e.to_string())
    }
}
