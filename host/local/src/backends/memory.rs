//! In-memory key-value tables and queues: fast, process-local, gone at exit.
//!
//! Tables and queues must be created before use, as in AWS, so a missing one is an error.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use plugboard_core::capabilities::keyvalue::{
    KeyPage, KeyValueBackend, KeyValueTable, KvError, Versioned, next_counter,
};
use plugboard_core::capabilities::queue::{OutgoingMessage, QueueBackend, QueueError, dedup_key, is_fifo};
use plugboard_core::telemetry::TraceContext;

/// Keys per `list-keys` page, small enough that guests meet pagination in tests.
pub(crate) const PAGE_SIZE: usize = 100;

/// Named in-memory tables.
#[derive(Default)]
pub struct MemoryKeyValue {
    tables: Mutex<HashMap<String, Arc<MemoryTable>>>,
}

impl MemoryKeyValue {
    /// No tables yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Create `name` if it does not exist.
    pub fn create_table(&self, name: &str) {
        self.lock().entry(name.to_string()).or_default();
    }

    /// The table `name`, for inspection in tests.
    pub fn table(&self, name: &str) -> Option<Arc<MemoryTable>> {
        self.lock().get(name).cloned()
    }

    /// Empty every table; the tables stay, and so do their version counters (a version is
    /// never handed out twice, so no compare-and-swap from before matches a later write).
    pub fn clear(&self) {
        for table in self.lock().values() {
            table.lock().entries.clear();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<MemoryTable>>> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl KeyValueBackend for MemoryKeyValue {
    async fn open(&self, table: &str) -> Result<Arc<dyn KeyValueTable>, KvError> {
        match self.table(table) {
            Some(t) => Ok(t),
            None => Err(KvError::NoSuchStore),
        }
    }
}

/// One in-memory table: ordered keys, each value with a version.
#[derive(Default)]
pub struct MemoryTable {
    items: Mutex<Items>,
}

/// A table's entries and the last version it handed out.
#[derive(Default)]
struct Items {
    entries: BTreeMap<String, Versioned>,
    /// Versions come from one counter per table, never per key: a key deleted and written again
    /// gets a version no compare-and-swap has seen (no ABA).
    last_version: u64,
}

impl std::ops::Deref for Items {
    type Target = BTreeMap<String, Versioned>;
    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl std::ops::DerefMut for Items {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.entries
    }
}

impl MemoryTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Items> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every key and value, in key order.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        self.lock().iter().map(|(k, v)| (k.clone(), v.value.clone())).collect()
    }

    /// Write `value` at `key` with a fresh version, as a guest's `set` does.
    pub fn put(&self, key: &str, value: Vec<u8>) {
        Self::write(&mut self.lock(), key, value);
    }

    fn write(items: &mut Items, key: &str, value: Vec<u8>) {
        items.last_version += 1;
        let version = items.last_version;
        items.entries.insert(key.to_string(), Versioned { value, version });
    }
}

#[async_trait]
impl KeyValueTable for MemoryTable {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.lock().get(key).map(|v| v.value.clone()))
    }

    async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, KvError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        Self::write(&mut self.lock(), key, value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.lock().contains_key(key))
    }

    async fn list_keys(&self, cursor: Option<String>) -> Result<KeyPage, KvError> {
        let items = self.lock();
        let range = match &cursor {
            Some(after) => items.range::<String, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => items.range::<String, _>(..),
        };
        let keys: Vec<String> = range.take(PAGE_SIZE + 1).map(|(k, _)| k.clone()).collect();
        if keys.len() > PAGE_SIZE {
            let keys = keys[..PAGE_SIZE].to_vec();
            let cursor = keys.last().cloned();
            Ok(KeyPage { keys, cursor })
        } else {
            Ok(KeyPage { keys, cursor: None })
        }
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut items = self.lock();
        let next = next_counter(key, items.get(key).map(|v| v.value.as_slice()), delta)?;
        Self::write(&mut items, key, next.to_string().into_bytes());
        Ok(next)
    }

    async fn swap(&self, key: &str, expected: Option<u64>, value: Vec<u8>) -> Result<bool, KvError> {
        let mut items = self.lock();
        if items.get(key).map(|v| v.version) != expected {
            return Ok(false);
        }
        Self::write(&mut items, key, value);
        Ok(true)
    }
}

/// A message as the in-memory queue holds it.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// The id returned to the sender.
    pub id: String,
    /// What was sent.
    pub message: OutgoingMessage,
    /// The sender's trace, as SQS would keep it in `AWSTraceHeader`.
    pub trace: Option<TraceContext>,
}

/// How long a FIFO queue remembers deduplication ids, as SQS does.
const DEDUP_WINDOW: Duration = Duration::from_secs(300);

#[derive(Default)]
struct MemoryQueueState {
    messages: Vec<StoredMessage>,
    seen: HashMap<String, (Instant, String)>,
    /// FIFO only: deduplicate by body when a message has no deduplication id.
    content_based_dedup: bool,
}

/// Named in-memory queues that keep what was sent, for tests and `plugboard invoke`.
#[derive(Default)]
pub struct MemoryQueue {
    queues: Mutex<HashMap<String, MemoryQueueState>>,
}

impl MemoryQueue {
    /// No queues yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Create `name` (FIFO when it ends in `.fifo`) if it does not exist, without content-based
    /// deduplication (SQS's default).
    pub fn create_queue(&self, name: &str) {
        self.create_queue_with(name, false);
    }

    /// Create `name` if it does not exist; a FIFO queue with `content_based_dedup` deduplicates a
    /// message without a deduplication id by its body.
    pub fn create_queue_with(&self, name: &str, content_based_dedup: bool) {
        self.lock()
            .entry(name.to_string())
            .or_insert_with(|| MemoryQueueState { content_based_dedup, ..Default::default() });
    }

    /// What `name` holds, oldest first.
    pub fn messages(&self, name: &str) -> Vec<StoredMessage> {
        self.lock().get(name).map(|q| q.messages.clone()).unwrap_or_default()
    }

    /// Empty every queue and forget its deduplication ids; the queues stay.
    pub fn clear(&self) {
        for queue in self.lock().values_mut() {
            queue.messages.clear();
            queue.seen.clear();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MemoryQueueState>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl QueueBackend for MemoryQueue {
    async fn send_batch(
        &self,
        queue: &str,
        messages: Vec<OutgoingMessage>,
        trace: Option<&TraceContext>,
    ) -> Result<Vec<Result<String, QueueError>>, QueueError> {
        let mut queues = self.lock();
        let state = queues.get_mut(queue).ok_or(QueueError::NoSuchQueue)?;
        let fifo = is_fifo(queue);
        let now = Instant::now();
        state.seen.retain(|_, (at, _)| now.duration_since(*at) < DEDUP_WINDOW);
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            let key = match fifo.then(|| dedup_key(&message, state.content_based_dedup)).transpose() {
                Ok(key) => key,
                Err(refused) => {
                    results.push(Err(refused));
                    continue;
                }
            };
            if let Some((_, id)) = key.as_ref().and_then(|k| state.seen.get(k)) {
                // A FIFO duplicate is accepted and answered with the first message's id, as SQS does.
                results.push(Ok(id.clone()));
                continue;
            }
            let id = uuid::Uuid::new_v4().to_string();
            if let Some(key) = key {
                state.seen.insert(key, (now, id.clone()));
            }
            state.messages.push(StoredMessage { id: id.clone(), message, trace: trace.cloned() });
            results.push(Ok(id));
        }
        Ok(results)
    }
}
