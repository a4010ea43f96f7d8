//! `plugboard-guest`: the imports every Plugboard guest shares, plus small helpers.
//!
//! A guest crate calls [`role!`] once to generate its role's export bindings; the imports
//! (key-value, queue, invoke, config, logging, HTTP and policy types) come from this crate so
//! the helpers here work with the same types in every guest.

pub use serde_json;
#[doc(hidden)]
pub use wit_bindgen;

pub mod http;
pub mod kv;

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
