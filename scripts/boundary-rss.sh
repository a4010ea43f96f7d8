#!/usr/bin/env bash
# The host-memory bound, measured: each hostile request of the chaos guest (memory-mb = 32) runs
# through `plugboard invoke` as its own process, next to the same guest's benign call; prints
# the peak RSS of each, their difference, and whether it stays within the cap + 64 MiB.
# Not part of the test command (it builds release binaries and runs ~20 processes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh >/dev/null
cargo build --release --locked -p plugboard >/dev/null
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cap_mb=32
for role in internal-api http-api; do
    cat >"$work/$role.toml" <<TOML
role = "$role"
guest = "$root/guests/dist/chaos.wasm"
[grants.stores]
data = "data"
[limits]
timeout-ms = 20000
memory-mb = $cap_mb
TOML
done
script() { printf '{"ops":[%s]}' "$1"; }
http() { python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); e["rawPath"]=sys.argv[2]; e["routeKey"]="$default"; e["requestContext"]["http"]["path"]=sys.argv[2]; print(json.dumps(e))' tests/fixtures/events/http-api-v2.json "$1"; }
peak_kb() { # role, event JSON -> peak RSS in KiB of `plugboard invoke`
    printf '%s' "$2" >"$work/event.json"
    /usr/bin/time -f '%M' -o "$work/rss" "$target/release/plugboard" invoke --config "$work/$1.toml" \
        --event "$work/event.json" >/dev/null 2>"$work/log" || true
    cat "$work/rss"
}
set_big='{"op":"kv.set","store":"data","key":"k","value":{"repeat":390000}}'
# name | role | hostile event | benign event
cases=(
    "get-many: 2,000 copies of a 390 KB key|internal-api|$(script "$set_big,{\"op\":\"kv.get-many\",\"store\":\"data\",\"key\":\"k\",\"times\":2000}")|$(script "$set_big,{\"op\":\"kv.get-many\",\"store\":\"data\",\"key\":\"k\",\"times\":1}")"
    "get-many: 100 copies (the most allowed)|internal-api|$(script "$set_big,{\"op\":\"kv.get-many\",\"store\":\"data\",\"key\":\"k\",\"times\":100}")|$(script "$set_big,{\"op\":\"kv.get-many\",\"store\":\"data\",\"key\":\"k\",\"times\":1}")"
    "set-many: 40 values of 390 KB|internal-api|$(script '{"op":"kv.set-many","store":"data","key":"k","times":40,"value":{"repeat":390000}}')|$(script '{"op":"kv.set-many","store":"data","key":"k","times":1,"value":{"repeat":390000}}')"
    "CAS handles on 2 KiB keys until refused|internal-api|$(script "{\"op\":\"kv.cas-flood\",\"store\":\"data\",\"key\":\"$(printf 'k%.0s' $(seq 2000))\"}")|$(script '{"op":"kv.get","store":"data","key":"k"}')"
    "answer of 12 MB (over the 6 MB limit)|internal-api|$(script '{"op":"answer","bytes":12000000}')|$(script '{"op":"answer","bytes":1000}')"
    "log context of 8 MB|internal-api|$(script '{"op":"log.context","context-bytes":8000000,"message":"m"}')|$(script '{"op":"log.context","context-bytes":10,"message":"m"}')"
    "HTTP body of 20 MB|http-api|$(http /big/20000000)|$(http /big/1000)"
    "stdout flood of 20 MiB|http-api|$(http /misbehave/print:20480)|$(http /misbehave/print:1)"
)
printf '%-44s %10s %10s %10s %10s  %s\n' "hostile request" "benign MB" "hostile MB" "extra MB" "bound MB" "within"
worst=0
for case in "${cases[@]}"; do
    IFS='|' read -r name role hostile benign <<<"$case"
    b=$(peak_kb "$role" "$benign")
    h=$(peak_kb "$role" "$hostile")
    extra=$(( (h - b) / 1024 ))
    bound=$(( cap_mb + 64 ))
    ok=yes; [ "$extra" -le "$bound" ] || { ok=NO; worst=1; }
    printf '%-44s %10d %10d %10d %10d  %s\n' "$name" $((b / 1024)) $((h / 1024)) "$extra" "$bound" "$ok"
done
exit "$worst"
