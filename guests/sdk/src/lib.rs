//! `plugboard-guest`: everything a Rust guest needs to be a Plugboard guest — the WIT (embedded:
//! the bindings of every role world are generated here, no WIT folder beside the guest), one
//! plain trait per role with its export macro, and the helpers that keep glue out of guests.
//!
//! Implement the role's trait and export it: [`HttpHandler`] with [`http_api!`] (usually with a
//! [`Router`]), [`QueueHandler`] with [`queue_worker!`], [`AuthorizerHandler`] with
//! [`authorizer!`], [`InternalHandler`] with [`internal_api!`]. The imports (key-value, queue,
//! invoke, config, logging, HTTP and policy types) come from this crate, so the helpers work with
//! the same types in every guest: [`kv`] (JSON values, create-if-absent, compare-and-swap
//! updates), [`send_json`], [`call_json`], [`parse_payload`], and the [`info!`]-style logging
//! macros. Every import's error converts into an [`HttpResponse`] (500), a [`FunctionError`] and
//! a `String`, so `?` works in every handler.
//!
//! ```ignore
//! use plugboard_guest::{HttpHandler, HttpRequest, HttpResponse, HttpResult, Params, Router};
//!
//! struct Hello;
//!
//! impl HttpHandler for Hello {
//!     fn handle(request: HttpRequest) -> HttpResponse {
//!         Router::new().get("/hello/{name}", hello).handle(&request)
//!     }
//! }
//!
//! fn hello(_: &HttpRequest, params: &Params) -> HttpResult {
//!     Ok(HttpResponse::ok(&serde_json::json!({ "hello": params.get("name") })))
//! }
//!
//! plugboard_guest::http_api!(Hello);
//! ```

// The generated role bindings name this crate by its name, from inside it and from guests alike.
extern crate self as plugboard_guest;

pub use serde_json;
#[doc(hidden)]
pub use wit_bindgen;

mod errors;
pub mod fetch;
pub mod http;
pub mod kv;
pub mod messaging;
pub mod router;
pub mod testing;

pub use messaging::{call_json, parse_payload, send_json, to_payload};
pub use router::{Handler, HttpResult, Params, Router};

/// What an `http-api` guest implements; exported with [`http_api!`].
pub trait HttpHandler {
    /// Answer one request (API Gateway v1 or v2, or a Function URL: the host normalises them).
    fn handle(request: HttpRequest) -> HttpResponse;
}

/// What a `queue-worker` guest implements; exported with [`queue_worker!`].
pub trait QueueHandler {
    /// Process one message; an error (or a trap) sends it back to the queue for a retry.
    fn handle(message: IncomingMessage) -> Result<(), String>;
}

/// What an `authorizer` guest implements; exported with [`authorizer!`].
pub trait AuthorizerHandler {
    /// Decide one request: a policy, `Unauthorized` (401 on REST APIs) or a failure (deny).
    fn authorize(request: AuthorizationRequest) -> Result<policy::Decision, AuthorizeError>;
}

/// What an `internal-api` guest implements; exported with [`internal_api!`].
pub trait InternalHandler {
    /// Answer one JSON payload with JSON, or fail with a typed error the caller sees.
    fn handle(payload: String) -> Result<String, FunctionError>;
}

/// Export `$guest` (an [`HttpHandler`]) as an `http-api` guest.
#[macro_export]
macro_rules! http_api {
    ($guest:ident) => {
        impl $crate::worlds::http_api::exports::plugboard::host::http_handler::Guest for $guest {
            fn handle(request: $crate::HttpRequest) -> $crate::HttpResponse {
                <$guest as $crate::HttpHandler>::handle(request)
            }
        }
        $crate::worlds::http_api::export_http_api!($guest with_types_in $crate::worlds::http_api);
    };
}

/// Export `$guest` (a [`QueueHandler`]) as a `queue-worker` guest.
#[macro_export]
macro_rules! queue_worker {
    ($guest:ident) => {
        impl $crate::worlds::queue_worker::exports::plugboard::host::queue_handler::Guest for $guest {
            fn handle(message: $crate::IncomingMessage) -> Result<(), String> {
                <$guest as $crate::QueueHandler>::handle(message)
            }
        }
        $crate::worlds::queue_worker::export_queue_worker!($guest with_types_in $crate::worlds::queue_worker);
    };
}

/// Export `$guest` (an [`AuthorizerHandler`]) as an `authorizer` guest.
#[macro_export]
macro_rules! authorizer {
    ($guest:ident) => {
        impl $crate::worlds::authorizer::exports::plugboard::host::authorizer_handler::Guest for $guest {
            fn authorize(
                request: $crate::AuthorizationRequest,
            ) -> Result<$crate::policy::Decision, $crate::AuthorizeError> {
                <$guest as $crate::AuthorizerHandler>::authorize(request)
            }
        }
        $crate::worlds::authorizer::export_authorizer!($guest with_types_in $crate::worlds::authorizer);
    };
}

/// Export `$guest` (an [`InternalHandler`]) as an `internal-api` guest.
#[macro_export]
macro_rules! internal_api {
    ($guest:ident) => {
        impl $crate::worlds::internal_api::exports::plugboard::host::internal_handler::Guest for $guest {
            fn handle(payload: String) -> Result<String, $crate::FunctionError> {
                <$guest as $crate::InternalHandler>::handle(payload)
            }
        }
        $crate::worlds::internal_api::export_internal_api!($guest with_types_in $crate::worlds::internal_api);
    };
}

/// Log at debug level, `format!` style.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log($crate::Level::Debug, &format!($($arg)*)) };
}

/// Log at info level, `format!` style.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log($crate::Level::Info, &format!($($arg)*)) };
}

