//! `wasi:keyvalue` (store, atomics, batch) over a [`KeyValueBackend`].
//!
//! Grants, DynamoDB's size limits and deadlines are checked here, once, so every backend
//! (in-memory, embedded, DynamoDB) behaves the same to a guest.

mod batch;
mod host;

pub use batch::{MAX_BATCH_BYTES, MAX_BATCH_KEYS};

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable, ResourceTableError};

use super::{CallInfo, DeadlineExceeded};
use crate::capabilities::bindings::wasi::keyvalue::{atomics, store};
use crate::config::{Access, Grants};

/// Largest key accepted: DynamoDB's partition-key limit.
pub(crate) const MAX_KEY_BYTES: usize = 2048;
/// Largest item (key + value + attribute overhead) accepted: DynamoDB's item limit.
pub(crate) const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Bytes DynamoDB counts for the attribute names and version of one item in our layout.
const ITEM_OVERHEAD: usize = 16;

/// Why a key-value operation failed; everything but `Trap` reaches the guest as the WIT error.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The granted table does not exist in the backend.
    #[error("no such store")]
    NoSuchStore,
    /// The store name was not granted to this function.
    #[error("access denied")]
    AccessDenied,
    /// Any other failure, including limits, with the backend's code in the text.
    #[error("{0}")]
    Other(String),
    /// Not for the guest: the invocation is being stopped.
    #[error(transparent)]
    Trap(wasmtime::Error),
}

impl From<DeadlineExceeded> for KvError {
    fn from(e: DeadlineExceeded) -> Self {
        KvError::Trap(e.into())
    }
}

impl super::CapabilityError for KvError {
    type Wit = store::Error;
    fn for_guest(self) -> Result<store::Error, wasmtime::Error> {
        match self {
            KvError::Trap(trap) => Err(trap),
            other => Ok(other.into()),
        }
    }
    fn trap(error: wasmtime::Error) -> Self {
        KvError::Trap(error)
    }
}

impl From<KvError> for store::Error {
    fn from(e: KvError) -> Self {
        match e {
            KvError::NoSuchStore => store::Error::NoSuchStore,
            KvError::AccessDenied => store::Error::AccessDenied,
            other => store::Error::Other(other.to_string()),
        }
    }
}

/// Put `entry` in the invocation's resource table; a full table is the guest's error (it holds
/// too many handles), anything else a host bug.
fn push_handle<E: Send + 'static>(table: &mut ResourceTable, entry: E) -> Result<Resource<E>, KvError> {
    table.push(entry).map_err(|e| match e {
        ResourceTableError::Full => KvError::Other(format!(
            "ResourceLimit: this invocation already holds {} handles, the most allowed",
            table.max_capacity()
        )),
        other => KvError::Trap(other.into()),
    })
}

/// One page of keys and where to continue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyPage {
    /// Keys in this page, in the backend's order.
    pub keys: Vec<String>,
    /// Opaque cursor for the next page; `None` on the last.
    pub cursor: Option<String>,
}

/// A value with the version a compare-and-swap must still see.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    /// The stored bytes.
    pub value: Vec<u8>,
    /// Bumped on every write.
    pub version: u64,
}

/// A key-value backend: resolves table names to tables.
#[async_trait]
pub trait KeyValueBackend: Send + Sync {
    /// Open `table`; `NoSuchStore` when it does not exist.
    async fn open(&self, table: &str) -> Result<Arc<dyn KeyValueTable>, KvError>;
}

/// One table. Counters written by `increment` are stored as decimal text, e.g. `42` (Spin's
/// DynamoDB layout), so a counter can be read with `get` too.
#[async_trait]
pub trait KeyValueTable: Send + Sync {
    /// The value at `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// The value at `key` with its version, for compare-and-swap.
    async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, KvError>;
    /// Write `value` at `key`.
    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError>;
    /// Remove `key`; absent keys are fine.
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Whether `key` holds a value.
    async fn exists(&self, key: &str) -> Result<bool, KvError>;
    /// One page of keys after `cursor`.
    async fn list_keys(&self, cursor: Option<String>) -> Result<KeyPage, KvError>;
    /// Add `delta` to the counter at `key` (absent = 0) and return the new value.
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError>;
    /// Write `value` only if `key`'s version is still `expected` (`None`: still absent).
    /// `Ok(false)` when someone else wrote first.
    async fn swap(&self, key: &str, expected: Option<u64>, value: Vec<u8>) -> Result<bool, KvError>;

