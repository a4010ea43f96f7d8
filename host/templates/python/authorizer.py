"""{{name}}: an `authorizer` guest in Python. `Authorization: Bearer <token>` equal to the `token`
config value is allowed every route; anything else is Unauthorized (401)."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import authorizer_handler
from wit_world.imports import policy
from wit_world.imports import wasi_config_store as config


class AuthorizerHandler(exports.AuthorizerHandler):
    def authorize(self, request):
        expected = config.get("token")
        presented = request.token[len("Bearer "):] if request.token and request.token.startswith("Bearer ") else None
        if not expected or presented != expected:
            raise Err(authorizer_handler.AuthorizeError_Unauthorized())
        # `arn:...:api-id/stage/METHOD/path` -> everything under this API and stage.
        api, stage = (request.method_arn.split("/") + ["", ""])[:2]
        allow = policy.Statement(policy.Effect.ALLOW, [f"{api}/{stage}/*"])
        return policy.Decision("token-holder", [allow], [], None)
