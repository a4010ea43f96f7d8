//! The dashboard: `GET /_plugboard/` serves one page (plain HTML and JavaScript inside the
//! binary, no build step) that polls `GET /_plugboard/overview` every second and uses the
//! admin API for the dead-letter queues' peek and redrive. `/_plugboard/?token=T` (the start
//! banner's URL) swaps the token for the admin cookie and redirects to the page.

use serde_json::{Value, json};

use super::token::AdminToken;
use crate::dev::DevApp;
use crate::dev::activity::FunctionSummary;
use plugboard_core::events::http::{Request, Response};

/// The page.
const PAGE: &str = include_str!("page.html");

/// Answer `GET /_plugboard/`: the page for an admitted browser; for the banner's `?token=`,
/// the cookie and a redirect (so the token leaves the address bar and history); else 401.
pub(super) fn answer(token: &AdminToken, request: &Request) -> Response {
    let offered = form_urlencoded::parse(request.query.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v);
    if let Some(offered) = offered {
        if !token.matches(&offered) {
            return html(401, UNAUTHORIZED);
        }
        return Response {
            status: 303,
            headers: vec![
                ("location".into(), super::PREFIX.into()),
                ("set-cookie".into(), token.cookie()),
                ("cache-control".into(), "no-store".into()),
            ],
            body: Vec::new(),
        };
    }
    if !token.admits(request) {
        return html(401, UNAUTHORIZED);
    }
    html(200, PAGE)
}

/// The page for a browser without the token.
const UNAUTHORIZED: &str = "<!doctype html><title>plugboard dev</title><p>Open the dashboard URL \
    <code>plugboard dev</code> printed when it started: it carries the admin token (also in \
    <code>&lt;state-dir&gt;/admin-token</code>).</p>";

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
