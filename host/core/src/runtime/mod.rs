//! The wasmtime side: one `Engine` and `Linker` per process, guest loading, and the per-call
//! `Store` with its deadline and memory cap.

mod call;
mod command;
mod guest;
pub mod loader;
mod output;
pub mod precompiled;
mod state;

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use call::{Backends, FunctionEnv, GuestExport, GuestRunner, Invocation};
pub(crate) use guest::check_pin;
pub use guest::{Guest, GuestError, HttpHandlerPre, RolePre, Trust};
pub use loader::GuestLoader;
pub use state::{GuestFailure, HostState};

/// How often the epoch advances; the deadline's granularity and the guest's yield interval.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(2);

/// How the engine allocates instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// Pre-reserved slots, reused copy-on-write: fastest instantiation (the default).
    Pooling {
        /// How many instances may be alive at once in this process.
        max_instances: u32,
    },
    /// `mmap` per instance: no up-front reservation.
    OnDemand,
}

/// Engine settings that change behaviour or speed.
#[derive(Debug, Clone, Copy)]
pub struct EngineSettings {
    /// Instance allocator.
    pub allocator: Allocator,
    /// The largest linear memory any guest may have, in MiB (each function's cap is below it).
    pub max_memory_mb: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings { allocator: Allocator::Pooling { max_instances: 64 }, max_memory_mb: 4096 }
    }
}

/// One engine and linker for the whole process; cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<HostState>,
}

impl Runtime {
    /// Build the engine, link WASI and every capability, and start the epoch ticker.
    pub fn new(settings: EngineSettings) -> wasmtime::Result<Self> {
        Self::build(settings, false)
    }

    /// [`Runtime::new`] with `plugboard:host/test-double` linked too: for `plugboard
    /// cargo-runner` only, so no other runtime loads a guest that imports the test doubles.
    pub fn for_guest_tests(settings: EngineSettings) -> wasmtime::Result<Self> {
        Self::build(settings, true)
    }

    fn build(settings: EngineSettings, test_doubles: bool) -> wasmtime::Result<Self> {
        let mut config = compile_config();
        let max_memory = u64::from(settings.max_memory_mb) * 1024 * 1024;
        if let Allocator::Pooling { max_instances } = settings.allocator {
            let mut pool = PoolingAllocationConfig::default();
            // Components hold several core instances and tables (Python and JS guests have
            // large tables); size slots for them, not for a tiny Rust guest.
            pool.total_component_instances(max_instances)
                .total_core_instances(max_instances * 8)
                .total_memories(max_instances * 2)
                .total_tables(max_instances * 8)
                .max_memories_per_component(4)
                .max_tables_per_component(16)
                .max_core_instances_per_component(32)
                .table_elements(100_000)
                .max_memory_size(max_memory as usize)
                .max_core_instance_size(8 << 20)
                .max_component_instance_size(1 << 20);
            if pagemap_scan_supported() {
                // Reset only the pages an instance dirtied, and keep them resident, so the next
                // instance in the slot takes no page faults. Without PAGEMAP_SCAN this would
                // memset the whole region on every reuse, so it stays off there.
                pool.pagemap_scan(wasmtime::Enabled::Yes)
                    .linear_memory_keep_resident(KEEP_RESIDENT)
                    .table_keep_resident(KEEP_RESIDENT);
            }
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        link_capabilities(&mut linker)?;
        if test_doubles {
            crate::capabilities::test_double::add_to_linker(&mut linker, HostState::test_double)?;
        }
        start_epoch_ticker(&engine)?;
        Ok(Runtime { inner: Arc::new(RuntimeInner { engine, linker }) })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The linker holding WASI and the Plugboard capabilities.
    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    /// Compile `wasm` to a `.cwasm` this engine (and only a compatible one) can load.
    pub fn precompile(&self, wasm: &[u8]) -> wasmtime::Result<Vec<u8>> {
        self.inner.engine.precompile_component(wasm)
    }
}

/// Link every Plugboard capability (not WASI itself) into `linker`, each with its view of the
/// call's state: the runtime owns the linking, the capabilities know nothing of `HostState`.
fn link_capabilities(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    use crate::capabilities::bindings::plugboard::host::{http_types, policy, types};
    use crate::capabilities::{TypesOnly, config, invoke, keyvalue, logging, queue};
    keyvalue::add_to_linker(linker, HostState::keyvalue)?;
    queue::add_to_linker(linker, HostState::queue)?;
    invoke::add_to_linker(linker, HostState::invoke)?;
    config::add_to_linker(linker, HostState::config)?;
    logging::add_to_linker(linker, HostState::logging)?;
    types::add_to_linker::<HostState, TypesOnly>(linker, |_| TypesOnly)?;
    http_types::add_to_linker::<HostState, TypesOnly>(linker, |_| TypesOnly)?;
    policy::add_to_linker::<HostState, TypesOnly>(linker, |_| TypesOnly)?;
    Ok(())
}

/// The settings that decide what compiled code looks like, shared by this host's engine and the
/// cross-compiling engines of `plugboard publish`, so their artifacts load here.
pub(crate) fn compile_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config
}

/// Bytes of each memory and table slot kept resident between instances (with PAGEMAP_SCAN).
const KEEP_RESIDENT: usize = 16 << 20;

/// Whether the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7+).
fn pagemap_scan_supported() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 7)
}

/// Advance the engine's epoch every [`EPOCH_TICK`] on one thread for the process; the thread
/// ends when the engine is dropped.
fn start_epoch_ticker(engine: &Engine) -> wasmtime::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("plugboard-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|e| wasmtime::Error::msg(format!("cannot start the epoch thread: {e}")))?;
    Ok(())
}
