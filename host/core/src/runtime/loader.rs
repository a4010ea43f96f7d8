//! The one way a guest is loaded, whoever asks (the Lambda bootstrap, `plugboard dev` and its
//! hot reload, `plugboard test`, `plugboard invoke`): bytes, pin, role and trust in, a guest and
//! where it came from out, under one set of rules.
//!
//! - A pinned sha256 is checked first; bytes that do not match are refused.
//! - A component is compiled through this host's compile cache when there is one (so a suite or
//!   a restarted server does not compile it again), else compiled now.
//! - Precompiled native code (`.cwasm`) runs only when it is provably the guest meant: its exact
//!   bytes are pinned, or the local user named the file themselves ([`Trust::Trusted`]), or it
//!   is a published artifact whose digest is pinned and whose seal names the pinned component.

use super::precompiled::{self, CompileCache, Origin};
use super::{Guest, GuestError, Runtime, Trust, check_pin};
use crate::config::Role;

/// A runtime and, when it could be opened, this host's compile cache.
#[derive(Clone)]
pub struct GuestLoader {
    runtime: Runtime,
    cache: Option<CompileCache>,
}

/// Why a published artifact was not used (the pinned component is compiled instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactRefusal {
    /// No component pin: an artifact cannot be tied to anything.
    #[error("precompiled artifacts run only for a pinned component")]
    ComponentNotPinned,
    /// The artifact's own digest is not among the pinned ones.
    #[error("the artifact's sha256 {0} is not pinned")]
    NotPinned(String),
    /// The artifact carries no seal.
    #[error("the artifact is not sealed with its component's digest")]
    Unsealed,
    /// The seal names another component.
    #[error("the artifact was compiled from component {compiled_from}, not the pinned {pinned}")]
    OtherComponent {
        /// The component the seal names.
        compiled_from: String,
        /// The pinned component.
        pinned: String,
    },
    /// It is what was pinned but does not load here.
    #[error("the artifact does not load: {0}")]
    Load(String),
}

impl GuestLoader {
    /// Load with `runtime`, caching compiled components under `cache_dir` when that directory
    /// passes the cache's checks (otherwise every load compiles, and why is logged).
    pub fn new(runtime: Runtime, cache_dir: Option<&std::path::Path>) -> GuestLoader {
        let cache = cache_dir.and_then(|dir| match CompileCache::open(dir, &runtime) {
            Ok(cache) => Some(cache),
            Err(e) => {
                tracing::warn!(cache = %dir.display(), error = %e, "compile cache disabled");
                None
            }
        });
        GuestLoader { runtime, cache }
    }

    /// The runtime guests are loaded into.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Load `bytes` for `role` under the rules above: `pin` (hex sha256) checked first; a
    /// `.cwasm` accepted when pinned or when `trust` is [`Trust::Trusted`].
    pub fn load(
        &self,
        bytes: &[u8],
        pin: Option<&str>,
        role: Role,
        trust: Trust,
    ) -> Result<(Guest, Origin), GuestError> {
        check_pin(bytes, pin)?;
        if wasmtime::Engine::detect_precompiled(bytes).is_some() {
            let trust = if pin.is_some() { Trust::Trusted } else { trust };
            return Guest::load_with(&self.runtime, bytes, role, trust).map(|guest| (guest, Origin::Precompiled));
        }
        match &self.cache {
            Some(cache) => cache.load(&self.runtime, bytes, role),
            None => Guest::load(&self.runtime, bytes, role).map(|guest| (guest, Origin::Compiled)),
        }
    }

    /// Load a published artifact (`plugboard publish`'s sealed `.cwasm`) for `role`, only when
    /// `component_pin` is set, the artifact's digest is in `artifact_pins` and its seal names
    /// the pinned component.
    pub fn load_artifact(
        &self,
        artifact: &[u8],
        component_pin: Option<&str>,
        artifact_pins: &[String],
        role: Role,
    ) -> Result<Guest, ArtifactRefusal> {
        let pin = component_pin.map(str::to_ascii_lowercase).ok_or(ArtifactRefusal::ComponentNotPinned)?;
        let digest = precompiled::sha256_hex(artifact);
        if !artifact_pins.iter().any(|p| p.eq_ignore_ascii_case(&digest)) {
            return Err(ArtifactRefusal::NotPinned(digest));
        }
        let cwasm = match precompiled::open_artifact(artifact) {
            Some((compiled_from, cwasm)) if compiled_from == pin => cwasm,
            Some((compiled_from, _)) => return Err(ArtifactRefusal::OtherComponent { compiled_from, pinned: pin }),
            None => return Err(ArtifactRefusal::Unsealed),
        };
        Guest::load_with(&self.runtime, cwasm, role, Trust::Trusted).map_err(|e| ArtifactRefusal::Load(e.to_string()))
    }
}
