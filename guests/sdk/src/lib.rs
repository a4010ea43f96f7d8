//! `plugboard-guest`: the imports every Plugboard guest shares, plus the helpers that keep glue
//! out of guests.
//!
//! One export macro per role: an `http-api` guest implements [`HttpHandler`] (usually with a
//! [`Router`]) and exports it with [`http_api!`]; an `internal-api` guest implements
//! [`InternalHandler`] and uses [`internal_api!`]; [`queue_worker!`] and [`authorizer!`] bring
//! their handler traits into scope as `QueueHandler` and `AuthorizerHandler`. The imports (key-value, queue, invoke, config, logging, HTTP and
//! policy types) come from this crate, so the helpers work with the same types in every guest:
//! [`kv`] (JSON values, create-if-absent, compare-and-swap updates), [`send_json`],
//! [`call_json`], [`parse_payload`], and the [`info!`]-style logging macros.
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
//! plugboard_guest::http_api!(Hello, "wit");
//! ```

pub use serde_json;
#[doc(hidden)]
pub use wit_bindgen;

pub mod http;
pub mod kv;
pub mod messaging;
pub mod router;

pub use messaging::{call_json, parse_payload, send_json, to_payload};
pub use router::{Handler, HttpResult, Params, Router};

/// What an `http-api` guest implements; exported with [`http_api!`].
pub trait HttpHandler {
    /// Answer one request (API Gateway v1 or v2, or a Function URL: the host normalises them).
    fn handle(request: HttpRequest) -> HttpResponse;
}

/// What an `internal-api` guest implements; exported with [`internal_api!`].
pub trait InternalHandler {
    /// Answer one JSON payload with JSON, or fail with a typed error the caller sees.
    fn handle(payload: String) -> Result<String, FunctionError>;
}

/// Export `$guest` (an [`HttpHandler`]) as an `http-api` guest; `$wit` is the WIT folder,
/// relative to the guest's `Cargo.toml`.
#[macro_export]
macro_rules! http_api {
    ($guest:ident, $wit:literal) => {
        $crate::role!("http-api", $wit);
        impl exports::plugboard::host::http_handler::Guest for $guest {
            fn handle(request: $crate::HttpRequest) -> $crate::HttpResponse {
                <$guest as $crate::HttpHandler>::handle(request)
            }
        }
        export!($guest);
    };
}

/// Export `$guest` (an [`InternalHandler`]) as an `internal-api` guest; `$wit` as in
/// [`http_api!`].
#[macro_export]
macro_rules! internal_api {
    ($guest:ident, $wit:literal) => {
        $crate::role!("internal-api", $wit);
        impl exports::plugboard::host::internal_handler::Guest for $guest {
            fn handle(payload: String) -> Result<String, $crate::FunctionError> {
                <$guest as $crate::InternalHandler>::handle(payload)
            }
        }
        export!($guest);
    };
}

/// Export `$guest` as a `queue-worker` guest; `$wit` as in [`http_api!`]. Brings the handler
/// trait into scope as `QueueHandler` with its `IncomingMessage`, for `impl QueueHandler for
/// $guest { fn handle(message: IncomingMessage) -> Result<(), String> { ... } }`.
#[macro_export]
macro_rules! queue_worker {
    ($guest:ident, $wit:literal) => {
        $crate::role!("queue-worker", $wit);
        use exports::plugboard::host::queue_handler::{Guest as QueueHandler, IncomingMessage};
        export!($guest);
    };
}

/// Export `$guest` as an `authorizer` guest; `$wit` as in [`http_api!`]. Brings the handler
/// trait into scope as `AuthorizerHandler` with `AuthorizationRequest` and `AuthorizeError`,
/// for `impl AuthorizerHandler for $guest { fn authorize(request: AuthorizationRequest) ->
/// Result<Decision, AuthorizeError> { ... } }`.
#[macro_export]
macro_rules! authorizer {
    ($guest:ident, $wit:literal) => {
        $crate::role!("authorizer", $wit);
        use exports::plugboard::host::authorizer_handler::{
            AuthorizationRequest, AuthorizeError, Guest as AuthorizerHandler,
        };
        export!($guest);
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

/// Generated bindings for the imports of every role world.
pub mod bindings {
    wit_bindgen::generate!({
        world: "capabilities",
        path: "../../wit",
        generate_all,
    });
}

pub use bindings::plugboard::host::http_types::{HttpRequest, HttpResponse, RequestContext};
pub use bindings::plugboard::host::types::{ContextValue, FunctionError};
pub use bindings::plugboard::host::{invoke, policy, queue};
pub use bindings::wasi::keyvalue::{atomics, batch, store};

/// Generate the export bindings of one role world, reusing this crate's imports.
///
/// `role!("http-api", "../../wit")` names the world and the WIT folder (relative to the
/// guest's `Cargo.toml`), then `export!(MyGuest)` exports it. `role!(@generate ...)` passes
/// other `wit_bindgen::generate!` options (such as `inline`) through.
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

pub use bindings::wasi::logging::logging::Level;
