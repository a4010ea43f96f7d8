#!/usr/bin/env bash
# Run the per-invocation benchmark and print the median (p50) of every figure in a table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh >/dev/null
target=${CARGO_TARGET_DIR:-$root/target}
rm -rf "$target/criterion"
cargo bench --locked -p plugboard --bench invoke -- "$@"
python3 - "$target/criterion" <<'PY'
import json, pathlib, sys
rows = []
for est in sorted(pathlib.Path(sys.argv[1]).glob("**/new/estimates.json")):
    bench = json.loads((est.parent / "benchmark.json").read_text())
    median = json.loads(est.read_text())["median"]["point_estimate"]
    rows.append((bench["full_id"], median))
width = max(len(name) for name, _ in rows)
print(f"\n{'benchmark':<{width}}  median")
for name, ns in rows:
    if ns >= 1e6:
        print(f"{name:<{width}}  {ns/1e6:8.2f} ms")
    else:
        print(f"{name:<{width}}  {ns/1000:8.2f} µs" if ns >= 1000 else f"{name:<{width}}  {ns:8.0f} ns")
PY
