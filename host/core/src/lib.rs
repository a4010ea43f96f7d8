//! The core of Plugboard: the WIT bindings, the capabilities a guest reaches (over backend
//! traits), the wasmtime runtime and the one guest loader, Lambda events typed, the role
//! adapters and the function that ties them together. No AWS SDK: the backends live in
//! `plugboard-aws` and `plugboard-local`.

pub mod bindings;
pub mod capabilities;
pub mod config;
pub mod events;
pub mod function;
pub mod roles;
pub mod runtime;
pub mod telemetry;