    /// Values of several keys, in order.
    async fn get_many(&self, keys: Vec<String>) -> Result<Vec<(String, Option<Vec<u8>>)>, KvError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let value = self.get(&key).await?;
            out.push((key, value));
        }
        Ok(out)
    }
    /// Write several entries (not atomically).
    async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        for (key, value) in entries {
            self.set(&key, value).await?;
        }
        Ok(())
    }
    /// Remove several keys (not atomically).
    async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        for key in keys {
            self.delete(&key).await?;
        }
        Ok(())
    }
}

/// What one function's guest may open: logical store name -> table and access, and the backend.
#[derive(Clone)]
pub(crate) struct KeyValueCtx {
    /// Granted stores.
    pub grants: BTreeMap<String, (String, Access)>,
    /// Where the tables live.
    pub backend: Arc<dyn KeyValueBackend>,
}

impl KeyValueCtx {
    /// The stores `grants` names, read-write and read-only, over `backend`.
    pub fn new(grants: &Grants, backend: Arc<dyn KeyValueBackend>) -> Self {
        let grants = grants.all_stores().map(|(name, table, access)| (name.clone(), (table.clone(), access))).collect();
        KeyValueCtx { grants, backend }
    }
}

/// An open store, as the guest's `bucket` resource.
pub struct Bucket {
    table: Arc<dyn KeyValueTable>,
    /// What the grant allows: a write to a read-only store is `access-denied`.
    access: Access,
}

/// A compare-and-swap in progress, as the guest's `cas` resource.
pub struct Cas {
    table: Arc<dyn KeyValueTable>,
    key: String,
    /// The version the swap expects: read when the handle was made, or by the guest's last
    /// `current` (`None`: the key was absent, so the swap inserts only if it still is).
    seen: Option<u64>,
}

/// The guest-facing view of [`KeyValueCtx`] for one call.
pub(crate) struct KeyValueView<'a> {
    /// The function's grants and backend.
    pub ctx: &'a KeyValueCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
    /// The invocation in progress.
    pub call: &'a CallInfo,
}

struct HasKeyValue;

impl HasData for HasKeyValue {
    type Data<'a> = KeyValueView<'a>;
}

/// Link `wasi:keyvalue/{store,atomics,batch}` into `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KeyValueView<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<T, HasKeyValue>(linker, view)?;
    atomics::add_to_linker::<T, HasKeyValue>(linker, view)?;
    batch::add_to_linker(linker, view)?;
    Ok(())
}

/// The counter `increment` writes at `key`: the stored value (`None`: absent, i.e. 0) read as
/// decimal text exactly as `increment` writes it (`42`, `-7`; no spaces), plus `delta`. The one
/// rule every backend applies.
pub fn next_counter(key: &str, stored: Option<&[u8]>, delta: i64) -> Result<i64, KvError> {
    let current = match stored {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .filter(|text| !text.starts_with('+'))
            .and_then(|text| text.parse::<i64>().ok())
            .ok_or_else(|| KvError::Other(format!("value at `{key}` is not a counter (decimal text)")))?,
    };
    current.checked_add(delta).ok_or_else(|| KvError::Other(format!("counter at `{key}` would overflow")))
}

/// Refuse keys and items DynamoDB would refuse, with DynamoDB's wording.
pub(crate) fn check_item(key: &str, value: Option<&[u8]>) -> Result<(), KvError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(KvError::Other(format!(
            "ValidationException: key length {} is outside 1..={MAX_KEY_BYTES} bytes",
            key.len()
        )));
    }
    if let Some(value) = value {
        let size = key.len() + value.len() + ITEM_OVERHEAD;
        if size > MAX_ITEM_BYTES {
            return Err(KvError::Other(format!(
                "ValidationException: item size {size} bytes has exceeded the maximum allowed size of {MAX_ITEM_BYTES}"
            )));
        }
    }
    Ok(())
}
