//! `plugboard dev`: the whole app from its manifest on this machine — API Gateway routing with
//! authorizers, the Lambda Invoke API, durable key-value and queues with throttled workers, and
//! hot reload — running the very guests and role adapters Lambda runs.

pub mod activity;
pub mod admin;
pub mod authorizer;
mod guard;
pub(crate) mod invoke_api;
mod reload;
mod server;
pub mod workers;

use plugboard_core::capabilities::http::client::PooledSender;
use plugboard_core::capabilities::http::network::Network;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;

use self::authorizer::AuthorizerGate;
pub use self::guard::LocalOnly;
use crate::backends::embedded::{EmbeddedDb, EmbeddedKeyValue, EmbeddedQueues, QueueSettings};
use crate::backends::local::LocalInvoker;
use crate::manifest::{Manifest, Payload};
use plugboard_core::events::authorizer::Verdict;
use plugboard_core::events::http::{Authorized, Matched, Request, Response, from_proxy_response, proxy_event};
use plugboard_core::events::route::Router;
use plugboard_core::function::{Backends, Function, Invocation};
use plugboard_core::runtime::{Allocator, EngineSettings, GuestLoader, Runtime, Trust};
use plugboard_core::telemetry::TraceContext;
use plugboard_core::telemetry::trace::XRAY_HEADER;

pub use server::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS, serve};

/// Instances alive at once in the dev server (HTTP requests, workers, nested invokes).
const MAX_INSTANCES: u32 = 256;

/// The loaded app: functions, routes, authorizers and queues.
pub struct DevApp {
    /// The manifest it was loaded from.
    pub manifest: Manifest,
    functions: HashMap<String, Arc<Function>>,
    router: Router,
    gates: HashMap<String, Arc<AuthorizerGate>>,
    /// The app's durable queues.
    pub queues: Arc<EmbeddedQueues>,
    /// The app's durable key-value tables.
    pub keyvalue: Arc<EmbeddedKeyValue>,
    loader: GuestLoader,
    faults: std::sync::Mutex<workers::InjectedFailures>,
    /// What each function did, for the dashboard.
    activity: Arc<activity::Activity>,
    /// This server's admin token (written to the state directory).
    admin_token: admin::token::AdminToken,
}

impl DevApp {
    /// Open the state (emptied first with `reset`), write a fresh admin token there, create the
    /// granted tables and load every function's guest (compiled once, cached under the state
    /// directory). `activity` is what the dashboard shows (fed by [`activity::Activity::layer`]).
    pub async fn load(
        manifest: Manifest,
        reset: bool,
        activity: Arc<activity::Activity>,
    ) -> anyhow::Result<Arc<DevApp>> {
        let state = manifest.app.state_dir.clone();
        let db = EmbeddedDb::open(&state, reset)?;
        let admin_token = admin::token::AdminToken::create(&state)
            .with_context(|| format!("writing the admin token to {}", state.display()))?;
        let keyvalue = Arc::new(EmbeddedKeyValue::new(db.clone()));
        for table in manifest.tables() {
            keyvalue.create_table(&table).await.map_err(|e| anyhow::anyhow!("creating table {table}: {e}"))?;
        }
        let settings = manifest
            .queues
            .iter()
            .map(|(name, q)| {
                let settings = QueueSettings {
                    fifo: name.ends_with(".fifo"),
                    content_based_dedup: q.content_based_deduplication,
                    visibility_timeout_ms: q.visibility_timeout_secs * 1000,
                    max_receives: q.dead_letter.as_ref().map(|_| q.max_receives),
                    dead_letter: q.dead_letter.clone(),
                };
                (name.clone(), settings)
            })
            .collect();
        let queues = Arc::new(EmbeddedQueues::new(db, settings));
        let invoker = Arc::new(LocalInvoker::new());
        let runtime = Runtime::new(EngineSettings {
            allocator: Allocator::Pooling { max_instances: MAX_INSTANCES },
            ..EngineSettings::default()
        })?;
        let loader = GuestLoader::new(runtime.clone(), Some(&state.join("compiled")));
        let mut functions = HashMap::new();
        for name in manifest.functions.keys() {
            let config = manifest.dev_config(name).map_err(|e| anyhow::anyhow!(e))?;
            let path = config.guest.clone().unwrap_or_default();
            let bytes = std::fs::read(&path).with_context(|| format!("function {name}: reading guest {path}"))?;
            let (guest, _) = loader
                .load(&bytes, config.guest_sha256.as_deref(), config.role, Trust::ComponentOnly)
                .with_context(|| format!("function {name}: {path}"))?;
            let backends = Backends {
                keyvalue: keyvalue.clone(),
                queue: queues.clone(),
                invoker: invoker.clone(),
                http: Arc::new(PooledSender::system(&config.grants.http, Network::Local)),
            };
            let function = Arc::new(Function::new(name, config, runtime.clone(), guest, backends));
            invoker.register(&function);
            functions.insert(name.clone(), function);
        }
        let router = Router::new(manifest.routes.iter().map(|r| r.pattern.clone()).collect());
        let gates = manifest
            .authorizers
            .iter()
            .map(|(name, a)| (name.clone(), Arc::new(AuthorizerGate::new(a.clone(), functions[&a.function].clone()))))
            .collect();
        let faults = std::sync::Mutex::new(workers::InjectedFailures::default());
        Ok(Arc::new(DevApp {
            manifest,
            functions,
            router,
            gates,
            queues,
            keyvalue,
            loader,
            faults,
            activity,
            admin_token,
        }))
    }

    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<&Arc<Function>> {
        self.functions.get(name)
    }

