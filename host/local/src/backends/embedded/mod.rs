//! Durable local backends for `plugboard dev`: key-value tables and queues in one embedded
//! `redb` database under the app's state directory.
//!
//! Every write goes through one writer thread that commits whatever is waiting in a single
//! transaction (group commit): each caller is answered only after its commit is on disk, and
//! many concurrent writers share one fsync. Queue bookkeeping that a crash may lose without
//! losing a message (a receive, a delete: the message is just delivered again, as SQS is
//! at-least-once) is committed without its own fsync and made durable by the next write.

mod delivery;
mod keyvalue;
mod queue;

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};

pub use delivery::sqs_event;
pub use keyvalue::EmbeddedKeyValue;
pub(crate) use queue::attribute_json;
pub use queue::{EmbeddedQueues, QueueSettings, QueueStats, Received, StoredMessage};

/// Largest number of waiting writes committed together.
const MAX_GROUP: usize = 1024;

/// What the writer calls after the commit: with `Ok` once durable, or the failure.
type Done = Box<dyn FnOnce(Result<(), StateError>) + Send>;
/// One write: runs inside the shared transaction and returns its completion.
type Work = Box<dyn FnOnce(&WriteTransaction) -> Done + Send>;

/// A write and whether its caller must hear only after it is on disk.
struct Job {
    work: Work,
    durable: bool,
}

/// The database and its writer thread; shared by the key-value and queue backends. Dropping
/// the last handle stops the writer and waits for it, so the file is closed (its lock
/// released) when the drop returns: the next process may open it at once.
pub struct EmbeddedDb {
    db: Arc<Database>,
    writer: mpsc::Sender<Job>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
}

/// Why the state could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("state database {path}: {cause}")]
pub struct OpenError {
    /// The database file.
    pub path: String,
    /// What went wrong (e.g. another `plugboard dev` holds it).
    #[source]
    pub cause: Box<dyn std::error::Error + Send + Sync>,
}

/// Why a read or write of the open state failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    /// The writer did not run this write: its thread is gone (it panicked), or it could not
    /// begin a transaction for the group (that cause is logged by the writer).
    #[error("the state writer could not run this write")]
    WriterStopped,
    /// The database refused the read, the write or its commit (one commit's failure is told to
    /// every write in its group, hence shared).
    #[error(transparent)]
    Database(Arc<redb::Error>),
}

impl<E: Into<redb::Error>> From<E> for StateError {
    fn from(e: E) -> StateError {
        StateError::Database(Arc::new(e.into()))
    }
}

impl EmbeddedDb {
    /// Open (or create) `dir/state.redb`, emptying it first when `reset`.
    pub fn open(dir: &Path, reset: bool) -> Result<Arc<EmbeddedDb>, OpenError> {
        let path = dir.join("state.redb");
        let error =
            |cause: Box<dyn std::error::Error + Send + Sync>| OpenError { path: path.display().to_string(), cause };
        std::fs::create_dir_all(dir).map_err(|e| error(e.into()))?;
        if reset && path.exists() {
            std::fs::remove_file(&path).map_err(|e| error(e.into()))?;
        }
        let db = Arc::new(Database::create(&path).map_err(|e| error(e.into()))?);
        let (writer, jobs) = mpsc::channel::<Job>();
        let for_writer = db.clone();
        let writer_thread = std::thread::Builder::new()
            .name("plugboard-state-writer".into())
            .spawn(move || write_loop(&for_writer, &jobs))
            .map_err(|e| error(e.into()))?;
        Ok(Arc::new(EmbeddedDb { db, writer, writer_thread: Some(writer_thread) }))
    }

    /// Run `work` in the next group transaction; resolves once it is committed to disk.
    pub async fn write<R: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTransaction) -> Result<R, redb::Error> + Send + 'static,
    ) -> Result<R, StateError> {
        self.submit(work, true).await
    }

    /// Like [`EmbeddedDb::write`], for changes a crash may lose (made durable by the next
    /// durable write): resolves once committed, without waiting for an fsync of its own.
    pub(crate) async fn write_lazy<R: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTransaction) -> Result<R, redb::Error> + Send + 'static,
    ) -> Result<R, StateError> {
        self.submit(work, false).await
    }

    async fn submit<R: Send + 'static>(
        &self,
        work: impl FnOnce(&WriteTransaction) -> Result<R, redb::Error> + Send + 'static,
        durable: bool,
    ) -> Result<R, StateError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let work: Work = Box::new(move |txn| {
            let result = work(txn).map_err(StateError::from);
            Box::new(move |committed: Result<(), StateError>| {
                let _ = tx.send(committed.and(result));
            })
        });
        self.writer.send(Job { work, durable }).map_err(|_| StateError::WriterStopped)?;
        rx.await.map_err(|_| StateError::WriterStopped)?
    }

    /// A consistent snapshot for reads (never blocks writers).
    pub fn read(&self) -> Result<ReadTransaction, StateError> {
        Ok(self.db.begin_read()?)
    }
}

impl Drop for EmbeddedDb {
    fn drop(&mut self) {
        // Closing the channel ends the write loop once what is queued is committed.
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.writer, closed));
        if let Some(thread) = self.writer_thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// Commit waiting writes in groups until every sender is gone.
fn write_loop(db: &Database, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(e) => {
                // Run nothing: every caller hears `WriterStopped`; the cause is logged here.
                tracing::error!(error = %e, "state database: cannot begin a write");
                drop(group);
                continue;
            }
        };
        if !group.iter().any(|job| job.durable) {
            // Nobody waits for the disk: skip the fsync; the next durable commit covers it.
            let _ = txn.set_durability(redb::Durability::None);
        }
        let done: Vec<Done> = group.into_iter().map(|job| (job.work)(&txn)).collect();
        let committed = txn.commit().map_err(StateError::from);
        if let Err(e) = &committed {
            tracing::error!(error = %e, "state database: commit failed");
        }
        for done in done {
            done(committed.clone());
        }
    }
}

/// Milliseconds since the Unix epoch (message timestamps, visibility).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A restarted `plugboard dev` (or a test reading the state after it) opens the file
    /// right after the previous handle went away; the writer thread must not still hold it.
    #[tokio::test]
    async fn a_dropped_database_can_be_opened_again_at_once() {
        let dir = std::env::temp_dir().join(format!("plugboard-reopen-{}", std::process::id()));
        for round in 0..200 {
            let db = EmbeddedDb::open(&dir, round == 0).unwrap_or_else(|e| panic!("round {round}: {e}"));
            db.write(|_| Ok(())).await.unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A second opener hears redb's own reason, as a typed cause, not a string.
    #[test]
    fn a_database_held_elsewhere_is_refused_with_its_cause() {
        let dir = std::env::temp_dir().join(format!("plugboard-held-{}", std::process::id()));
        let _held = EmbeddedDb::open(&dir, true).unwrap();
        let refused = EmbeddedDb::open(&dir, false).err().expect("a second open must be refused");
        assert!(matches!(refused.cause.downcast_ref(), Some(redb::DatabaseError::DatabaseAlreadyOpen)), "{refused:?}");
        assert!(refused.to_string().contains("state.redb"), "{refused}");
        drop(_held);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
