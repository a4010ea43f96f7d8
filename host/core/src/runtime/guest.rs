//! Loading a guest component for a role: compile or deserialize, check its exports against
//! the role, and pre-instantiate it once so each call only instantiates.

use wasmtime::component::{Component, types::ComponentItem};
use wasmtime::{Engine, Precompiled};

use super::Runtime;
use crate::bindings::{authorizer, http_api, internal_api, queue_worker};
use crate::config::Role;
use crate::runtime::HostState;

/// Why a guest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// The bytes are neither a component nor a `.cwasm` for this engine.
    #[error("guest is not a WebAssembly component: {0}")]
    NotComponent(String),
    /// A `.cwasm` built by another engine version or for another target.
    #[error("precompiled guest does not match this engine: {0}")]
    Incompatible(String),
    /// The guest does not export what the role needs.
    #[error("guest does not fit the {role} role: it must export `{needs}`, but it exports [{exports}]")]
    WrongWorld {
        /// The configured role.
        role: Role,
        /// The interface the role needs.
        needs: &'static str,
        /// What the guest exports.
        exports: String,
    },
    /// The guest imports something the host does not provide.
    #[error("guest cannot be linked: {0:#}")]
    Link(wasmtime::Error),
    /// Precompiled native code from a source not known to be trusted.
    #[error(
        "guest is a precompiled artifact (native code); it is loaded only from a trusted source: a pinned sha256 or this host's own cache"
    )]
    UntrustedPrecompiled,
    /// The bytes are not the pinned guest.
    #[error("guest sha256 is {actual}, but {expected} is pinned; refusing to run it")]
    PinMismatch {
        /// The pinned digest.
        expected: String,
        /// The digest of the bytes given.
        actual: String,
    },
}

/// Whether precompiled (`.cwasm`) bytes may be loaded: they are native code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Only components, compiled here.
    ComponentOnly,
    /// The bytes come from a trusted source (pinned, produced by this host, or given by the
    /// local user on the command line): precompiled artifacts are allowed.
    Trusted,
}

/// Check `bytes` against a pinned sha256 (hex), when there is one.
pub(crate) fn check_pin(bytes: &[u8], pin: Option<&str>) -> Result<(), GuestError> {
    let Some(expected) = pin else { return Ok(()) };
    let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(GuestError::PinMismatch { expected: expected.to_ascii_lowercase(), actual })
    }
}

/// An `http-api` guest: a Plugboard `http-handler` or a standard `wasi:http` component.
#[derive(Clone)]
pub enum HttpHandlerPre {
    /// Exports `plugboard:host/http-handler`.
    Plugboard(http_api::HttpApiPre<HostState>),
    /// Exports `wasi:http/incoming-handler@0.2.x` (the `wasi:http/proxy` world).
    WasiHttp(wasmtime_wasi_http::p2::bindings::ProxyPre<HostState>),
}

/// A role's pre-instantiated guest, typed by world.
#[derive(Clone)]
pub enum RolePre {
    /// An `http-api` guest.
    HttpApi(HttpHandlerPre),
    /// A `queue-worker` guest.
    QueueWorker(queue_worker::QueueWorkerPre<HostState>),
    /// An `authorizer` guest.
    Authorizer(authorizer::AuthorizerPre<HostState>),
    /// An `internal-api` guest.
    InternalApi(internal_api::InternalApiPre<HostState>),
}

impl RolePre {
    /// The role this pre-instance serves.
    pub fn role(&self) -> Role {
        match self {
            RolePre::HttpApi(_) => Role::HttpApi,
            RolePre::QueueWorker(_) => Role::QueueWorker,
            RolePre::Authorizer(_) => Role::Authorizer,
            RolePre::InternalApi(_) => Role::InternalApi,
        }
    }
}

/// A loaded guest, ready to instantiate for its role.
#[derive(Clone)]
pub struct Guest {
    /// The pre-instantiated component, typed by the role it was checked against.
    pub pre: RolePre,
}

impl Guest {
    /// The role it was checked against.
    pub fn role(&self) -> Role {
        self.pre.role()
    }

