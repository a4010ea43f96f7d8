//! Precompiled guests (`.cwasm`): the tag that says which target and engine an artifact is for,
//! the cross-compiling engines behind `plugboard publish`, and this host's own compile cache.
//!
//! A `.cwasm` is native code, so one is loaded only from a trusted source: its sha256 pinned in
//! the function's configuration, or this host's cache (written only by this process's user, in a
//! directory nobody else can write).

use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{self, AtFlags, FileType, Mode, OFlags};

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

/// The S3 key of the artifact for `tag` compiled from the component with sha256
/// `component_sha256`, published beside the guest at `key` (`guests/items.wasm` ->
/// `guests/items.<first 16 digits of the component's sha256>.x86_64-0123456789abcdef.cwasm`).
/// Each version of a guest has its own artifacts, so a rollback finds the old version's.
pub fn artifact_key(key: &str, component_sha256: &str, tag: &str) -> String {
    let stem = key.strip_suffix(".wasm").unwrap_or(key);
    let digest = component_sha256.get(..16).unwrap_or(component_sha256).to_ascii_lowercase();
    format!("{stem}.{digest}.{tag}.cwasm")
}

/// What a published artifact starts with, before the component's sha256 and the `.cwasm`.
const SEAL_MAGIC: &[u8; 16] = b"plugboard-cwasm\x01";

/// A published artifact: `cwasm` sealed with the sha256 of the component it was compiled from
/// (`SEAL_MAGIC`, 32 digest bytes, the `.cwasm`). The artifact's own pinned digest covers the
/// seal, so a pinned artifact is provably the one its publisher compiled from that component.
pub fn seal_artifact(component: &[u8], cwasm: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(SEAL_MAGIC.len() + 32 + cwasm.len());
    sealed.extend_from_slice(SEAL_MAGIC);
    sealed.extend_from_slice(&Sha256::digest(component));
    sealed.extend_from_slice(cwasm);
    sealed
}

/// The sha256 (hex) of the component a sealed artifact was compiled from, and its `.cwasm`;
/// `None` when `bytes` is not a sealed artifact.
pub(crate) fn open_artifact(bytes: &[u8]) -> Option<(String, &[u8])> {
    let rest = bytes.strip_prefix(SEAL_MAGIC)?;
    let (digest, cwasm) = rest.split_at_checked(32)?;
    Some((hex::encode(digest), cwasm))
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
///
/// A cached `.cwasm` is run as trusted native code, so on a shared `/tmp` the cache must not be
/// steerable by another user: the directory is opened once (no symlink followed) and checked
/// through that handle; every entry is opened relative to the handle without following a
/// symlink and checked to be a regular file of this user that nobody else may write.
#[derive(Clone)]
pub struct CompileCache {
    dir: Arc<OwnedFd>,
    shown: PathBuf,
    tag: String,
}

impl CompileCache {
    /// The default directory: `plugboard-cache` under the system temp directory.
    pub fn default_dir() -> PathBuf {
        std::env::temp_dir().join("plugboard-cache")
    }

    /// Use `dir` (created if missing) for `runtime`'s engine; refused when it is a symlink,
    /// not this user's, or writable by anyone else.
    pub fn open(dir: &Path, runtime: &Runtime) -> io::Result<CompileCache> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = fs::open(dir, flags, Mode::empty())
            .map_err(|e| refused(dir, &format!("cannot be opened without following a symlink ({e})")))?;
        check_private(&fd, dir, FileType::Directory)?;
        let tag = artifact_tag(std::env::consts::ARCH, runtime.engine());
        Ok(CompileCache { dir: Arc::new(fd), shown: dir.to_path_buf(), tag })
    }

    /// Load component `wasm` for `role`: from the cache when this engine compiled it before,
    /// otherwise compiled now and stored.
    pub fn load(&self, runtime: &Runtime, wasm: &[u8], role: Role) -> Result<(Guest, Origin), GuestError> {
        if Engine::detect_precompiled(wasm).is_some() {
            return Err(GuestError::NotComponent("the compile cache takes components, not .cwasm".into()));
        }
        let name = format!("{}-{}.cwasm", sha256_hex(wasm), self.tag);
        match self.read(&name) {
            Ok(Some(cwasm)) if matches!(Engine::detect_precompiled(&cwasm), Some(Precompiled::Component)) => {
                match Guest::load_with(runtime, &cwasm, role, Trust::Trusted) {
                    Ok(guest) => return Ok((guest, Origin::Cached)),
                    // A role mismatch is the guest's fault, not the cache's.
                    Err(e @ GuestError::WrongWorld { .. }) => return Err(e),
                    Err(e) => tracing::warn!(entry = name, error = %e, "discarding a cached guest"),
                }
                self.remove(&name);
            }
            Ok(Some(_)) => self.remove(&name),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(cache = %self.shown.display(), entry = name, error = %e, "refusing a cache entry; compiling the guest");
                self.remove(&name);
            }
        }
        let cwasm = runtime.precompile(wasm).map_err(|e| GuestError::NotComponent(format!("{e:#}")))?;
        if let Err(e) = self.write(&name, &cwasm) {
            tracing::warn!(cache = %self.shown.display(), entry = name, error = %e, "cannot cache the compiled guest");
        }
        let guest = Guest::load_with(runtime, &cwasm, role, Trust::Trusted)?;
        Ok((guest, Origin::Compiled))
    }

    /// The entry `name`, `None` when absent; an error when it is not a private regular file.
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let fd = match fs::openat(&*self.dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        check_private(&fd, Path::new(name), FileType::RegularFile)?;
        let mut bytes = Vec::new();
        std::fs::File::from(fd).read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    /// Store `bytes` as `name`: written under a name unique to this call, then renamed, so a
    /// reader never sees half a file and two writers never share a temporary.
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let partial = format!("partial-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = fs::openat(&*self.dir, &partial, flags, Mode::from_raw_mode(0o600))?;
        let written = std::fs::File::from(fd).write_all(bytes);
        let renamed = written.and_then(|()| Ok(fs::renameat(&*self.dir, &partial, &*self.dir, name)?));
        if renamed.is_err() {
            let _ = fs::unlinkat(&*self.dir, &partial, AtFlags::empty());
        }
        renamed
    }

    fn remove(&self, name: &str) {
        let _ = fs::unlinkat(&*self.dir, name, AtFlags::empty());
    }
}

/// Refuse `fd` unless it is a `kind` owned by this user that nobody else may write.
fn check_private(fd: &OwnedFd, shown: &Path, kind: FileType) -> io::Result<()> {
    let stat = fs::fstat(fd)?;
    if FileType::from_raw_mode(stat.st_mode) != kind {
        return Err(refused(shown, &format!("is not a {kind:?}")));
    }
    if stat.st_uid != rustix::process::geteuid().as_raw() || stat.st_mode & 0o022 != 0 {
        return Err(refused(shown, "is not private to this user"));
    }
    Ok(())
}

fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, format!("{} {why}", path.display()))
}
