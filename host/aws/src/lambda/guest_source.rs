//! Where a Lambda function's guest comes from and how it stays current: a path or S3 object,
//! pinned artifacts tried first, this host's compile cache, and ETag refresh between invocations.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::backends::s3::{self, FetchError, S3Location, S3Object};
use plugboard_core::config::location::GuestLocation;
use plugboard_core::config::{FunctionConfig, Role};
use plugboard_core::function::Function;
use plugboard_core::runtime::precompiled::{self, CompileCache, Origin};
use plugboard_core::runtime::{Guest, GuestLoader, Runtime, Trust};

/// Where the guest's bytes live.
enum Location {
    /// An S3 object (and the client to read it).
    S3 { client: aws_sdk_s3::Client, object: S3Location },
    /// A file in the deployment package or on this machine.
    Path(PathBuf),
}

/// A loaded guest and what it was loaded from.
pub struct Loaded {
    /// The guest, ready for its role.
    pub guest: Guest,
    /// Compiled, from the cache, or a pinned precompiled artifact.
    pub origin: Origin,
    /// The S3 object's ETag, when it came from S3.
    pub etag: Option<String>,
}

/// The function's guest source, built once at cold start.
pub struct GuestSource {
    location: Location,
    display: String,
    pin: Option<String>,
    precompiled_pins: Vec<String>,
    loader: GuestLoader,
    refresh: Option<Refresh>,
}

/// ETag refresh state: how often, and what was seen last.
struct Refresh {
    every: Duration,
    seen: tokio::sync::Mutex<(Option<String>, Instant)>,
}

/// How often a warm instance re-checks its guest's ETag, from `PLUGBOARD_GUEST_REFRESH_SECS`
/// (`refresh_secs`): only an unpinned `s3://` guest without a version id can change, so anything
/// else with a refresh set is a configuration error, found at cold start.
pub fn refresh_every(config: &FunctionConfig, refresh_secs: Option<u64>) -> anyhow::Result<Option<Duration>> {
    let Some(secs) = refresh_secs else { return Ok(None) };
    anyhow::ensure!(secs >= 1, "PLUGBOARD_GUEST_REFRESH_SECS must be at least 1");
    let pinned = config.guest_sha256.is_some() || !config.precompiled_sha256.is_empty();
    let fixed = match config.guest.as_deref().map(GuestLocation::parse) {
        Some(Ok(GuestLocation::S3(object))) => object.version_id.is_some(),
        _ => true,
    };
    anyhow::ensure!(
        !pinned && !fixed,
        "PLUGBOARD_GUEST_REFRESH_SECS needs an unpinned s3:// guest without versionId: a pin or version means this exact guest"
    );
    Ok(Some(Duration::from_secs(secs)))
}

