//! Functions wired to in-memory backends and to each other: what `plugboard invoke` and the
//! tests run, through exactly the code Lambda runs.

use plugboard_core::capabilities::http::client::PooledSender;
use plugboard_core::capabilities::http::network::Network;
use std::collections::HashMap;
use std::sync::Arc;

use crate::backends::local::LocalInvoker;
use crate::backends::memory::{MemoryKeyValue, MemoryQueue};
use plugboard_core::config::FunctionConfig;
use plugboard_core::function::{Backends, Function};
use plugboard_core::runtime::{GuestError, GuestLoader, Runtime, Trust};

/// A set of functions sharing in-memory tables, queues and an in-process invoker.
pub struct LocalApp {
    loader: GuestLoader,
    /// The tables every function's stores live in.
    pub keyvalue: Arc<MemoryKeyValue>,
    /// The queues every function sends to.
    pub queues: Arc<MemoryQueue>,
    invoker: Arc<LocalInvoker>,
    functions: HashMap<String, Arc<Function>>,
}

impl LocalApp {
    /// An empty app on `runtime`, compiling every guest it is given.
    pub fn new(runtime: Runtime) -> Self {
        Self::with_loader(GuestLoader::new(runtime, None))
    }

    /// An empty app loading its guests with `loader` (and so through its compile cache).
    pub fn with_loader(loader: GuestLoader) -> Self {
        LocalApp {
            loader,
            keyvalue: Arc::new(MemoryKeyValue::new()),
            queues: Arc::new(MemoryQueue::new()),
            invoker: Arc::new(LocalInvoker::new()),
            functions: HashMap::new(),
        }
    }

    /// The shared runtime.
    pub fn runtime(&self) -> &Runtime {
        self.loader.runtime()
    }

    /// Load component `guest` for `config.role` as function `name`, creating the tables and
    /// queues it is granted, and make it invokable by name.
    pub fn add(&mut self, name: &str, config: FunctionConfig, guest: &[u8]) -> Result<Arc<Function>, GuestError> {
        self.add_with(name, config, guest, Trust::ComponentOnly)
    }

    /// [`LocalApp::add`], allowing a precompiled guest when `trust` says its source is trusted.
    /// A pinned `guest-sha256` is checked first either way.
    pub fn add_with(
        &mut self,
        name: &str,
        config: FunctionConfig,
        guest: &[u8],
        trust: Trust,
    ) -> Result<Arc<Function>, GuestError> {
        let (guest, _) = self.loader.load(guest, config.guest_sha256.as_deref(), config.role, trust)?;
        config.grants.all_stores().for_each(|(_, t, _)| self.keyvalue.create_table(t));
        config.grants.queues.values().for_each(|q| self.queues.create_queue(q));
        let backends = Backends {
            keyvalue: self.keyvalue.clone(),
            queue: self.queues.clone(),
            invoker: self.invoker.clone(),
            http: Arc::new(PooledSender::system(&config.grants.http, Network::Local)),
        };
        let function = Arc::new(Function::new(name, config, self.runtime().clone(), guest, backends));
        self.invoker.register(&function);
        self.functions.insert(name.to_string(), function.clone());
        Ok(function)
    }

    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<Arc<Function>> {
        self.functions.get(name).cloned()
    }
}
