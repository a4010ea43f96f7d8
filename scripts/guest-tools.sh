#!/usr/bin/env bash
# Tools for guests in other languages, pinned and local to the project: componentize-py in
# .venv-guests (Python guests), jco from guests/js/package-lock.json (JavaScript guests, QuickJS
# backend). Needs python3 with venv and Node.js with npm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-guests"
componentize_py_version=0.25.1
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/componentize-py" --version 2>/dev/null | grep -q "$componentize_py_version"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$componentize_py_version"
fi
command -v npm >/dev/null || { echo "guest-tools: Node.js with npm is required for JavaScript guests" >&2; exit 1; }
if [ ! -x "$root/guests/js/node_modules/.bin/jco" ] || [ "$root/guests/js/package-lock.json" -nt "$root/guests/js/node_modules/.package-lock.json" ]; then
    npm ci --prefix "$root/guests/js" --no-audit --no-fund --loglevel=error
fi
