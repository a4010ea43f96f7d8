//! What keeps `plugboard dev` a local tool rather than an open door: a web page the developer
//! happens to open must not be able to drive it. Browsers can send simple cross-origin requests
//! without asking (a `text/plain` or form POST), and DNS rebinding can make a page's own origin
//! resolve to 127.0.0.1; neither can forge the `Host` header or hide the `Origin` of a POST.
//!
//! Decisions: every request must name this server in `Host` (127.0.0.1, localhost or [::1] on
//! its port). The Invoke API and the admin API — tools for the developer's own programs (the
//! AWS SDK and CLI, `plugboard queue`) — also refuse any `Origin` but the server's own, a
//! cross-site `Sec-Fetch-Site`, and the CORS-safelisted content types a page may send without a
//! preflight. App routes take any `Origin`, as API Gateway does; their authorizers guard them.

use plugboard_core::events::http::{Request, Response};

/// The loopback names the server answers to.
const LOCAL_HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// Content types a browser page may POST cross-origin without a CORS preflight.
const SAFELISTED_TYPES: [&str; 3] = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"];

/// The request checks for a server listening on `port`.
#[derive(Debug, Clone, Copy)]
pub struct LocalOnly {
    port: u16,
}

impl LocalOnly {
    /// Checks for the server on `port`.
    pub fn new(port: u16) -> Self {
        LocalOnly { port }
    }

    /// `Some(refusal)` when `request` must not be served; `tool_api` for the Invoke and admin APIs.
    pub fn refuse(&self, request: &Request, tool_api: bool) -> Option<Response> {
        let Some(host) = request.header("host") else {
            return Some(Response::message(400, "a Host header is required"));
        };
        if !self.is_local(host) {
            tracing::warn!(host, path = request.path, "refused a request for another host (DNS rebinding?)");
            return Some(Response::message(403, &format!("plugboard dev answers only http://127.0.0.1:{}", self.port)));
        }
        if !tool_api {
            return None;
        }
        if let Some(origin) = request.header("origin") {
            let local = origin.strip_prefix("http://").is_some_and(|authority| self.is_local(authority));
            if !local {
                tracing::warn!(origin, path = request.path, "refused a cross-origin request to a local tool API");
                return Some(Response::message(403, "cross-origin requests to the Invoke and admin APIs are refused"));
            }
        }
        if request.header("sec-fetch-site").is_some_and(|site| site != "same-origin" && site != "none") {
            return Some(Response::message(403, "cross-site requests to the Invoke and admin APIs are refused"));
        }
        let content_type =
            request.header("content-type").map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        if content_type.is_some_and(|ct| SAFELISTED_TYPES.contains(&ct.as_str())) {
            return Some(Response::message(
                415,
                "this content type is refused here: send application/json or application/octet-stream",
            ));
        }
        None
    }

    /// Whether `authority` (`host:port`) is this server on a loopback name.
    fn is_local(&self, authority: &str) -> bool {
        let port = self.port.to_string();
        LOCAL_HOSTS.iter().any(|host| {
            authority
                .strip_prefix(host)
                .is_some_and(|rest| rest == format!(":{port}") || (rest.is_empty() && self.port == 80))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "POST".into(),
            path: "/2015-03-31/functions/f/invocations".into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Request::default()
        }
    }

    #[test]
    fn only_this_server_on_loopback_is_answered() {
        let guard = LocalOnly::new(3000);
        for host in ["127.0.0.1:3000", "localhost:3000", "[::1]:3000"] {
            assert!(guard.refuse(&request(&[("host", host)]), true).is_none(), "{host}");
        }
        for host in
            ["evil.example:3000", "127.0.0.1:3001", "127.0.0.1", "localhost.evil.example:3000", "127.0.0.1:30000"]
        {
            assert_eq!(guard.refuse(&request(&[("host", host)]), false).map(|r| r.status), Some(403), "{host}");
        }
        assert_eq!(guard.refuse(&request(&[]), false).map(|r| r.status), Some(400));
    }

    #[test]
    fn tool_apis_refuse_what_a_web_page_can_send() {
        let guard = LocalOnly::new(3000);
        let host = ("host", "127.0.0.1:3000");
        let refused = |extra: (&str, &str)| guard.refuse(&request(&[host, extra]), true).map(|r| r.status);
        assert_eq!(refused(("origin", "https://evil.example")), Some(403));
        assert_eq!(refused(("origin", "null")), Some(403));
        assert_eq!(refused(("sec-fetch-site", "cross-site")), Some(403));
        assert_eq!(refused(("content-type", "text/plain;charset=UTF-8")), Some(415));
        assert_eq!(refused(("content-type", "application/x-www-form-urlencoded")), Some(415));
        assert_eq!(refused(("content-type", "multipart/form-data; boundary=x")), Some(415));
        assert_eq!(refused(("origin", "http://localhost:3000")), None);
        assert_eq!(refused(("content-type", "application/octet-stream")), None);
        assert_eq!(refused(("content-type", "application/json")), None);
        // App routes are API Gateway's: any origin, any content type.
        let page = request(&[host, ("origin", "https://app.example"), ("content-type", "text/plain")]);
        assert!(guard.refuse(&page, false).is_none());
    }
}
