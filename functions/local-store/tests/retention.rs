//! Retention in the embedded store: what a prune removes and, as much, what it keeps.
use std::path::PathBuf;
use std::sync::Arc;

use reserveplace_contract::table::{event, key, put};
use reserveplace_domain::queue::MessageQueue;
use reserveplace_local_store::{Database, LocalQueue, PrunePlan, QueueClock};
use serde_json::json;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open() -> (Scratch, Arc<Database>) {
    let dir = std::env::temp_dir().join(format!("rp-retention-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let db = Database::open(&dir.join("store.sqlite")).expect("open");
    (Scratch(dir), db)
}

const NOW: i64 = 2_000_000_000;

/// A plan that removes nothing.
fn nothing() -> PrunePlan {
    PrunePlan {
        now_epoch_seconds: NOW,
        outbox_before: "1970-01-01T00:00:00Z".into(),
        executions_before: "1970-01-01T00:00:00Z".into(),
        ..PrunePlan::default()
    }
}

#[tokio::test]
async fn items_past_their_ttl_go_and_the_others_stay() {
    let (_dir, db) = open();
    let t = db.table("QuoteTable");
    let other = db.table("OtherTable");
    t.transact(
        vec![
            put(json!({"pk": "QUOTE#old", "sk": "QUOTE", "expiresAt": NOW - 1})),
            put(json!({"pk": "QUOTE#new", "sk": "QUOTE", "expiresAt": NOW + 60})),
            put(json!({"pk": "PLACE#1", "sk": "PLACE"})),
        ],
        vec![],
    )
    .await
    .expect("write");
    other
        .transact(
            vec![put(json!({"pk": "X", "sk": "X", "expiresAt": NOW - 1}))],
            vec![],
        )
        .await
        .expect("write");
    let plan = PrunePlan {
        ttl: vec![("QuoteTable".into(), "expiresAt".into())],
        ..nothing()
    };
    assert_eq!(db.prune(plan).await.expect("prune"), 1);
    assert!(
        t.get(&key("QUOTE#old", "QUOTE"))
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        t.get(&key("QUOTE#new", "QUOTE"))
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        t.get(&key("PLACE#1", "PLACE"))
            .await
            .expect("get")
            .is_some()
    );
    // A table without TTL keeps its items, whatever attribute they carry.
    assert!(other.get(&key("X", "X")).await.expect("get").is_some());
}

#[tokio::test]
async fn only_delivered_events_older_than_the_cutoff_leave_the_log() {
    let (_dir, db) = open();
    let t = db.table("T");
    for (n, id) in ["r1", "r2"].iter().enumerate() {
        t.transact(
            vec![put(json!({"pk": format!("P{n}"), "sk": "S"}))],
            vec![event("ReservationPlaced", id)],
        )
        .await
        .expect("commit");
    }
    let log = db.event_log(None).await.expect("log");
    assert_eq!(log.len(), 2);
    db.mark_delivered(vec![log[0].seq]).await.expect("mark");
    let plan = PrunePlan {
        outbox_before: "9999-01-01T00:00:00Z".into(),
        ..nothing()
    };
    assert_eq!(db.prune(plan).await.expect("prune"), 1);
    let left = db.event_log(None).await.expect("log");
    assert_eq!(left.len(), 1, "the undelivered event stays");
    assert_eq!(left[0].seq, log[1].seq);
    // Not yet old enough: nothing goes.
    db.mark_delivered(vec![log[1].seq]).await.expect("mark");
    assert_eq!(db.prune(nothing()).await.expect("prune"), 0);
}

#[tokio::test]
async fn finished_executions_and_their_settled_tokens_go_running_ones_stay() {
    let (_dir, db) = open();
    let t = db.table("_StateMachine_Saga");
    t.transact(
        vec![
            put(json!({"pk": "EXEC#done", "sk": "EXEC", "status": "SUCCEEDED", "stopTime": "2020-01-01T00:00:00Z"})),
            put(json!({"pk": "EXEC#recent", "sk": "EXEC", "status": "FAILED", "stopTime": "2030-01-01T00:00:00Z"})),
            put(json!({"pk": "EXEC#running", "sk": "EXEC", "status": "RUNNING"})),
            put(json!({"pk": "TOKEN#a", "sk": "TOKEN", "status": "SUCCEEDED", "executionId": "done"})),
            put(json!({"pk": "TOKEN#b", "sk": "TOKEN", "status": "PENDING", "executionId": "running"})),
        ],
        vec![],
    )
    .await
    .expect("write");
    let plan = PrunePlan {
        execution_tables: vec!["_StateMachine_Saga".into()],
        executions_before: "2025-01-01T00:00:00Z".into(),
        ..nothing()
    };
    assert_eq!(db.prune(plan).await.expect("prune"), 2);
    for (pk, sk, kept) in [
        ("EXEC#done", "EXEC", false),
        ("TOKEN#a", "TOKEN", false),
        ("EXEC#recent", "EXEC", true),
        ("EXEC#running", "EXEC", true),
        ("TOKEN#b", "TOKEN", true),
    ] {
        let found = t.get(&key(pk, sk)).await.expect("get").is_some();
        assert_eq!(found, kept, "{pk}");
    }
}

#[tokio::test]
async fn queue_messages_past_retention_go() {
    let (_dir, db) = open();
    let clock = QueueClock::new(1);
    let q = LocalQueue::new(db.clone(), "Q", None, 60, clock);
    q.send("old").await.expect("send");
    let plan = PrunePlan {
        queues: vec![("Q".into(), clock.now_ms() + 1)],
        ..nothing()
    };
    assert_eq!(db.prune(plan).await.expect("prune"), 1);
    assert!(q.receive(10, 30).await.expect("receive").is_empty());
}
