#!/usr/bin/env bash
# The test command: build the guests, then run every host test (unit, integration, CLI) and
# check that the benchmarks compile. Everything runs in the release profile (see Cargo.toml).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh
cargo test --release --locked --workspace
cargo bench --locked --no-run -p plugboard
