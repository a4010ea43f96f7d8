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
target_dir=${CARGO_TARGET_DIR:-$root/target}
dist="$root/deploy/dist"
for lambda_arch in x86_64 arm64; do
    scripts/bootstrap-zip.sh "$lambda_arch" "$dist"
done
cp "$dist/$arch/bootstrap.zip" "$dist/bootstrap.zip"
scripts/build-guests.sh >&2
cargo build --locked --release -p plugboard --bin plugboard >&2
plugboard="$target_dir/release/plugboard"
"$plugboard" deploy-template
"$plugboard" package --arch "$arch" --out "$dist/guests"
