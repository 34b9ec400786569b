//! The embedded store beyond the storage port's contract (`table_contract.rs`): the outbox as the
//! local bus reads it (subscribers, delivery marks, the event log) and durability across reopening.

use std::path::PathBuf;
use std::sync::Arc;

use reserveplace_contract::table::{event, key, put, put_if};
use reserveplace_domain::store::{Cond, Item, Table};
use reserveplace_local_store::Database;
use serde_json::json;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("rp-local-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
    fn db_path(&self) -> PathBuf {
        self.0.join("store.sqlite")
    }
    fn open(&self) -> Arc<Database> {
        Database::open(&self.db_path()).expect("open database")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn get(t: &Arc<dyn Table>, pk: &str, sk: &str) -> Option<Item> {
    t.get(&key(pk, sk)).await.expect("get")
}

#[tokio::test]
async fn cancelled_transactions_reach_no_subscriber() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("t");
    let mut sub = db.subscribe_outbox();
    t.transact(vec![put(json!({"pk": "B", "sk": "S", "v": 1}))], vec![])
        .await
        .expect("seed");

    // A cancelled transaction (the contract suite covers its every-failing-write report) leaves
    // nothing in the outbox and wakes no subscriber.
    let err = t
        .transact(
            vec![put_if(
                json!({"pk": "B", "sk": "S", "v": 2}),
                Cond::NotExists,
            )],
            vec![event("ReservationConfirmed", "r-1")],
        )
        .await
        .expect_err("cancelled");
    assert!(err.is_condition_failed());
    assert!(db.event_log(None).await.expect("log").is_empty());
    assert!(
        db.undelivered_outbox()
            .await
            .expect("undelivered")
            .is_empty()
    );

    // The next successful commit is the first thing the subscriber sees.
    t.transact(vec![], vec![event("PaymentApproved", "r-2")])
        .await
        .expect("event only");
    let first = sub.recv().await.expect("entry");
    assert_eq!(first.event.detail_type(), "PaymentApproved");
    assert!(sub.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn subscribers_receive_entries_in_seq_order() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("t");
    let mut sub = db.subscribe_outbox();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let t = Arc::clone(&t);
            tokio::spawn(async move {
                let rid = format!("r{i}");
                t.transact(
                    vec![put(json!({"pk": rid, "sk": "S"}))],
                    vec![
                        event("ReservationPlaced", &rid),
                        event("ReservationStatusChanged", &rid),
                    ],
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("join").expect("commit");
    }
    let mut got = Vec::new();
    while got.len() < 100 {
        got.push(sub.recv().await.expect("entry"));
    }
    assert!(sub.try_recv().is_err(), "each entry is delivered once");
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq), "seq order");
    for pair in got.chunks(2) {
        // A transaction's events are consecutive and in the order given.
        assert_eq!(
            pair[0].event.reservation_id(),
            pair[1].event.reservation_id()
        );
        assert_eq!(
            (pair[0].event.detail_type(), pair[1].event.detail_type()),
            ("ReservationPlaced", "ReservationStatusChanged")
        );
    }
    let log = db.event_log(None).await.expect("log");
    assert_eq!(log, got, "subscribers see exactly the committed log");
}

#[tokio::test]
async fn data_and_undelivered_outbox_survive_reopen() {
    let s = Scratch::new();
    let (delivered, pending) = {
        let db = s.open();
        let t = db.table("t");
        t.transact(
            vec![put(json!({"pk": "P", "sk": "1", "v": "kept"}))],
            vec![event("ReservationPlaced", "r-1")],
        )
        .await
        .expect("commit 1");
        t.transact(
            vec![put(json!({"pk": "P", "sk": "2"}))],
            vec![
                event("PaymentApproved", "r-2"),
                event("ReservationStatusChanged", "r-1"),
            ],
        )
        .await
        .expect("commit 2");
        let all = db.undelivered_outbox().await.expect("undelivered");
        assert_eq!(all.len(), 3);
        db.mark_delivered(vec![all[0].seq]).await.expect("mark");
        assert_eq!(
            db.undelivered_outbox().await.expect("undelivered"),
            all[1..].to_vec()
        );
        (all[0].clone(), all[1..].to_vec())
    };

    let db = s.open();
    let t = db.table("t");
    assert_eq!(
        get(&t, "P", "1").await.map(|i| i["v"].clone()),
        Some(json!("kept"))
    );
    assert!(get(&t, "P", "2").await.is_some());
    assert_eq!(db.undelivered_outbox().await.expect("undelivered"), pending);
    let log = db.event_log(None).await.expect("log");
    assert_eq!(log.len(), 3);
    assert_eq!(log[0], delivered);
    let r1: Vec<_> = db
        .event_log(Some("r-1"))
        .await
        .expect("log")
        .into_iter()
        .map(|e| e.event.detail_type())
        .collect();
    assert_eq!(r1, ["ReservationPlaced", "ReservationStatusChanged"]);

    // Sequence numbers keep increasing after a restart.
    t.transact(vec![], vec![event("PaymentDeclined", "r-3")])
        .await
        .expect("commit 3");
    let log = db.event_log(None).await.expect("log");
    assert!(log[3].seq > log[2].seq);
    db.mark_delivered(pending.iter().map(|e| e.seq).collect())
        .await
        .expect("mark");
    assert_eq!(db.undelivered_outbox().await.expect("undelivered").len(), 1);
}

#[tokio::test]
async fn the_store_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    // A file an earlier version left world-readable is narrowed on open.
    std::fs::write(scratch.db_path(), b"").expect("old file");
    std::fs::set_permissions(scratch.db_path(), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let db = scratch.open();
    let t = db.table("T");
    t.transact(vec![put(json!({"pk": "a", "sk": "1"}))], vec![])
        .await
        .expect("write");
    let mut seen = 0;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", scratch.db_path().display()));
        if let Ok(meta) = std::fs::metadata(&file) {
            seen += 1;
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
        }
    }
    assert!(seen >= 2, "the database and its WAL exist");
}
