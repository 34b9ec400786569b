//! Embedded, durable implementation of the storage port ([`reserveplace_domain::store::Table`]):
//! one SQLite file holds every context's table and the transactional outbox.
//!
//! * Durability: WAL with `synchronous = FULL`; a transaction is acknowledged only once durable.
//! * Throughput: one writer thread owns the write connection and group-commits everything queued
//!   (one fsync per group); each caller's transaction runs in its own savepoint.
//! * Reads use a pool of read-only connections and never wait behind the writer's fsync.
//!
//! Outbox consumers should subscribe first, then replay [`Database::undelivered_outbox`], and
//! de-duplicate by `seq`: an entry committed between the two calls is seen twice.

mod checkpoint;
mod logic;
mod prune;
mod queue;
mod reader;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::{Item, Key, Query, StoreError, Table, Write, rules};
use rusqlite::Connection;
use tokio::sync::mpsc;

use crate::checkpoint::{Checkpointer, WalLimits};
use crate::reader::{OutboxFilter, ReaderPool};
use crate::writer::{Request, Subscribers, Writer};

pub use crate::prune::PrunePlan;
pub use crate::queue::{LocalQueue, QueueClock, QueueDepth, QueueMessage, QueueOp, Redrive};

/// Read-only connections: enough to overlap reads with each other; SQLite reads are short.
const READERS: usize = 4;

/// A committed outbox entry. `seq` is strictly increasing in commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub seq: i64,
    pub event: DomainEvent,
}

/// One SQLite file holding every table and the outbox.
pub struct Database {
    path: PathBuf,
    // Fields drop in order: the writer finishes its last group first.
    writer: Writer,
    readers: ReaderPool,
    // Held for its Drop: stops the checkpoint thread after the writer is gone.
    _checkpointer: Checkpointer,
    subscribers: Subscribers,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Busy, locked, I/O and out-of-space failures may pass; a missing table, a corrupt or read-only
/// file and a value that does not convert stay as they are on every retry.
pub(crate) fn sql_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    let permanent = match &e {
        // SQLITE_ERROR (`Unknown`): "no such table", a schema this build does not know.
        rusqlite::Error::SqliteFailure(f, _) => matches!(
            f.code,
            Unknown
                | DatabaseCorrupt
                | NotADatabase
                | ReadOnly
                | CannotOpen
                | PermissionDenied
                | AuthorizationForStatementDenied
        ),
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => true,
        _ => false,
    };
    if permanent {
        StoreError::Misconfigured(format!("sqlite: {e}"))
    } else {
        StoreError::Unavailable(format!("sqlite: {e}"))
    }
}

