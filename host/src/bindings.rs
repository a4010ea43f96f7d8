//! Host bindings generated from `wit/`: the shared imports once, then one module per role world
//! reusing them, so every role links the same capability implementations.

wasmtime::component::bindgen!({
    world: "capabilities",
    path: "../wit",
    imports: { default: async | trappable },
    trappable_error_type: {
        "wasi:keyvalue/store.error" => crate::capabilities::keyvalue::KvError,
        "plugboard:host/queue.error" => crate::capabilities::queue::QueueError,
        "plugboard:host/invoke.error" => crate::capabilities::invoke::InvokeError,
    },
    with: {
        "wasi:keyvalue/store.bucket": crate::capabilities::keyvalue::Bucket,
        "wasi:keyvalue/atomics.cas": crate::capabilities::keyvalue::Cas,
    },
});

/// Declares the bindings of one role world, reusing the shared import bindings above.
macro_rules! role_world {
    ($module:ident, $world:literal) => {
        #[doc = concat!("Bindings of the `", $world, "` world.")]
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../wit",
                imports: { default: async | trappable },
                exports: { default: async },
                with: {
                    "wasi:keyvalue/store": crate::bindings::wasi::keyvalue::store,
                    "wasi:keyvalue/atomics": crate::bindings::wasi::keyvalue::atomics,
                    "wasi:keyvalue/batch": crate::bindings::wasi::keyvalue::batch,
                    "wasi:config/store": crate::bindings::wasi::config::store,
                    "wasi:logging/logging": crate::bindings::wasi::logging::logging,
                    "plugboard:host/types": crate::bindings::plugboard::host::types,
                    "plugboard:host/queue": crate::bindings::plugboard::host::queue,
                    "plugboard:host/invoke": crate::bindings::plugboard::host::invoke,
                    "plugboard:host/http-types": crate::bindings::plugboard::host::http_types,
                    "plugboard:host/policy": crate::bindings::plugboard::host::policy,
                },
            });
        }
    };
}

role_world!(http_api, "http-api");
role_world!(queue_worker, "queue-worker");
role_world!(authorizer, "authorizer");
role_world!(internal_api, "internal-api");
