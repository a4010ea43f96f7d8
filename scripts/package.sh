#!/usr/bin/env bash
# Build what a deployment needs and print how to deploy it:
#  - the `bootstrap` for both Lambda architectures, cross-built with zig against glibc 2.34
#    (provided.al2023's), checked with objdump, zipped: deploy/dist/{arm64,x86_64}/bootstrap.zip;
#  - the zip for ARCH (default arm64) staged as deploy/dist/bootstrap.zip, the template's CodeUri;
#  - the guests of plugboard.toml with precompiled artifacts for both architectures in
#    deploy/dist/guests, laid out for the guest bucket;
#  - deploy/template.yaml regenerated; then the deploy, upload and pin commands.
# usage: scripts/package.sh [arm64|x86_64]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
arch=${1:-arm64}
case "$arch" in arm64|x86_64) ;; *) echo "usage: $0 [arm64|x86_64]" >&2; exit 2 ;; esac
PATH="$(scripts/deploy-env.sh):$PATH"   # zig (ziglang) and cargo-zigbuild
export PATH
target_dir=${CARGO_TARGET_DIR:-$root/target}
dist="$root/deploy/dist"
rustup target add x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu >&2
for lambda_arch in x86_64 arm64; do
    case "$lambda_arch" in x86_64) triple=x86_64-unknown-linux-gnu ;; arm64) triple=aarch64-unknown-linux-gnu ;; esac
    # The `.2.34` suffix makes zig link against glibc 2.34's symbol versions. No default
    # features: no cross-compiler and no developer credential providers on Lambda.
    cargo zigbuild --locked --profile dist --no-default-features --target "$triple.2.34" -p plugboard --bin plugboard >&2
    mkdir -p "$dist/$lambda_arch"
    cp "$target_dir/$triple/dist/plugboard" "$dist/$lambda_arch/bootstrap"
    scripts/check-glibc.sh "$dist/$lambda_arch/bootstrap" 2.34 >&2
    rm -f "$dist/$lambda_arch/bootstrap.zip"
    (cd "$dist/$lambda_arch" && zip -q -9 bootstrap.zip bootstrap)
    echo "$lambda_arch: bootstrap $(stat -c %s "$dist/$lambda_arch/bootstrap") bytes, zip $(stat -c %s "$dist/$lambda_arch/bootstrap.zip") bytes" >&2
done
cp "$dist/$arch/bootstrap.zip" "$dist/bootstrap.zip"
scripts/build-guests.sh >&2
cargo build --locked --release -p plugboard --bin plugboard >&2
plugboard="$target_dir/release/plugboard"
"$plugboard" deploy-template
"$plugboard" package --arch "$arch" --out "$dist/guests"
