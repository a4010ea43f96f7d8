#!/usr/bin/env bash
# Start dynalite (pinned in tests/dynalite/package-lock.json) on 127.0.0.1 on a free port and
# print its URL once it answers; `scripts/dynalite.sh stop STATE-FILE` stops the one recorded
# there. New tables stay CREATING for CREATE_MS (500 ms) as on AWS, which moto does not do.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/local-server.sh"
dir="$root/tests/dynalite"
state=${2:-$dir/dynalite.state}
if [ "${1:-start}" = stop ]; then
    stop_server "$state"
    exit 0
fi
command -v npm >/dev/null || { echo "dynalite: Node.js with npm is required" >&2; exit 1; }
if [ ! -x "$dir/node_modules/.bin/dynalite" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
fi
port=$(free_port)
"$dir/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$port" --createTableMs "${CREATE_MS:-500}" > "$dir/dynalite.log" 2>&1 &
await_server "http://127.0.0.1:$port" $! "$dir/dynalite.log" "$state"
