#!/usr/bin/env bash
# The host-memory bound, measured: each hostile request of the chaos guest (memory-mb = 32, or 64
# where the guest itself needs room to build the hostile answer) runs
# through `plugboard invoke` as its own process, next to the same guest's benign call; prints
# the peak RSS of each, their difference, and whether it stays within the cap + 64 MiB.
# Not part of the test command (it builds release binaries and runs ~20 processes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh >/dev/null
target=${CARGO_TARGET_DIR:-$root/target}
# PLUGBOARD_BIN measures another build (e.g. an older commit's) against the same guests.
bin=${PLUGBOARD_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --locked -p plugboard >/dev/null
    bin=$target/release/plugboard
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for role in internal-api http-api; do
    for cap_mb in 32 64; do
        cat >"$work/$role-$cap_mb.toml" <<TOML
role = "$role"
guest = "$root/guests/dist/chaos.wasm"
[grants.stores]
data = "data"
[limits]
timeout-ms = 20000
memory-mb = $cap_mb
TOML
    done
done
script() { printf '{"ops":[%s]}' "$1"; }
http() { python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); e["rawPath"]=sys.argv[2]; e["routeKey"]="$default"; e["requestContext"]["http"]["path"]=sys.argv[2]; print(json.dumps(e))' tests/fixtures/events/http-api-v2.json "$1"; }
peak_kb() { # function config, event JSON -> peak RSS in KiB of `plugboard invoke`
    printf '%s' "$2" >"$work/event.json"
    /usr/bin/time -f '%M' -o "$work/rss" "$bin" invoke --config "$work/$1.toml" \
        --event "$work/event.json" >"$work/out" 2>"$work/log" || true
    tail -n 1 "$work/rss"
}
outcome() { # what the last invocation answered, in a few words
    python3 -c '
import json, sys
text = open(sys.argv[1]).read().strip()
try:
    v = json.loads(text)
except ValueError:
    print(text[:40]); sys.exit()
if isinstance(v, dict) and "errorType" in v:
    print(v["errorType"])
elif isinstance(v, dict) and "statusCode" in v:
    print("HTTP", v["statusCode"])
else:
    r = v.get("results", [None])[-1] if isinstance(v, dict) else v
    print(json.dumps(r)[:40])
' "$work/out"
}
set_big='{"op":"kv.set","store":"data","key":"k","value":{"repeat":390000}}'
set_big40='{"op":"kv.set-many","store":"data","key":"big","distinct":40,"value":{"repeat":390000}}'
set_more='{"op":"kv.set-many","store":"data","key":"more","distinct":4,"value":{"repeat":390000}}'
big44=$(python3 -c 'import json; print(json.dumps(["big-%d" % i for i in range(40)] + ["more-%d" % i for i in range(4)]))')
# name | role | memory cap (MiB) | hostile event | benign event
cases=(
    "get-many: 2,000 copies of a 390 KB key|internal-api|32|$(script "$set_big,{\"op\":\"kv.get-many\",\"store\":\"data\",\"key\":\"k\",\"times\":2000}")|$(script "$set_big,{\"op\":\"kv.get-many\",\"store\":\"data\",\"key\":\"k\",\"times\":1}")"
    "get-many: 44 keys of 390 KB (over 16 MiB)|internal-api|32|$(script "$set_big40,$set_more,{\"op\":\"kv.get-many\",\"store\":\"data\",\"keys\":$big44}")|$(script "$set_big40,$set_more,{\"op\":\"kv.get-many\",\"store\":\"data\",\"keys\":[\"k\"]}")"
    "set-many: 40 values of 390 KB|internal-api|32|$(script '{"op":"kv.set-many","store":"data","key":"k","distinct":40,"value":{"repeat":390000}}')|$(script '{"op":"kv.set-many","store":"data","key":"k","distinct":1,"value":{"repeat":390000}}')"
    "CAS handles on 2 KiB keys until refused|internal-api|32|$(script "{\"op\":\"kv.cas-flood\",\"store\":\"data\",\"key\":\"$(printf 'k%.0s' $(seq 2000))\"}")|$(script '{"op":"kv.get","store":"data","key":"k"}')"
    "answer of 7 MB (over the 6 MB limit)|internal-api|64|$(script '{"op":"answer","bytes":7000000}')|$(script '{"op":"answer","bytes":1000}')"
    "log context of 8 MB|internal-api|32|$(script '{"op":"log.context","context-bytes":8000000,"message":"m"}')|$(script '{"op":"log.context","context-bytes":10,"message":"m"}')"
    "HTTP body of 20 MB|http-api|32|$(http /big/20000000)|$(http /big/1000)"
    "stdout flood of 20 MiB|http-api|32|$(http /misbehave/print:20480)|$(http /misbehave/print:1)"
)
printf '%-40s %7s %9s %10s %8s %8s  %-6s %s\n' "hostile request" "cap MB" "benign MB" "hostile MB" "extra MB" "bound MB" "within" "hostile outcome"
worst=0
for case in "${cases[@]}"; do
    IFS='|' read -r name role cap_mb hostile benign <<<"$case"
    b=$(peak_kb "$role-$cap_mb" "$benign")
    h=$(peak_kb "$role-$cap_mb" "$hostile")
    what=$(outcome)
    extra=$(( (h - b) / 1024 ))
    bound=$(( cap_mb + 64 ))
    ok=yes; [ "$extra" -le "$bound" ] || { ok=NO; worst=1; }
    printf '%-40s %7d %9d %10d %8d %8d  %-6s %s\n' "$name" "$cap_mb" $((b / 1024)) $((h / 1024)) "$extra" "$bound" "$ok" "$what"
done
exit "$worst"