impl GuestSource {
    /// The source `config.guest` names; `refresh_secs` from `PLUGBOARD_GUEST_REFRESH_SECS`.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        config: &FunctionConfig,
        runtime: &Runtime,
        refresh_secs: Option<u64>,
    ) -> anyhow::Result<GuestSource> {
        let display = config.guest.clone().context("PLUGBOARD_GUEST is not set")?;
        let location = match GuestLocation::parse(&display).map_err(|e| anyhow::anyhow!("PLUGBOARD_GUEST: {e}"))? {
            GuestLocation::S3(object) => Location::S3 { client: s3::client(sdk), object },
            GuestLocation::Path(path) => Location::Path(path),
        };
        let refresh = refresh_every(config, refresh_secs)?
            .map(|every| Refresh { every, seen: tokio::sync::Mutex::new((None, Instant::now())) });
        let loader = GuestLoader::new(runtime.clone(), Some(&CompileCache::default_dir()));
        Ok(GuestSource {
            location,
            display,
            pin: config.guest_sha256.clone(),
            precompiled_pins: config.precompiled_sha256.clone(),
            loader,
            refresh,
        })
    }

    /// Load the guest for `role`: a pinned precompiled artifact if one is published for this
    /// host, else the component (pin checked), compiled once and cached.
    pub async fn load(&self, role: Role) -> anyhow::Result<Loaded> {
        if let Some(guest) = self.load_published_artifact(role).await {
            return Ok(Loaded { guest, origin: Origin::Precompiled, etag: None });
        }
        let object = self.read().await?;
        let loaded = self.load_bytes(role, object.bytes, object.etag).await?;
        if let Some(refresh) = &self.refresh {
            *refresh.seen.lock().await = (loaded.etag.clone(), Instant::now());
        }
        Ok(loaded)
    }

    /// With refresh on and its interval passed, re-read the object if its ETag changed and swap
    /// the function's guest; an unreadable or invalid new guest is logged and the old serves on.
    pub(crate) async fn refresh_if_due(&self, function: &Function) {
        let (Some(refresh), Location::S3 { client, object }) = (&self.refresh, &self.location) else { return };
        // Another invocation already checking: this one serves with the current guest.
        let Ok(mut seen) = refresh.seen.try_lock() else { return };
        if seen.1.elapsed() < refresh.every {
            return;
        }
        seen.1 = Instant::now();
        let changed = match s3::fetch_if_changed(client, object, seen.0.as_deref()).await {
            Ok(Some(changed)) => changed,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(guest = %self.display, error = %e, "guest refresh: cannot check the object; serving the current guest");
                return;
            }
        };
        // Remember the ETag even if the new guest is bad, so it is not re-read every interval.
        seen.0 = changed.etag.clone();
        match self.load_bytes(function.role(), changed.bytes, changed.etag).await {
            Ok(loaded) => {
                let (etag, version) = (loaded.etag, changed.version_id);
                match function.replace_guest(loaded.guest) {
                    Ok(()) => tracing::info!(guest = %self.display, ?etag, ?version, "guest refreshed"),
                    Err(other) => {
                        tracing::error!(guest = %self.display, ?etag, %other, "guest refresh: the new guest is for another role; serving the current guest")
                    }
                }
            }
            Err(e) => {
                tracing::error!(guest = %self.display, error = %format!("{e:#}"), "guest refresh: the new guest is invalid; serving the current guest")
            }
        }
    }

    async fn read(&self) -> anyhow::Result<S3Object> {
        match &self.location {
            Location::S3 { client, object } => {
                s3::fetch(client, object).await.map_err(|e| anyhow::anyhow!("fetching guest {}: {e}", self.display))
            }
            Location::Path(path) => {
                let bytes = tokio::fs::read(path).await.with_context(|| format!("reading guest {}", self.display))?;
                Ok(S3Object { bytes, etag: None, version_id: None })
            }
        }
    }

    /// Load `bytes` with the one loader, off the async threads (compiling takes a while).
    async fn load_bytes(&self, role: Role, bytes: Vec<u8>, etag: Option<String>) -> anyhow::Result<Loaded> {
        let (loader, pin) = (self.loader.clone(), self.pin.clone());
        let (guest, origin) =
            tokio::task::spawn_blocking(move || loader.load(&bytes, pin.as_deref(), role, Trust::ComponentOnly))
                .await
                .context("the guest loader panicked")?
                .with_context(|| format!("loading guest {}", self.display))?;
        Ok(Loaded { guest, origin, etag })
    }

    /// The precompiled artifact `plugboard publish` compiled from the pinned component for this
    /// host, if artifacts are pinned, it exists, its digest is pinned, its seal names the pinned
    /// component and it loads; otherwise `None` (logged), and the pinned component is used.
    async fn load_published_artifact(&self, role: Role) -> Option<Guest> {
        let Location::S3 { client, object } = &self.location else { return None };
        if self.precompiled_pins.is_empty() {
            return None;
        }
        let Some(pin) = self.pin.as_deref().map(str::to_ascii_lowercase) else {
            tracing::warn!(guest = %self.display, "precompiled artifacts run only for a pinned component (PLUGBOARD_GUEST_SHA256); compiling the guest");
            return None;
        };
        let tag = precompiled::published_tag_for_host().ok()?;
        let artifact =
            S3Location { key: precompiled::artifact_key(&object.key, &pin, &tag), version_id: None, ..object.clone() };
        let name = format!("s3://{}/{}", artifact.bucket, artifact.key);
        let bytes = match s3::fetch(client, &artifact).await {
            Ok(found) => found.bytes,
            Err(FetchError::NotFound(_)) => {
                tracing::info!(artifact = %name, "no precompiled artifact for this host and engine; compiling the guest");
                return None;
            }
            Err(e) => {
                tracing::warn!(artifact = %name, error = %e, "cannot read the precompiled artifact; compiling the guest");
                return None;
            }
        };
        match self.loader.load_artifact(&bytes, Some(&pin), &self.precompiled_pins, role) {
            Ok(guest) => Some(guest),
            Err(refusal) => {
                tracing::warn!(artifact = %name, %refusal, "precompiled artifact refused; compiling the pinned component");
                None
            }
        }
    }
}
