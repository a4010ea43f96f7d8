#!/usr/bin/env bash
# Install what building Plugboard needs beyond a Rust toolchain: the wasm32-wasip2 target.
set -euo pipefail
command -v cargo >/dev/null || { echo "setup: Rust is required (https://rustup.rs)" >&2; exit 1; }
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
