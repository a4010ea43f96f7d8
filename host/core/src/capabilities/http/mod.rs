//! Outbound HTTP (`wasi:http/outgoing-handler`, from `wasmtime-wasi-http`), deny by default:
//! a request goes out only when one of the function's `grants.http` covers its scheme, host
//! and port, and then only to addresses the grant reaches ([`network::vet`], checked on the
//! resolved address of every connection). The host sends it itself ([`HttpSender`]): the
//! authority comes from the guest's absolute URL alone, redirects come back to the guest, and
//! every call is bounded by the invocation's deadline, a request count and a body cap.

pub mod client;
pub mod network;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::{Error, RequestOptions, WasiHttpHooks};

use super::CallInfo;
use crate::config::http::{self as grant, HttpGrant, RequestHost, Scheme};
use crate::telemetry::{HostCall, InvocationMetrics, TraceContext, trace};

/// The body and error types of the send hook, for other crates' senders.
pub use wasmtime_wasi_http::{Error as SendError, WasiBody};

/// A response future as `wasmtime-wasi-http` wants it back from the send hook.
pub type SendFuture = Box<
    dyn Future<Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>>
        + Send,
>;

/// How one granted request leaves the host: the pooled, vetting client on Lambda and in
/// `plugboard dev`; stubs in `plugboard test`.
pub trait HttpSender: Send + Sync {
    /// Send `request` (absolute URI, already covered by a grant) within `limits`.
    fn send(
        &self,
        request: http::Request<WasiBody>,
        limits: SendLimits,
    ) -> Pin<Box<dyn Future<Output = Result<http::Response<WasiBody>, Error>> + Send>>;
}

/// The bounds of one request.
#[derive(Debug, Clone, Copy)]
pub struct SendLimits {
    /// The invocation's deadline: connect, headers and body all end here.
    pub deadline: Instant,
    /// When the response headers must have arrived (the guest's timeouts, clamped).
    pub headers_by: Instant,
    /// Most bytes of response body the guest may read.
    pub max_body_bytes: u64,
}

/// A function's outbound HTTP: its grants, the sender and the per-invocation bounds.
pub struct OutboundHttpCtx {
    /// `grants.http`.
    pub grants: Vec<HttpGrant>,
    /// How granted requests are sent.
    pub sender: Arc<dyn HttpSender>,
    /// Most requests one invocation may make.
    pub max_requests: u32,
    /// Most response body bytes per request.
    pub max_body_bytes: u64,
}

/// The hooks of one invocation: counts its requests and applies the grants.
pub(crate) struct OutboundHttp {
    ctx: Arc<OutboundHttpCtx>,
    function: String,
    request_id: String,
    deadline: Instant,
    trace: Option<TraceContext>,
    metrics: Option<Arc<InvocationMetrics>>,
    sent: u32,
}

impl OutboundHttp {
    /// The hooks for one call of a function.
    pub(crate) fn new(ctx: Arc<OutboundHttpCtx>, function: &str, call: &CallInfo) -> Self {
        OutboundHttp {
            ctx,
            function: function.to_string(),
            request_id: call.request_id.clone(),
            deadline: call.deadline,
            trace: call.trace.clone(),
            metrics: call.metrics.clone(),
            sent: 0,
        }
    }

    /// Whether a grant covers `uri`; a refusal is logged with the URL.
    fn check_granted(&self, uri: &http::Uri) -> Result<(), Error> {
        let (scheme, asked, port) = target(uri)?;
        if grant::find(&self.ctx.grants, scheme, &asked, port).is_some() {
            return Ok(());
        }
        let host = match &asked {
            RequestHost::Name(name) => name.clone(),
            RequestHost::Ip(ip) => ip.to_string(),
        };
        let (function, request_id) = (&self.function, &self.request_id);
        tracing::warn!(function, request_id, url = %format!("{}://{host}:{port}", scheme.as_str()), "outbound HTTP denied: no grants.http entry covers this scheme, host and port");
        Err(Error::HttpRequestDenied)
    }
}

