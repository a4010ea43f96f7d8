//! For `#[test]`s inside a guest, run by `cargo test` through `plugboard cargo-runner`: the
//! requests and messages to call a handler with, and the in-memory backends behind it — seed
//! stores (read-only ones too) and invoke answers, read what was sent and invoked, start clean.
//! Read key-value state with [`crate::kv`] or [`crate::store`], as the guest does.
//!
//! The functions that reach the backends import `plugboard:host/test-double`, which only the
//! cargo runner links: call them from tests only (a deployed guest importing it does not load).
//!
//! ```ignore
//! use plugboard_guest::testing;
//!
//! #[test]
//! fn a_second_visit_counts_two() {
//!     plugboard_guest::testing::reset();
//!     Guest::handle(testing::request("GET", "/hello?name=ann"));
//!     let response = Guest::handle(testing::request("GET", "/hello?name=ann"));
//!     assert_eq!(response.status, 200);
//! }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::plugboard::host::test_double;
pub use crate::bindings::plugboard::host::test_double::{Invocation, InvokeKind};
use crate::queue::OutgoingMessage;
use crate::{AuthorizationRequest, FunctionError, HttpRequest, IncomingMessage, RequestContext};

/// A request as the host hands it to an `http-api` guest: `method` and `path_and_query`
/// (`/items/7?full=1`; query values as API Gateway passes them, already decoded), no headers,
/// an empty body, request id `test`. Add to it with [`HttpRequest::with_header`] and
/// [`HttpRequest::with_body`]; `path_params` stay empty (a [`crate::Router`] fills its own).
pub fn request(method: &str, path_and_query: &str) -> HttpRequest {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let query = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    HttpRequest {
        method: method.to_ascii_uppercase(),
        raw_path: path.to_string(),
        route: None,
        path_params: Vec::new(),
        query,
        headers: Vec::new(),
        body: Vec::new(),
        context: RequestContext {
            request_id: "test".into(),
            source_ip: None,
            stage: None,
            principal_id: None,
            authorizer: Vec::new(),
        },
    }
}

impl HttpRequest {
    /// This request with header `name: value` added (the name lower-cased, as the host does).
    pub fn with_header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// This request with `body`.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> HttpRequest {
        self.body = body.into();
        self
    }
}

/// A first delivery of `body` from queue `test-queue`, as a `queue-worker` guest receives it.
pub fn message(body: &str) -> IncomingMessage {
    IncomingMessage {
        id: "test-message".into(),
        body: body.to_string(),
        attributes: Vec::new(),
        receive_count: 1,
        group_id: None,
        source: "test-queue".into(),
    }
}

/// A TOKEN authorizer's request for `method_arn` with the bearer value `token` (the identity
/// source's whole value, e.g. `Bearer abc`), as an `authorizer` guest receives it.
pub fn authorization(token: Option<&str>, method_arn: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        token: token.map(str::to_string),
        method_arn: method_arn.to_string(),
        method: None,
        path: None,
        headers: Vec::new(),
        query: Vec::new(),
        path_params: Vec::new(),
        stage: None,
        request_id: Some("test".into()),
        source_ip: None,
    }
}

/// Put `value` at `key` in the logical store `store`, read-only grants included (what an
/// operator put there); panics when the function is granted no such store.
pub fn seed(store: &str, key: &str, value: &[u8]) {
    test_double::seed(store, key, value).unwrap_or_else(|e| panic!("seed: {e:?}"));
}

/// [`seed`] with `value` as JSON.
pub fn seed_json<T: Serialize>(store: &str, key: &str, value: &T) {
    seed(store, key, &serde_json::to_vec(value).expect("a seed value serialises as JSON"));
}

/// The messages sent to the logical queue `queue` so far, oldest first.
/// Panics when the function is granted no such queue (so a misspelt name cannot pass as
/// "nothing sent").
pub fn sent(queue: &str) -> Vec<OutgoingMessage> {
    test_double::sent(queue).unwrap_or_else(|e| panic!("sent: {e:?}"))
}

/// The bodies sent to `queue` so far, each parsed as JSON `T`; panics on one that is not.
pub fn sent_json<T: DeserializeOwned>(queue: &str) -> Vec<T> {
    sent(queue)
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap_or_else(|e| panic!("a message on `{queue}` is not JSON: {e}")))
        .collect()
}

/// Answer later invokes of the logical target `target` with `response` as JSON; panics when
/// the function (`cases/function.toml`) is granted no such target.
pub fn stub_invoke<T: Serialize>(target: &str, response: &T) {
    let json = serde_json::to_string(response).expect("a stub response serialises as JSON");
    test_double::stub_invoke(target, Ok(&json)).unwrap_or_else(|e| panic!("stub_invoke: {e:?}"));
}

/// Make later invokes of `target` fail as the target would: `error_type` and `message` (an
/// Event invoke is still accepted, as on Lambda).
pub fn stub_invoke_error(target: &str, error_type: &str, message: &str) {
    let error = FunctionError { error_type: error_type.to_string(), message: message.to_string() };
    test_double::stub_invoke(target, Err(&error)).unwrap_or_else(|e| panic!("stub_invoke_error: {e:?}"));
}

/// The invokes made so far, oldest first; a target without a stub answered `no-such-target`.
pub fn invocations() -> Vec<Invocation> {
    test_double::invocations()
}

/// Empty every store and queue and forget stubs and invocations. The tests of one binary run
/// one after another in one instance, so a test that needs clean state calls this first.
pub fn reset() {
    test_double::reset()
}
