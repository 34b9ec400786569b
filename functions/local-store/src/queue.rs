//! SQS-like queues in the same file: each message is hidden for a visibility timeout when
//! received, counts its receives, moves to its dead-letter queue when received more often than
//! the redrive policy allows, and expires after the queue's retention (counted from when it was
//! first sent, as in SQS, also after a move). Times are milliseconds of the caller's clock.

use reserveplace_domain::queue::{MessageQueue, Received};
use reserveplace_domain::store::StoreError;
use rusqlite::{Connection, params};

use crate::text;

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
    /// Receives so far, this one included.
    pub receive_count: u32,
    pub sent_at_ms: i64,
}

impl QueueMessage {
    /// Names this receive: a later receive of the same message makes it stale, as SQS's
    /// receipt handles do.
    pub fn receipt(&self) -> String {
        format!("{}#{}", self.id, self.receive_count)
    }
}

/// Where a queue's messages go after too many receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    pub dead_letter_queue: String,
    pub max_receive_count: u32,
}

/// A change to the queues, run by the store's writer in its own savepoint.
#[derive(Debug, Clone)]
pub enum QueueOp {
    Send {
        queue: String,
        /// (message id, body)
        messages: Vec<(String, String)>,
        now_ms: i64,
    },
    Receive {
        queue: String,
        max: u32,
        now_ms: i64,
        visibility_ms: i64,
        retention_ms: i64,
        redrive: Option<Redrive>,
    },
    Delete {
        queue: String,
        receipts: Vec<String>,
    },
    /// Hides a received message until `visible_at_ms` (0: visible now).
    ChangeVisibility {
        queue: String,
        receipt: String,
        visible_at_ms: i64,
    },
    /// After a restart: what was being handled when the process stopped is visible again.
    Recover { now_ms: i64 },
}

fn parse_receipt(receipt: &str) -> Option<(&str, i64)> {
    let (id, count) = receipt.rsplit_once('#')?;
    Some((id, count.parse().ok()?))
}

