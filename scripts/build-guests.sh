#!/usr/bin/env bash
# Build every guest in guests/ and copy the components to guests/dist/: the Rust guests for
# wasm32-wasip2, the Python guests with componentize-py, the JavaScript guests with jco.
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
"$root/scripts/guest-tools.sh"
# guests/python/<name>/app.py -> <name>_py.wasm, for the world named in its cases/function.toml,
# or, when the guest has its own wit/ (a standard world such as wasi:http/proxy), its world.wit's.
for app in "$root"/guests/python/*/app.py; do
    dir=$(dirname "$app")
    wit="$root/wit"
    world=$(sed -n 's/^role = "\(.*\)"/\1/p' "$dir/cases/function.toml")
    if [ -d "$dir/wit" ]; then
        wit="$dir/wit"
        world=$(sed -n 's/^world \([a-z-]*\).*/\1/p' "$wit/world.wit")
    fi
    out="$root/guests/dist/$(basename "$dir" | tr - _)_py.wasm"
    "$root/.venv-guests/bin/componentize-py" -d "$wit" -w "$world" componentize app -p "$dir" -o "$out" >/dev/null
done
# guests/js/<name>/<file>.js -> <name>_js.wasm (QuickJS backend: small and fast to start).
for dir in "$root"/guests/js/*/; do
    [ -f "$dir/cases/function.toml" ] || continue
    world=$(sed -n 's/^role = "\(.*\)"/\1/p' "$dir/cases/function.toml")
    source=$(ls "$dir"*.js | head -n1)
    out="$root/guests/dist/$(basename "$dir" | tr - _)_js.wasm"
    "$root/guests/js/node_modules/.bin/jco" componentize "$source" --wit "$root/wit" -n "$world" \
        --backend qjs --backend-qjs-disable-async -o "$out" >/dev/null
done
echo "guests: $(ls "$root/guests/dist" | tr '\n' ' ')"
