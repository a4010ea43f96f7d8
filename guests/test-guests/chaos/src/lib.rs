//! Test guest for every role at once: it exports all four handlers, misbehaves on request
//! (trap, endless loop, memory bomb, oversized answer) and, as an internal API, runs a script of
//! capability calls so tests can probe the host's key-value, queue, invoke, config and isolation.

mod fetch;
mod probe;

use std::sync::atomic::{AtomicU32, Ordering};

use plugboard_guest::policy::{Decision, Effect, Statement};
use plugboard_guest::serde_json::{Value, json};
use plugboard_guest::{ContextValue, FunctionError, HttpRequest, HttpResponse};

plugboard_guest::role!(@generate
    inline: "
        package test:chaos;
        world chaos {
            include plugboard:host/http-api@0.1.0;
            include plugboard:host/queue-worker@0.1.0;
            include plugboard:host/authorizer@0.1.0;
            include plugboard:host/internal-api@0.1.0;
        }
    ",
    path: "../../../wit",
    world: "test:chaos/chaos",
);

use exports::plugboard::host::authorizer_handler::{AuthorizationRequest, AuthorizeError};
use exports::plugboard::host::queue_handler::IncomingMessage;

struct Chaos;

/// Calls served by this instance; more than one would mean state leaked between calls.
static CALLS: AtomicU32 = AtomicU32::new(0);

/// Misbehave as asked: `trap`, `loop`, `alloc:<MiB>`, `sleep:<ms>` (waits on the host's clock)
/// or `print:<KiB>` (floods stdout); anything else returns.
pub(crate) fn misbehave(what: &str) {
    if let Some(ms) = what.strip_prefix("sleep:").and_then(|m| m.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        return;
    }
    if let Some(kib) = what.strip_prefix("print:").and_then(|m| m.parse::<usize>().ok()) {
        let line = "p".repeat(1023);
        for _ in 0..kib {
            println!("{line}");
        }
        return;
    }
    match what {
        "trap" => panic!("chaos: asked to trap"),
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        _ => {
            if let Some(mb) = what.strip_prefix("alloc:").and_then(|m| m.parse::<usize>().ok()) {
                let mut blocks = Vec::new();
                for _ in 0..mb {
                    blocks.push(vec![1u8; 1 << 20]);
                }
                std::hint::black_box(&blocks);
            }
        }
    }
}

fn fields(list: &[(String, String)]) -> Value {
    Value::Array(list.iter().map(|(k, v)| json!([k, v])).collect())
}

impl exports::plugboard::host::http_handler::Guest for Chaos {
    fn handle(request: HttpRequest) -> HttpResponse {
        let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        let segments = request.segments();
        match segments.as_slice() {
            ["misbehave", what] => {
                misbehave(what);
                HttpResponse::json(200, &json!({ "survived": what }))
            }
            ["big", bytes] => HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: vec![b'x'; bytes.parse().unwrap_or(0)],
            },
            ["headers", count] => HttpResponse {
                status: 204,
                headers: (0..count.parse().unwrap_or(0)).map(|i| (format!("x-h-{i}"), "v".to_string())).collect(),
                body: Vec::new(),
            },
            ["binary"] => HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "image/png".into())],
                body: vec![0x89, b'P', b'N', b'G', 0, 1, 2, 0xff],
            },
            ["cookies"] => HttpResponse {
                status: 204,
                headers: vec![
                    ("set-cookie".into(), "a=1; Path=/".into()),
                    ("set-cookie".into(), "b=2; Path=/".into()),
                    ("x-multi".into(), "one".into()),
                    ("x-multi".into(), "two".into()),
                ],
                body: Vec::new(),
            },
            _ => {
                let ctx = &request.context;
                let authorizer: serde_json::Map<String, Value> = ctx
                    .authorizer
                    .iter()
                    .map(|(k, v)| {
                        let value = match v {
                            ContextValue::Text(s) => json!(s),
                            ContextValue::Number(n) => json!(n),
                            ContextValue::Boolean(b) => json!(b),
                        };
                        (k.clone(), value)
                    })
                    .collect();
                HttpResponse::json(
                    200,
                    &json!({
                        "calls": calls,
                        "method": request.method,
                        "raw_path": request.raw_path,
                        "route": request.route,
                        "path_params": fields(&request.path_params),
                        "query": fields(&request.query),
                        "headers": fields(&request.headers),
                        "body": String::from_utf8_lossy(&request.body),
                        "request_id": ctx.request_id,
                        "source_ip": ctx.source_ip,
                        "stage": ctx.stage,
                        "principal_id": ctx.principal_id,
                        "authorizer": authorizer,
                    }),
                )
            }
        }
    }
}

impl exports::plugboard::host::queue_handler::Guest for Chaos {
    fn handle(message: IncomingMessage) -> Result<(), String> {
        let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        if calls > 1 {
            return Err(format!("instance reused: {calls} calls"));
        }
        match message.body.as_str() {
            "fail" => Err("chaos: asked to fail".into()),
            // `append:<key>:<value>`: add value to the JSON list at key in store `data`
            // (compare-and-swap), then misbehave as the rest says: records delivery order.
            other if other.starts_with("append:") => probe::append(other),
            other => {
                misbehave(other);
                Ok(())
            }
        }
    }
}

impl exports::plugboard::host::authorizer_handler::Guest for Chaos {
    fn authorize(request: AuthorizationRequest) -> Result<Decision, AuthorizeError> {
        let token = request
            .token
            .clone()
            .or_else(|| request.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone()));
        let effect = match token.as_deref().unwrap_or("") {
            "allow" => Effect::Allow,
            "deny" => Effect::Deny,
            "unauthorized" | "" => return Err(AuthorizeError::Unauthorized),
            "fail" => return Err(AuthorizeError::Failed("chaos: asked to fail".into())),
            other => {
                misbehave(other);
                Effect::Allow
            }
        };
        Ok(Decision {
            principal_id: "chaos-user".into(),
            statements: vec![Statement { effect, resources: vec![request.method_arn.clone()] }],
            context: vec![
                ("name".into(), ContextValue::Text("chaos".into())),
                ("level".into(), ContextValue::Number(3.0)),
                ("admin".into(), ContextValue::Boolean(true)),
            ],
            usage_identifier_key: Some("usage-key-1".into()),
        })
    }
}

impl exports::plugboard::host::internal_handler::Guest for Chaos {
    fn handle(payload: String) -> Result<String, FunctionError> {
        let script: Value = serde_json::from_str(&payload)
            .map_err(|e| FunctionError { error_type: "BadScript".into(), message: e.to_string() })?;
        probe::run(&script, &payload)
    }
}

export!(Chaos);