/// Where a request goes: scheme, host and port, read from its absolute URI alone. A URI with
/// user information is refused: it would be sent upstream in `Host`, and every new user name
/// would open (and pool) another connection to the same host.
pub(crate) fn target(uri: &http::Uri) -> Result<(Scheme, RequestHost, u16), Error> {
    let scheme = uri.scheme_str().and_then(Scheme::parse).ok_or(Error::HttpProtocolError)?;
    let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
    if authority.as_str().contains('@') {
        return Err(Error::HttpRequestUriInvalid);
    }
    let port = authority.port_u16().unwrap_or(scheme.default_port());
    Ok((scheme, RequestHost::parse(authority.host()), port))
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let granted = self.check_granted(request.uri());
        let over_cap = self.sent >= self.ctx.max_requests;
        if granted.is_ok() && over_cap {
            let (function, request_id, cap) = (&self.function, &self.request_id, self.ctx.max_requests);
            tracing::warn!(function, request_id, cap, "outbound HTTP denied: the invocation's request cap is reached");
        }
        self.sent = self.sent.saturating_add(1);
        // The guest may ask for less time than the invocation has, never more: its first-byte
        // timeout (plus its connect timeout) bounds the wait for headers; the body ends at the
        // deadline (wasmtime-wasi-http's own defaults are ten minutes each).
        let headers_by = match options.and_then(|o| o.first_byte_timeout) {
            Some(first_byte) => {
                let connect = options.and_then(|o| o.connect_timeout).unwrap_or_default();
                (Instant::now() + connect + first_byte).min(self.deadline)
            }
            None => self.deadline,
        };
        let limits = SendLimits { deadline: self.deadline, headers_by, max_body_bytes: self.ctx.max_body_bytes };
        if let Some(trace) = &self.trace {
            set_trace_headers(request.headers_mut(), trace);
        }
        let (sender, metrics) = (self.ctx.sender.clone(), self.metrics.clone());
        let span = crate::telemetry::spans::host_call(HostCall::Http);
        Box::new(tracing::Instrument::instrument(
            async move {
                let started = std::time::Instant::now();
                let response = match (granted, over_cap) {
                    (Err(denied), _) => Err(denied),
                    (Ok(()), true) => Err(Error::HttpRequestDenied),
                    (Ok(()), false) => sender.send(request, limits).await,
                };
                if let Some(metrics) = metrics {
                    metrics.host_call(HostCall::Http, started.elapsed(), response.is_err());
                }
                let done: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
                Ok((response?, done))
            },
            span,
        ))
    }
}

/// Carry `trace` on an outbound request, as `X-Amzn-Trace-Id` and W3C `traceparent`. They
/// replace whatever the guest set: the operator's trace is the one that continues downstream.
fn set_trace_headers(headers: &mut http::HeaderMap, trace: &TraceContext) {
    let span = uuid::Uuid::new_v4().as_u64_pair().0;
    for (name, value) in
        [(trace::XRAY_HEADER, trace.xray_header()), (trace::TRACEPARENT_HEADER, trace.traceparent(span))]
    {
        // Both are made of hex digits and `=;:-` only, always a valid header value.
        if let Ok(value) = http::HeaderValue::try_from(value) {
            headers.insert(http::HeaderName::from_static(name), value);
        }
    }
}

/// A response body cut off at a byte cap and at the invocation's deadline, so a slow or
/// endless body cannot hold the host past the call nor fill its memory.
pub struct BoundedBody<B> {
    inner: B,
    remaining: u64,
    deadline: Pin<Box<Sleep>>,
}

impl<B> BoundedBody<B> {
    /// `inner`, ending with an error after `max_bytes` or at `deadline`.
    pub fn new(inner: B, max_bytes: u64, deadline: Instant) -> Self {
        BoundedBody { inner, remaining: max_bytes, deadline: Box::pin(tokio::time::sleep_until(deadline)) }
    }
}

impl<B> Body for BoundedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Error>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
        }
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(match frame {
            None => None,
            Some(Err(e)) => Some(Err(e.into())),
            Some(Ok(frame)) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if len > self.remaining {
                    let cap = self.remaining;
                    self.remaining = 0;
                    Some(Err(Error::HttpResponseBodySize(Some(cap))))
                } else {
                    self.remaining -= len;
                    Some(Ok(frame))
                }
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `body`, bounded and boxed as `wasmtime-wasi-http` takes it.
pub fn bounded_body<B>(body: B, limits: &SendLimits) -> WasiBody
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<Error>,
{
    BoundedBody::new(body, limits.max_body_bytes, limits.deadline).boxed_unsync()
}
