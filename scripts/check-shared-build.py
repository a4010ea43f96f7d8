#!/usr/bin/env python3
"""Check that the binary's build and the test build share every dependency's build.

`cargo build -p plugboard` (scripts/dev.sh) and `cargo test --workspace` (scripts/test.sh)
resolve features separately: a dev-dependency can turn a feature on in a crate the binary also
uses, and then each command rebuilds that crate and everything above it (wasmtime among them)
after the other. This compares, for every non-workspace crate the binary builds, the feature
sets `cargo tree` reports in both resolutions, and fails naming each crate that differs.
Usage: scripts/check-shared-build.py (from anywhere; runs cargo tree, builds nothing).
"""

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def resolved(*args: str) -> dict[str, set[str]]:
    """Each non-workspace package's feature sets (one per build of it) in one resolution."""
    out = subprocess.run(
        ["cargo", "tree", "--locked", "--prefix", "none", "--format", "{p}|{f}", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    builds: dict[str, set[str]] = defaultdict(set)
    for line in out.splitlines():
        package, sep, features = line.removesuffix(" (*)").partition("|")
        # Workspace members carry their path; they are rebuilt per checkout anyway.
        if not sep or "(/" in package:
            continue
        builds[package.removesuffix(" (proc-macro)").strip()].add(",".join(sorted(f for f in features.split(",") if f)))
    return builds


def main() -> int:
    binary = resolved("-p", "plugboard", "-e", "normal,build")
    tests = resolved("--workspace", "-e", "normal,build,dev")
    differ = {p: (f, tests.get(p, set())) for p, f in binary.items() if tests.get(p, set()) != f}
    for package, (built, tested) in sorted(differ.items()):
        print(f"{package}: `cargo build -p plugboard` features {sorted(built)}, `cargo test` {sorted(tested)}")
    if differ:
        print(
            f"{len(differ)} dependencies build differently for the binary and for the tests; turn the "
            "tests' features on for the binary too (host/Cargo.toml, 'Feature unification')",
            file=sys.stderr,
        )
        return 1
    print(f"shared build: {len(binary)} dependencies resolve alike for the binary and the tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