    /// How often each authorizer function actually ran (cache misses), by authorizer name.
    pub(crate) fn authorizer_calls(&self) -> HashMap<String, u64> {
        self.gates.iter().map(|(name, gate)| (name.clone(), gate.calls())).collect()
    }

    /// A function's guest was replaced: decisions an authorizer cached from the old one go.
    fn guest_replaced(&self, function: &str) {
        self.gates.values().for_each(|gate| gate.forget_decisions_of(function));
    }

    /// Fail about `percent`% of queue deliveries on purpose (`--inject-failures`), to rehearse
    /// retries; takes effect for the workers started after it.
    pub fn inject_failures(&self, percent: u8) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) =
            workers::InjectedFailures { percent: percent.min(100) };
    }

    /// Start the queue workers and the guest watcher.
    fn start_background(self: &Arc<Self>) {
        let faults = *self.faults.lock().unwrap_or_else(|e| e.into_inner());
        for (name, queue) in &self.manifest.queues {
            if let Some(worker) = &queue.worker {
                workers::spawn(&self.queues, name, queue, &self.functions[worker], faults);
            }
        }
        reload::spawn(self.clone());
    }

    /// Answer one HTTP request: the Invoke API, the admin API, or an API Gateway route —
    /// unless `guard` refuses it as not coming from this machine's own tools.
    pub async fn answer(&self, mut request: Request, guard: LocalOnly) -> Response {
        let tool_api = invoke_api::target(&request.path).is_some() || request.path.starts_with(admin::PREFIX);
        if let Some(refusal) = guard.refuse(&request, tool_api) {
            return refusal;
        }
        let invocation = new_invocation(&mut request);
        if let Some(name) = invoke_api::target(&request.path).filter(|_| request.method == "POST") {
            let call = invoke_api::invoke(&request, &name, &self.functions, invocation.clone());
            return self.logged(&name, &invocation, call).await;
        }
        if request.path.starts_with(admin::PREFIX) {
            return admin::answer(self, &request).await;
        }
        let Some((index, pattern, params)) = self.router.find(&request.method, &request.path) else {
            return Response::message(404, "Not Found");
        };
        let route = &self.manifest.routes[index];
        let stage = if route.payload == Payload::V1 { "dev" } else { "$default" };
        let verdict = match route.authorizer.as_ref().and_then(|a| self.gates.get(a)) {
            None => None,
            Some(gate) => Some(gate.check(&request, &request.method_arn("local", stage), &pattern.path).await),
        };
        let authorizer = match &verdict {
            None => None,
            Some(Verdict::Allow { principal, context }) => {
                Some(Authorized { principal: principal.as_deref(), context })
            }
            Some(Verdict::Unauthorized) => return Response::message(401, "Unauthorized"),
            Some(Verdict::Forbidden) => return Response::message(403, "Forbidden"),
            Some(Verdict::Failed) => return Response::message(500, "Internal Server Error"),
        };
        let event = match proxy_event(route.payload, &request, Matched { pattern, params: &params }, authorizer) {
            Ok(event) => event,
            Err(e) => return Response::message(400, &format!("Bad Request: {e}")),
        };
        let function = &self.functions[&route.function];
        // The function logs why it failed (with the request id); the client sees a plain 500.
        let call = async {
            match function.invoke(event, invocation.clone()).await {
                Ok(response) => from_proxy_response(&response),
                Err(_) => Response::message(500, "Internal Server Error"),
            }
        };
        self.logged(&route.function, &invocation, call).await
    }

    /// Run `call` and log the request's one line: function, role, status, ids, duration.
    async fn logged(&self, function: &str, invocation: &Invocation, call: impl Future<Output = Response>) -> Response {
        let started = Instant::now();
        let response = call.await;
        let role = self.functions.get(function).map(|f| f.role().as_str()).unwrap_or("-");
        let trace_id = invocation.trace.as_ref().map(|t| tracing::field::display(t.trace_id()));
        tracing::info!(
            function,
            role,
            status = response.status,
            request_id = invocation.request_id,
            trace_id,
            duration_ms = rounded_ms(started.elapsed()),
            "invocation"
        );
        response
    }

    /// The start banner: URL, routes, the Invoke endpoint and queues.
    pub fn banner(&self, url: &str) -> String {
        let mut lines = vec![format!("plugboard dev: {} listening on {url}", self.manifest.app.name)];
        for route in &self.manifest.routes {
            let guard = route.authorizer.as_ref().map(|a| format!("  [authorizer {a}]")).unwrap_or_default();
            let (method, path) = (route.pattern.method(), &route.pattern.path);
            lines.push(format!("  {method:<6} {url}{path:<28} -> {}{guard}", route.function));
        }
        for (name, f) in &self.functions {
            if f.role() == plugboard_core::config::Role::InternalApi {
                lines.push(format!("  invoke {url}{}{name}/invocations -> {name}", invoke_api::PREFIX));
            }
        }
        for (name, q) in &self.manifest.queues {
            let worker = q.worker.as_deref().unwrap_or("(no worker)");
            lines.push(format!(
                "  queue  {name} -> {worker} (batch {}, concurrency {})",
                q.batch_size, q.max_concurrency
            ));
        }
        lines.push(format!("  dashboard {url}{}#token={}", admin::PREFIX, self.admin_token.secret()));
        lines.join("\n")
    }
}

/// A request's ids: a new request id, and the client's trace when it sent a valid
/// `X-Amzn-Trace-Id`, else a new one — written back into the request's headers, as API Gateway
/// hands its functions the trace it continues.
fn new_invocation(request: &mut Request) -> Invocation {
    let trace = request.header(XRAY_HEADER).and_then(TraceContext::from_xray).unwrap_or_else(TraceContext::new_root);
    request.headers.retain(|(name, _)| name != XRAY_HEADER);
    request.headers.push((XRAY_HEADER.to_string(), trace.xray_header()));
    Invocation { request_id: uuid::Uuid::new_v4().to_string(), trace: Some(trace), ..Invocation::default() }
}

/// A duration in milliseconds, to the hundredth: what a log line needs, without float noise.
pub(crate) fn rounded_ms(elapsed: std::time::Duration) -> f64 {
    (elapsed.as_secs_f64() * 100_000.0).round() / 100.0
}
