//! The single writer thread and its group commit.
//!
//! Callers queue requests and await a oneshot reply. The writer drains what is queued (at most
//! `MAX_GROUP`), runs every request inside its own SAVEPOINT of one `BEGIN IMMEDIATE`
//! transaction and commits once: one WAL fsync covers the whole group. A request that fails is
//! rolled back to its savepoint, so it never affects the others of its group.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reserveplace_domain::store::{Item, Key, StoreError};
use rusqlite::{Connection, params};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tracing::warn;

use crate::checkpoint::WalSize;
use crate::logic::{self, Outcome, PreparedEvent, PreparedTxn, StoredItem};
use crate::prune::{self, PrunePlan};
use crate::queue::{self, QueueMessage, QueueOp};
use crate::{OutboxEntry, sql_err, text};

/// Upper bound of a group: keeps the commit latency of one group (and its memory) bounded.
const MAX_GROUP: usize = 512;

/// How long delivered marks may wait to join a group that commits anyway. A mark only saves a
/// redelivery after a crash (consumers are idempotent), so it need not cost an fsync of its own,
/// which would delay the commits of running sagas queued behind it.
const MARK_DELAY: Duration = Duration::from_millis(50);

pub(crate) type Reply = oneshot::Sender<Result<(), StoreError>>;
pub(crate) type CounterReply = oneshot::Sender<Result<i64, StoreError>>;
pub(crate) type QueueReply = oneshot::Sender<Result<Vec<QueueMessage>, StoreError>>;
pub(crate) type Subscribers = Arc<Mutex<Vec<UnboundedSender<OutboxEntry>>>>;

pub(crate) enum Request {
    Transact {
        txn: PreparedTxn,
        reply: Reply,
    },
    MarkDelivered {
        seqs: Vec<i64>,
        reply: Reply,
    },
    /// `txn` adds to `attr` of `key` (its only write); the reply is the attribute's new value,
    /// read in the same savepoint, so concurrent increments each see their own result.
    Increment {
        txn: PreparedTxn,
        key: Key,
        attr: String,
        reply: CounterReply,
    },
    /// A change to the queues; a receive answers its messages.
    Queue {
        op: QueueOp,
        reply: QueueReply,
    },
    /// Retention: answers how many rows went.
    Prune {
        plan: PrunePlan,
        reply: CounterReply,
    },
}

/// Where a request's result goes.
enum Answer {
    Done(Reply),
    Counter(CounterReply),
    Queue(QueueReply),
}

/// What a request answers once its group commits.
enum Answered {
    Count(i64),
    Messages(Vec<QueueMessage>),
}

impl Answer {
    /// `result` carries a counter's new value or a receive's messages; plain requests drop it.
    fn send(self, result: Result<Answered, StoreError>) {
        match self {
            Answer::Done(tx) => {
                let _ = tx.send(result.map(drop));
            }
            Answer::Counter(tx) => {
                let _ = tx.send(result.map(|a| match a {
                    Answered::Count(n) => n,
                    Answered::Messages(_) => 0,
                }));
            }
            Answer::Queue(tx) => {
                let _ = tx.send(result.map(|a| match a {
                    Answered::Messages(m) => m,
                    Answered::Count(_) => Vec::new(),
                }));
            }
        }
    }
}

impl Request {
    fn into_reply(self) -> Answer {
        match self {
            Request::Transact { reply, .. } | Request::MarkDelivered { reply, .. } => {
                Answer::Done(reply)
            }
            Request::Increment { reply, .. } => Answer::Counter(reply),
            Request::Queue { reply, .. } => Answer::Queue(reply),
            Request::Prune { reply, .. } => Answer::Counter(reply),
        }
    }
}