/// Applies `op`; a receive answers its messages, the others none.
pub(crate) fn apply(conn: &Connection, op: QueueOp) -> rusqlite::Result<Vec<QueueMessage>> {
    match op {
        QueueOp::Send {
            queue,
            messages,
            now_ms,
        } => {
            let mut insert = conn.prepare_cached(
                "INSERT OR IGNORE INTO queue_messages (queue, id, body, sent_at, visible_at) \
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )?;
            for (id, body) in messages {
                insert.execute(params![queue, id, body, now_ms])?;
            }
            Ok(Vec::new())
        }
        QueueOp::Receive {
            queue,
            max,
            now_ms,
            visibility_ms,
            retention_ms,
            redrive,
        } => receive(
            conn,
            &queue,
            max,
            now_ms,
            visibility_ms,
            retention_ms,
            redrive.as_ref(),
        ),
        QueueOp::Delete { queue, receipts } => {
            let mut delete = conn.prepare_cached(
                "DELETE FROM queue_messages WHERE queue = ?1 AND id = ?2 AND receive_count = ?3",
            )?;
            for receipt in &receipts {
                if let Some((id, count)) = parse_receipt(receipt) {
                    delete.execute(params![queue, id, count])?;
                }
            }
            Ok(Vec::new())
        }
        QueueOp::ChangeVisibility {
            queue,
            receipt,
            visible_at_ms,
        } => {
            if let Some((id, count)) = parse_receipt(&receipt) {
                conn.prepare_cached(
                    "UPDATE queue_messages SET visible_at = ?4, in_flight = 0 \
                     WHERE queue = ?1 AND id = ?2 AND receive_count = ?3",
                )?
                .execute(params![queue, id, count, visible_at_ms])?;
            }
            Ok(Vec::new())
        }
        QueueOp::Recover { now_ms } => {
            conn.prepare_cached(
                "UPDATE queue_messages SET visible_at = MIN(visible_at, ?1), in_flight = 0 \
                 WHERE in_flight = 1",
            )?
            .execute(params![now_ms])?;
            Ok(Vec::new())
        }
    }
}

fn receive(
    conn: &Connection,
    queue: &str,
    max: u32,
    now_ms: i64,
    visibility_ms: i64,
    retention_ms: i64,
    redrive: Option<&Redrive>,
) -> rusqlite::Result<Vec<QueueMessage>> {
    conn.prepare_cached("DELETE FROM queue_messages WHERE queue = ?1 AND sent_at < ?2")?
        .execute(params![queue, now_ms.saturating_sub(retention_ms)])?;
    let mut out = Vec::new();
    // A message moved to the dead-letter queue frees its place in the batch: look again.
    loop {
        let want = i64::from(max) - out.len() as i64;
        if want <= 0 {
            return Ok(out);
        }
        let candidates: Vec<QueueMessage> = conn
            .prepare_cached(
                "SELECT id, body, receive_count, sent_at FROM queue_messages \
                 WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, sent_at LIMIT ?3",
            )?
            .query_map(params![queue, now_ms, want], |row| {
                Ok(QueueMessage {
                    id: text(row, 0)?.to_owned(),
                    body: text(row, 1)?.to_owned(),
                    receive_count: row.get(2)?,
                    sent_at_ms: row.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        if candidates.is_empty() {
            return Ok(out);
        }
        let mut moved = false;
        for mut m in candidates {
            match redrive {
                Some(r) if m.receive_count >= r.max_receive_count => {
                    conn.prepare_cached(
                        "UPDATE queue_messages SET queue = ?3, visible_at = ?4, receive_count = 0, \
                         in_flight = 0 WHERE queue = ?1 AND id = ?2",
                    )?
                    .execute(params![
                        queue,
                        m.id,
                        r.dead_letter_queue,
                        now_ms
                    ])?;
                    moved = true;
                }
                _ => {
                    m.receive_count += 1;
                    conn.prepare_cached(
                        "UPDATE queue_messages SET receive_count = ?3, visible_at = ?4, \
                         in_flight = 1 WHERE queue = ?1 AND id = ?2",
                    )?
                    .execute(params![
                        queue,
                        m.id,
                        m.receive_count,
                        now_ms.saturating_add(visibility_ms)
                    ])?;
                    out.push(m);
                }
            }
        }
        if !moved {
            return Ok(out);
        }
    }
}

/// How much one queue holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub queue: String,
    /// Receivable now.
    pub visible: u64,
    /// In flight, or waiting out a failed record's backoff.
    pub hidden: u64,
    /// When its oldest message was first sent.
    pub oldest_sent_ms: Option<i64>,
}

pub(crate) fn depths(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<QueueDepth>> {
    conn.prepare_cached(
        "SELECT queue, SUM(visible_at <= ?1), SUM(visible_at > ?1), MIN(sent_at) \
         FROM queue_messages GROUP BY queue ORDER BY queue",
    )?
    .query_map(params![now_ms], |row| {
        Ok(QueueDepth {
            queue: text(row, 0)?.to_owned(),
            visible: row.get::<_, i64>(1)? as u64,
            hidden: row.get::<_, i64>(2)? as u64,
            oldest_sent_ms: row.get(3)?,
        })
    })?
    .collect()
}

/// The earliest time a message of `queue` becomes visible, if it holds any.
pub(crate) fn next_visible(conn: &Connection, queue: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1")?
        .query_row(params![queue], |row| row.get(0))
}

/// The queues' clock: the wall clock, `scale` times faster (a test waits out days in seconds).
/// Its milliseconds grow monotonically across restarts at the same scale.
#[derive(Debug, Clone, Copy)]
pub struct QueueClock {
    scale: u32,
}

impl QueueClock {
    pub fn new(scale: u32) -> Self {
        Self {
            scale: scale.max(1),
        }
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }

    pub fn now_ms(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        i64::try_from(wall)
            .unwrap_or(i64::MAX)
            .saturating_mul(i64::from(self.scale))
    }

    /// The wall-clock time that `ms` of this clock take.
    pub fn wall(&self, ms: i64) -> std::time::Duration {
        std::time::Duration::from_millis((ms.max(0) / i64::from(self.scale)) as u64)
    }

    /// This clock's seconds in `wall_seconds` of the wall clock.
    pub fn scaled_seconds(&self, wall_seconds: u32) -> u32 {
        wall_seconds.saturating_mul(self.scale)
    }
}

/// One queue of the store behind the [`MessageQueue`] port.
pub struct LocalQueue {
    pub(crate) db: std::sync::Arc<crate::Database>,
    pub name: String,
    pub redrive: Option<Redrive>,
    pub retention_seconds: u64,
    pub clock: QueueClock,
}

fn seconds_ms(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

impl LocalQueue {
    pub fn new(
        db: std::sync::Arc<crate::Database>,
        name: &str,
        redrive: Option<Redrive>,
        retention_seconds: u64,
        clock: QueueClock,
    ) -> Self {
        Self {
            db,
            name: name.to_owned(),
            redrive,
            retention_seconds,
            clock,
        }
    }

    /// When the next message becomes visible (this clock's ms), if the queue holds any.
    pub async fn next_visible(&self) -> Result<Option<i64>, StoreError> {
        self.db.queue_next_visible(&self.name).await
    }
}

#[async_trait::async_trait]
impl MessageQueue for LocalQueue {
    async fn send(&self, body: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.db
            .queue(QueueOp::Send {
                queue: self.name.clone(),
                messages: vec![(id.clone(), body.to_owned())],
                now_ms: self.clock.now_ms(),
            })
            .await?;
        Ok(id)
    }

    async fn receive(
        &self,
        max: u32,
        visibility_seconds: u32,
    ) -> Result<Vec<Received>, StoreError> {
        let got = self
            .db
            .queue(QueueOp::Receive {
                queue: self.name.clone(),
                max,
                now_ms: self.clock.now_ms(),
                visibility_ms: seconds_ms(u64::from(visibility_seconds)),
                retention_ms: seconds_ms(self.retention_seconds),
                redrive: self.redrive.clone(),
            })
            .await?;
        Ok(got
            .into_iter()
            .map(|m| Received {
                receipt: m.receipt(),
                message_id: m.id,
                receive_count: m.receive_count,
                body: m.body,
            })
            .collect())
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), StoreError> {
        self.db
            .queue(QueueOp::Delete {
                queue: self.name.clone(),
                receipts: receipts.to_vec(),
            })
            .await
            .map(drop)
    }

    async fn hide(&self, receipt: &str, seconds: u32) -> Result<(), StoreError> {
        self.db
            .queue(QueueOp::ChangeVisibility {
                queue: self.name.clone(),
                receipt: receipt.to_owned(),
                visible_at_ms: self
                    .clock
                    .now_ms()
                    .saturating_add(seconds_ms(u64::from(seconds))),
            })
            .await
            .map(drop)
    }
}
