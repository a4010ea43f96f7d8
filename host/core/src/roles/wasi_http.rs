//! `http-api` guests that are standard `wasi:http/incoming-handler` components (the `wasi:http/
//! proxy` world any toolchain builds). The event is turned into the same [`HttpRequest`] as for
//! a Plugboard guest and the answer into the same [`HttpResponse`], so both kinds share every
//! rule of the adapter (paths, query, cookies, base64, size limits); only the call differs.
//!
//! What API Gateway knows beyond the request reaches the guest as headers (any the client sent
//! with the prefix are removed first, so none can be forged): `x-plugboard-request-id`,
//! `x-plugboard-source-ip`, `x-plugboard-stage`, `x-plugboard-route`,
//! `x-plugboard-principal-id` and `x-plugboard-authorizer-<key>` per authorizer context value.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use wasmtime::Store;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

use crate::bindings::plugboard::host::http_types::{HttpRequest, HttpResponse};
use crate::bindings::plugboard::host::types::ContextValue;
use crate::events::MAX_RESPONSE_BYTES;
use crate::runtime::HostState;

/// The prefix of the headers the host adds.
pub const CONTEXT_PREFIX: &str = "x-plugboard-";

/// Instantiate `pre`, hand it `request`, and read its whole answer (at most one byte past
/// Lambda's limit, so the adapter refuses an oversized one without buffering it all).
pub(crate) async fn call(
    pre: &ProxyPre<HostState>,
    store: &mut Store<HostState>,
    request: &HttpRequest,
) -> wasmtime::Result<HttpResponse> {
    let incoming = to_hyper(request)?;
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let view = store.data_mut();
    let incoming = view.http().new_incoming_request(Scheme::Https, incoming)?;
    let outparam = view.http().new_response_outparam(sender)?;
    let proxy = HostState::instantiate(store, async |s| pre.instantiate_async(s).await).await?;
    // The guest may write its body after setting the response: read it while the call runs.
    let handle = proxy.wasi_http_incoming_handler().call_handle(&mut *store, incoming, outparam);
    let read = async {
        let response = match receiver.await {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => wasmtime::bail!("the guest answered with an error: {code:?}"),
            Err(_) => wasmtime::bail!("the guest returned without setting a response"),
        };
        let (parts, mut body) = response.into_parts();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| wasmtime::format_err!("the guest's response body failed: {e}"))?;
            if let Some(data) = frame.data_ref() {
                bytes.extend_from_slice(data);
                if bytes.len() > MAX_RESPONSE_BYTES {
                    break;
                }
            }
        }
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        Ok(HttpResponse { status: parts.status.as_u16(), headers, body: bytes })
    };
    let (handled, answer) = futures_util::future::join(handle, read).await;
    handled?;
    answer
}

/// The `wasi:http` request for `request`: the authority from its `host` header, the path and
/// query re-encoded, its headers in order (none with the context prefix) and the context ones.
fn to_hyper(request: &HttpRequest) -> wasmtime::Result<hyper::Request<Full<Bytes>>> {
    let host = request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("host")).map(|(_, v)| v.as_str());
    // A Host header no URI can carry is replaced, so a client cannot make every request a 500.
    let host = host.filter(|h| h.parse::<hyper::http::uri::Authority>().is_ok_and(|a| !a.as_str().contains('@')));
    let mut path = encode_path(&request.raw_path);
    if !request.query.is_empty() {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(request.query.iter());
        path = format!("{path}?{}", query.finish());
    }
    let uri = hyper::Uri::builder().scheme("https").authority(host.unwrap_or("localhost")).path_and_query(path);
    let mut incoming = hyper::Request::builder()
        .method(request.method.as_str())
        .uri(uri.build()?)
        .body(Full::new(Bytes::from(request.body.clone())))?;
    let own = |name: &str| name.get(..CONTEXT_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(CONTEXT_PREFIX));
    let client = request.headers.iter().filter(|(name, _)| !own(name)).cloned();
    let headers = incoming.headers_mut();
    // A name or value HTTP cannot carry (an authorizer context key with a space, say) is left out.
    for (name, value) in client.chain(context_headers(request)) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            headers.append(name, value);
        }
    }
    Ok(incoming)
}

/// `path` with every byte a URI path cannot hold percent-encoded (a decoded `?` or `#` would
/// otherwise become a query or fragment, a space would make the request unbuildable); `%` is
/// kept, so an encoded path stays as it was.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if out.starts_with('/') { out } else { format!("/{out}") }
}

/// The API Gateway facts the guest cannot see in the request itself, as headers.
fn context_headers(request: &HttpRequest) -> Vec<(String, String)> {
    let ctx = &request.context;
    let header = |name: &str| format!("{CONTEXT_PREFIX}{name}");
    let mut headers = vec![(header("request-id"), ctx.request_id.clone())];
    let optional = [
        ("source-ip", &ctx.source_ip),
        ("stage", &ctx.stage),
        ("route", &request.route),
        ("principal-id", &ctx.principal_id),
    ];
    headers.extend(optional.into_iter().filter_map(|(name, value)| Some((header(name), value.clone()?))));
    for (key, value) in &ctx.authorizer {
        let value = match value {
            ContextValue::Text(text) => text.clone(),
            ContextValue::Number(n) => n.to_string(),
            ContextValue::Boolean(b) => b.to_string(),
        };
        headers.push((header(&format!("authorizer-{}", key.to_ascii_lowercase())), value));
    }
    headers
}
