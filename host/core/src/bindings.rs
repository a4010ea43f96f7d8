//! Host bindings of the role worlds, generated from `wit/`, one module per world, each reusing the
//! capabilities' import bindings (`crate::capabilities::bindings`), so every role links the same
//! capability implementations.

pub use crate::capabilities::bindings::{plugboard, wasi};

/// Declares the bindings of one role world, reusing the shared import bindings above.
macro_rules! role_world {
    ($module:ident, $world:literal) => {
        #[doc = concat!("Bindings of the `", $world, "` world.")]
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../../wit",
                imports: { default: async | trappable },
                exports: { default: async },
                with: {
                    "wasi:keyvalue/store": crate::capabilities::bindings::wasi::keyvalue::store,
                    "wasi:keyvalue/atomics": crate::capabilities::bindings::wasi::keyvalue::atomics,
                    "wasi:keyvalue/batch": crate::capabilities::bindings::wasi::keyvalue::batch,
                    "wasi:config/store": crate::capabilities::bindings::wasi::config::store,
                    "wasi:logging/logging": crate::capabilities::bindings::wasi::logging::logging,
                    "plugboard:host/types": crate::capabilities::bindings::plugboard::host::types,
                    "plugboard:host/queue": crate::capabilities::bindings::plugboard::host::queue,
                    "plugboard:host/invoke": crate::capabilities::bindings::plugboard::host::invoke,
                    "plugboard:host/http-types": crate::capabilities::bindings::plugboard::host::http_types,
                    "plugboard:host/policy": crate::capabilities::bindings::plugboard::host::policy,
                },
            });
        }
    };
}

role_world!(http_api, "http-api");
role_world!(queue_worker, "queue-worker");
role_world!(authorizer, "authorizer");
role_world!(internal_api, "internal-api");
