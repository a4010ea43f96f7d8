#!/usr/bin/env python3
"""Send one webhook to the example app, signed as its webhook-ingest checks it.

Usage: scripts/send-webhook.py BODY [--url URL] [--secret SECRET] [--key KEY]

The signature is `x-signature: sha256=<hex>`, the HMAC-SHA256 of `{timestamp}.{key}.{body}`
under the webhook secret (default: the example app's dev value, `demo-webhook-secret`, as
plugboard.toml's `[secrets.webhook-secret]` gives it), with `x-webhook-timestamp` the current
Unix time. KEY is the idempotency key (default: the body's string `id`), always sent as the
`idempotency-key` header.
URL defaults to $PLUGBOARD_URL, else http://127.0.0.1:3000. Prints the status and the answer;
exits 1 unless the webhook was accepted (202).
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("body", help="the webhook's JSON body, sent as is")
    parser.add_argument("--url", default=os.environ.get("PLUGBOARD_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--secret", default="demo-webhook-secret")
    parser.add_argument("--key", help="idempotency key (default: the body's id)")
    args = parser.parse_args()

    key = args.key
    if key is None:
        try:
            key = json.loads(args.body)["id"]
        except (ValueError, KeyError, TypeError):
            key = None
        if not isinstance(key, str):
            print("send-webhook: the body has no string \"id\": pass --key", file=sys.stderr)
            return 2
    timestamp = str(int(time.time()))
    signed = f"{timestamp}.{key}.{args.body}".encode()
    headers = {
        "content-type": "application/json",
        "x-webhook-timestamp": timestamp,
        "x-signature": "sha256=" + hmac.new(args.secret.encode(), signed, hashlib.sha256).hexdigest(),
        "idempotency-key": key,
    }
    request = urllib.request.Request(
        args.url.rstrip("/") + "/webhooks", data=args.body.encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer = response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as refused:
        status, answer = refused.code, refused.read().decode(errors="replace")
    print(status, answer)
    return 0 if status == 202 else 1


if __name__ == "__main__":
    sys.exit(main())
