#!/usr/bin/env bash
# Build the Lambda `bootstrap` for ARCH from this checkout, cross-compiled with zig against
# glibc 2.34 (provided.al2023's) and checked with objdump, and zip it as OUT/ARCH/bootstrap.zip,
# staged as OUT/bootstrap.zip (the generated template's CodeUri is deploy/dist/bootstrap.zip).
# The bootstrap is the same for every app (the app is its guests and configuration), so an app
# outside this checkout runs this with OUT = its own deploy/dist.
# usage: scripts/bootstrap-zip.sh [arm64|x86_64] [OUT]   (default: arm64, this checkout's deploy/dist)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-arm64}
case "$arch" in
    x86_64) triple=x86_64-unknown-linux-gnu ;;
    arm64) triple=aarch64-unknown-linux-gnu ;;
    *) echo "usage: $0 [arm64|x86_64] [OUT]" >&2; exit 2 ;;
esac
out=${2:-$root/deploy/dist}
mkdir -p "$out/$arch"
out=$(cd "$out" && pwd)
cd "$root"
PATH="$(scripts/deploy-env.sh):$PATH"   # zig (ziglang) and cargo-zigbuild
export PATH
target_dir=${CARGO_TARGET_DIR:-$root/target}
rustup target add "$triple" >&2
# The `.2.34` suffix makes zig link against glibc 2.34's symbol versions. No default features:
# no cross-compiler and no developer credential providers on Lambda.
cargo zigbuild --locked --profile dist --no-default-features --target "$triple.2.34" -p plugboard --bin plugboard >&2
cp "$target_dir/$triple/dist/plugboard" "$out/$arch/bootstrap"
scripts/check-glibc.sh "$out/$arch/bootstrap" 2.34 >&2
rm -f "$out/$arch/bootstrap.zip"
(cd "$out/$arch" && zip -q -9 bootstrap.zip bootstrap)
cp "$out/$arch/bootstrap.zip" "$out/bootstrap.zip"
echo "$arch: bootstrap $(stat -c %s "$out/$arch/bootstrap") bytes, zip $(stat -c %s "$out/$arch/bootstrap.zip") bytes -> $out/bootstrap.zip" >&2
