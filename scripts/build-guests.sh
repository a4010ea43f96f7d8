#!/usr/bin/env bash
# Build every guest in guests/ for wasm32-wasip2 and copy the components to guests/dist/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
target_dir=${PLUGBOARD_GUEST_TARGET_DIR:-$root/guests/target}
cargo build --manifest-path "$root/guests/Cargo.toml" --release --target wasm32-wasip2 \
    --target-dir "$target_dir" --locked
mkdir -p "$root/guests/dist"
for wasm in "$target_dir"/wasm32-wasip2/release/*.wasm; do
    cp "$wasm" "$root/guests/dist/"
done
echo "guests: $(ls "$root/guests/dist" | tr '\n' ' ')"
