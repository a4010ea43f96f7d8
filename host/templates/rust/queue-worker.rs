//! {{name}}: a `queue-worker` guest. Each message is a JSON object with an `id`; it is stored in
//! the `data` store under that id. A message that is not one fails alone and is retried.

use plugboard_guest::serde_json::{self, Value};
use plugboard_guest::{IncomingMessage, QueueHandler, store};

struct Worker;

plugboard_guest::queue_worker!(Worker);

impl QueueHandler for Worker {
    fn handle(message: IncomingMessage) -> Result<(), String> {
        let value: Value = serde_json::from_str(&message.body).map_err(|e| format!("not JSON: {e}"))?;
        let id = value.get("id").and_then(Value::as_str).ok_or("no `id` field")?;
        let bucket = store::open("data").map_err(|e| format!("open data: {e:?}"))?;
        bucket.set(id, message.body.as_bytes()).map_err(|e| format!("store: {e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugboard_guest::testing;

    // `cargo test` runs this in wasmtime (plugboard cargo-runner, set in .cargo/config.toml),
    // with the `data` store of cases/function.toml in memory.
    #[test]
    fn a_message_is_stored_under_its_id_and_a_bad_one_fails() {
        testing::reset();
        Worker::handle(testing::message(r#"{"id":"a1","n":1}"#)).unwrap();
        assert_eq!(store::open("data").unwrap().get("a1").unwrap(), Some(br#"{"id":"a1","n":1}"#.to_vec()));
        assert!(Worker::handle(testing::message("not json")).is_err());
    }
}