/// Log at warn level, `format!` style.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log($crate::Level::Warn, &format!($($arg)*)) };
}

/// Log at error level, `format!` style.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log($crate::Level::Error, &format!($($arg)*)) };
}

/// Generated bindings for the imports of every role world, and of the test doubles (imported
/// only by a test that calls [`testing`]).
pub mod bindings {
    wit_bindgen::generate!({
        world: "guest-tests",
        path: "../../wit",
        generate_all,
    });
}

/// The bindings of each role world, exports included, generated here so a guest needs no WIT:
/// the role's export macro (`export_http_api!`, ...) is public, and [`http_api!`] and its
/// siblings call it for the guest's type.
#[doc(hidden)]
pub mod worlds {
    /// `http-api`.
    pub mod http_api {
        crate::role!(@generate world: "http-api", path: "../../wit", pub_export_macro: true,
            export_macro_name: "export_http_api", default_bindings_module: "plugboard_guest::worlds::http_api",);
    }
    /// `queue-worker`.
    pub mod queue_worker {
        crate::role!(@generate world: "queue-worker", path: "../../wit", pub_export_macro: true,
            export_macro_name: "export_queue_worker", default_bindings_module: "plugboard_guest::worlds::queue_worker",);
    }
    /// `authorizer`.
    pub mod authorizer {
        crate::role!(@generate world: "authorizer", path: "../../wit", pub_export_macro: true,
            export_macro_name: "export_authorizer", default_bindings_module: "plugboard_guest::worlds::authorizer",);
    }
    /// `internal-api`.
    pub mod internal_api {
        crate::role!(@generate world: "internal-api", path: "../../wit", pub_export_macro: true,
            export_macro_name: "export_internal_api", default_bindings_module: "plugboard_guest::worlds::internal_api",);
    }
}

pub use bindings::plugboard::host::http_types::{HttpRequest, HttpResponse, RequestContext};
pub use bindings::plugboard::host::types::{ContextValue, FunctionError};
pub use bindings::plugboard::host::{invoke, policy, queue};
pub use bindings::wasi::keyvalue::{atomics, batch, store};
pub use worlds::authorizer::exports::plugboard::host::authorizer_handler::{AuthorizationRequest, AuthorizeError};
pub use worlds::queue_worker::exports::plugboard::host::queue_handler::IncomingMessage;

/// Generate the bindings of a world of the guest's own (several roles at once, as the test
/// guests do), reusing this crate's imports; the four role worlds need none of this.
///
/// `role!("my-world", "wit")` names the world and the WIT folder (relative to the guest's
/// `Cargo.toml`), then `export!(MyGuest)` exports it. `role!(@generate ...)` passes other
/// `wit_bindgen::generate!` options (such as `inline`) through; this crate's role worlds are
/// generated with it too.
#[macro_export]
macro_rules! role {
    ($world:literal, $wit:literal) => {
        $crate::role!(@generate world: $world, path: $wit,);
    };
    (@generate $($options:tt)*) => {
        $crate::wit_bindgen::generate!({
            $($options)*
            runtime_path: "plugboard_guest::wit_bindgen::rt",
            with: {
                "wasi:keyvalue/store@0.2.0-draft2": plugboard_guest::bindings::wasi::keyvalue::store,
                "wasi:keyvalue/atomics@0.2.0-draft2": plugboard_guest::bindings::wasi::keyvalue::atomics,
                "wasi:keyvalue/batch@0.2.0-draft2": plugboard_guest::bindings::wasi::keyvalue::batch,
                "wasi:config/store@0.2.0-draft-2024-09-27": plugboard_guest::bindings::wasi::config::store,
                "wasi:logging/logging@0.1.0-draft": plugboard_guest::bindings::wasi::logging::logging,
                "plugboard:host/types@0.1.0": plugboard_guest::bindings::plugboard::host::types,
                "plugboard:host/queue@0.1.0": plugboard_guest::bindings::plugboard::host::queue,
                "plugboard:host/invoke@0.1.0": plugboard_guest::bindings::plugboard::host::invoke,
                "plugboard:host/http-types@0.1.0": plugboard_guest::bindings::plugboard::host::http_types,
                "plugboard:host/policy@0.1.0": plugboard_guest::bindings::plugboard::host::policy,
            },
        });
    };
}

/// Read one config value granted to this function, `None` when unset or unreadable.
pub fn config(key: &str) -> Option<String> {
    bindings::wasi::config::store::get(key).ok().flatten()
}

/// Log a message at `level` under this guest's name; the host tags it as guest output.
pub fn log(level: bindings::wasi::logging::logging::Level, message: &str) {
    bindings::wasi::logging::logging::log(level, "guest", message);
}

/// Report `n` more of the counter `name` as a CloudWatch metric (`guest.<name>` on Lambda; a log
/// line locally). A name is 1-64 of `[A-Za-z0-9_.-]`, starting with a letter; at most ten names
/// per invocation. See the guest guide's "Metrics".
pub fn count(name: &str, n: u32) {
    bindings::wasi::logging::logging::log(Level::Info, METRIC_CONTEXT, &format!("{name} {n}"));
}

/// Report one duration of `name`, in milliseconds, as a CloudWatch metric (as [`count`]).
pub fn time_ms(name: &str, ms: f64) {
    bindings::wasi::logging::logging::log(Level::Info, METRIC_CONTEXT, &format!("{name} {ms} ms"));
}

/// The `wasi:logging` context that makes a line a metric, for guests in any language.
pub const METRIC_CONTEXT: &str = "plugboard:metric";

pub use bindings::wasi::logging::logging::Level;
