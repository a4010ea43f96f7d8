//! {{name}}: an `internal-api` guest. `{"name": "..."}` -> `{"greeting": "hello, ..."}`; any
//! other payload is a `ValidationError`.

use plugboard_guest::serde_json::json;
use plugboard_guest::{FunctionError, InternalHandler, parse_payload, to_payload};
use serde::Deserialize;

/// What callers send.
#[derive(Deserialize)]
struct Request {
    name: String,
}

struct Guest;

impl InternalHandler for Guest {
    fn handle(payload: String) -> Result<String, FunctionError> {
        let request: Request = parse_payload(&payload)?;
        to_payload(&json!({ "greeting": format!("hello, {}", request.name) }))
    }
}

plugboard_guest::internal_api!(Guest);
