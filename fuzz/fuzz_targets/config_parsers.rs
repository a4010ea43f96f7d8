//! Any text to the function schema (TOML, JSON), the environment encoding and the app manifest.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plugboard::testing::fuzz::config_parsers(data));
