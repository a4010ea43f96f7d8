"""{{name}}: an `http-api` guest in Python. `GET /hello?name=...` greets and counts visits in the
`data` store; other paths are 404, other methods 405."""

import json

from wit_world import exports
from wit_world.imports import atomics
from wit_world.imports import wasi_keyvalue_store as store
from wit_world.imports.http_types import HttpResponse


def respond(status, body):
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(body).encode())


class HttpHandler(exports.HttpHandler):
    def handle(self, request):
        if request.raw_path.rstrip("/") != "/hello":
            return respond(404, {"message": "no such route"})
        if request.method != "GET":
            return respond(405, {"message": "method not allowed"})
        name = next((value for key, value in request.query if key == "name"), "world")
        visits = atomics.increment(store.open("data"), "visits", 1)
        return respond(200, {"message": f"hello, {name}", "visits": visits})
