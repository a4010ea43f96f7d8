//! The dev server's admin API under `/_plugboard/`: queue depths, peek, send and redrive,
//! key-value stores, authorizer calls — what `plugboard queue`, `plugboard kv` and the
//! dashboard call. The server's [`super::LocalOnly`] guard keeps web pages of other sites out
//! of it, and every request but the page's needs the server's [`token::AdminToken`] as a
//! bearer token.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `` (the prefix itself) | the dashboard page (no token: it holds no data) |
//! | GET | `overview` | functions (counts, p50/p99, last error, log lines), routes, authorizers and their cached decisions, queues |
//! | GET | `queues` | every queue's depths |
//! | GET | `queues/Q/messages?limit=N` | the first messages, not received |
//! | POST | `queues/Q/messages` | send one (JSON [`SendRequest`]) → `{"id"}` |
//! | POST | `queues/Q/redrive` | a dead-letter queue's messages back to its source |
//! | GET | `stores` | the app's key-value tables |
//! | GET | `stores/T/keys` | a table's keys |
//! | GET, PUT, DELETE | `stores/T/value?key=K` | one value, as raw bytes |
//! | GET | `authorizers` | authorizer function runs (cache misses) |

pub mod client;
mod page;
mod stores;
pub mod token;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use super::DevApp;
use plugboard_core::capabilities::queue::{AttributeValue, OutgoingMessage, QueueBackend, QueueError, check_message};
use plugboard_core::events::http::{Request, Response};

pub use client::{AdminClient, HttpAnswer, request};

/// The admin API's path prefix.
pub(crate) const PREFIX: &str = "/_plugboard/";

/// A message to put on a queue, as `POST queues/Q/messages` takes it.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The body.
    pub body: String,
    /// Text message attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The FIFO message group.
    #[serde(default)]
    pub group: Option<String>,
    /// The FIFO deduplication id.
    #[serde(default)]
    pub dedup: Option<String>,
    /// Seconds before the first delivery (standard queues).
    #[serde(default)]
    pub delay: Option<u32>,
}

/// Answer an admin request.
pub async fn answer(app: &DevApp, request: &Request) -> Response {
    let rest = request.path.trim_start_matches(PREFIX);
    if rest.is_empty() && request.method == "GET" {
        return page::answer();
    }
    if !app.admin_token.admits(request) {
        let path = app.manifest.app.state_dir.join(token::FILE);
        let hint = format!("the admin token is required (Authorization: Bearer <the token in {}>)", path.display());
        return Response::message(401, &hint);
    }
    let parts: Vec<&str> = rest.split('/').collect();
    match (request.method.as_str(), parts.as_slice()) {
        ("GET", ["overview"]) => Response::json(200, &page::overview(app)),
        ("GET", ["queues"]) => Response::json(200, &json!(app.queues.stats())),
        ("GET", ["queues", name, "messages"]) => {
            let limit = query_value(request, "limit").and_then(|v| v.parse().ok()).unwrap_or(10);
            match app.queues.peek(name, limit) {
                Ok(messages) => Response::json(200, &json!(messages)),
                Err(e) => Response::message(404, &e.to_string()),
            }
        }
        ("POST", ["queues", name, "messages"]) => send(app, name, &request.body).await,
        ("POST", ["queues", name, "redrive"]) => match app.queues.redrive(name).await {
            Ok((to, moved)) => Response::json(200, &json!({ "from": name, "to": to, "moved": moved })),
            Err(e) => Response::message(400, &e.to_string()),
        },
        ("GET", ["stores"]) => Response::json(200, &json!({ "stores": app.manifest.tables() })),
        (_, ["stores", table, rest @ ..]) => stores::answer(app, request, table, rest).await,
        ("GET", ["authorizers"]) => Response::json(200, &json!(app.authorizer_calls())),
        _ => Response::message(404, "Not Found"),
    }
}

/// Send one message to `queue`, checked against SQS's rules as a guest's would be.
async fn send(app: &DevApp, queue: &str, body: &[u8]) -> Response {
    let send: SendRequest = match serde_json::from_slice(body) {
        Ok(send) => send,
        Err(e) => return Response::message(400, &format!("expected {{\"body\": …}}: {e}")),
    };
    if !app.manifest.queues.contains_key(queue) {
        return Response::message(404, &format!("no queue {queue} in the manifest"));
    }
    let message = OutgoingMessage {
        body: send.body,
        attributes: send.attributes.into_iter().map(|(k, v)| (k, AttributeValue::Text(v))).collect(),
        delay_seconds: send.delay,
        group_id: send.group,
        deduplication_id: send.dedup,
    };
    if let Err(e) = check_message(queue, &message) {
        return Response::message(400, &e.to_string());
    }
    match app.queues.send_batch(queue, vec![message], None).await.and_then(|mut r| r.pop().unwrap_or(Err(none_sent())))
    {
        Ok(id) => Response::json(200, &json!({ "id": id })),
        Err(QueueError::InvalidMessage(m)) => Response::message(400, &m),
        Err(e) => Response::message(500, &e.to_string()),
    }
}

fn none_sent() -> QueueError {
    QueueError::Other("the queue answered no result".into())
}

/// The first value of query parameter `name`, decoded.
fn query_value(request: &Request, name: &str) -> Option<String> {
    form_urlencoded::parse(request.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
