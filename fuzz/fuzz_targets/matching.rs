//! Any `pattern\ntext` to IAM wildcard matching and API Gateway route matching.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plugboard::testing::fuzz::matching(data));
