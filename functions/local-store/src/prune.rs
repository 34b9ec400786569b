//! Retention, as AWS keeps data: items whose TTL attribute has passed (DynamoDB's Time to Live),
//! delivered outbox entries once the outbox item's TTL would have removed them, finished saga
//! executions after Step Functions' 90 days (with their callback tokens), and queue messages past
//! their queue's retention. Freed pages go back to the file system afterwards.

use rusqlite::{Connection, params};

/// What to remove; every instant is the caller's (times in RFC 3339 compare as text, UTC).
#[derive(Debug, Clone, Default)]
pub struct PrunePlan {
    /// (table, TTL attribute): items whose attribute (epoch seconds) is before `now_epoch_seconds`.
    pub ttl: Vec<(String, String)>,
    pub now_epoch_seconds: i64,
    /// Delivered outbox entries whose event `time` is before this.
    pub outbox_before: String,
    /// Tables of executions (`_StateMachine_<id>`): finished ones stopped before `executions_before`.
    pub execution_tables: Vec<String>,
    pub executions_before: String,
    /// (queue, sent_at cutoff in the queue clock's ms).
    pub queues: Vec<(String, i64)>,
}

/// Pages given back to the file system per prune, at most.
const VACUUM_PAGES: i64 = 20_000;

/// Applies `plan`; answers how many rows went.
pub(crate) fn apply(conn: &Connection, plan: &PrunePlan) -> rusqlite::Result<i64> {
    let mut removed = 0;
    for (table, attr) in &plan.ttl {
        removed += conn
            .prepare_cached(
                "DELETE FROM items WHERE tbl = ?1 \
                 AND CAST(json_extract(body, '$.' || ?2) AS INTEGER) < ?3",
            )?
            .execute(params![table, attr, plan.now_epoch_seconds])? as i64;
    }
    removed += conn
        .prepare_cached(
            "DELETE FROM outbox WHERE delivered = 1 AND json_extract(body, '$.time') < ?1",
        )?
        .execute(params![plan.outbox_before])? as i64;
    for table in &plan.execution_tables {
        removed += conn
            .prepare_cached(
                "DELETE FROM items WHERE tbl = ?1 AND pk LIKE 'EXEC#%' \
                 AND json_extract(body, '$.status') <> 'RUNNING' \
                 AND json_extract(body, '$.stopTime') < ?2",
            )?
            .execute(params![table, plan.executions_before])? as i64;
        // A settled token of an execution that is gone can resume nothing.
        removed += conn
            .prepare_cached(
                "DELETE FROM items WHERE tbl = ?1 AND pk LIKE 'TOKEN#%' \
                 AND json_extract(body, '$.status') <> 'PENDING' \
                 AND NOT EXISTS (SELECT 1 FROM items e WHERE e.tbl = ?1 \
                   AND e.pk = 'EXEC#' || json_extract(items.body, '$.executionId'))",
            )?
            .execute(params![table])? as i64;
    }
    for (queue, cutoff) in &plan.queues {
        removed += conn
            .prepare_cached("DELETE FROM queue_messages WHERE queue = ?1 AND sent_at < ?2")?
            .execute(params![queue, cutoff])? as i64;
    }
    conn.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES});"))?;
    Ok(removed)
}
