# Sourced by scripts/moto.sh and scripts/dynalite.sh: the start/stop protocol they share.
# `free_port` prints a free 127.0.0.1 port; `await_server URL PID LOG STATE` waits until URL
# answers (any HTTP status), records URL and PID in STATE and prints URL; `stop_server STATE`
# stops the server recorded there.

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

await_server() {
    local url=$1 pid=$2 log=$3 state=$4
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request,urllib.error,sys
try: urllib.request.urlopen('$url', timeout=1)
except urllib.error.HTTPError: pass" 2>/dev/null; then
            printf '%s\n%s\n' "$url" "$pid" > "$state"
            echo "$url"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
        sleep 0.2
    done
    echo "no answer at $url" >&2
    kill "$pid" 2>/dev/null || true
    return 1
}

stop_server() {
    [ -f "$1" ] && kill "$(sed -n 2p "$1")" 2>/dev/null || true
    rm -f "$1"
}
