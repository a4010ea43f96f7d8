"""A standard wasi:http component in Python (componentize-py's wasi:http bindings, no Plugboard
world) serving the http-api role: it echoes the request it was given as JSON, and answers
/cookies with two set-cookie headers, so the cases show the host's request and response rules
hold for any toolchain's component."""

import json

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)


def method_name(method) -> str:
    name = type(method).__name__
    if name == "Method_Other":
        return method.value
    return name.removeprefix("Method_").upper()


def read_body(request: IncomingRequest) -> bytes:
    body = request.consume()
    stream = body.stream()
    data = b""
    while True:
        try:
            data += stream.blocking_read(65536)
        except Exception:
            break
    stream.__exit__(None, None, None)
    return data


def respond(out: ResponseOutparam, status: int, headers: list, body: bytes) -> None:
    response = OutgoingResponse(Fields.from_list(headers))
    response.set_status_code(status)
    outgoing = response.body()
    ResponseOutparam.set(out, Ok(response))
    stream = outgoing.write()
    for start in range(0, len(body), 4096):
        stream.blocking_write_and_flush(body[start : start + 4096])
    stream.__exit__(None, None, None)
    OutgoingBody.finish(outgoing, None)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        path_with_query = request.path_with_query() or "/"
        if path_with_query.split("?")[0] == "/cookies":
            headers = [(b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Path=/")]
            respond(response_out, 204, [(k.decode(), v) for k, v in headers], b"")
            return
        echo = {
            "method": method_name(request.method()),
            "path_with_query": path_with_query,
            "authority": request.authority(),
            "headers": [[k, v.decode("utf-8", "replace")] for k, v in request.headers().entries()],
            "body": read_body(request).decode("utf-8", "replace"),
        }
        respond(response_out, 200, [("content-type", b"application/json")], json.dumps(echo).encode())
