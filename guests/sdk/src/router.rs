//! A small router for `http-api` guests: `GET /items/{id}` patterns to handler functions, with
//! API Gateway's answers for the rest (404 for an unknown path, 405 for a known path and an
//! unknown method).

use crate::{HttpRequest, HttpResponse};

/// What a handler returns: `Err` is an error response too, so `?` works on anything that
/// converts into one (a [`crate::kv::KvError`] is a 500, a bad JSON body a 400).
pub type HttpResult = Result<HttpResponse, HttpResponse>;

/// A handler: the request and the parameters its pattern captured.
pub type Handler = fn(&HttpRequest, &Params) -> HttpResult;

/// Parameters captured by a route pattern's `{name}` segments.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The value captured for `{name}`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Routes, tried in the order they were added.
#[derive(Default)]
pub struct Router {
    routes: Vec<(String, Vec<String>, Handler)>,
}

impl Router {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Route `method` (or `ANY`) on `pattern` (`/items/{id}`) to `handler`.
    pub fn route(mut self, method: &str, pattern: &str, handler: Handler) -> Self {
        let segments = pattern.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
        self.routes.push((method.to_ascii_uppercase(), segments, handler));
        self
    }

    /// `GET pattern`.
    pub fn get(self, pattern: &str, handler: Handler) -> Self {
        self.route("GET", pattern, handler)
    }

    /// `POST pattern`.
    pub fn post(self, pattern: &str, handler: Handler) -> Self {
        self.route("POST", pattern, handler)
    }

    /// `PUT pattern`.
    pub fn put(self, pattern: &str, handler: Handler) -> Self {
        self.route("PUT", pattern, handler)
    }

    /// `DELETE pattern`.
    pub fn delete(self, pattern: &str, handler: Handler) -> Self {
        self.route("DELETE", pattern, handler)
    }

    /// Answer `request` with the first matching route.
    pub fn handle(&self, request: &HttpRequest) -> HttpResponse {
        let path = request.segments();
        let mut path_known = false;
        for (method, pattern, handler) in &self.routes {
            let Some(params) = capture(pattern, &path) else { continue };
            path_known = true;
            if method == "ANY" || *method == request.method.to_ascii_uppercase() {
                return handler(request, &params).unwrap_or_else(|response| response);
            }
        }
        if path_known {
            HttpResponse::error(405, "method not allowed")
        } else {
            HttpResponse::error(404, "no such route")
        }
    }
}

fn capture(pattern: &[String], path: &[&str]) -> Option<Params> {
    if pattern.len() != path.len() {
        return None;
    }
    let mut params = Vec::new();
    for (want, have) in pattern.iter().zip(path) {
        match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(name) => params.push((name.to_string(), (*have).to_string())),
            None if want == have => {}
            None => return None,
        }
    }
    Some(Params(params))
}
