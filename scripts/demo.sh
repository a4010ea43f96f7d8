#!/usr/bin/env bash
# The main job, for now: build everything, then run each of the four patterns through
# `plugboard invoke` with real event JSON and the example guests (in-memory backends).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-guests.sh
cargo build --release --locked -p plugboard
plugboard="${CARGO_TARGET_DIR:-$root/target}/release/plugboard"
export PLUGBOARD_LOG=${PLUGBOARD_LOG:-warn}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fn=examples/functions
ev=examples/events

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Simple Web Service: create, read, conflict, and a quote through the internal API"
"$plugboard" invoke --config $fn/items-api.toml --with quotes=$fn/quotes.toml \
    --event $ev/items-create.json --event $ev/items-get.json \
    --event $ev/items-create-again.json --event $ev/items-quote.json

say "2. Scalable Webhook: a signed event is accepted (202), a forged one refused (401)"
python3 - "$work" <<'PY'
import hashlib, hmac, json, sys, time
base = json.load(open("examples/events/items-create.json"))
body = json.dumps({"id": "evt-1", "event": "order.created", "amount": 12.5})
timestamp = str(int(time.time()))
for name, secret in (("signed", b"demo-webhook-secret"), ("forged", b"wrong")):
    event = json.loads(json.dumps(base))
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/webhooks"
    event["body"] = body
    # The signature covers timestamp, idempotency key (the event's id) and body.
    signed = f"{timestamp}.evt-1.{body}".encode()
    event["headers"]["x-webhook-timestamp"] = timestamp
    event["headers"]["x-signature"] = "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
    json.dump(event, open(f"{sys.argv[1]}/webhook-{name}.json", "w"))
PY
"$plugboard" invoke --config $fn/webhook-ingest.toml --event "$work/webhook-signed.json" --event "$work/webhook-forged.json"
say "   ... and the worker reports only the poison message of a FIFO batch for retry"
"$plugboard" invoke --config $fn/webhook-worker.toml --event tests/fixtures/events/sqs.json --event tests/fixtures/events/sqs-fifo.json

say "3. Gatekeeper: a valid JWT gets a policy scoped to its routes; a bad one is Unauthorized (401)"
python3 - "$work" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = b64(json.dumps({"sub": "alice", "exp": int(time.time()) + 600, "routes": ["GET /orders/*"]}).encode())
sig = b64(hmac.new(b"demo-jwt-secret", f"{header}.{claims}".encode(), hashlib.sha256).digest())
event = json.load(open("tests/fixtures/events/authorizer-token.json"))
for name, token in (("good", f"Bearer {header}.{claims}.{sig}"), ("bad", f"Bearer {header}.{claims}.x{sig}")):
    event["authorizationToken"] = token
    json.dump(event, open(f"{sys.argv[1]}/token-{name}.json", "w"))
PY
"$plugboard" invoke --config $fn/gatekeeper.toml --event "$work/token-good.json"
"$plugboard" invoke --config $fn/gatekeeper.toml --event "$work/token-bad.json" || echo "(exit $?: API Gateway answers 401)"

say "4. Internal API: a direct invocation, and a typed error"
"$plugboard" invoke --config $fn/quotes.toml --event tests/fixtures/events/direct-quote.json
echo '{"sku":"x","unit_price":-1,"quantity":1}' > "$work/bad-quote.json"
"$plugboard" invoke --config $fn/quotes.toml --event "$work/bad-quote.json" || echo "(exit $?: a Lambda function error)"