/// Borrows a TEXT column without copying it (item bodies are parsed straight from SQLite's buffer).
pub(crate) fn text<'r>(row: &'r rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(idx)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl Database {
    /// Opens (creating if needed) the database file and its schema, and starts the writer and
    /// reader threads. Blocking: call it at startup, not on a hot async path.
    pub fn open(path: &Path) -> Result<Arc<Database>, StoreError> {
        Self::open_with(path, WalLimits::default())
    }

    pub(crate) fn open_with(path: &Path, limits: WalLimits) -> Result<Arc<Database>, StoreError> {
        let mut conn = schema::open_writer(path)?;
        let readers = ReaderPool::spawn(path, READERS)?;
        let checkpointer = Checkpointer::spawn(path, limits)?;
        let wal = checkpointer.attach(&mut conn)?;
        let subscribers: Subscribers = Arc::new(Mutex::new(Vec::new()));
        let writer = Writer::spawn(conn, wal, Arc::clone(&subscribers))?;
        Ok(Arc::new(Database {
            path: path.to_owned(),
            writer,
            readers,
            _checkpointer: checkpointer,
            subscribers,
        }))
    }

    /// The file this database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A cheap handle on one table; tables are independent namespaces of the same file.
    pub fn table(self: &Arc<Self>, name: &str) -> Arc<dyn Table> {
        Arc::new(SqliteTable {
            db: Arc::clone(self),
            name: Arc::from(name),
        })
    }

    /// Subscribes to committed outbox entries: delivered in seq order, once per commit, after
    /// the commit is durable. Entries committed before the subscription are not replayed (see
    /// [`Database::undelivered_outbox`]).
    pub fn subscribe_outbox(&self) -> mpsc::UnboundedReceiver<OutboxEntry> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(tx);
        rx
    }

    /// Entries committed but not yet marked delivered (for replay after a restart), seq order.
    pub async fn undelivered_outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.readers
            .run(|c| reader::outbox(c, &OutboxFilter::Undelivered))
            .await
    }

    /// Marks entries delivered (durably, through the writer). Unknown seqs are ignored.
    pub async fn mark_delivered(&self, seqs: Vec<i64>) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        self.writer
            .submit(|reply| Request::MarkDelivered { seqs, reply })
            .await
    }

    /// Applies a change to the queues, durably; a receive answers its messages.
    pub async fn queue(&self, op: QueueOp) -> Result<Vec<QueueMessage>, StoreError> {
        self.writer
            .submit_for(|reply| Request::Queue { op, reply })
            .await
    }

    /// Removes what retention lets go (see [`PrunePlan`]); answers how many rows went.
    pub async fn prune(&self, plan: PrunePlan) -> Result<i64, StoreError> {
        self.writer
            .submit_for(|reply| Request::Prune { plan, reply })
            .await
    }

    /// How much each queue holding messages holds at `now_ms`.
    pub async fn queue_depths(&self, now_ms: i64) -> Result<Vec<QueueDepth>, StoreError> {
        self.readers
            .run(move |c| queue::depths(c, now_ms).map_err(sql_err))
            .await
    }

    /// When the next message of `queue` becomes visible, if it holds any.
    pub async fn queue_next_visible(&self, queue: &str) -> Result<Option<i64>, StoreError> {
        let queue = queue.to_owned();
        self.readers
            .run(move |c| queue::next_visible(c, &queue).map_err(sql_err))
            .await
    }

    /// Every committed event (delivered or not), seq order, optionally only one reservation's
    /// (`detail.reservationId`).
    pub async fn event_log(
        &self,
        reservation_id: Option<&str>,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let filter = match reservation_id {
            Some(id) => OutboxFilter::Reservation(id.to_owned()),
            None => OutboxFilter::All,
        };
        self.readers.run(move |c| reader::outbox(c, &filter)).await
    }
}

struct SqliteTable {
    db: Arc<Database>,
    name: Arc<str>,
}

impl SqliteTable {
    /// Runs `read` on a reader connection, given this table's name.
    async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T, StoreError> + Send + 'static,
    {
        let table = Arc::clone(&self.name);
        self.db.readers.run(move |c| read(c, &table)).await
    }
}

#[async_trait]
impl Table for SqliteTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        rules::validate_key(key)?;
        let key = key.clone();
        self.read(move |c, table| reader::get(c, table, &key)).await
    }

    async fn query(&self, query: &Query) -> Result<Vec<Item>, StoreError> {
        rules::validate_query(query)?;
        let query = query.clone();
        self.read(move |c, table| reader::query(c, table, &query))
            .await
    }

    async fn transact(
        &self,
        writes: Vec<Write>,
        events: Vec<DomainEvent>,
    ) -> Result<(), StoreError> {
        if writes.is_empty() && events.is_empty() {
            return Ok(());
        }
        let txn = logic::prepare(Arc::clone(&self.name), writes, events)?;
        self.db
            .writer
            .submit(|reply| Request::Transact { txn, reply })
            .await
    }

    async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, StoreError> {
        let add = rules::increment_write(key, attr, by);
        let txn = logic::prepare(Arc::clone(&self.name), vec![add], vec![])?;
        let (key, attr) = (key.clone(), attr.to_owned());
        self.db
            .writer
            .submit_for(|reply| Request::Increment {
                txn,
                key,
                attr,
                reply,
            })
            .await
    }
}

#[cfg(test)]
mod tests;