pub(crate) struct Writer {
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn spawn(
        conn: Connection,
        wal: WalSize,
        subscribers: Subscribers,
    ) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, wal, rx, subscribers))
            .map_err(|e| StoreError::Unavailable(format!("cannot spawn writer thread: {e}")))?;
        Ok(Self {
            requests: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a request and waits until its group is durable (or failed).
    pub async fn submit(&self, make: impl FnOnce(Reply) -> Request) -> Result<(), StoreError> {
        self.submit_for(make).await
    }

    /// Like `submit`, for a request that answers a value.
    pub async fn submit_for<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        let stopped = || StoreError::Unavailable("store writer stopped".into());
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        requests.send(make(reply)).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish the group in flight and exit, so its
        // connection is closed before the file can be reopened.
        self.requests = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    conn: Connection,
    wal: WalSize,
    requests: mpsc::Receiver<Request>,
    subscribers: Subscribers,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    // Delivered marks waiting for a group to ride along with, and until when they may wait.
    let mut marks: Vec<Request> = Vec::new();
    let mut marks_due = Instant::now();
    loop {
        let first = if marks.is_empty() {
            requests.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            requests.recv_timeout(marks_due.saturating_duration_since(Instant::now()))
        };
        match first {
            Ok(r) => group.push(r),
            // Nothing else came within the delay: the marks commit on their own.
            Err(RecvTimeoutError::Timeout) => {}
            // Closing: what is still waiting commits before the connection closes.
            Err(RecvTimeoutError::Disconnected) if marks.is_empty() => return,
            Err(RecvTimeoutError::Disconnected) => {
                commit_group(&conn, &mut marks, &subscribers);
                return;
            }
        }
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        let only_marks = group
            .iter()
            .all(|r| matches!(r, Request::MarkDelivered { .. }));
        if only_marks && !group.is_empty() && marks.len() < MAX_GROUP {
            if marks.is_empty() {
                marks_due = Instant::now() + MARK_DELAY;
            }
            marks.append(&mut group);
            if Instant::now() < marks_due {
                continue;
            }
        }
        group.append(&mut marks);
        commit_group(&conn, &mut group, &subscribers);
        wal.restart_if_large(&conn);
    }
}

/// Why one request of a group failed.
enum Failure {
    /// The request itself failed (condition, invalid); its savepoint was rolled back.
    Caller(StoreError),
    /// SQLite failed while running the request; its savepoint was rolled back.
    Sql(rusqlite::Error),
    /// The enclosing transaction is gone or unusable: the whole group fails.
    GroupLost(StoreError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sql(e)
    }
}

/// A refusal decided by the port's rules (condition failed, update that cannot apply).
impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Caller(e)
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

pub(crate) fn commit_group(conn: &Connection, group: &mut Vec<Request>, subscribers: &Subscribers) {
    if !conn.is_autocommit() {
        // A previous group's ROLLBACK failed; without this every later BEGIN would fail too.
        let _ = exec(conn, "ROLLBACK");
    }
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        let err = sql_err(e);
        warn!(error = %err, size = group.len(), "store: cannot begin group");
        for req in group.drain(..) {
            req.into_reply().send(Err(err.clone()));
        }
        return;
    }
    let mut replies: Vec<(Answer, Result<Answered, StoreError>)> = Vec::with_capacity(group.len());
    let mut entries: Vec<OutboxEntry> = Vec::new();
    let mut lost: Option<StoreError> = None;
    for req in group.drain(..) {
        if let Some(err) = &lost {
            replies.push((req.into_reply(), Err(err.clone())));
            continue;
        }
        let before = entries.len();
        let (reply, result) = match req {
            Request::Transact { txn, reply } => (
                Answer::Done(reply),
                in_savepoint(conn, |c| {
                    transact(c, txn, &mut entries).map(|()| Answered::Count(0))
                }),
            ),
            Request::MarkDelivered { seqs, reply } => (
                Answer::Done(reply),
                in_savepoint(conn, |c| {
                    mark_delivered(c, &seqs).map(|()| Answered::Count(0))
                }),
            ),
            Request::Prune { plan, reply } => (
                Answer::Counter(reply),
                in_savepoint(conn, |c| {
                    prune::apply(c, &plan)
                        .map(Answered::Count)
                        .map_err(Failure::Sql)
                }),
            ),
            Request::Queue { op, reply } => (
                Answer::Queue(reply),
                in_savepoint(conn, |c| {
                    queue::apply(c, op)
                        .map(Answered::Messages)
                        .map_err(Failure::Sql)
                }),
            ),
            Request::Increment {
                txn,
                key,
                attr,
                reply,
            } => {
                let table = Arc::clone(&txn.table);
                let run = |c: &Connection| {
                    transact(c, txn, &mut entries)?;
                    load(c, &table, &key)?
                        .and_then(|item| item.get(&attr).and_then(serde_json::Value::as_i64))
                        .map(Answered::Count)
                        .ok_or_else(|| {
                            Failure::Caller(StoreError::Invalid(format!(
                                "`{attr}` is not an integer after the increment"
                            )))
                        })
                };
                (Answer::Counter(reply), in_savepoint(conn, run))
            }
        };
        let result = match result {
            Ok(v) => Ok(v),
            Err(Failure::Caller(e)) => Err(e),
            Err(Failure::Sql(e)) => Err(sql_err(e)),
            Err(Failure::GroupLost(e)) => {
                lost = Some(e.clone());
                Err(e)
            }
        };
        if result.is_err() {
            entries.truncate(before);
        }
        replies.push((reply, result));
    }

    let committed = match lost {
        Some(e) => Err(e),
        None => exec(conn, "COMMIT").map_err(sql_err),
    };
    if let Err(err) = committed {
        // Nothing of this group is durable: every caller must learn it, whatever its own result.
        warn!(error = %err, size = replies.len(), "store: group commit failed");
        if !conn.is_autocommit() {
            let _ = exec(conn, "ROLLBACK");
        }
        for (reply, _) in replies {
            reply.send(Err(err.clone()));
        }
        return;
    }
    for (reply, result) in replies {
        reply.send(result);
    }
    publish(subscribers, entries);
}

