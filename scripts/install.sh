#!/usr/bin/env bash
# Put `plugboard` on PATH from this checkout (`cargo install` into ~/.cargo/bin) and add the
# wasm32-wasip2 target Rust guests build for. Re-run it after pulling to update.
# usage: scripts/install.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rustup target add wasm32-wasip2
cargo install --locked --path "$root/host" --bin plugboard
bin=${CARGO_HOME:-$HOME/.cargo}/bin
case ":$PATH:" in
    *":$bin:"*) ;;
    *) echo "add $bin to PATH (e.g. in ~/.profile): export PATH=\"$bin:\$PATH\"" >&2 ;;
esac
"$bin/plugboard" --version
