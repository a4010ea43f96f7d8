#!/usr/bin/env bash
# Keep a reused target directory bounded: every build from a new clone path links new test
# and binary executables (a few hundred MB each); keep only the newest of each name, and drop
# incremental state. Dependencies' compiled libraries are kept, so the next build stays warm.
set -euo pipefail
target=${1:-${CARGO_TARGET_DIR:-target}}
for profile in "$target"/release "$target"/debug; do
    [ -d "$profile/deps" ] || continue
    rm -rf "$profile/incremental"
    python3 - "$profile/deps" <<'PY'
import collections, os, re, sys
deps = sys.argv[1]
groups = collections.defaultdict(list)
for name in os.listdir(deps):
    path = os.path.join(deps, name)
    match = re.fullmatch(r"(.+)-[0-9a-f]{16}", name)
    if match and os.path.isfile(path) and os.access(path, os.X_OK):
        groups[match.group(1)].append(path)
freed = 0
for paths in groups.values():
    paths.sort(key=os.path.getmtime, reverse=True)
    for stale in paths[1:]:
        freed += os.path.getsize(stale)
        os.remove(stale)
print(f"prune-target: freed {freed / 1e9:.1f} GB in {deps}")
PY
done
