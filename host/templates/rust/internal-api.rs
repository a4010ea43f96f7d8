//! {{name}}: an `internal-api` guest. `{"name": "..."}` -> `{"greeting": "hello, ..."}`; any
//! other payload is a `ValidationError`.

use plugboard_guest::FunctionError;
use plugboard_guest::serde_json::{self, Value, json};

plugboard_guest::role!("internal-api", "wit");

struct Guest;

impl exports::plugboard::host::internal_handler::Guest for Guest {
    fn handle(payload: String) -> Result<String, FunctionError> {
        let invalid = |message: &str| FunctionError { error_type: "ValidationError".into(), message: message.into() };
        let value: Value = serde_json::from_str(&payload).map_err(|_| invalid("payload is not JSON"))?;
        let name = value.get("name").and_then(Value::as_str).ok_or_else(|| invalid("`name` (a string) is required"))?;
        Ok(json!({ "greeting": format!("hello, {name}") }).to_string())
    }
}

export!(Guest);
