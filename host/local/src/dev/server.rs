//! The dev server's HTTP/1.1 side (hyper): requests in, [`DevApp::answer`], responses out.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::{DevApp, LocalOnly};
use plugboard_core::events::http::{Request, Response};

/// Largest request body accepted: API Gateway's payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;
/// Connections served at once; further clients wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 256;
/// Time a client has to send a request's headers (also how long an idle connection is kept).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client has to send a request's body once its headers are in.
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Start the workers and the guest watcher, then serve `listener` until the process ends.
pub async fn serve(app: Arc<DevApp>, listener: TcpListener) -> anyhow::Result<()> {
    app.start_background();
    let guard = LocalOnly::new(listener.local_addr()?.port());
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let slot = slots.clone().acquire_owned().await?;
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(&app, request, peer, guard).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(slot);
        });
    }
}

async fn handle(
    app: &DevApp,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
    guard: LocalOnly,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    // The header timeout ends with the headers: a body trickled byte by byte would hold a
    // connection slot for ever without this.
    let body = match tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
        Ok(Err(_)) => return to_hyper(Response::message(413, "Request Entity Too Large")),
        Err(_) => return to_hyper(Response::message(408, "Request Timeout")),
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_ascii_lowercase(), value.to_str().ok()?.to_string())))
        .collect();
    let request = Request {
        method: parts.method.as_str().to_ascii_uppercase(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers,
        body,
        source_ip: peer.ip().to_string(),
    };
    to_hyper(app.answer(request, guard).await)
}

fn to_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name, value);
    }
    builder.body(Full::new(Bytes::from(response.body))).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the function's response has invalid headers");
        let mut bad = hyper::Response::new(Full::new(Bytes::from_static(b"{\"message\":\"Internal Server Error\"}")));
        *bad.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        bad
    })
}
