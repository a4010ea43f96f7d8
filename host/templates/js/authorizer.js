// {{name}}: an `authorizer` guest in JavaScript. `Authorization: Bearer <token>` equal to the
// `token` config value is allowed every route; anything else is Unauthorized (401).
import { get } from "wasi:config/store@0.2.0-draft-2024-09-27";

export const authorizerHandler = {
  authorize(request) {
    const expected = get("token");
    const token = request.token || "";
    if (!expected || !token.startsWith("Bearer ") || token.slice(7) !== expected) throw { tag: "unauthorized" };
    // `arn:...:api-id/stage/METHOD/path` -> everything under this API and stage.
    const [api, stage] = request.methodArn.split("/");
    return {
      principalId: "token-holder",
      statements: [{ effect: "allow", resources: [`${api}/${stage}/*`] }],
      context: [],
      usageIdentifierKey: undefined,
    };
  },
};
