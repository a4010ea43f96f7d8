#!/usr/bin/env bash
# Load-test `plugboard dev` with wrk and print requests/s, p50 and p99 for items GET (a real
# key-value read) and webhook ingest (a durable enqueue), and messages/s through the worker —
# next to `wasmtime serve` with a hello-world component and a native Rust hello server, measured
# in the same run so the ratios hold on a noisy machine.
# Installs what it needs: wrk (Debian), wasmtime-cli (cargo install, cached under ~/.cache).
# DURATION (default 10s), CONNECTIONS (default 16), THREADS of wrk (default 1: the servers keep a core).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${DURATION:-10s}
connections=${CONNECTIONS:-16}
tools=${PLUGBOARD_TOOLS:-$HOME/.cache/plugboard/tools}

command -v wrk >/dev/null || { ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get install -y wrk >/dev/null; }
if [ ! -x "$tools/bin/wasmtime" ]; then
    echo "installing wasmtime-cli 48 into $tools (once; several minutes)"
    cargo install wasmtime-cli@48.0.8 --locked --root "$tools" --no-default-features \
        --features "run,serve,component-model-async,cranelift,pooling-allocator,parallel-compilation"
fi
scripts/build-guests.sh >/dev/null
cargo build --release --locked -p plugboard --example native_hello
target=${CARGO_TARGET_DIR:-$root/target}
plugboard=$target/release/plugboard

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

# The app, from a copy of the manifest with fresh state.
sed -e "s|\"guests/dist/|\"$root/guests/dist/|" -e 's|state-dir = ".plugboard"|state-dir = "state"|' plugboard.toml > "$work/plugboard.toml"
dev_port=$(free_port); wt_port=$(free_port); native_port=$(free_port)
PLUGBOARD_LOG=error "$plugboard" dev --manifest "$work/plugboard.toml" --port "$dev_port" >/dev/null & pids+=($!)
"$tools/bin/wasmtime" serve -S cli=y --addr "127.0.0.1:$wt_port" guests/dist/hello_http.wasm >/dev/null 2>&1 & pids+=($!)
"$target/release/examples/native_hello" "$native_port" & pids+=($!)
wait_port "$dev_port"; wait_port "$wt_port"; wait_port "$native_port"

token=$(python3 - <<'PY'
import base64, hashlib, hmac, json, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
c = b64(json.dumps({"sub": "bench", "exp": int(time.time()) + 3600, "routes": ["POST /items"]}).encode())
print(f"Bearer {h}.{c}.{b64(hmac.new(b'demo-jwt-secret', f'{h}.{c}'.encode(), hashlib.sha256).digest())}")
PY
)
curl -sf -X POST "http://127.0.0.1:$dev_port/items" -H "authorization: $token" -d '{"id":"lamp","name":"Desk lamp","price":25}' >/dev/null

body='{"id":"bench","event":"order.created","amount":1}'
# The key is signed with the body and a timestamp (valid for 5 minutes), and wrk's Lua has no
# HMAC: sign 50,000 distinct keys up front and cycle through them.
python3 - "$body" > "$work/signed.lua" <<'PY'
import hashlib, hmac, sys, time
body, ts = sys.argv[1], str(int(time.time()))
print(f'timestamp = "{ts}"')
print("signed = {")
for i in range(50000):
    key = f"k{ts}-{i}"
    sig = hmac.new(b"demo-webhook-secret", f"{ts}.{key}.{body}".encode(), hashlib.sha256).hexdigest()
    print(f'  {{"{key}", "sha256={sig}"}},')
print("}")
PY
cat > "$work/ingest.lua" <<LUA
-- A distinct idempotency key per request, so every message is a new event for the worker.
dofile("$work/signed.lua")
local n = 0
request = function()
  n = n % #signed + 1
  local headers = { ["x-webhook-timestamp"] = timestamp, ["x-signature"] = signed[n][2], ["idempotency-key"] = signed[n][1] }
  return wrk.format("POST", "/webhooks", headers, '$body')
end
LUA

run() { # name url [script]
    local out
    out=$(wrk -t"${THREADS:-1}" -c"$connections" -d"$duration" --latency ${3:+-s "$3"} "$2")
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    local errors; errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    printf '%-34s %12s %10s %10s %s\n' "$1" "$rps" "$p50" "$p99" "${errors:+non-2xx: $errors}" >> "$work/rows"
    echo "$rps $(awk '/requests in/ {print $1}' <<<"$out")"
}
read -r hello_native _ < <(run "native Rust hello (hyper)" "http://127.0.0.1:$native_port/")
read -r hello_wasmtime _ < <(run "wasmtime serve hello (wasi:http)" "http://127.0.0.1:$wt_port/")
read -r items _ < <(run "plugboard dev: GET /items/lamp" "http://127.0.0.1:$dev_port/items/lamp")

queue_depth() { curl -sf "http://127.0.0.1:$dev_port/_plugboard/queues" | python3 -c 'import json,sys; q={x["name"]:x for x in json.load(sys.stdin)}["plugboard-events"]; print(q["visible"]+q["in_flight"]+q["delayed"])'; }
start=$(date +%s.%N)
read -r ingest sent < <(run "plugboard dev: POST /webhooks" "http://127.0.0.1:$dev_port/webhooks" "$work/ingest.lua")
# The worker (2 pollers x 10 messages) runs during the load and drains the backlog after it.
backlog=$(queue_depth)
while [ "$(queue_depth)" -gt 0 ]; do sleep 0.1; done
drain=$(python3 -c "print(f'{$sent / ($(date +%s.%N) - $start):.0f}')")
dlq=$(curl -sf "http://127.0.0.1:$dev_port/_plugboard/queues" | python3 -c 'import json,sys; print({x["name"]:x for x in json.load(sys.stdin)}["plugboard-events-dlq"]["visible"])')

echo
printf '%-34s %12s %10s %10s\n' "benchmark ($connections connections, $duration)" "requests/s" "p50" "p99"
cat "$work/rows"
echo
python3 - <<PY
print(f"items GET / wasmtime serve hello: {$items / $hello_wasmtime:.2f}x   items GET / native hello: {$items / $hello_native:.2f}x")
print(f"webhook ingest: {$ingest:.0f} messages/s stored durably ($sent in all, $backlog still queued when the load stopped)")
print(f"worker: all $sent processed at $drain messages/s (first send to empty queue); dead-lettered: $dlq")
PY
