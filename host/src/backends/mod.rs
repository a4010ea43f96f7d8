//! Backends behind the capability traits. `memory` serves tests and `plugboard invoke`;
//! `local` calls other functions in this process.

pub mod local;
pub mod memory;
