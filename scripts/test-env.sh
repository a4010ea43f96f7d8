#!/usr/bin/env bash
# Test-only tools in a project venv (.venv), pinned: moto's AWS-protocol server, and
# cargo-lambda (a prebuilt binary on PyPI) for its Lambda Runtime API emulator.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
moto_version=5.2.5
cargo_lambda_version=1.9.2
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$moto_version')" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
fi
if ! "$venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$cargo_lambda_version"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$cargo_lambda_version"
fi
