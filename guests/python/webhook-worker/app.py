"""Scalable Webhook worker in Python: the same behaviour as the Rust `webhook-worker` guest.

Each message is stored once in the `events` store under `event/{idempotency-key}` (a
compare-and-swap create, so a redelivered message is a no-op) and counted per event type under
`count/{type}`. A message that is not a JSON object with an `event` field fails alone and is
retried (then dead-lettered).
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import atomics, queue
from wit_world.imports import wasi_keyvalue_store as store


class QueueHandler(exports.QueueHandler):
    def handle(self, message) -> None:
        try:
            event = json.loads(message.body)
        except ValueError as e:
            raise Err(f"body is not JSON: {e}")
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            raise Err("event has no `event` type field")
        key = message.id
        for name, value in message.attributes:
            if name == "idempotency-key" and isinstance(value, queue.AttributeValue_Text):
                key = value.value
        try:
            record(key, message, event)
        except Err as e:
            # A store failure: this message is retried; the others in the batch are not affected.
            raise Err(f"store: {e.value}")


def record(key, message, event) -> None:
    bucket = store.open("events")
    cas = atomics.Cas.new(bucket, f"event/{key}")
    if cas.current() is not None:
        return  # Already processed: a redelivery.
    body = {
        "idempotency_key": key,
        "message_id": message.id,
        "receive_count": message.receive_count,
        "event": event,
    }
    try:
        atomics.swap(cas, json.dumps(body).encode())
    except Err as e:
        if isinstance(e.value, atomics.CasError_CasFailed):
            return  # A concurrent delivery won.
        raise
    atomics.increment(bucket, f"count/{event['event']}", 1)
