#!/usr/bin/env bash
# Start moto's server on 127.0.0.1 on a free port and print its URL once it answers;
# `scripts/moto.sh stop URL-FILE` stops the one whose URL and pid are recorded there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/local-server.sh"
state=${2:-$root/.venv/moto.state}
if [ "${1:-start}" = stop ]; then
    stop_server "$state"
    exit 0
fi
port=$(free_port)
"$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$root/.venv/moto.log" 2>&1 &
await_server "http://127.0.0.1:$port" $! "$root/.venv/moto.log" "$state"
