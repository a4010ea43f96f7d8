//! Queues in the embedded database, with SQS's delivery rules: visibility timeout, receive
//! count, redrive to a dead-letter queue after the maximum receives, delays, FIFO order per
//! message group and FIFO deduplication within five minutes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use base64::Engine as _;
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::{EmbeddedDb, StateError, now_ms};
use plugboard_core::bindings::plugboard::host::queue::AttributeValue;
use plugboard_core::capabilities::queue::{OutgoingMessage, QueueBackend, QueueError, dedup_key};
use plugboard_core::telemetry::TraceContext;

/// Messages: (queue, sequence) -> JSON [`StoredMessage`].
const MESSAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("queue-messages");
/// FIFO deduplication: (queue, dedup key) -> milliseconds sent and message id.
const DEDUP: TableDefinition<(&str, &str), (u64, &str)> = TableDefinition::new("queue-dedup");
/// The next message sequence number.
const META: TableDefinition<&str, u64> = TableDefinition::new("queue-meta");
/// SQS's FIFO deduplication window.
const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

/// How one queue delivers (from the app manifest).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSettings {
    /// FIFO (`.fifo` name): order per group, deduplication.
    pub fifo: bool,
    /// FIFO only: a message without a deduplication id is deduplicated by its body (else refused).
    pub content_based_dedup: bool,
    /// How long a received message stays hidden before it is delivered again.
    pub visibility_timeout_ms: u64,
    /// Receives after which a message moves to `dead_letter` instead of being delivered.
    pub max_receives: Option<u32>,
    /// The dead-letter queue.
    pub dead_letter: Option<String>,
}

/// A message at rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMessage {
    /// The SQS message id.
    pub id: String,
    /// The body.
    pub body: String,
    /// Attributes in the SQS event's `messageAttributes` form.
    pub attributes: BTreeMap<String, Value>,
    /// FIFO message group.
    pub group_id: Option<String>,
    /// FIFO deduplication id.
    pub dedup_id: Option<String>,
    /// When it was sent (ms since the epoch).
    pub sent_ms: u64,
    /// Hidden until then (delay or visibility timeout).
    pub visible_ms: u64,
    /// How many times it was received.
    pub receive_count: u32,
    /// When it was first received.
    pub first_receive_ms: Option<u64>,
    /// The sender's trace (X-Ray header form), delivered as the `AWSTraceHeader` attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// A received message and the handle that deletes it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Deletes exactly this delivery.
    pub receipt: String,
    /// The message, with its receive count already counting this delivery.
    pub message: StoredMessage,
}

/// A queue's depth.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueStats {
    /// The queue.
    pub name: String,
    /// Ready to be received.
    pub visible: u64,
    /// Received and not yet deleted.
    pub in_flight: u64,
    /// Sent with a delay not yet over.
    pub delayed: u64,
    /// Receives that found nothing to deliver since start (SQS's `NumberOfEmptyReceives`): a
    /// poller that spins shows here.
    pub empty_receives: u64,
}

/// The app's queues in the embedded database.
pub struct EmbeddedQueues {
    db: Arc<EmbeddedDb>,
    settings: HashMap<String, QueueSettings>,
    wakers: HashMap<String, Arc<Notify>>,
    empty_receives: HashMap<String, AtomicU64>,
}

/// Which ready messages may be delivered, in queue order: on a FIFO queue, a group with a
/// message in flight (or delayed) delivers nothing after it. One rule for `has_visible` and
/// `receive`, so a poller never sees work that a receive would not hand out.
struct Deliverable {
    fifo: bool,
    now: u64,
    blocked: HashSet<String>,
}

impl Deliverable {
    fn new(fifo: bool) -> Self {
        Deliverable { fifo, now: now_ms(), blocked: HashSet::new() }
    }

    /// Whether `message`, the next in queue order, may be delivered now.
    fn admits(&mut self, message: &StoredMessage) -> bool {
        let group = message.group_id.as_deref().unwrap_or_default();
        if message.visible_ms > self.now {
            if self.fifo {
                self.blocked.insert(group.to_string());
            }
            return false;
        }
        !(self.fifo && self.blocked.contains(group))
    }
}

