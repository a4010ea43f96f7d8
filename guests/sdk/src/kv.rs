//! JSON over `wasi:keyvalue`: the helpers every stateful guest would otherwise repeat.

use serde::{Serialize, de::DeserializeOwned};

use crate::store::{Bucket, Error};

/// Why a JSON key-value operation failed.
#[derive(Debug)]
pub enum KvError {
    /// The store refused or failed.
    Store(Error),
    /// The stored bytes are not the JSON the caller expects.
    Json(serde_json::Error),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::Store(e) => write!(f, "key-value: {e:?}"),
            KvError::Json(e) => write!(f, "key-value JSON: {e}"),
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
