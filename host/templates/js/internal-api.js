// {{name}}: an `internal-api` guest in JavaScript. `{"name": "..."}` -> `{"greeting": "hello, ..."}`;
// any other payload is a `ValidationError`.
export const internalHandler = {
  handle(payload) {
    let request;
    try {
      request = JSON.parse(payload);
    } catch (e) {
      throw { errorType: "ValidationError", message: "payload is not JSON" };
    }
    if (request === null || typeof request.name !== "string") {
      throw { errorType: "ValidationError", message: "`name` (a string) is required" };
    }
    return JSON.stringify({ greeting: `hello, ${request.name}` });
  },
};
