#!/usr/bin/env bash
# The test command: formatting and module layering first (seconds), build the guests, start
# moto's AWS-protocol server and dynalite (a stricter DynamoDB) on 127.0.0.1, run every host test
# (unit, integration, CLI, AWS backends over the wire, the deployment template and its offline
# checks), check the benchmarks compile, then clippy on the host and the guests.
# Everything runs in the release profile (see Cargo.toml).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# rustfmt and clippy are components of the machine's toolchain; add them if a machine lacks them.
for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done
cargo fmt --all --check
cargo fmt --all --check --manifest-path guests/Cargo.toml
cargo fmt --all --check --manifest-path fuzz/Cargo.toml
scripts/module-cycles.py host/src host/core/src host/aws/src host/local/src
# The binary's build and the test build share every dependency (scripts/dev.sh after this reuses it).
scripts/check-shared-build.py
# The core builds without any AWS SDK.
if cargo tree --locked -p plugboard-core -e normal --prefix none | grep '^aws-sdk'; then
    echo "plugboard-core depends on the AWS SDK" >&2
    exit 1
fi
# The guests and the test environments (mostly downloads) get ready in the background while the
# host compiles; their output follows once both are done.
setup_log=$(mktemp)
(
    scripts/build-guests.sh
    scripts/test-env.sh
    scripts/deploy-env.sh >/dev/null   # cfn-lint, SAM CLI and translator for tests/deploy.rs
    scripts/browser-env.sh             # Chromium and playwright-core for the dashboard test
) >"$setup_log" 2>&1 &
setup=$!
# Clippy is the compiler of the project's own crates (scripts/clippy-rustc.sh), so the test build
# is also the lint, and every dependency is compiled once: `cargo clippy` would compile them all a
# second time, in check mode. Every target is linted: the test build has the libraries, binaries,
# tests and examples, the bench build the benchmarks. (A config option, not the environment
# variable: crates the tests build with cargo stay plain builds.)
lint=(--config "build.rustc-workspace-wrapper='$root/scripts/clippy-rustc.sh'")
cargo "${lint[@]}" test --release --locked --workspace --no-run
cargo "${lint[@]}" bench --locked --no-run -p plugboard
setup_status=0
wait "$setup" || setup_status=$?
cat "$setup_log"
if [ "$setup_status" != 0 ]; then
    echo "building the guests or setting up the test environments failed (exit $setup_status)" >&2
    exit 1
fi
state=$(mktemp)
dynalite_state=$(mktemp)
trap 'scripts/moto.sh stop "$state"; scripts/dynalite.sh stop "$dynalite_state"' EXIT
PLUGBOARD_TEST_AWS_ENDPOINT=$(scripts/moto.sh start "$state")
PLUGBOARD_TEST_DYNALITE_ENDPOINT=$(scripts/dynalite.sh start "$dynalite_state")
export PLUGBOARD_TEST_AWS_ENDPOINT PLUGBOARD_TEST_DYNALITE_ENDPOINT
cargo "${lint[@]}" test --release --locked --workspace
# The guests' lint (small: a check build of their few dependencies).
CARGO_TARGET_DIR=${PLUGBOARD_GUEST_TARGET_DIR:-$root/guests/target} cargo clippy --locked --release \
    --manifest-path guests/Cargo.toml --target wasm32-wasip2 --workspace --all-targets -- -D warnings
