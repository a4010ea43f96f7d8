//! Plugboard: run WebAssembly component guests as serverless microservice roles on AWS Lambda
//! (and locally), with key-value, queue, invoke and policy capabilities behind WIT interfaces.
//!
//! The work is done by three crates, whose boundaries the compiler enforces: `plugboard-core`
//! (bindings, capabilities, runtime, typed events, roles, function; no AWS SDK),
//! `plugboard-aws` (SDK backends, the Lambda bootstrap) and `plugboard-local` (memory and
//! embedded backends, the manifest, `plugboard dev`, `plugboard test`). This crate is the
//! `plugboard` binary's CLI and the deployment template, and re-exports the others under the
//! paths they have always had.

pub use plugboard_aws::lambda;
pub use plugboard_core::{bindings, capabilities, config, events, function, roles, runtime, telemetry};
pub use plugboard_local::{app, dev, manifest};

pub mod cli;
pub mod deploy;

/// The capability backends: memory, embedded and in-process ones (`plugboard-local`), AWS ones
/// (`plugboard-aws`).
pub mod backends {
    pub use plugboard_aws::backends as aws;
    pub use plugboard_local::backends::{embedded, local, memory};
}

/// `plugboard test` (`plugboard-local`) and the fuzz harnesses, which also render templates.
pub mod testing {
    pub use plugboard_local::testing::*;

    pub mod fuzz;
}
