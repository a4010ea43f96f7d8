//! The real sender: a pooled `hyper-util` client (warm calls keep their connections) over a
//! connector that resolves each host itself and vets every resolved address before it
//! connects, so no name can point a granted request at loopback, metadata or a private
//! network (no check-then-connect gap: the address checked is the address dialled).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, WasiBody};

use super::network::{AddressRefused, Network, vet};
use super::{HttpSender, SendLimits, bounded_body};
use crate::config::http::{self as grant, HttpGrant, RequestHost};

/// A boxed future, as the injectable parts return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Turns a host name into addresses (the system resolver, or a test's map).
pub trait Resolve: Send + Sync {
    /// The addresses of `host` (never an IP literal: those skip resolution).
    fn resolve(&self, host: String) -> BoxFuture<io::Result<Vec<IpAddr>>>;
}

/// Opens a TCP connection to an address already vetted (a real socket, or a test's recorder).
pub trait Dial: Send + Sync {
    /// Connect to `address`.
    fn dial(&self, address: SocketAddr) -> BoxFuture<io::Result<TcpStream>>;
}

/// The system's resolver (`getaddrinfo` through tokio).
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: String) -> BoxFuture<io::Result<Vec<IpAddr>>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// Plain TCP connect with `TCP_NODELAY`.
pub struct TcpDial;

impl Dial for TcpDial {
    fn dial(&self, address: SocketAddr) -> BoxFuture<io::Result<TcpStream>> {
        Box::pin(async move {
            let stream = TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    }
}

/// The connector under TLS: grant lookup, resolution, vetting, then the dial.
#[derive(Clone)]
struct VettingConnector {
    grants: Arc<[HttpGrant]>,
    network: Network,
    resolver: Arc<dyn Resolve>,
    dial: Arc<dyn Dial>,
}

impl tower_service::Service<http::Uri> for VettingConnector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = BoxFuture<io::Result<TokioIo<TcpStream>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.connect(&uri).await.map(TokioIo::new) })
    }
}

impl VettingConnector {
    async fn connect(&self, uri: &http::Uri) -> io::Result<TcpStream> {
        let refused = |e: AddressRefused| io::Error::new(io::ErrorKind::PermissionDenied, e);
        let (scheme, asked, port) =
            super::target(uri).map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e))?;
        let host = uri.host().unwrap_or_default();
        // The pool asks for a connection per authority; the grant is found again here so the
        // vetting never trusts anything but the URL itself.
        let grant = grant::find(&self.grants, scheme, &asked, port)
            .ok_or_else(|| io::Error::new(io::ErrorKind::PermissionDenied, "no grant covers this authority"))?;
        let addresses = match asked {
            RequestHost::Ip(ip) => vec![ip],
            RequestHost::Name(name) => {
                self.resolver.resolve(name).await.map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))?
            }
        };
        let mut last_refusal = None;
        let mut last_error = None;
        for ip in addresses {
            if let Err(e) = vet(self.network, grant, ip) {
                last_refusal = Some(e);
                continue;
            }
            match self.dial.dial(SocketAddr::new(ip, port)).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last_error = Some(e),
            }
        }
        match (last_error, last_refusal) {
            (Some(e), _) => Err(e),
            (None, Some(refusal)) => Err(refused(refusal)),
            (None, None) => Err(io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))),
        }
    }
}

/// The pooled, vetting sender of one function.
pub struct PooledSender {
    connector: VettingConnector,
    /// Built on the first request: loading the TLS roots costs a cold start nothing until a
    /// guest calls out.
    client: OnceLock<Result<Client<HttpsConnector<VettingConnector>, WasiBody>, String>>,
}

/// How long an idle pooled connection is kept: below common server keep-alives (Node's is 5 s),
/// so a warm call after a pause (or a Lambda freeze) rarely finds its connection closed.
const POOL_IDLE: Duration = Duration::from_secs(4);
/// Most idle connections kept per host: one invocation's requests are sequential or few.
const POOL_PER_HOST: usize = 8;

impl PooledSender {
    /// A sender for `grants` on `network`, resolving and dialling as given.
    pub fn new(grants: &[HttpGrant], network: Network, resolver: Arc<dyn Resolve>, dial: Arc<dyn Dial>) -> Self {
        let connector = VettingConnector { grants: grants.into(), network, resolver, dial };
        PooledSender { connector, client: OnceLock::new() }
    }

    /// A sender with the system resolver and real sockets.
    pub fn system(grants: &[HttpGrant], network: Network) -> Self {
        Self::new(grants, network, Arc::new(SystemResolver), Arc::new(TcpDial))
    }

    fn client(&self) -> Result<&Client<HttpsConnector<VettingConnector>, WasiBody>, Error> {
        let built = self.client.get_or_init(|| {
            let tls = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
                .map_err(|e| format!("TLS roots: {e}"))?
                .https_or_http()
                .enable_http1()
                .wrap_connector(self.connector.clone());
            Ok(Client::builder(TokioExecutor::new())
                .pool_idle_timeout(POOL_IDLE)
                .pool_max_idle_per_host(POOL_PER_HOST)
                .build(tls))
        });
        built.as_ref().map_err(|e| Error::InternalError(Some(e.clone())))
    }
}

impl HttpSender for PooledSender {
    fn send(
        &self,
        request: http::Request<WasiBody>,
        limits: SendLimits,
    ) -> BoxFuture<Result<http::Response<WasiBody>, Error>> {
        let client = self.client().cloned();
        Box::pin(async move {
            let response = tokio::time::timeout_at(limits.headers_by, client?.request(request))
                .await
                .map_err(|_| Error::ConnectionReadTimeout)?
                .map_err(|e| client_error(&e))?;
            Ok(response.map(|body| bounded_body(body.map_err(Error::from), &limits)))
        })
    }
}

/// The `wasi:http` error for a failed request, with a vetting refusal as
/// `destination-ip-prohibited` (and logged with the address and why).
fn client_error(error: &hyper_util::client::legacy::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if let Some(refusal) = io.get_ref().and_then(|inner| inner.downcast_ref::<AddressRefused>()) {
                tracing::warn!(reason = %refusal, "outbound HTTP refused before connecting");
                return Error::DestinationIpProhibited;
            }
            return match io.kind() {
                io::ErrorKind::PermissionDenied => Error::HttpRequestDenied,
                io::ErrorKind::NotFound => Error::DnsError { rcode: Some("no address".into()), info_code: None },
                io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
                io::ErrorKind::TimedOut => Error::ConnectionTimeout,
                _ => Error::DestinationUnavailable,
            };
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            return if hyper.is_incomplete_message() {
                Error::HttpResponseIncomplete
            } else {
                Error::HttpProtocolError
            };
        }
        source = e.source();
    }
    Error::InternalError(Some(error.to_string()))
}
