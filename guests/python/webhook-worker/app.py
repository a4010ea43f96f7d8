"""Scalable Webhook worker in Python: the same behaviour as the Rust `webhook-worker` guest.

Each event is counted once per type under `count/{type}` and recorded under
`event/{idempotency-key}`, safe under redelivery and two deliveries at once: the record is first
created as a claim (compare-and-swap, `{"state": "claimed", "at": now}`), then the counter is
incremented (on failure the claim is released), then the record is marked `done`. A `done`
record (or one without `state`) is a duplicate; a claim younger than the lease (`lease_secs`,
default 15) fails this delivery so it is retried; an older one was abandoned and is taken over.
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
    marker = f"event/{key}"
    body = {
        "idempotency_key": key,
        "message_id": message.id,
        "receive_count": message.receive_count,
        "event": event,
    }
    if not claim(bucket, marker, body):
        return  # Already processed: a redelivery.
    try:
        atomics.increment(bucket, f"count/{event['event']}", 1)
    except Err:
        bucket.delete(marker)  # Not counted: the retry must count it.
        raise
    bucket.set(marker, json.dumps({**body, "state": "done"}).encode())


def claim(bucket, marker, body) -> bool:
    """True when claimed for this delivery, False when already processed; raises while another
    delivery holds a live claim."""
    cas = atomics.Cas.new(bucket, marker)
    current = cas.current()
    if current is not None:
        try:
            seen = json.loads(current)
        except ValueError:
            seen = None
        if not isinstance(seen, dict) or seen.get("state") != "claimed":
            return False
        if int(time.time()) - int(seen.get("at", 0)) < lease_secs():
            raise Err("another delivery of this event is being processed; retry later")
    claimed = {**body, "state": "claimed", "at": int(time.time())}
    try:
        atomics.swap(cas, json.dumps(claimed).encode())
    except Err as e:
        if isinstance(e.value, atomics.CasError_CasFailed):
            raise Err("another delivery claimed this event first; retry later")
        raise
    return True


def lease_secs() -> int:
    try:
        return int(wasi_config_store.get("lease_secs") or DEFAULT_LEASE_SECS)
    except (Err, ValueError):
        return DEFAULT_LEASE_SECS
