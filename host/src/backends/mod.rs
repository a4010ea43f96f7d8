//! Backends behind the capability traits. `memory` serves tests and `plugboard invoke`;
//! `local` calls other functions in this process; `aws` is DynamoDB, SQS and Lambda.

pub mod aws;
pub mod local;
pub mod memory;