    /// Load component `bytes` for `role`; precompiled artifacts are refused.
    pub fn load(runtime: &Runtime, bytes: &[u8], role: Role) -> Result<Guest, GuestError> {
        Self::load_with(runtime, bytes, role, Trust::ComponentOnly)
    }

    /// Load `bytes` (a component, or with [`Trust::Trusted`] a `.cwasm` from
    /// [`Runtime::precompile`]) for `role`.
    pub fn load_with(runtime: &Runtime, bytes: &[u8], role: Role, trust: Trust) -> Result<Guest, GuestError> {
        let engine = runtime.engine();
        let component = compile(engine, bytes, trust)?;
        let world = check_exports(engine, &component, role)?;
        let pre = runtime.linker().instantiate_pre(&component).map_err(GuestError::Link)?;
        let typed = match role {
            Role::HttpApi if world == World::WasiHttp => wasmtime_wasi_http::p2::bindings::ProxyPre::new(pre)
                .map(|pre| RolePre::HttpApi(HttpHandlerPre::WasiHttp(pre))),
            Role::HttpApi => http_api::HttpApiPre::new(pre).map(|pre| RolePre::HttpApi(HttpHandlerPre::Plugboard(pre))),
            Role::QueueWorker => queue_worker::QueueWorkerPre::new(pre).map(RolePre::QueueWorker),
            Role::Authorizer => authorizer::AuthorizerPre::new(pre).map(RolePre::Authorizer),
            Role::InternalApi => internal_api::InternalApiPre::new(pre).map(RolePre::InternalApi),
        };
        Ok(Guest { pre: typed.map_err(GuestError::Link)? })
    }
}

fn compile(engine: &Engine, bytes: &[u8], trust: Trust) -> Result<Component, GuestError> {
    match Engine::detect_precompiled(bytes) {
        Some(Precompiled::Component) if trust == Trust::ComponentOnly => Err(GuestError::UntrustedPrecompiled),
        Some(Precompiled::Component) => {
            // SAFETY: the caller vouches for the artifact (produced here or pinned by hash);
            // wasmtime still checks it was built by a compatible engine.
            unsafe { Component::deserialize(engine, bytes) }.map_err(|e| GuestError::Incompatible(format!("{e:#}")))
        }
        Some(Precompiled::Module) => Err(GuestError::NotComponent("it is a precompiled core module".into())),
        None => Component::new(engine, bytes).map_err(|e| GuestError::NotComponent(format!("{e:#}"))),
    }
}

/// Which world a guest's exports say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum World {
    /// The role's Plugboard world.
    Plugboard,
    /// `wasi:http/proxy` (an `http-api` guest only).
    WasiHttp,
}

/// The standard interface an `http-api` guest may export instead of Plugboard's (any 0.2.x).
const WASI_HTTP_HANDLER: &str = "wasi:http/incoming-handler@0.2";

fn check_exports(engine: &Engine, component: &Component, role: Role) -> Result<World, GuestError> {
    let needs = role.export_interface();
    let ty = component.component_type();
    let mut exports = Vec::new();
    let mut world = None;
    for (name, item) in ty.exports(engine) {
        let instance = matches!(item.ty, ComponentItem::ComponentInstance(_));
        if name == needs && instance {
            return Ok(World::Plugboard);
        }
        let wasi_http = name.strip_prefix(WASI_HTTP_HANDLER).is_some_and(|rest| rest.starts_with('.'));
        if role == Role::HttpApi && wasi_http && instance {
            world = Some(World::WasiHttp);
        }
        exports.push(name.to_string());
    }
    world.ok_or_else(|| {
        let needs = if role == Role::HttpApi { HTTP_API_NEEDS } else { needs };
        GuestError::WrongWorld { role, needs, exports: exports.join(", ") }
    })
}

/// What an `http-api` guest must export, as the refusal says it.
const HTTP_API_NEEDS: &str = "plugboard:host/http-handler@0.1.0` or `wasi:http/incoming-handler@0.2.x";