fn other(e: impl std::fmt::Display) -> QueueError {
    QueueError::Other(format!("embedded queue: {e}"))
}

/// A message's record (strings, numbers and JSON attribute values: it always serialises).
fn encode(message: &StoredMessage) -> Vec<u8> {
    serde_json::to_vec(message).unwrap_or_default()
}

/// A stored message, or `None` when its record does not parse: a corrupt record is skipped,
/// logged with why, rather than blocking its queue or failing every receive.
fn decode(bytes: &[u8]) -> Option<StoredMessage> {
    match serde_json::from_slice(bytes) {
        Ok(message) => Some(message),
        Err(e) => {
            tracing::error!(error = %e, record_bytes = bytes.len(), "embedded queue: a stored message is corrupt; skipping it");
            None
        }
    }
}

fn next_seq(txn: &WriteTransaction) -> Result<u64, redb::Error> {
    let mut meta = txn.open_table(META)?;
    let next = meta.get("seq")?.map_or(0, |v| v.value()) + 1;
    meta.insert("seq", next)?;
    Ok(next)
}

/// A message attribute in the SQS event's `messageAttributes` form.
pub(crate) fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::Text(s) => json!({ "stringValue": s, "dataType": "String" }),
        AttributeValue::Number(s) => json!({ "stringValue": s, "dataType": "Number" }),
        AttributeValue::Binary(b) => {
            json!({ "binaryValue": base64::engine::general_purpose::STANDARD.encode(b), "dataType": "Binary" })
        }
    }
}

impl EmbeddedQueues {
    /// The queues named in `settings`, stored in `db`.
    pub fn new(db: Arc<EmbeddedDb>, settings: HashMap<String, QueueSettings>) -> Self {
        let wakers = settings.keys().map(|name| (name.clone(), Arc::new(Notify::new()))).collect();
        let empty_receives = settings.keys().map(|name| (name.clone(), AtomicU64::new(0))).collect();
        EmbeddedQueues { db, settings, wakers, empty_receives }
    }

    /// Wakes `queue`'s workers when a message arrives.
    pub(crate) fn waker(&self, queue: &str) -> Option<Arc<Notify>> {
        self.wakers.get(queue).cloned()
    }

    /// Whether `queue` has a message a receive would deliver (a cheap read, so idle workers do
    /// not write).
    pub fn has_visible(&self, queue: &str) -> bool {
        let fifo = self.settings.get(queue).is_some_and(|s| s.fifo);
        let mut deliverable = Deliverable::new(fifo);
        self.scan(queue, |m| deliverable.admits(m)).unwrap_or_else(|e| {
            tracing::warn!(queue, error = %e, "embedded queue: cannot read the queue; treating it as empty");
            false
        })
    }

