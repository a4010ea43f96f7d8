"""{{name}}: a `queue-worker` guest in Python. Each message is a JSON object with an `id`; it is
stored in the `data` store under that id. A message that is not one fails alone and is retried."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import wasi_keyvalue_store as store


class QueueHandler(exports.QueueHandler):
    def handle(self, message) -> None:
        try:
            value = json.loads(message.body)
        except ValueError as e:
            raise Err(f"not JSON: {e}")
        if not isinstance(value, dict) or not isinstance(value.get("id"), str):
            raise Err("no `id` field")
        store.open("data").set(value["id"], message.body.encode())
