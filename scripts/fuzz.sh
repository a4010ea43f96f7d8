#!/usr/bin/env bash
# Coverage-guided fuzzing of every target in fuzz/ (cargo fuzz, libFuzzer, no sanitizer: this
# machine's stable toolchain has none), RUNS executions each (default 1,000,000), then a line
# per target: executions, seconds, crashes. A crash input lands in fuzz/artifacts/<target>/;
# commit it to fuzz/regressions/<target>/ with its fix, and tests/boundary/fuzz_corpus.rs
# replays it in the test command from then on. The committed seeds (fuzz/corpus/<target>/) are
# read; what the fuzzer adds goes to a work corpus outside the tree ($CARGO_TARGET_DIR/corpus).
# The instrumented build (wasmtime included) takes ~10 minutes here the first time.
#   scripts/fuzz.sh [TARGET...]      RUNS=N  MAX_TIME=seconds per target (0: no limit)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo_fuzz_version=0.13.2
tools="$root/.venv-fuzz"
if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
    cargo install --quiet --locked --root "$tools" cargo-fuzz --version "$cargo_fuzz_version"
fi
scripts/build-guests.sh >/dev/null
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(role_events config_parsers matching)
runs=${RUNS:-1000000}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/plugboard/fuzz-target}
summary=()
for target in "${targets[@]}"; do
    "$tools/bin/cargo-fuzz" build --fuzz-dir fuzz -s none --release "$target"
    work="$CARGO_TARGET_DIR/corpus/$target"
    mkdir -p "$work" "fuzz/artifacts/$target"
    log=$(mktemp)
    started=$(date +%s)
    set +e
    "$tools/bin/cargo-fuzz" run --fuzz-dir fuzz -s none --release "$target" "$work" "fuzz/corpus/$target" -- \
        -runs="$runs" -max_total_time="${MAX_TIME:-0}" -max_len=65536 -timeout=10 \
        -artifact_prefix="fuzz/artifacts/$target/" 2>&1 | tee "$log" | grep -E '^(#[0-9]+\s+(INITED|DONE|pulse))|==ERROR|panicked' || true
    set -e
    seconds=$(( $(date +%s) - started ))
    executions=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    crashes=$(find "fuzz/artifacts/$target" -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' | wc -l)
    summary+=("$(printf '%-16s executions %-10s seconds %-6s crashes %s' "$target" "${executions:-0}" "$seconds" "$crashes")")
    rm -f "$log"
done
printf '%s\n' "${summary[@]}"
