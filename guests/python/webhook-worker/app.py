"""Scalable Webhook worker in Python: the same behaviour as the Rust `webhook-worker` guest.

Each event is counted exactly once per type under `count/{type}` and recorded under
`event/{idempotency-key}`:

1. claim: the record is created by compare-and-swap as `{"state": "claimed", "at": now}`. A
   `done` record (or one without `state`) is a duplicate; a claim younger than the lease
   (`lease_secs`, default 15) fails this delivery so it is retried; an older one was abandoned
   and is taken over.
2. count: the counter `{"n": N, "applied": key}` is swapped to N + 1 naming this key, after the
   record of the key it named before is marked `done` (that count is in). A takeover whose key
   the counter still names, or whose record is already `done`, does not count again.
3. done: the record is marked `done`.

An event type outside `[A-Za-z0-9._-]{1,64}`, a key outside `[A-Za-z0-9_-]{1,128}`, or a body
that is not a JSON object with an `event` field fails alone, without a claim (then the DLQ).
"""

import json
import re
import time

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import atomics, queue, wasi_config_store
from wit_world.imports import wasi_keyvalue_store as store

DEFAULT_LEASE_SECS = 15
MAX_ATTEMPTS = 50
EVENT_TYPE = re.compile(r"[A-Za-z0-9._-]{1,64}")
KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


class QueueHandler(exports.QueueHandler):
    def handle(self, message) -> None:
        try:
            event = json.loads(message.body)
        except ValueError as e:
            raise Err(f"body is not JSON: {e}")
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            raise Err("event has no `event` type field")
        if not EVENT_TYPE.fullmatch(event["event"]):
            raise Err("event type must be 1-64 letters, digits, '.', '_' or '-'")
        key = message.id
        for name, value in message.attributes:
            if name == "idempotency-key" and isinstance(value, queue.AttributeValue_Text):
                key = value.value
        if not KEY.fullmatch(key):
            raise Err("idempotency key must be 1-128 letters, digits, '_' or '-'")
        try:
            record(key, message, event)
        except Err as e:
            # A store failure: this message is retried; the others in the batch are not affected.
            raise Err(f"store: {e.value}")


def record(key, message, event) -> None:
    bucket = store.open("events")
    body = {
        "idempotency_key": key,
        "message_id": message.id,
        "receive_count": message.receive_count,
        "event": event,
    }
    if not claim(bucket, key, body):
        return  # Already processed: a redelivery.
    count(bucket, f"count/{event['event']}", key)
    bucket.set(marker(key), json.dumps({**body, "state": "done"}).encode())


def marker(key):
    return f"event/{key}"


def parse(data):
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return None


def state_of(data):
    doc = parse(data) if data is not None else None
    return doc.get("state") if isinstance(doc, dict) else None


def claim(bucket, key, body) -> bool:
    """True when claimed for this delivery, False when already processed; raises while another
    delivery holds a live claim."""
    cas = atomics.Cas.new(bucket, marker(key))
    current = cas.current()
    if current is not None:
        if state_of(current) != "claimed":
            return False  # `done`, or a record from before claims existed.
        at = parse(current).get("at")
        at = at if isinstance(at, int) else 0
        if int(time.time()) - at < lease_secs():
            raise Err("another delivery of this event is being processed; retry later")
    claimed = {**body, "state": "claimed", "at": int(time.time())}
    try:
        atomics.swap(cas, json.dumps(claimed).encode())
    except Err as e:
        if isinstance(e.value, atomics.CasError_CasFailed):
            raise Err("another delivery claimed this event first; retry later")
        raise
    return True


def count(bucket, counter, key) -> None:
    """Add `key` to the counter once (see the module docs)."""
    for _ in range(MAX_ATTEMPTS):
        cas = atomics.Cas.new(bucket, counter)
        doc = parse(cas.current())
        if isinstance(doc, int):
            n, applied = doc, None  # An older plain counter.
        elif isinstance(doc, dict):
            n, applied = int(doc.get("n") or 0), doc.get("applied")
        else:
            n, applied = 0, None
        if applied == key or state_of(bucket.get(marker(key))) == "done":
            return
        if applied is not None:
            previous = bucket.get(marker(applied))
            if state_of(previous) == "claimed":
                bucket.set(marker(applied), json.dumps({**parse(previous), "state": "done"}).encode())
        try:
            atomics.swap(cas, json.dumps({"n": n + 1, "applied": key}).encode())
            return
        except Err as e:
            if not isinstance(e.value, atomics.CasError_CasFailed):
                raise
    raise Err("the counter is contended; retry later")


def lease_secs() -> int:
    try:
        return int(wasi_config_store.get("lease_secs") or DEFAULT_LEASE_SECS)
    except (Err, ValueError):
        return DEFAULT_LEASE_SECS
