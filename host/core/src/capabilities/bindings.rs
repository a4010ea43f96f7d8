//! Host bindings of the `guest-tests` world (generated from `wit/`): every import the host
//! provides, once — the `capabilities` world's, which the role worlds (`crate::bindings`)
//! reuse, and the test doubles only `plugboard cargo-runner` links.

wasmtime::component::bindgen!({
    world: "guest-tests",
    path: "../../wit",
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
