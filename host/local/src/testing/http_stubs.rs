//! Outbound HTTP in `plugboard test`: granted requests are answered from the case's `[[http]]`
//! stubs and recorded; one that no stub matches is refused and named in the case's failures.

use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full, Limited};

use super::case::{FetchFailure, Fetched, HttpStub, body_bytes};
use super::check;
use plugboard_core::capabilities::http::client::BoxFuture;
use plugboard_core::capabilities::http::{HttpSender, SendError, SendLimits, WasiBody, bounded_body};

/// Most request body bytes a stub records.
const MAX_RECORDED_BODY: usize = 1024 * 1024;

/// The case's stubs and what the guest fetched (clones share the record).
#[derive(Clone)]
pub(crate) struct StubSender {
    stubs: Arc<[HttpStub]>,
    /// How many times each stub has answered.
    used: Arc<Mutex<Vec<usize>>>,
    fetched: Arc<Mutex<Vec<Fetched>>>,
    unstubbed: Arc<Mutex<Vec<String>>>,
}

impl StubSender {
    /// A sender answering from `stubs`.
    pub fn new(stubs: &[HttpStub]) -> Self {
        let used = Arc::new(Mutex::new(vec![0; stubs.len()]));
        StubSender { stubs: stubs.into(), used, fetched: Arc::default(), unstubbed: Arc::default() }
    }

    /// Every request so far, in order.
    pub fn fetched(&self) -> Vec<Fetched> {
        self.fetched.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The requests no stub answered (`METHOD URL`).
    pub fn unstubbed(&self) -> Vec<String> {
        self.unstubbed.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The stub answering `method url`: of those matching, the first that has not answered
    /// yet, else the last (so stubs for one URL answer in turn, the last one from then on).
    fn answer(&self, method: &str, url: &str, headers: &hyper::HeaderMap) -> Option<HttpStub> {
        let matching: Vec<usize> = (0..self.stubs.len())
            .filter(|&i| {
                let s = &self.stubs[i];
                let carries = |(name, value): (&String, &String)| {
                    headers.get_all(name.as_str()).iter().any(|v| v.as_bytes() == value.as_bytes())
                };
                s.url == url
                    && s.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                    && s.when_headers.iter().all(carries)
            })
            .collect();
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let Some(&last) = matching.last() else {
            self.unstubbed.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{method} {url}"));
            return None;
        };
        let chosen = matching.into_iter().find(|&i| used[i] == 0).unwrap_or(last);
        used[chosen] += 1;
        Some(self.stubs[chosen].clone())
    }
}

impl HttpSender for StubSender {
    fn send(
        &self,
        request: hyper::Request<WasiBody>,
        limits: SendLimits,
    ) -> BoxFuture<Result<hyper::Response<WasiBody>, SendError>> {
        let this = self.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let (method, url) = (parts.method.to_string(), parts.uri.to_string());
            let body = Limited::new(body, MAX_RECORDED_BODY).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let recorded = (!body.is_empty()).then(|| check::recorded(&body));
            this.fetched.lock().unwrap_or_else(|e| e.into_inner()).push(Fetched {
                method: method.clone(),
                url: url.clone(),
                body: recorded,
            });
            let Some(stub) = this.answer(&method, &url, &parts.headers) else {
                return Err(SendError::HttpRequestDenied);
            };
            match stub.fail {
                Some(FetchFailure::ConnectionRefused) => return Err(SendError::ConnectionRefused),
                Some(FetchFailure::Timeout) => return Err(SendError::ConnectionReadTimeout),
                Some(FetchFailure::Dns) => return Err(SendError::DnsError { rcode: None, info_code: None }),
                None => {}
            }
            let mut response = hyper::Response::builder().status(stub.status);
            for (name, value) in &stub.headers {
                response = response.header(name, value);
            }
            let body = Full::new(hyper::body::Bytes::from(stub.body.as_ref().map(body_bytes).unwrap_or_default()));
            let body = bounded_body(body.map_err(SendError::from), &limits);
            response.body(body).map_err(|e| SendError::InternalError(Some(format!("stub {url}: {e}"))))
        })
    }
}
