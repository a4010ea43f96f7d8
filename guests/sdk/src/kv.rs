//! JSON over `wasi:keyvalue`: the helpers every stateful guest would otherwise repeat.

use serde::{Serialize, de::DeserializeOwned};

use crate::atomics::{self, Cas, CasError};
use crate::store::{Bucket, Error};

/// Why a JSON key-value operation failed.
#[derive(Debug)]
pub enum KvError {
    /// The store refused or failed.
    Store(Error),
    /// The stored bytes are not the JSON the caller expects.
    Json(serde_json::Error),
    /// Other writers kept changing the key; [`update_json`] gave up.
    Contended,
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::Store(e) => write!(f, "key-value: {e:?}"),
            KvError::Json(e) => write!(f, "key-value JSON: {e}"),
            KvError::Contended => write!(f, "key-value: too many concurrent writers"),
        }
    }
}

impl From<Error> for KvError {
    fn from(e: Error) -> Self {
        KvError::Store(e)
    }
}

impl From<serde_json::Error> for KvError {
    fn from(e: serde_json::Error) -> Self {
        KvError::Json(e)
    }
}

/// Read `key` as JSON; `None` when absent.
pub fn get_json<T: DeserializeOwned>(bucket: &Bucket, key: &str) -> Result<Option<T>, KvError> {
    match bucket.get(key)? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Write `value` as JSON under `key`.
pub fn set_json<T: Serialize>(bucket: &Bucket, key: &str, value: &T) -> Result<(), KvError> {
    Ok(bucket.set(key, &serde_json::to_vec(value)?)?)
}

/// How many times [`update_json`] retries when another writer got in between.
const CAS_ATTEMPTS: usize = 16;

/// Write `value` under `key` only if the key is absent (compare-and-swap): `true` if written,
/// `false` if a value was already there — so two racing creates give one winner.
pub fn create_json<T: Serialize>(bucket: &Bucket, key: &str, value: &T) -> Result<bool, KvError> {
    let cas = Cas::new(bucket, key)?;
    if cas.current()?.is_some() {
        return Ok(false);
    }
    match atomics::swap(cas, &serde_json::to_vec(value)?) {
        Ok(()) => Ok(true),
        Err(CasError::CasFailed(_)) => Ok(false),
        Err(CasError::StoreError(e)) => Err(e.into()),
    }
}

/// Read-modify-write `key` atomically: `change` gets the current value (or `None`) and returns
/// the new one (`None`: leave it). Retried on a concurrent write; the value written.
pub fn update_json<T, F>(bucket: &Bucket, key: &str, mut change: F) -> Result<Option<T>, KvError>
where
    T: Serialize + DeserializeOwned,
    F: FnMut(Option<T>) -> Option<T>,
{
    for _ in 0..CAS_ATTEMPTS {
        let cas = Cas::new(bucket, key)?;
        let current = match cas.current()? {
            Some(bytes) => Some(serde_json::from_slice(&bytes)?),
            None => None,
        };
        let Some(next) = change(current) else { return Ok(None) };
        match atomics::swap(cas, &serde_json::to_vec(&next)?) {
            Ok(()) => return Ok(Some(next)),
            Err(CasError::CasFailed(_)) => continue,
            Err(CasError::StoreError(e)) => return Err(e.into()),
        }
    }
    Err(KvError::Contended)
}
