// A token authorizer in JavaScript (componentized with jco's QuickJS backend).
//
// `Authorization: Bearer <token>` (or a TOKEN event's token) is looked up in the `tokens` config
// value, a JSON object `{"<token>": {"principal": "...", "routes": ["GET /items", "GET /items/*"]}}`
// — in production a secret (`secret:NAME` in the manifest). A known token is allowed its routes,
// with the principal in the context; anything else is Unauthorized (401).
import { get } from "wasi:config/store@0.2.0-draft-2024-09-27";

function presentedToken(request) {
  let value = request.token;
  if (value === undefined || value === null) {
    const header = request.headers.find(([name]) => name.toLowerCase() === "authorization");
    value = header ? header[1] : undefined;
  }
  if (typeof value !== "string" || !value.startsWith("Bearer ")) return undefined;
  return value.slice("Bearer ".length).trim();
}

function tokens() {
  const text = get("tokens");
  if (text === undefined || text === null) throw { tag: "failed", val: "the `tokens` config value is not set" };
  try {
    return JSON.parse(text);
  } catch (e) {
    throw { tag: "failed", val: "the `tokens` config value is not JSON" };
  }
}

// `arn:aws:execute-api:region:account:api/stage/METHOD/path` -> `arn:...:api/stage/`.
function arnBase(methodArn) {
  const parts = methodArn.split("/");
  if (parts.length < 2 || !parts[0].startsWith("arn:")) throw { tag: "failed", val: `unexpected method ARN ${methodArn}` };
  return `${parts[0]}/${parts[1]}/`;
}

export const authorizerHandler = {
  authorize(request) {
    const token = presentedToken(request);
    // An own property only: `constructor`, `__proto__` and the like are not tokens.
    const known = tokens();
    const caller = token !== undefined && Object.prototype.hasOwnProperty.call(known, token) ? known[token] : undefined;
    if (caller === undefined) throw { tag: "unauthorized" };
    const base = arnBase(request.methodArn);
    const resources = (caller.routes || []).map((route) => {
      const [method, path] = route.trim().split(/\s+/, 2);
      return `${base}${method.toUpperCase()}/${path.replace(/^\//, "")}`;
    });
    return {
      principalId: caller.principal,
      statements: resources.length
        ? [{ effect: "allow", resources }]
        : [{ effect: "deny", resources: [`${base}*`] }],
      context: [
        ["principal", { tag: "text", val: caller.principal }],
        ["auth", { tag: "text", val: "token" }],
      ],
      usageIdentifierKey: undefined,
    };
  },
};
