// {{name}}: a `queue-worker` guest in JavaScript. Each message is a JSON object with an `id`; it
// is stored in the `data` store under that id. A message that is not one fails alone and is retried.
import { open } from "wasi:keyvalue/store@0.2.0-draft2";

function utf8(text) {
  return Uint8Array.from(unescape(encodeURIComponent(text)), (c) => c.charCodeAt(0));
}

export const queueHandler = {
  handle(message) {
    let value;
    try {
      value = JSON.parse(message.body);
    } catch (e) {
      throw `not JSON: ${e}`;
    }
    if (value === null || typeof value !== "object" || typeof value.id !== "string") throw "no `id` field";
    open("data").set(value.id, utf8(message.body));
  },
};
