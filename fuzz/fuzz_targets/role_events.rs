//! Any Lambda event to any role's adapter and example guest (the first byte picks the role).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use plugboard::testing::fuzz::RoleHarness;

static HARNESS: OnceLock<RoleHarness> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let guests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/dist");
    HARNESS.get_or_init(|| RoleHarness::new(&guests).expect("run scripts/build-guests.sh first")).run(data);
});
