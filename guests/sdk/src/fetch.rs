//! Outbound HTTP in one call: [`fetch`] sends a [`Request`] through the standard
//! `wasi:http/outgoing-handler` import and reads the whole response. The host lets it out only
//! to what the function's `grants.http` lists; anything else is [`FetchError::Refused`] with
//! `HttpRequestDenied` (no grant) or `DestinationIpProhibited` (an address the grant does not
//! reach).
//!
//! ```ignore
//! let response = plugboard_guest::fetch::fetch(&Request::post("https://api.example.com/v1/events", body))?;
//! ```

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, HeaderError, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// An outbound request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The absolute URL (`https://host[:port]/path?query`).
    pub url: String,
    /// Headers, in order (`host` is set by the host from the URL and cannot be given).
    pub headers: Vec<(String, String)>,
    /// The body (empty: none).
    pub body: Vec<u8>,
    /// Give up when the response headers take longer than this many milliseconds (never past
    /// the invocation's deadline).
    pub first_byte_timeout_ms: Option<u64>,
}

impl Request {
    /// A `GET` of `url`.
    pub fn get(url: &str) -> Request {
        Request { method: "GET".into(), url: url.into(), ..Request::default() }
    }

    /// A `POST` of `body` to `url`.
    pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Request {
        Request { method: "POST".into(), url: url.into(), body: body.into(), ..Request::default() }
    }

    /// This request with header `name: value` added.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code (a redirect is returned as it is, not followed).
    pub status: u16,
    /// Headers, in order (repeated ones, like `set-cookie`, each once).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Why a fetch failed.
#[derive(Debug, Clone)]
pub enum FetchError {
    /// The URL is not `http(s)://authority/path`.
    BadUrl(String),
    /// A header was refused (e.g. `host`: `Forbidden`).
    Header(String, HeaderError),
    /// The host or the network refused or failed the request.
    Refused(ErrorCode),
    /// The response body broke off after `read` bytes (over the host's body cap, the deadline,
    /// or the connection), with the code when the host gives one.
    Body {
        /// Bytes read before it broke off.
        read: usize,
        /// The `wasi:http` error code, when the host gives one.
        code: Option<ErrorCode>,
    },
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::BadUrl(url) => write!(f, "bad URL `{url}`"),
            FetchError::Header(name, e) => write!(f, "header {name}: {e:?}"),
            FetchError::Refused(code) => write!(f, "request failed: {code:?}"),
            FetchError::Body { read, code } => write!(f, "body failed after {read} bytes: {code:?}"),
        }
    }
}

impl std::error::Error for FetchError {}

impl Response {
    /// The first header named `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<String> {
        let (_, value) = self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
        Some(String::from_utf8_lossy(value).into_owned())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Send `request` and read the whole response.
pub fn fetch(request: &Request) -> Result<Response, FetchError> {
    let bad_url = || FetchError::BadUrl(request.url.clone());
    let (scheme, rest) = request.url.split_once("://").ok_or_else(bad_url)?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let headers = Fields::new();
    for (name, value) in &request.headers {
        headers.append(name, value.as_bytes()).map_err(|e| FetchError::Header(name.clone(), e))?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        _ => return Err(bad_url()),
    };
    let set = outgoing.set_method(&method).is_ok()
        && outgoing.set_scheme(Some(&scheme)).is_ok()
        && outgoing.set_authority(Some(authority)).is_ok()
        && outgoing.set_path_with_query(Some(path)).is_ok();
    if !set {
        return Err(bad_url());
    }
    let options = request.first_byte_timeout_ms.map(|ms| {
        let options = RequestOptions::new();
        let _ = options.set_first_byte_timeout(Some(ms.saturating_mul(1_000_000)));
        options
    });
    let internal = |what: &str| FetchError::Refused(ErrorCode::InternalError(Some(what.to_string())));
    let body = outgoing.body().map_err(|()| internal("request body"))?;
    let pending = outgoing_handler::handle(outgoing, options).map_err(FetchError::Refused)?;
    let outcome = |pending: &wasip2::http::types::FutureIncomingResponse| {
        pending.subscribe().block();
        match pending.get() {
            Some(Ok(Ok(response))) => read(&response),
            Some(Ok(Err(code))) => Err(FetchError::Refused(code)),
            _ => Err(internal("response not ready")),
        }
    };
    let mut sent = true;
    if !request.body.is_empty() {
        let out = body.write().map_err(|()| internal("request body stream"))?;
        sent = request.body.chunks(4096).all(|chunk| out.blocking_write_and_flush(chunk).is_ok());
    }
    // A refused request (no grant, a prohibited address) drops its body: the write fails, and
    // the response future says why.
    if !sent {
        return match outcome(&pending) {
            Ok(_) => Err(internal("request body write")),
            Err(e) => Err(e),
        };
    }
    OutgoingBody::finish(body, None).map_err(FetchError::Refused)?;
    outcome(&pending)
}

fn read(response: &IncomingResponse) -> Result<Response, FetchError> {
    let status = response.status();
    let headers = response.headers().entries();
    let body = response.consume().map_err(|()| FetchError::Body { read: 0, code: None })?;
    let stream = body.stream().map_err(|()| FetchError::Body { read: 0, code: None })?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                let code = wasip2::http::types::http_error_code(&e);
                return Err(FetchError::Body { read: bytes.len(), code });
            }
        }
    }
    Ok(Response { status, headers, body: bytes })
}