    fn scan(&self, queue: &str, mut stop: impl FnMut(&StoredMessage) -> bool) -> Result<bool, StateError> {
        let read = self.db.read()?;
        let Ok(table) = read.open_table(MESSAGES) else { return Ok(false) };
        for entry in table.range((queue, 0)..=(queue, u64::MAX))? {
            let (_, value) = entry?;
            if decode(value.value()).is_some_and(|m| stop(&m)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Receive up to `max` messages from `queue`, hiding them for its visibility timeout;
    /// messages past the maximum receives move to the dead-letter queue instead.
    pub async fn receive(&self, queue: &str, max: usize) -> Result<Vec<Received>, QueueError> {
        let settings = self.settings.get(queue).ok_or(QueueError::NoSuchQueue)?.clone();
        let name = queue.to_string();
        let moved_to = settings.dead_letter.clone();
        let (received, moved) =
            self.db.write_lazy(move |txn| receive_in(txn, &name, &settings, max)).await.map_err(other)?;
        if !received.is_empty() || moved > 0 {
            // Durable before delivery: a receive count lost with the process would let a message
            // that kills it come back forever with the same count, never reaching the dead-letter
            // queue. (An empty receive changed nothing and costs no fsync.)
            self.flush().await?;
        } else if let Some(count) = self.empty_receives.get(queue) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        if moved > 0 {
            tracing::warn!(queue, dead_letter = ?moved_to, count = moved, "messages moved to the dead-letter queue after the maximum receives");
        }
        Ok(received)
    }

    /// Make every change so far durable (lazy receives and deletes included).
    pub async fn flush(&self) -> Result<(), QueueError> {
        self.db.write(|_| Ok(())).await.map_err(other)
    }

    /// Delete delivered messages by receipt (after the worker succeeded with them).
    pub async fn delete(&self, queue: &str, receipts: Vec<String>) -> Result<(), QueueError> {
        let name = queue.to_string();
        // A lost delete only means the message is delivered again (at-least-once).
        self.db
            .write_lazy(move |txn| {
                let mut table = txn.open_table(MESSAGES)?;
                for receipt in &receipts {
                    let Some((seq, count)) = receipt.split_once(':') else { continue };
                    let (Ok(seq), Ok(count)) = (seq.parse::<u64>(), count.parse::<u32>()) else { continue };
                    // Only this delivery: a message already re-delivered has a newer receipt.
                    let current = table.get((name.as_str(), seq))?.and_then(|v| decode(v.value()));
                    if current.is_some_and(|m| m.receive_count == count) {
                        table.remove((name.as_str(), seq))?;
                    }
                }
                Ok(())
            })
            .await
            .map_err(other)
    }

    /// Depths of every queue, by name.
    pub fn stats(&self) -> Vec<QueueStats> {
        let now = now_ms();
        let mut names: Vec<&String> = self.settings.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let empty_receives = self.empty_receives.get(name).map_or(0, |c| c.load(Ordering::Relaxed));
                let mut stats = QueueStats { name: name.clone(), visible: 0, in_flight: 0, delayed: 0, empty_receives };
                let counted = self.scan(name, |m| {
                    match (m.visible_ms <= now, m.receive_count > 0) {
                        (true, _) => stats.visible += 1,
                        (false, true) => stats.in_flight += 1,
                        (false, false) => stats.delayed += 1,
                    }
                    false
                });
                if let Err(e) = counted {
                    tracing::warn!(queue = %name, error = %e, "embedded queue: cannot count the queue's messages");
                }
                stats
            })
            .collect()
    }

    /// The first `limit` messages of `queue`, without receiving them.
    pub fn peek(&self, queue: &str, limit: usize) -> Result<Vec<StoredMessage>, QueueError> {
        if !self.settings.contains_key(queue) {
            return Err(QueueError::NoSuchQueue);
        }
        let mut out = Vec::new();
        self.scan(queue, |m| {
            out.push(m.clone());
            out.len() >= limit
        })
        .map_err(other)?;
        Ok(out)
    }

    /// Move every message of dead-letter queue `dlq` back to the queue that sends to it;
    /// returns that queue and how many moved.
    pub async fn redrive(&self, dlq: &str) -> Result<(String, usize), QueueError> {
        let source = self
            .settings
            .iter()
            .find(|(_, s)| s.dead_letter.as_deref() == Some(dlq))
            .map(|(name, _)| name.clone())
            .ok_or_else(|| QueueError::Other(format!("no queue uses `{dlq}` as its dead-letter queue")))?;
        let (from, to) = (dlq.to_string(), source.clone());
        let moved = self.db.write(move |txn| move_all(txn, &from, &to)).await.map_err(other)?;
        if let Some(waker) = self.waker(&source) {
            waker.notify_waiters();
        }
        Ok((source, moved))
    }
}

/// Move `message` (at `seq` in `from`) to the end of `to`, as new.
fn move_message(
    txn: &WriteTransaction,
    from: &str,
    seq: u64,
    mut message: StoredMessage,
    to: &str,
) -> Result<(), redb::Error> {
    let mut table = txn.open_table(MESSAGES)?;
    table.remove((from, seq))?;
    message.receive_count = 0;
    message.first_receive_ms = None;
    message.visible_ms = now_ms();
    let next = next_seq(txn)?;
    table.insert((to, next), encode(&message).as_slice())?;
    Ok(())
}

fn move_all(txn: &WriteTransaction, from: &str, to: &str) -> Result<usize, redb::Error> {
    let all: Vec<(u64, StoredMessage)> = {
        let table = txn.open_table(MESSAGES)?;
        let range = table.range((from, 0)..=(from, u64::MAX))?;
        let mut all = Vec::new();
        for entry in range {
            let (k, v) = entry?;
            all.extend(decode(v.value()).map(|message| (k.value().1, message)));
        }
        all
    };
    for (seq, message) in &all {
        move_message(txn, from, *seq, message.clone(), to)?;
    }
    Ok(all.len())
}

fn receive_in(
    txn: &WriteTransaction,
    queue: &str,
    settings: &QueueSettings,
    max: usize,
) -> Result<(Vec<Received>, usize), redb::Error> {
    let mut deliverable = Deliverable::new(settings.fifo);
    let now = deliverable.now;
    let mut candidates = Vec::new();
    {
        let table = txn.open_table(MESSAGES)?;
        for entry in table.range((queue, 0)..=(queue, u64::MAX))? {
            let (key, value) = entry?;
            let Some(message) = decode(value.value()) else { continue };
            if !deliverable.admits(&message) {
                continue;
            }
            candidates.push((key.value().1, message));
            if candidates.len() >= max {
                break;
            }
        }
    }
    let (mut received, mut moved) = (Vec::new(), 0);
    for (seq, mut message) in candidates {
        if let (Some(limit), Some(dlq)) = (settings.max_receives, &settings.dead_letter)
            && message.receive_count >= limit
        {
            move_message(txn, queue, seq, message, dlq)?;
            moved += 1;
            continue;
        }
        message.receive_count += 1;
        message.first_receive_ms.get_or_insert(now);
        message.visible_ms = now + settings.visibility_timeout_ms;
        txn.open_table(MESSAGES)?.insert((queue, seq), encode(&message).as_slice())?;
        received.push(Received { receipt: format!("{seq}:{}", message.receive_count), message });
    }
    Ok((received, moved))
}

#[async_trait]
impl QueueBackend for EmbeddedQueues {
    async fn send_batch(
        &self,
        queue: &str,
        messages: Vec<OutgoingMessage>,
        trace: Option<&TraceContext>,
    ) -> Result<Vec<Result<String, QueueError>>, QueueError> {
        let settings = self.settings.get(queue).ok_or(QueueError::NoSuchQueue)?;
        let trace = trace.map(TraceContext::xray_header);
        let (fifo, content_based, name) = (settings.fifo, settings.content_based_dedup, queue.to_string());
        let ids = self
            .db
            .write(move |txn| {
                let now = now_ms();
                let mut ids = Vec::with_capacity(messages.len());
                let mut dedup = txn.open_table(DEDUP)?;
                for message in messages {
                    let key = match fifo.then(|| dedup_key(&message, content_based)).transpose() {
                        Ok(key) => key,
                        Err(refused) => {
                            ids.push(Err(refused));
                            continue;
                        }
                    };
                    if let Some(key) = &key {
                        let seen =
                            dedup.get((name.as_str(), key.as_str()))?.map(|v| (v.value().0, v.value().1.to_string()));
                        if let Some((_, id)) = seen.filter(|(at, _)| now.saturating_sub(*at) < DEDUP_WINDOW_MS) {
                            // A duplicate is accepted with the first message's id, as SQS does.
                            ids.push(Ok(id));
                            continue;
                        }
                    }
                    let id = uuid::Uuid::new_v4().to_string();
                    if let Some(key) = &key {
                        dedup.insert((name.as_str(), key.as_str()), (now, id.as_str()))?;
                    }
                    let stored = StoredMessage {
                        id: id.clone(),
                        attributes: message.attributes.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect(),
                        body: message.body,
                        group_id: message.group_id,
                        dedup_id: key,
                        sent_ms: now,
                        visible_ms: now + u64::from(message.delay_seconds.unwrap_or(0)) * 1000,
                        receive_count: 0,
                        first_receive_ms: None,
                        trace: trace.clone(),
                    };
                    let seq = next_seq(txn)?;
                    txn.open_table(MESSAGES)?.insert((name.as_str(), seq), encode(&stored).as_slice())?;
                    ids.push(Ok(id));
                }
                Ok(ids)
            })
            .await
            .map_err(other)?;
        if let Some(waker) = self.waker(queue) {
            waker.notify_waiters();
        }
        Ok(ids)
    }
}
