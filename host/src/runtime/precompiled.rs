//! Precompiled guests (`.cwasm`): the tag that says which target and engine an artifact is for,
//! the cross-compiling engines behind `plugboard publish`, and this host's own compile cache.
//!
//! A `.cwasm` is native code, so one is loaded only from a trusted source: its sha256 pinned in
//! the function's configuration, or this host's cache (written only by this process's user, in a
//! directory nobody else can write).

use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Precompiled};

use super::{Guest, GuestError, Runtime, Trust, compile_config};
use crate::config::Role;

/// The Lambda architectures `plugboard publish` compiles for: (name, target triple).
pub const TARGETS: [(&str, &str); 2] =
    [("x86_64", "x86_64-unknown-linux-gnu"), ("aarch64", "aarch64-unknown-linux-gnu")];

/// An engine that compiles for `triple` with that architecture's baseline CPU features, so
/// its artifacts load on any host of the architecture.
pub fn cross_engine(triple: &str) -> wasmtime::Result<Engine> {
    let mut config = compile_config();
    config.target(triple)?;
    Engine::new(&config)
}

/// `<arch>-<16 hex digits>`: names the architecture and the engine's precompile-compatibility
/// hash, which changes whenever the compiled code would (wasmtime version, settings, features).
pub fn artifact_tag(arch: &str, engine: &Engine) -> String {
    let mut hasher = DigestHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{arch}-{}", hex::encode(&hasher.0.finalize()[..8]))
}

/// The tag `plugboard publish` gives artifacts for this host's architecture.
pub fn published_tag_for_host() -> wasmtime::Result<String> {
    let arch = std::env::consts::ARCH;
    let (_, triple) = TARGETS
        .iter()
        .find(|(name, _)| *name == arch)
        .ok_or_else(|| wasmtime::Error::msg(format!("no published artifacts for {arch}")))?;
    Ok(artifact_tag(arch, &cross_engine(triple)?))
}

/// The S3 key of the artifact for `tag` published beside the guest at `key`
/// (`guests/items.wasm` -> `guests/items.x86_64-0123456789abcdef.cwasm`).
pub fn artifact_key(key: &str, tag: &str) -> String {
    let stem = key.strip_suffix(".wasm").unwrap_or(key);
    format!("{stem}.{tag}.cwasm")
}

/// The sha256 of `bytes`, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Feeds a `Hash` into SHA-256, so a tag is stable across processes and Rust versions.
struct DigestHasher(Sha256);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
}

/// How a guest was obtained, for logs and cold-start figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled from the component now.
    Compiled,
    /// Deserialized from this host's cache.
    Cached,
    /// Deserialized from a pinned precompiled artifact.
    Precompiled,
}

/// This host's compiled guests, keyed by the component's sha256 and the engine's tag, so one
/// guest is never compiled twice by the same container (`/tmp` survives process restarts there).
#[derive(Clone)]
pub struct CompileCache {
    dir: PathBuf,
    tag: String,
}

impl CompileCache {
    /// The default directory: `plugboard-cache` under the system temp directory.
    pub fn default_dir() -> PathBuf {
        std::env::temp_dir().join("plugboard-cache")
    }

    /// Use `dir` (created if missing) for `runtime`'s engine; refused unless it belongs to
    /// this user and nobody else may write it.
    pub fn open(dir: &Path, runtime: &Runtime) -> io::Result<CompileCache> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let meta = std::fs::metadata(dir)?;
        let me = std::fs::metadata("/proc/self")?.uid();
        if meta.uid() != me || meta.permissions().mode() & 0o022 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is not private to this user", dir.display()),
            ));
        }
        let tag = artifact_tag(std::env::consts::ARCH, runtime.engine());
        Ok(CompileCache { dir: dir.to_path_buf(), tag })
    }

    /// Load component `wasm` for `role`: from the cache when this engine compiled it before,
    /// otherwise compiled now and stored.
    pub fn load(&self, runtime: &Runtime, wasm: &[u8], role: Role) -> Result<(Guest, Origin), GuestError> {
        if Engine::detect_precompiled(wasm).is_some() {
            return Err(GuestError::NotComponent("the compile cache takes components, not .cwasm".into()));
        }
        let path = self.dir.join(format!("{}-{}.cwasm", sha256_hex(wasm), self.tag));
        if let Ok(cwasm) = std::fs::read(&path) {
            if matches!(Engine::detect_precompiled(&cwasm), Some(Precompiled::Component)) {
                match Guest::load_with(runtime, &cwasm, role, Trust::Trusted) {
                    Ok(guest) => return Ok((guest, Origin::Cached)),
                    // A role mismatch is the guest's fault, not the cache's.
                    Err(e @ GuestError::WrongWorld { .. }) => return Err(e),
                    Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding a cached guest"),
                }
            }
            let _ = std::fs::remove_file(&path);
        }
        let cwasm = runtime.precompile(wasm).map_err(|e| GuestError::NotComponent(format!("{e:#}")))?;
        if let Err(e) = write_atomically(&path, &cwasm) {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache the compiled guest");
        }
        let guest = Guest::load_with(runtime, &cwasm, role, Trust::Trusted)?;
        Ok((guest, Origin::Compiled))
    }
}

/// Write to a temporary name and rename, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}
