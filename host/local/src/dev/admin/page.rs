//! The dashboard: `GET /_plugboard/` serves one page (plain HTML and JavaScript inside the
//! binary, no build step; it holds no data and no secret, so it needs no token) that polls
//! `GET /_plugboard/overview` every second and uses the admin API for the dead-letter queues'
//! peek and redrive. The banner's URL carries the token in its fragment (`#token=T`); the page
//! moves it to `sessionStorage` (this origin's only, so this port's), takes it out of the
//! address bar, and sends it as `Authorization: Bearer`.

use serde_json::{Value, json};

use crate::dev::DevApp;
use crate::dev::activity::FunctionSummary;
use plugboard_core::events::http::Response;

/// The page.
const PAGE: &str = include_str!("page.html");

/// Answer `GET /_plugboard/`: the page.
pub(super) fn answer() -> Response {
    html(200, PAGE)
}

fn html(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            // The page runs only its own script and talks only to this server.
            (
                "content-security-policy".into(),
                "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'".into(),
            ),
        ],
        body: body.as_bytes().to_vec(),
    }
}

/// One function as the overview shows it.
#[derive(serde::Serialize)]
struct FunctionView<'a> {
    name: &'a str,
    role: &'a str,
    #[serde(flatten)]
    activity: FunctionSummary,
}

/// `GET /_plugboard/overview`: what the page shows, in one answer.
pub(super) fn overview(app: &DevApp) -> Value {
    let mut activity = app.activity.summaries();
    let mut functions: Vec<FunctionView> = app
        .functions
        .iter()
        .map(|(name, f)| FunctionView {
            name,
            role: f.role().as_str(),
            activity: activity.remove(name.as_str()).unwrap_or_default(),
        })
        .collect();
    functions.sort_by(|a, b| a.name.cmp(b.name));
    let routes: Vec<Value> = app
        .manifest
        .routes
        .iter()
        .map(|r| {
            json!({ "method": r.pattern.method().to_string(), "path": r.pattern.path, "function": r.function, "authorizer": r.authorizer })
        })
        .collect();
    let authorizers: serde_json::Map<String, Value> = app
        .gates
        .iter()
        .map(|(name, gate)| {
            let entry = json!({ "function": gate.function_name(), "calls": gate.calls(), "cached": gate.cached() });
            (name.clone(), entry)
        })
        .collect();
    let queues: Vec<Value> = app
        .queues
        .stats()
        .into_iter()
        .map(|stats| {
            let settings = app.manifest.queues.get(&stats.name);
            let is_dead_letter = app.manifest.queues.values().any(|q| q.dead_letter.as_deref() == Some(&stats.name));
            json!({
                "stats": stats,
                "worker": settings.and_then(|q| q.worker.clone()),
                "dead_letter": settings.and_then(|q| q.dead_letter.clone()),
                "is_dead_letter": is_dead_letter,
            })
        })
        .collect();
    json!({ "app": app.manifest.app.name, "functions": functions, "routes": routes, "authorizers": authorizers, "queues": queues })
}
