//! Key-value tables in the embedded database: one redb table per logical table, each value
//! stored after an 8-byte version taken from one database-wide counter (so a deleted and
//! re-created key never repeats a version a compare-and-swap saw).

use std::sync::Arc;

use async_trait::async_trait;
use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{EmbeddedDb, StateError};
use plugboard_core::capabilities::keyvalue::{
    KeyPage, KeyValueBackend, KeyValueTable, KvError, Versioned, next_counter,
};

/// The tables that exist (name -> nothing).
const TABLES: TableDefinition<&str, ()> = TableDefinition::new("kv-tables");
/// Database-wide counters (`version`).
const META: TableDefinition<&str, u64> = TableDefinition::new("kv-meta");
/// Keys per `list-keys` page by default, about what one DynamoDB page holds of small items.
const PAGE: usize = 1000;

/// Key-value tables stored durably on this machine.
#[derive(Clone)]
pub struct EmbeddedKeyValue {
    db: Arc<EmbeddedDb>,
    page: usize,
    /// The tables known to exist, so `open` on the request path reads no database.
    known: Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
}

impl EmbeddedKeyValue {
    /// Tables in `db`.
    pub fn new(db: Arc<EmbeddedDb>) -> Self {
        EmbeddedKeyValue { db, page: PAGE, known: Default::default() }
    }

    /// The same, listing `page` keys per `list-keys` page (at least 1).
    pub fn with_page_size(self, page: usize) -> Self {
        EmbeddedKeyValue { page: page.max(1), ..self }
    }

    /// Create `table` if it does not exist (the app's granted tables, at start).
    pub async fn create_table(&self, table: &str) -> Result<(), StateError> {
        let (name, stored) = (table.to_string(), data_name(table));
        self.db
            .write(move |txn| {
                txn.open_table(TABLES)?.insert(name.as_str(), ())?;
                txn.open_table(data(&stored))?;
                Ok(())
            })
            .await?;
        self.known.write().unwrap_or_else(|e| e.into_inner()).insert(table.to_string());
        Ok(())
    }
}

/// The redb table holding logical table `table` (prefixed, apart from the bookkeeping tables).
fn data_name(table: &str) -> String {
    format!("kv/{table}")
}

fn data(table: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(table)
}

/// The version stored in front of a value, and the value.
fn split(stored: &[u8]) -> (u64, &[u8]) {
    let (version, value) = stored.split_at(8.min(stored.len()));
    (u64::from_le_bytes(version.try_into().unwrap_or_default()), value)
}

fn next_version(txn: &WriteTransaction) -> Result<u64, redb::Error> {
    let mut meta = txn.open_table(META)?;
    let next = meta.get("version")?.map_or(0, |v| v.value()) + 1;
    meta.insert("version", next)?;
    Ok(next)
}

fn put(txn: &WriteTransaction, table: &str, key: &str, value: &[u8]) -> Result<(), redb::Error> {
    let mut stored = next_version(txn)?.to_le_bytes().to_vec();
    stored.extend_from_slice(value);
    txn.open_table(data(table))?.insert(key, stored.as_slice())?;
    Ok(())
}

fn other(e: impl std::fmt::Display) -> KvError {
    KvError::Other(format!("embedded store: {e}"))
}

#[async_trait]
impl KeyValueBackend for EmbeddedKeyValue {
    async fn open(&self, table: &str) -> Result<Arc<dyn KeyValueTable>, KvError> {
        let cached = self.known.read().unwrap_or_else(|e| e.into_inner()).contains(table);
        let exists = cached || {
            let read = self.db.read().map_err(other)?;
            read.open_table(TABLES).ok().and_then(|t| t.get(table).ok().flatten()).is_some()
        };
        if !exists {
            return Err(KvError::NoSuchStore);
        }
        Ok(Arc::new(EmbeddedTable { db: self.db.clone(), name: data_name(table), page: self.page }))
    }
}

/// One open table.
struct EmbeddedTable {
    db: Arc<EmbeddedDb>,
    /// The redb table's name.
    name: String,
    page: usize,
}

impl EmbeddedTable {
    fn read_stored(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let read = self.db.read().map_err(other)?;
        let table = read.open_table(data(&self.name)).map_err(other)?;
        Ok(table.get(key).map_err(other)?.map(|v| v.value().to_vec()))
    }

    async fn write<R: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTransaction, &str) -> Result<R, redb::Error> + Send + 'static,
    ) -> Result<R, KvError> {
        let name = self.name.clone();
        self.db.write(move |txn| work(txn, &name)).await.map_err(other)
    }
}

#[async_trait]
impl KeyValueTable for EmbeddedTable {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.read_stored(key)?.map(|s| split(&s).1.to_vec()))
    }

    async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, KvError> {
        Ok(self.read_stored(key)?.map(|s| {
            let (version, value) = split(&s);
            Versioned { value: value.to_vec(), version }
        }))
    }

    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        let key = key.to_string();
        self.write(move |txn, table| put(txn, table, &key, &value)).await
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        let key = key.to_string();
        self.write(move |txn, table| {
            txn.open_table(data(table))?.remove(key.as_str())?;
            Ok(())
        })
        .await
    }

    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.read_stored(key)?.is_some())
    }

    async fn list_keys(&self, cursor: Option<String>) -> Result<KeyPage, KvError> {
        let read = self.db.read().map_err(other)?;
        let table = read.open_table(data(&self.name)).map_err(other)?;
        let range = match &cursor {
            Some(after) => table.range::<&str>((std::ops::Bound::Excluded(after.as_str()), std::ops::Bound::Unbounded)),
            None => table.range::<&str>(..),
        };
        let mut keys = Vec::new();
        for entry in range.map_err(other)? {
            let (key, _) = entry.map_err(other)?;
            keys.push(key.value().to_string());
            if keys.len() == self.page {
                break;
            }
        }
        let cursor = (keys.len() == self.page).then(|| keys[self.page - 1].clone());
        Ok(KeyPage { keys, cursor })
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let key = key.to_string();

        self.write(move |txn, table| {
            let current = txn.open_table(data(table))?.get(key.as_str())?.map(|v| split(v.value()).1.to_vec());
            let next = match next_counter(&key, current.as_deref(), delta) {
                Ok(next) => next,
                Err(e) => return Ok(Err(e)),
            };
            put(txn, table, &key, next.to_string().as_bytes())?;
            Ok(Ok(next))
        })
        .await?
    }

    async fn swap(&self, key: &str, expected: Option<u64>, value: Vec<u8>) -> Result<bool, KvError> {
        let key = key.to_string();
        self.write(move |txn, table| {
            let current = txn.open_table(data(table))?.get(key.as_str())?.map(|v| split(v.value()).0);
            if current != expected {
                return Ok(false);
            }
            put(txn, table, &key, &value)?;
            Ok(true)
        })
        .await
    }

    async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        self.write(move |txn, table| entries.iter().try_for_each(|(k, v)| put(txn, table, k, v))).await
    }

    async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        self.write(move |txn, table| {
            let mut data = txn.open_table(data(table))?;
            for key in &keys {
                data.remove(key.as_str())?;
            }
            Ok(())
        })
        .await
    }
}
