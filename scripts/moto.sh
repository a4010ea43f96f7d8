#!/usr/bin/env bash
# Start moto's server on 127.0.0.1 on a free port and print its URL once it answers;
# `scripts/moto.sh stop URL-FILE` stops the one whose URL and pid are recorded there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${2:-$root/.venv/moto.state}
if [ "${1:-start}" = stop ]; then
    [ -f "$state" ] && kill "$(sed -n 2p "$state")" 2>/dev/null || true
    rm -f "$state"
    exit 0
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$root/.venv/moto.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('$url/moto-api/', timeout=1)" 2>/dev/null; then
        printf '%s\n%s\n' "$url" "$pid" > "$state"
        echo "$url"
        exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$root/.venv/moto.log" >&2; exit 1; }
    sleep 0.2
done
echo "moto did not answer at $url" >&2
kill "$pid" 2>/dev/null || true
exit 1
