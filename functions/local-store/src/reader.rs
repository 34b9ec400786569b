//! A small pool of read-only connections on dedicated threads. In WAL mode readers never wait
//! for the writer's fsync, and every read statement starts a fresh snapshot, so a read issued
//! after a write was acknowledged sees it.

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::{Item, Key, Query, StoreError, rules};
use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use crate::{OutboxEntry, schema, sql_err, text};

type Job = Box<dyn FnOnce(&Connection) + Send>;

pub(crate) struct ReaderPool {
    jobs: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl ReaderPool {
    pub fn spawn(path: &Path, size: usize) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>();
        // std's receiver is single-consumer; the mutex is only held while waiting for a job.
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(size);
        for i in 0..size {
            // Open here so a failure surfaces from `Database::open`.
            let conn = schema::open_reader(path)?;
            let rx = Arc::clone(&rx);
            let handle = std::thread::Builder::new()
                .name(format!("store-reader-{i}"))
                .spawn(move || {
                    loop {
                        let job = {
                            let guard = rx.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                            guard.recv()
                        };
                        match job {
                            Ok(job) => job(&conn),
                            Err(_) => break, // pool dropped
                        }
                    }
                })
                .map_err(|e| StoreError::Unavailable(format!("cannot spawn reader thread: {e}")))?;
            threads.push(handle);
        }
        Ok(Self {
            jobs: Some(tx),
            threads,
        })
    }

    /// Runs `f` on a reader connection.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have gone away; nothing to do then.
            let _ = reply.send(f(conn));
        });
        let closed = || StoreError::Unavailable("store readers stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(closed)?
            .send(job)
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

impl Drop for ReaderPool {
    fn drop(&mut self) {
        self.jobs = None; // readers exit once the queue is closed
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn parse_item(body: &str) -> Result<Item, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Misconfigured(format!("corrupt item: {e}")))
}

fn parse_entry(seq: i64, body: &str) -> Result<OutboxEntry, StoreError> {
    let event: DomainEvent = serde_json::from_str(body)
        .map_err(|e| StoreError::Misconfigured(format!("corrupt outbox entry {seq}: {e}")))?;
    Ok(OutboxEntry { seq, event })
}

pub(crate) fn get(conn: &Connection, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT body FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")
        .map_err(sql_err)?;
    let mut rows = stmt
        .query(params![table, key.pk, key.sk])
        .map_err(sql_err)?;
    match rows.next().map_err(sql_err)? {
        Some(row) => parse_item(text(row, 0).map_err(sql_err)?).map(Some),
        None => Ok(None),
    }
}

/// SQL for one query shape. Every shape is a range scan of the primary key or of `items_gsi1`
/// in index order (no sort step); the tie-break on (pk, sk) follows the index's implicit suffix.
pub(crate) fn query_sql(index: bool, bounded: bool, descending: bool) -> String {
    let (p, s) = if index {
        ("gsi1pk", "gsi1sk")
    } else {
        ("pk", "sk")
    };
    let dir = if descending { "DESC" } else { "ASC" };
    let upper = if bounded {
        format!(" AND {s} < ?5")
    } else {
        String::new()
    };
    let tie = if index {
        format!(", pk {dir}, sk {dir}")
    } else {
        String::new()
    };
    format!(
        "SELECT body FROM items WHERE tbl = ?1 AND {p} = ?2 AND {s} >= ?3{upper} \
         ORDER BY {s} {dir}{tie} LIMIT ?4"
    )
}

pub(crate) fn query(conn: &Connection, table: &str, q: &Query) -> Result<Vec<Item>, StoreError> {
    let (prefix, upper) = rules::sort_key_range(q);
    let limit = q.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let mut stmt = conn
        .prepare_cached(&query_sql(q.index, upper.is_some(), q.descending))
        .map_err(sql_err)?;
    let mut rows = match &upper {
        Some(u) => stmt.query(params![table, q.partition, prefix, limit, u]),
        None => stmt.query(params![table, q.partition, prefix, limit]),
    }
    .map_err(sql_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err)? {
        out.push(parse_item(text(row, 0).map_err(sql_err)?)?);
    }
    Ok(out)
}

/// Outbox entries in seq order: all, one reservation's, or only the undelivered ones.
pub(crate) enum OutboxFilter {
    All,
    Reservation(String),
    Undelivered,
}

pub(crate) fn outbox(
    conn: &Connection,
    filter: &OutboxFilter,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let (sql, arg) = match filter {
        OutboxFilter::All => ("SELECT seq, body FROM outbox ORDER BY seq", None),
        OutboxFilter::Reservation(id) => (
            "SELECT seq, body FROM outbox WHERE reservation_id = ?1 ORDER BY seq",
            Some(id.as_str()),
        ),
        OutboxFilter::Undelivered => (
            "SELECT seq, body FROM outbox WHERE delivered = 0 ORDER BY seq",
            None,
        ),
    };
    let mut stmt = conn.prepare_cached(sql).map_err(sql_err)?;
    let mut rows = match arg {
        Some(a) => stmt.query(params![a]),
        None => stmt.query([]),
    }
    .map_err(sql_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err)? {
        let seq: i64 = row.get(0).map_err(sql_err)?;
        out.push(parse_entry(seq, text(row, 1).map_err(sql_err)?)?);
    }
    Ok(out)
}
