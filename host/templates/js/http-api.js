// {{name}}: an `http-api` guest in JavaScript. `GET /hello?name=...` greets and counts visits in
// the `data` store; other paths are 404, other methods 405.
import { increment } from "wasi:keyvalue/atomics@0.2.0-draft2";
import { open } from "wasi:keyvalue/store@0.2.0-draft2";

function utf8(text) {
  return Uint8Array.from(unescape(encodeURIComponent(text)), (c) => c.charCodeAt(0));
}

function respond(status, body) {
  return { status, headers: [["content-type", "application/json"]], body: utf8(JSON.stringify(body)) };
}

export const httpHandler = {
  handle(request) {
    if (request.rawPath.replace(/\/$/, "") !== "/hello") return respond(404, { message: "no such route" });
    if (request.method !== "GET") return respond(405, { message: "method not allowed" });
    const param = request.query.find(([key]) => key === "name");
    const name = param ? param[1] : "world";
    const bucket = open("data");
    const visits = increment(bucket, "visits", 1);
    return respond(200, { message: `hello, ${name}`, visits: Number(visits) });
  },
};
