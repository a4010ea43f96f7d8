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

#[cfg(test)]
mod tests {
    use super::*;

    // `cargo test` runs this in wasmtime (plugboard cargo-runner, set in .cargo/config.toml).
    #[test]
    fn a_name_is_greeted_and_anything_else_is_a_validation_error() {
        assert_eq!(Guest::handle(r#"{"name":"Ada"}"#.into()).unwrap(), r#"{"greeting":"hello, Ada"}"#);
        assert_eq!(Guest::handle("{}".into()).unwrap_err().error_type, "ValidationError");
    }
}
