//! `wasi:config/store`: the function's configured values, read-only.

use std::collections::BTreeMap;

use wasmtime::component::{HasData, Linker};

use crate::capabilities::bindings::wasi::config::store::{self, Error};

/// The values one function's guest may read.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigCtx {
    /// Key -> value, as configured.
    pub values: BTreeMap<String, String>,
}

/// The guest-facing view of [`ConfigCtx`].
pub(crate) struct ConfigView<'a> {
    /// The function's values.
    pub ctx: &'a ConfigCtx,
}

struct HasConfig;

impl HasData for HasConfig {
    type Data<'a> = ConfigView<'a>;
}

/// Link `wasi:config/store` into `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> ConfigView<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<T, HasConfig>(linker, view)
}

impl store::Host for ConfigView<'_> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, Error>> {
        Ok(Ok(self.ctx.values.get(&key).cloned()))
    }

    async fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, Error>> {
        Ok(Ok(self.ctx.values.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }
}
