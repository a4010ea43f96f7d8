#!/usr/bin/env bash
# Cargo's RUSTC_WORKSPACE_WRAPPER in the test command: the project's own crates are compiled by
# clippy-driver (rustc with Clippy's lints, warnings denied), dependencies by plain rustc.
# Cargo calls it as `clippy-rustc.sh <rustc> <args>`; clippy-driver drops the rustc path itself.
exec clippy-driver "$@" -D warnings
