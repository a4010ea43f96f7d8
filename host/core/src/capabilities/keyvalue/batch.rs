//! `wasi:keyvalue/batch`, linked by hand rather than through `bindgen!`: a generated binding
//! copies the whole key list into host memory before host code runs, so a guest could make the
//! host allocate several times its own memory cap. Here the list is counted (and, for
//! `set-many`, each value measured) in guest memory first, and only a batch within DynamoDB's
//! limits is copied out.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, WasmList, WasmStr};

use super::{Bucket, KeyValueView, KvError, check_item};
use crate::capabilities::{bounded, guest_result, list_element};
use crate::telemetry::HostCall;

/// Most keys one batch call may name: DynamoDB's BatchGetItem limit.
pub const MAX_BATCH_KEYS: usize = 100;
/// Most bytes one batch call may read or write: DynamoDB's per-request limit.
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// The interface name the guest imports.
const INTERFACE: &str = "wasi:keyvalue/batch@0.2.0-draft2";

/// A batch's value list, as the guest passes it.
type GuestEntries = WasmList<(WasmStr, WasmList<u8>)>;

/// Link `get-many`, `set-many` and `delete-many` into `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KeyValueView<'_>,
) -> wasmtime::Result<()> {
    let mut batch = linker.instance(INTERFACE)?;
    batch.func_wrap_async(
        "get-many",
        move |mut store: StoreContextMut<'_, T>, (bucket, keys): (Resource<Bucket>, WasmList<WasmStr>)| {
            Box::new(async move {
                let result = match lift_keys(&mut store, &keys) {
                    Ok(keys) => view(store.data_mut()).get_many(bucket, keys).await,
                    Err(e) => Err(e),
                };
                Ok((guest_result(result)?,))
            })
        },
    )?;
    batch.func_wrap_async(
        "set-many",
        move |mut store: StoreContextMut<'_, T>, (bucket, entries): (Resource<Bucket>, GuestEntries)| {
            Box::new(async move {
                let result = match lift_entries(&mut store, &entries) {
                    Ok(entries) => view(store.data_mut()).set_many(bucket, entries).await,
                    Err(e) => Err(e),
                };
                Ok((guest_result(result)?,))
            })
        },
    )?;
    batch.func_wrap_async(
        "delete-many",
        move |mut store: StoreContextMut<'_, T>, (bucket, keys): (Resource<Bucket>, WasmList<WasmStr>)| {
            Box::new(async move {
                let result = match lift_keys(&mut store, &keys) {
                    Ok(keys) => view(store.data_mut()).delete_many(bucket, keys).await,
                    Err(e) => Err(e),
                };
                Ok((guest_result(result)?,))
            })
        },
    )?;
    Ok(())
}

/// Refuse a batch of `count` items before any of it is read.
fn check_count(count: usize) -> Result<(), KvError> {
    if count > MAX_BATCH_KEYS {
        return Err(KvError::Other(format!(
            "ValidationException: a batch names {count} keys; at most {MAX_BATCH_KEYS} are allowed"
        )));
    }
    Ok(())
}

/// Refuse a batch whose keys and values add up to more than [`MAX_BATCH_BYTES`].
pub(super) fn check_bytes(bytes: usize) -> Result<(), KvError> {
    if bytes > MAX_BATCH_BYTES {
        return Err(KvError::Other(format!(
            "ValidationException: a batch of {bytes} bytes is over the {MAX_BATCH_BYTES}-byte limit"
        )));
    }
    Ok(())
}

/// Copy a key list out of guest memory once its length is known to be within limits.
fn lift_keys<T: 'static>(store: &mut StoreContextMut<'_, T>, keys: &WasmList<WasmStr>) -> Result<Vec<String>, KvError> {
    check_count(keys.len())?;
    let mut out = Vec::with_capacity(keys.len());
    for i in 0..keys.len() {
        let element = keys.get(&mut *store, i);
        out.push(lift_key(store, element)?);
    }
    check_unique(out.iter())?;
    Ok(out)
}

/// Refuse a batch naming a key twice, as DynamoDB does, so every backend behaves alike (which
/// of two writes of one key would win is not defined).
fn check_unique<'a>(keys: impl Iterator<Item = &'a String>) -> Result<(), KvError> {
    let mut seen = std::collections::HashSet::new();
    if keys.into_iter().all(|key| seen.insert(key)) {
        Ok(())
    } else {
        Err(KvError::Other("ValidationException: Provided list of item keys contains duplicates".into()))
    }
}

/// Copy entries out of guest memory once their count and total size are within limits.
fn lift_entries<T: 'static>(
    store: &mut StoreContextMut<'_, T>,
    entries: &GuestEntries,
) -> Result<Vec<(String, Vec<u8>)>, KvError> {
    check_count(entries.len())?;
    let mut items = Vec::with_capacity(entries.len());
    for i in 0..entries.len() {
        let (key, value) = list_element::<_, KvError>(entries.get(&mut *store, i))?;
        items.push((key, value));
    }
    // Sizes are known without copying (list headers, keys read in place): measure them all
    // before copying a single byte, so entries that alias one large value count each time.
    let mut total = 0usize;
    for (key, value) in &items {
        let key = key.to_str(&*store).map_err(KvError::Trap)?;
        check_item(&key, None)?;
        total = total.saturating_add(key.len()).saturating_add(value.len());
    }
    check_bytes(total)?;
    let mut out = Vec::with_capacity(items.len());
    for (key, value) in items {
        let key = key.to_str(&*store).map_err(KvError::Trap)?.into_owned();
        let value = value.as_le_slice(&*store).to_vec();
        check_item(&key, Some(&value))?;
        out.push((key, value));
    }
    check_unique(out.iter().map(|(key, _)| key))?;
    Ok(out)
}

/// A key, checked where it lies in guest memory and copied only when it is a valid key: keys
/// of a batch may all alias one huge string.
fn lift_key<T: 'static>(
    store: &StoreContextMut<'_, T>,
    element: Option<wasmtime::Result<WasmStr>>,
) -> Result<String, KvError> {
    let text = list_element::<_, KvError>(element)?;
    let key = text.to_str(store).map_err(KvError::Trap)?;
    check_item(&key, None)?;
    Ok(key.into_owned())
}

impl KeyValueView<'_> {
    /// Values of `keys` (already within the batch limits), in order.
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, KvError> {
        let table = self.table_of(&bucket)?;
        let found = bounded(self.call, HostCall::KeyValue, table.get_many(keys)).await??;
        check_bytes(found.iter().map(|(key, value)| key.len() + value.as_ref().map_or(0, Vec::len)).sum())?;
        Ok(found)
    }

    /// Write `entries` (already within the batch limits).
    async fn set_many(&mut self, bucket: Resource<Bucket>, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        let table = self.writable(&bucket)?;
        bounded(self.call, HostCall::KeyValue, table.set_many(entries)).await?
    }

    /// Remove `keys` (already within the batch limits).
    async fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<(), KvError> {
        let table = self.writable(&bucket)?;
        bounded(self.call, HostCall::KeyValue, table.delete_many(keys)).await?
    }
}
