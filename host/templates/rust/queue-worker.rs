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