/// Runs `f` inside a savepoint, rolled back if `f` fails.
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let result = exec(conn, "SAVEPOINT txn")
        .map_err(Failure::Sql)
        .and_then(|()| f(conn))
        .and_then(|v| exec(conn, "RELEASE txn").map(|()| v).map_err(Failure::Sql));
    let failure = match result {
        Ok(v) => return Ok(v),
        Err(failure) => failure,
    };
    // Some errors (I/O, disk full) make SQLite roll back the whole transaction.
    if conn.is_autocommit() {
        let err = match failure {
            Failure::Sql(e) => sql_err(e),
            Failure::Caller(e) | Failure::GroupLost(e) => e,
        };
        return Err(Failure::GroupLost(err));
    }
    if let Err(e) = exec(conn, "ROLLBACK TO txn").and_then(|()| exec(conn, "RELEASE txn")) {
        return Err(Failure::GroupLost(sql_err(e)));
    }
    Err(failure)
}

/// One caller's transaction, decided by the port's rules from the state before it (every key
/// appears once, checked by `prepare`), as in DynamoDB.
fn transact(
    conn: &Connection,
    txn: PreparedTxn,
    entries: &mut Vec<OutboxEntry>,
) -> Result<(), Failure> {
    let PreparedTxn {
        table,
        writes,
        bodies,
        events,
    } = txn;
    let plan = logic::resolve(writes, |key| load(conn, &table, key))?;
    // A plan has one outcome per write, in order: a put's is its prepared body.
    for ((key, outcome), body) in plan.into_iter().zip(bodies) {
        match outcome {
            Outcome::Upsert(item) => match body {
                Some(stored) => upsert(conn, &table, &key, &stored)?,
                None => upsert(conn, &table, &key, &StoredItem::of(&item)?)?,
            },
            Outcome::Remove => {
                conn.prepare_cached("DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")?
                    .execute(params![&*table, key.pk, key.sk])?;
            }
            Outcome::Unchanged => {}
        }
    }
    for PreparedEvent {
        reservation_id,
        body,
        event,
    } in events
    {
        let seq = conn
            .prepare_cached("INSERT INTO outbox (reservation_id, body) VALUES (?1, ?2)")?
            .insert(params![reservation_id, body])?;
        entries.push(OutboxEntry { seq, event });
    }
    Ok(())
}

fn load(conn: &Connection, table: &str, key: &Key) -> Result<Option<Item>, Failure> {
    let mut stmt =
        conn.prepare_cached("SELECT body FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")?;
    let mut rows = stmt.query(params![table, key.pk, key.sk])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let body = text(row, 0)?;
    serde_json::from_str(body)
        .map(Some)
        .map_err(|e| Failure::Caller(StoreError::Misconfigured(format!("corrupt item: {e}"))))
}

fn upsert(conn: &Connection, table: &str, key: &Key, item: &StoredItem) -> Result<(), Failure> {
    let (gsi1pk, gsi1sk) = item.gsi1.as_ref().map(|(p, s)| (p, s)).unzip();
    let body = &item.body;
    conn.prepare_cached(
        "INSERT INTO items (tbl, pk, sk, gsi1pk, gsi1sk, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (tbl, pk, sk) DO UPDATE SET \
         gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk, body = excluded.body",
    )?
    .execute(params![table, key.pk, key.sk, gsi1pk, gsi1sk, body])?;
    Ok(())
}

fn mark_delivered(conn: &Connection, seqs: &[i64]) -> Result<(), Failure> {
    let mut stmt =
        conn.prepare_cached("UPDATE outbox SET delivered = 1 WHERE seq = ?1 AND delivered = 0")?;
    for seq in seqs {
        stmt.execute([seq])?;
    }
    Ok(())
}

/// Pushes a durable group's entries, in seq order, to every live subscriber.
fn publish(subscribers: &Subscribers, entries: Vec<OutboxEntry>) {
    if entries.is_empty() {
        return;
    }
    let mut subs = subscribers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for entry in entries {
        subs.retain(|s| !s.is_closed());
        // The last subscriber (usually the only one) takes the entry; the others get copies.
        if let Some((last, others)) = subs.split_last() {
            for s in others {
                let _ = s.send(entry.clone());
            }
            let _ = last.send(entry);
        }
    }
}
