//! Plugboard: run WebAssembly component guests as serverless microservice roles on AWS Lambda
//! (and locally), with key-value, queue, invoke and policy capabilities behind WIT interfaces.

pub mod app;
pub mod backends;
pub mod bindings;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod dev;
pub mod events;
pub mod function;
pub mod lambda;
pub mod manifest;
pub mod roles;
pub mod runtime;
pub mod testing;
