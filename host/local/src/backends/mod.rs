//! Backends behind the capability traits. `memory` serves tests and `plugboard invoke`;
//! `embedded` is `plugboard dev`'s durable store; `local` calls other functions in this
//! process; `aws` is DynamoDB, SQS, Lambda, S3 and the secret stores.

pub mod embedded;
pub mod local;
pub mod memory;
