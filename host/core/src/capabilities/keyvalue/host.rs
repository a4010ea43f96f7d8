//! The WIT host implementation of `wasi:keyvalue`, written once over [`KeyValueTable`].

use std::sync::Arc;

use wasmtime::component::Resource;

use super::{Bucket, Cas, KeyValueTable, KeyValueView, KvError, check_item, push_handle};
use crate::capabilities::bindings::wasi::keyvalue::{atomics, store};
use crate::capabilities::bounded;
use crate::config::Access;
use crate::telemetry::HostCall;

impl KeyValueView<'_> {
    /// The table behind `bucket`, to read.
    pub(super) fn table_of(&self, bucket: &Resource<Bucket>) -> Result<Arc<dyn KeyValueTable>, KvError> {
        let bucket = self.table.get(bucket).map_err(|e| KvError::Trap(e.into()))?;
        Ok(bucket.table.clone())
    }

    /// The table behind `bucket`, to write: `access-denied` when the grant is read-only.
    pub(super) fn writable(&self, bucket: &Resource<Bucket>) -> Result<Arc<dyn KeyValueTable>, KvError> {
        let bucket = self.table.get(bucket).map_err(|e| KvError::Trap(e.into()))?;
        if bucket.access == Access::ReadOnly {
            tracing::warn!("guest wrote to a store it was granted read-only");
            return Err(KvError::AccessDenied);
        }
        Ok(bucket.table.clone())
    }
}

impl store::Host for KeyValueView<'_> {
    fn convert_error(&mut self, err: KvError) -> wasmtime::Result<store::Error> {
        match err {
            KvError::Trap(trap) => Err(trap),
            other => Ok(other.into()),
        }
    }

    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, KvError> {
        let Some((table_name, access)) = self.ctx.grants.get(&identifier) else {
            tracing::warn!(store = identifier, "guest opened a store it was not granted");
            return Err(KvError::AccessDenied);
        };
        let table = bounded(self.call, HostCall::KeyValue, self.ctx.backend.open(table_name)).await??;
        push_handle(self.table, Bucket { table, access: *access })
    }
}

impl store::HostBucket for KeyValueView<'_> {
    async fn get(&mut self, bucket: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, KvError> {
        let table = self.table_of(&bucket)?;
        check_item(&key, None)?;
        bounded(self.call, HostCall::KeyValue, table.get(&key)).await?
    }

    async fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<(), KvError> {
        let table = self.writable(&bucket)?;
        check_item(&key, Some(&value))?;
        bounded(self.call, HostCall::KeyValue, table.set(&key, value)).await?
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), KvError> {
        let table = self.writable(&bucket)?;
        check_item(&key, None)?;
        bounded(self.call, HostCall::KeyValue, table.delete(&key)).await?
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool, KvError> {
        let table = self.table_of(&bucket)?;
        check_item(&key, None)?;
        bounded(self.call, HostCall::KeyValue, table.exists(&key)).await?
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<String>,
    ) -> Result<store::KeyResponse, KvError> {
        let table = self.table_of(&bucket)?;
        let page = bounded(self.call, HostCall::KeyValue, table.list_keys(cursor)).await??;
        Ok(store::KeyResponse { keys: page.keys, cursor: page.cursor })
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KeyValueView<'_> {
    async fn increment(&mut self, bucket: Resource<Bucket>, key: String, delta: i64) -> Result<i64, KvError> {
        let table = self.writable(&bucket)?;
        check_item(&key, None)?;
        bounded(self.call, HostCall::KeyValue, table.increment(&key, delta)).await?
    }

    async fn swap(&mut self, cas: Resource<Cas>, value: Vec<u8>) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let cas = self.table.delete(cas)?;
        if let Err(e) = check_item(&cas.key, Some(&value)) {
            return Ok(Err(atomics::CasError::StoreError(e.into())));
        }
        // The version the handle saw when it was made: a swap is never an unconditional write.
        let expected = cas.seen;
        match bounded(self.call, HostCall::KeyValue, cas.table.swap(&cas.key, expected, value)).await? {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                // Hand the guest a handle on the latest version, so it can read it and retry.
                let latest = match bounded(self.call, HostCall::KeyValue, cas.table.get_versioned(&cas.key)).await? {
                    Ok(latest) => latest.map(|v| v.version),
                    Err(KvError::Trap(t)) => return Err(t),
                    Err(e) => return Ok(Err(atomics::CasError::StoreError(e.into()))),
                };
                let fresh = self.table.push(Cas { table: cas.table, key: cas.key, seen: latest })?;
                Ok(Err(atomics::CasError::CasFailed(fresh)))
            }
            Err(KvError::Trap(t)) => Err(t),
            Err(e) => Ok(Err(atomics::CasError::StoreError(e.into()))),
        }
    }
}

impl atomics::HostCas for KeyValueView<'_> {
    async fn new(&mut self, bucket: Resource<Bucket>, key: String) -> Result<Resource<Cas>, KvError> {
        // A CAS handle exists to write: refused up front on a read-only store.
        let table = self.writable(&bucket)?;
        check_item(&key, None)?;
        // Snapshot the version now: the swap expects it (absent: still absent). Only the version
        // is kept, so a guest holding many handles costs the host a key each, not a value.
        let seen = bounded(self.call, HostCall::KeyValue, table.get_versioned(&key)).await??.map(|v| v.version);
        push_handle(self.table, Cas { table, key, seen })
    }

    async fn current(&mut self, cas: Resource<Cas>) -> Result<Option<Vec<u8>>, KvError> {
        let (table, key) = {
            let cas = self.table.get(&cas).map_err(|e| KvError::Trap(e.into()))?;
            (cas.table.clone(), cas.key.clone())
        };
        // The guest now bases its swap on what it reads here: the snapshot moves with it.
        let current = bounded(self.call, HostCall::KeyValue, table.get_versioned(&key)).await??;
        self.table.get_mut(&cas).map_err(|e| KvError::Trap(e.into()))?.seen = current.as_ref().map(|v| v.version);
        Ok(current.map(|v| v.value))
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}
