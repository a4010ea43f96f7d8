#!/usr/bin/env bash
# The main command: build the guests and the host, then run the example app (plugboard.toml)
# locally with `plugboard dev`. Extra arguments go to `plugboard dev` (e.g. --port 8080, --reset).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh
cargo build --release --locked -p plugboard
exec "${CARGO_TARGET_DIR:-$root/target}/release/plugboard" dev --manifest plugboard.toml "$@"
