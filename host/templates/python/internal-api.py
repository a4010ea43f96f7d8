"""{{name}}: an `internal-api` guest in Python. `{"name": "..."}` -> `{"greeting": "hello, ..."}`;
any other payload is a `ValidationError`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import FunctionError


class InternalHandler(exports.InternalHandler):
    def handle(self, payload: str) -> str:
        try:
            request = json.loads(payload)
        except ValueError:
            raise Err(FunctionError("ValidationError", "payload is not JSON"))
        if not isinstance(request, dict) or not isinstance(request.get("name"), str):
            raise Err(FunctionError("ValidationError", "`name` (a string) is required"))
        return json.dumps({"greeting": f"hello, {request['name']}"})
