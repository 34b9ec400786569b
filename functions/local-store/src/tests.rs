//! White-box tests: query plans and a deterministic group commit.

use std::sync::{Arc, Mutex};

use reserveplace_domain::store::{Cond, Item, Key, StoreError, Write};
use rusqlite::Connection;
use serde_json::json;
use tokio::sync::oneshot;

use crate::logic::prepare;
use crate::reader::query_sql;
use crate::writer::{Request, Subscribers, commit_group};
use crate::{OutboxEntry, schema};

struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Self {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("rp-local-store-unit-{}-{n}", std::process::id()));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explain");
    // Parameters stay unbound (NULL): the plan does not depend on their values.
    let mut rows = stmt.raw_query();
    let mut steps = Vec::new();
    while let Some(row) = rows.next().expect("plan row") {
        steps.push(row.get::<_, String>(3).expect("detail"));
    }
    steps.join(" | ")
}

#[test]
fn every_query_shape_is_an_index_range_scan_without_sorting() {
    let s = Scratch::new();
    let conn = schema::open_writer(&s.0.join("db.sqlite")).expect("open");
    for index in [false, true] {
        for bounded in [false, true] {
            for descending in [false, true] {
                let p = plan(&conn, &query_sql(index, bounded, descending));
                assert!(
                    !p.contains("TEMP B-TREE"),
                    "{index} {bounded} {descending}: {p}"
                );
                let expected = if index {
                    "USING INDEX items_gsi1"
                } else {
                    "USING PRIMARY KEY"
                };
                assert!(p.contains(expected), "{index} {bounded} {descending}: {p}");
            }
        }
    }
    for sql in [
        "SELECT seq, body FROM outbox WHERE reservation_id = ?1 ORDER BY seq",
        "SELECT seq, body FROM outbox WHERE delivered = 0 ORDER BY seq",
    ] {
        let p = plan(&conn, sql);
        assert!(
            p.contains("USING") && p.contains("INDEX") && !p.contains("TEMP B-TREE"),
            "{sql}: {p}"
        );
    }
}

fn item(v: serde_json::Value) -> Item {
    v.as_object().cloned().unwrap_or_default()
}

#[test]
fn one_group_isolates_failing_transactions() {
    let s = Scratch::new();
    let conn = schema::open_writer(&s.0.join("db.sqlite")).expect("open");
    let subscribers: Subscribers = Arc::new(Mutex::new(Vec::new()));
    let (sub_tx, mut sub_rx) = tokio::sync::mpsc::unbounded_channel::<OutboxEntry>();
    subscribers.lock().expect("lock").push(sub_tx);
    let table: Arc<str> = Arc::from("t");
    // Told apart by their reservation id.
    let event = |name: &str| {
        use reserveplace_domain::events::{EventName, example};
        example(EventName::ReservationPlaced, name)
    };
    let txns = vec![
        // 0: succeeds
        (
            vec![Write::Put {
                item: item(json!({"pk": "A", "sk": "S", "n": "x"})),
                cond: None,
            }],
            "ok-0",
        ),
        // 1: condition fails (A was written by 0, in the same group)
        (
            vec![
                Write::Put {
                    item: item(json!({"pk": "B", "sk": "S"})),
                    cond: None,
                },
                Write::Put {
                    item: item(json!({"pk": "A", "sk": "S"})),
                    cond: Some(Cond::NotExists),
                },
            ],
            "fail-1",
        ),
        // 2: invalid at apply time: adds to the string written by 0
        (
            vec![
                Write::Put {
                    item: item(json!({"pk": "C", "sk": "S"})),
                    cond: None,
                },
                Write::Update {
                    key: Key::new("A", "S"),
                    set: Item::new(),
                    add: vec![("n".into(), 1)],
                    cond: None,
                },
            ],
            "invalid-2",
        ),
        // 3: succeeds
        (
            vec![Write::Put {
                item: item(json!({"pk": "D", "sk": "S"})),
                cond: None,
            }],
            "ok-3",
        ),
    ];
    let mut group = Vec::new();
    let mut replies = Vec::new();
    for (writes, name) in txns {
        let txn = prepare(Arc::clone(&table), writes, vec![event(name)]).expect("prepare");
        let (reply, rx) = oneshot::channel();
        group.push(Request::Transact { txn, reply });
        replies.push(rx);
    }
    commit_group(&conn, &mut group, &subscribers);

    let results: Vec<_> = replies
        .into_iter()
        .map(|mut rx| rx.try_recv().expect("replied"))
        .collect();
    assert_eq!(results[0], Ok(()));
    assert_eq!(
        results[1],
        Err(StoreError::ConditionFailed { failed: vec![1] })
    );
    assert!(
        matches!(results[2], Err(StoreError::Invalid(_))),
        "{:?}",
        results[2]
    );
    assert_eq!(results[3], Ok(()));

    let keys: Vec<String> = conn
        .prepare("SELECT pk FROM items ORDER BY pk")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .expect("keys");
    assert_eq!(keys, ["A", "D"]);
    let published: Vec<_> = std::iter::from_fn(|| sub_rx.try_recv().ok())
        .map(|e| e.event.reservation_id().to_string())
        .collect();
    assert_eq!(published, ["ok-0", "ok-3"]);
    let logged: i64 = conn
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .expect("count");
    assert_eq!(logged, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wal_is_checkpointed_and_restarted_under_sustained_load() {
    use crate::Database;
    use crate::checkpoint::WalLimits;
    use reserveplace_domain::store::Query;

    let s = Scratch::new();
    let path = s.0.join("db.sqlite");
    let wal_path = s.0.join("db.sqlite-wal");
    // Tiny limits so a short test crosses them many times.
    let db = Database::open_with(
        &path,
        WalLimits {
            checkpoint: 20,
            restart: 200,
        },
    )
    .expect("open");
    let t = db.table("t");
    let padding = "x".repeat(1000);
    let writers: Vec<_> = (0..16)
        .map(|task| {
            let (t, padding) = (Arc::clone(&t), padding.clone());
            tokio::spawn(async move {
                for n in 0..40 {
                    let writes = (0..10)
                        .map(|i| Write::Put {
                            item: item(json!({"pk": format!("P{task}"), "sk": format!("{n:03}-{i}"), "pad": padding})),
                            cond: None,
                        })
                        .collect();
                    t.transact(writes, vec![]).await.expect("commit");
                }
            })
        })
        .collect();
    let mut max_wal = 0;
    for w in writers {
        while !w.is_finished() {
            max_wal = max_wal.max(std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0));
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        w.await.expect("join");
    }
    max_wal = max_wal.max(std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0));
    // ~6400 KiB of items were written, each commit rewriting shared pages too; without
    // restarts the WAL would hold all of it. With them it stays near the restart limit
    // (200 frames) plus the groups committed while a restart waited.
    assert!(max_wal < 3 * 1024 * 1024, "WAL grew to {max_wal} bytes");
    for task in 0..16 {
        let q = Query {
            partition: format!("P{task}"),
            ..Query::default()
        };
        assert_eq!(t.query(&q).await.expect("query").len(), 400);
    }
}
