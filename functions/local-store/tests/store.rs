//! Behaviour of the embedded store through its public API (the storage port plus the outbox).

use std::path::PathBuf;
use std::sync::Arc;

use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::{Cond, Item, Key, Query, StoreError, Table, Write};
use reserveplace_local_store::Database;
use serde_json::{Value, json};

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

fn item(v: Value) -> Item {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn put(v: Value) -> Write {
    Write::Put {
        item: item(v),
        cond: None,
    }
}

fn put_if(v: Value, cond: Cond) -> Write {
    Write::Put {
        item: item(v),
        cond: Some(cond),
    }
}

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

fn event(name: &str, reservation: &str) -> DomainEvent {
    DomainEvent {
        detail_type: name.into(),
        source: "reserveplace.test".into(),
        time: "2025-01-01T00:00:00Z".into(),
        detail: json!({
            "eventId": uuid::Uuid::new_v4().to_string(),
            "occurredAt": "2025-01-01T00:00:00Z",
            "reservationId": reservation,
            "version": 1,
        }),
    }
}

async fn get(t: &Arc<dyn Table>, pk: &str, sk: &str) -> Option<Item> {
    t.get(&key(pk, sk)).await.expect("get")
}

fn sks(items: &[Item]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["sk"].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test]
async fn put_get_replace_delete() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("rooms");
    assert_eq!(get(&t, "R#1", "META").await, None);

    t.transact(
        vec![put(
            json!({"pk": "R#1", "sk": "META", "name": "Sea view", "beds": 2}),
        )],
        vec![],
    )
    .await
    .expect("put");
    assert_eq!(
        get(&t, "R#1", "META").await,
        Some(item(
            json!({"pk": "R#1", "sk": "META", "name": "Sea view", "beds": 2})
        ))
    );

    // Put replaces the whole item: `beds` disappears.
    t.transact(
        vec![put(json!({"pk": "R#1", "sk": "META", "name": "Garden"}))],
        vec![],
    )
    .await
    .expect("replace");
    assert_eq!(
        get(&t, "R#1", "META").await,
        Some(item(json!({"pk": "R#1", "sk": "META", "name": "Garden"})))
    );

    t.transact(
        vec![Write::Delete {
            key: key("R#1", "META"),
            cond: None,
        }],
        vec![],
    )
    .await
    .expect("delete");
    assert_eq!(get(&t, "R#1", "META").await, None);

    // Deleting an absent item succeeds; with a failing condition it does not.
    t.transact(
        vec![Write::Delete {
            key: key("R#1", "META"),
            cond: None,
        }],
        vec![],
    )
    .await
    .expect("delete absent");
    let err = t
        .transact(
            vec![Write::Delete {
                key: key("R#1", "META"),
                cond: Some(Cond::Exists),
            }],
            vec![],
        )
        .await
        .expect_err("conditional delete of absent item");
    assert_eq!(err, StoreError::ConditionFailed { failed: vec![0] });
}

#[tokio::test]
async fn tables_are_independent_namespaces() {
    let s = Scratch::new();
    let db = s.open();
    let (a, b) = (db.table("a"), db.table("b"));
    a.transact(
        vec![put(json!({"pk": "P", "sk": "S", "from": "a"}))],
        vec![],
    )
    .await
    .expect("put a");
    assert_eq!(get(&b, "P", "S").await, None);
    b.transact(
        vec![put_if(
            json!({"pk": "P", "sk": "S", "from": "b"}),
            Cond::NotExists,
        )],
        vec![],
    )
    .await
    .expect("same key in another table is absent");
    assert_eq!(
        get(&a, "P", "S").await.map(|i| i["from"].clone()),
        Some(json!("a"))
    );
    assert_eq!(
        get(&b, "P", "S").await.map(|i| i["from"].clone()),
        Some(json!("b"))
    );
    let q = Query {
        partition: "P".into(),
        ..Query::default()
    };
    assert_eq!(a.query(&q).await.expect("query").len(), 1);
}

#[tokio::test]
async fn put_requires_string_keys() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("t");
    for bad in [
        json!({"sk": "S"}),
        json!({"pk": "P"}),
        json!({"pk": 1, "sk": "S"}),
        json!({"pk": "P", "sk": ""}),
        json!({"pk": "P", "sk": "S", "gsi1pk": 7}),
    ] {
        let err = t
            .transact(vec![put(bad.clone())], vec![])
            .await
            .expect_err("invalid put");
        assert!(matches!(err, StoreError::Invalid(_)), "{bad}: {err:?}");
    }
    assert!(matches!(
        t.get(&key("", "S")).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(db.event_log(None).await.expect("log").is_empty());
}

#[tokio::test]
async fn every_condition_true_and_false() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("t");
    t.transact(
        vec![put(
            json!({"pk": "P", "sk": "S", "n": 3, "s": "x", "z": null}),
        )],
        vec![],
    )
    .await
    .expect("seed");
    let a = |s: &str| s.to_string();
    let cases: Vec<(Cond, bool, bool)> = vec![
        // (condition, on the present item, on an absent item)
        (Cond::Exists, true, false),
        (Cond::NotExists, false, true),
        (Cond::AttrNotExists(a("n")), false, true),
        (Cond::AttrNotExists(a("missing")), true, true),
        (Cond::AttrNotExists(a("z")), false, true), // null is a value
        (Cond::Eq(a("n"), json!(3)), true, false),
        (Cond::Eq(a("n"), json!(4)), false, false),
        (Cond::Eq(a("s"), json!("x")), true, false),
        (Cond::Eq(a("missing"), json!(null)), false, false),
        (Cond::Ne(a("n"), json!(4)), true, true),
        (Cond::Ne(a("n"), json!(3)), false, true),
        (Cond::Ne(a("missing"), json!(3)), true, true),
        (Cond::Lt(a("n"), 4), true, false),
        (Cond::Lt(a("n"), 3), false, false),
        (Cond::Lt(a("s"), 100), false, false),
        (Cond::Le(a("n"), 3), true, false),
        (Cond::Le(a("n"), 2), false, false),
        (Cond::Le(a("missing"), 100), false, false),
        (
            Cond::And(vec![Cond::Exists, Cond::Eq(a("n"), json!(3))]),
            true,
            false,
        ),
        (
            Cond::And(vec![Cond::Exists, Cond::Eq(a("n"), json!(4))]),
            false,
            false,
        ),
        (
            Cond::Or(vec![Cond::NotExists, Cond::Eq(a("n"), json!(3))]),
            true,
            true,
        ),
        (
            Cond::Or(vec![Cond::NotExists, Cond::Lt(a("n"), 0)]),
            false,
            true,
        ),
    ];
    for (cond, on_present, on_absent) in cases {
        for (k, expected) in [(key("P", "S"), on_present), (key("P", "ABSENT"), on_absent)] {
            let got = t
                .transact(
                    vec![Write::Check {
                        key: k.clone(),
                        cond: cond.clone(),
                    }],
                    vec![],
                )
                .await;
            let expect = if expected {
                Ok(())
            } else {
                Err(StoreError::ConditionFailed { failed: vec![0] })
            };
            assert_eq!(got, expect, "{cond:?} on {k:?}");
        }
    }
    // Check never writes.
    assert_eq!(get(&t, "P", "ABSENT").await, None);
}

#[tokio::test]
async fn update_upserts_sets_and_adds() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("inventory");
    let k = key("ROOM#1", "DAY#2025-01-01");
    let update = |set: Value, add: Vec<(&str, i64)>, cond: Option<Cond>| Write::Update {
        key: k.clone(),
        set: item(set),
        add: add.into_iter().map(|(a, n)| (a.to_string(), n)).collect(),
        cond,
    };

    t.transact(
        vec![update(
            json!({"capacity": 3}),
            vec![("held", 1)],
            Some(Cond::NotExists),
        )],
        vec![],
    )
    .await
    .expect("upsert");
    assert_eq!(
        t.get(&k).await.expect("get"),
        Some(item(
            json!({"pk": "ROOM#1", "sk": "DAY#2025-01-01", "capacity": 3, "held": 1})
        ))
    );

    t.transact(
        vec![update(
            json!({"note": "x"}),
            vec![("held", 2), ("sold", -1)],
            Some(Cond::Exists),
        )],
        vec![],
    )
    .await
    .expect("add to existing");
    let got = t.get(&k).await.expect("get").expect("present");
    assert_eq!(
        (
            got["held"].clone(),
            got["sold"].clone(),
            got["note"].clone()
        ),
        (json!(3), json!(-1), json!("x"))
    );
    assert_eq!(got["capacity"], json!(3), "update keeps other attributes");

    for bad in [
        update(json!({}), vec![("note", 1)], None), // add to a string
        update(json!({"pk": "other"}), vec![], None), // set a key
        update(json!({"held": 1}), vec![("held", 1)], None), // same attribute twice
    ] {
        let err = t
            .transact(vec![bad], vec![event("X", "r")])
            .await
            .expect_err("invalid update");
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(
        t.get(&k).await.expect("get"),
        Some(got),
        "invalid updates change nothing"
    );
    assert!(db.event_log(None).await.expect("log").is_empty());
}

#[tokio::test]
async fn condition_failure_writes_nothing_and_reports_every_failing_write() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("t");
    let mut sub = db.subscribe_outbox();
    t.transact(
        vec![
            put(json!({"pk": "B", "sk": "S", "v": 1})),
            put(json!({"pk": "D", "sk": "S", "v": 1})),
        ],
        vec![],
    )
    .await
    .expect("seed");

    let err = t
        .transact(
            vec![
                put(json!({"pk": "A", "sk": "S"})), // ok
                put_if(json!({"pk": "B", "sk": "S", "v": 2}), Cond::NotExists), // fails
                Write::Update {
                    key: key("C", "S"),
                    set: Item::new(),
                    add: vec![("n".into(), 1)],
                    cond: Some(Cond::Exists),
                }, // fails
                Write::Check {
                    key: key("D", "S"),
                    cond: Cond::Eq("v".into(), json!(1)),
                }, // ok
                Write::Delete {
                    key: key("B", "X"),
                    cond: None,
                }, // ok
            ],
            vec![event("ReservationHeld", "r-1")],
        )
        .await
        .expect_err("cancelled");
    assert_eq!(err, StoreError::ConditionFailed { failed: vec![1, 2] });
    assert!(err.is_condition_failed());
    assert_eq!(get(&t, "A", "S").await, None);
    assert_eq!(
        get(&t, "B", "S").await.map(|i| i["v"].clone()),
        Some(json!(1))
    );
    assert_eq!(get(&t, "C", "S").await, None);
    assert!(db.event_log(None).await.expect("log").is_empty());
    assert!(
        db.undelivered_outbox()
            .await
            .expect("undelivered")
            .is_empty()
    );

    // The next successful commit is the first thing the subscriber sees.
    t.transact(vec![], vec![event("Later", "r-2")])
        .await
        .expect("event only");
    let first = sub.recv().await.expect("entry");
    assert_eq!(first.event.detail_type, "Later");
    assert!(sub.try_recv().is_err());
}

#[tokio::test]
async fn invalid_transactions_write_nothing() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("t");
    let many = |n: usize| {
        (0..n)
            .map(|i| put(json!({"pk": "P", "sk": format!("{i:03}")})))
            .collect::<Vec<_>>()
    };

    let err = t
        .transact(many(101), vec![event("E", "r")])
        .await
        .expect_err("too many");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let dup = vec![
        put(json!({"pk": "P", "sk": "1"})),
        Write::Delete {
            key: key("P", "1"),
            cond: None,
        },
    ];
    let err = t
        .transact(dup, vec![event("E", "r")])
        .await
        .expect_err("duplicate key");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    let q = Query {
        partition: "P".into(),
        ..Query::default()
    };
    assert!(t.query(&q).await.expect("query").is_empty());
    assert!(db.event_log(None).await.expect("log").is_empty());

    t.transact(many(100), vec![])
        .await
        .expect("100 writes are allowed");
    assert_eq!(t.query(&q).await.expect("query").len(), 100);
}

#[tokio::test]
async fn query_orders_filters_limits_and_uses_the_index() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("t");
    let other = db.table("other");
    t.transact(
        vec![
            put(json!({"pk": "H", "sk": "R#b", "gsi1pk": "GUEST#1", "gsi1sk": "2025-03"})),
            put(json!({"pk": "H", "sk": "R#a", "gsi1pk": "GUEST#1", "gsi1sk": "2025-01"})),
            put(json!({"pk": "H", "sk": "R#c", "gsi1pk": "GUEST#2", "gsi1sk": "2025-02"})),
            put(json!({"pk": "H", "sk": "META"})),
            put(json!({"pk": "H", "sk": "R#d", "gsi1pk": "GUEST#1"})), // no gsi1sk: not indexed
            put(json!({"pk": "H2", "sk": "R#e", "gsi1pk": "GUEST#1", "gsi1sk": "2024-12"})),
            put(json!({"pk": "HX", "sk": "R#a"})),
        ],
        vec![],
    )
    .await
    .expect("seed");
    other
        .transact(
            vec![put(
                json!({"pk": "H", "sk": "R#z", "gsi1pk": "GUEST#1", "gsi1sk": "2025-09"}),
            )],
            vec![],
        )
        .await
        .expect("seed other");

    let q = |partition: &str| Query {
        partition: partition.into(),
        ..Query::default()
    };
    let all = t.query(&q("H")).await.expect("query");
    assert_eq!(sks(&all), ["META", "R#a", "R#b", "R#c", "R#d"]);

    let prefixed = t
        .query(&Query {
            sk_prefix: Some("R#".into()),
            ..q("H")
        })
        .await
        .expect("prefix");
    assert_eq!(sks(&prefixed), ["R#a", "R#b", "R#c", "R#d"]);

    let desc = t
        .query(&Query {
            sk_prefix: Some("R#".into()),
            descending: true,
            limit: Some(2),
            ..q("H")
        })
        .await
        .expect("desc");
    assert_eq!(sks(&desc), ["R#d", "R#c"]);

    let limited = t
        .query(&Query {
            limit: Some(1),
            ..q("H")
        })
        .await
        .expect("limit");
    assert_eq!(sks(&limited), ["META"]);
    assert!(t.query(&q("nobody")).await.expect("empty").is_empty());

    let guest = t
        .query(&Query {
            index: true,
            ..q("GUEST#1")
        })
        .await
        .expect("index");
    assert_eq!(
        sks(&guest),
        ["R#e", "R#a", "R#b"],
        "ordered by gsi1sk, sparse, this table only"
    );
    let guest_2025 = t
        .query(&Query {
            index: true,
            sk_prefix: Some("2025-".into()),
            descending: true,
            ..q("GUEST#1")
        })
        .await
        .expect("index prefix");
    assert_eq!(sks(&guest_2025), ["R#b", "R#a"]);
    let no_index_for_pk = t
        .query(&Query {
            index: true,
            ..q("H")
        })
        .await
        .expect("index by pk");
    assert!(no_index_for_pk.is_empty());

    // Removing gsi1pk through a Put drops the item from the index.
    t.transact(vec![put(json!({"pk": "H", "sk": "R#a"}))], vec![])
        .await
        .expect("unindex");
    let guest = t
        .query(&Query {
            index: true,
            ..q("GUEST#1")
        })
        .await
        .expect("index");
    assert_eq!(sks(&guest), ["R#e", "R#b"]);

    assert!(matches!(
        t.query(&Query {
            limit: Some(0),
            ..q("H")
        })
        .await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_conditional_increments_never_oversell() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("inventory");
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let t = Arc::clone(&t);
            tokio::spawn(async move {
                t.transact(
                    vec![Write::Update {
                        key: key("ROOM#1", "DAY#1"),
                        set: Item::new(),
                        add: vec![("held".into(), 1)],
                        cond: Some(Cond::Or(vec![
                            Cond::AttrNotExists("held".into()),
                            Cond::Le("held".into(), 4),
                        ])),
                    }],
                    vec![event("RoomHeld", "r")],
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(e, StoreError::ConditionFailed { failed: vec![0] }),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(
        get(&t, "ROOM#1", "DAY#1").await.map(|i| i["held"].clone()),
        Some(json!(5))
    );
    assert_eq!(
        db.event_log(Some("r")).await.expect("log").len(),
        5,
        "only successful commits publish"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn failing_transactions_do_not_affect_concurrent_ones() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("t");
    t.transact(vec![put(json!({"pk": "TAKEN", "sk": "S"}))], vec![])
        .await
        .expect("seed");
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let t = Arc::clone(&t);
            tokio::spawn(async move {
                let mut writes = vec![put_if(
                    json!({"pk": format!("K{i}"), "sk": "S", "i": i}),
                    Cond::NotExists,
                )];
                match i % 3 {
                    0 => {} // succeeds
                    1 => writes.push(Write::Check {
                        key: key("TAKEN", "S"),
                        cond: Cond::NotExists,
                    }),
                    _ => writes.push(put(json!({"pk": "P", "sk": ""}))), // invalid
                }
                (
                    i,
                    t.transact(writes, vec![event("E", &format!("r{i}"))]).await,
                )
            })
        })
        .collect();
    for task in tasks {
        let (i, result) = task.await.expect("join");
        let stored = get(&t, &format!("K{i}"), "S").await;
        match i % 3 {
            0 => {
                assert_eq!(result, Ok(()));
                assert_eq!(stored.map(|it| it["i"].clone()), Some(json!(i)));
            }
            1 => {
                assert_eq!(result, Err(StoreError::ConditionFailed { failed: vec![1] }));
                assert_eq!(stored, None);
            }
            _ => {
                assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
                assert_eq!(stored, None);
            }
        }
    }
    let log = db.event_log(None).await.expect("log");
    assert_eq!(log.len(), 100);
    assert!(log.iter().all(|e| {
        e.event
            .reservation_id()
            .trim_start_matches('r')
            .parse::<usize>()
            .is_ok_and(|i| i % 3 == 0)
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn reads_see_acknowledged_writes() {
    let s = Scratch::new();
    let db = s.open();
    let t = db.table("t");
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let t = Arc::clone(&t);
            tokio::spawn(async move {
                for round in 0..5 {
                    let k = key(&format!("K{i}"), "S");
                    t.transact(
                        vec![put(json!({"pk": k.pk, "sk": "S", "round": round}))],
                        vec![],
                    )
                    .await
                    .expect("put");
                    let got = t.get(&k).await.expect("get").map(|it| it["round"].clone());
                    assert_eq!(got, Some(json!(round)), "read after ack must see the write");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("join");
    }
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
                    vec![event("First", &rid), event("Second", &rid)],
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
            (
                pair[0].event.detail_type.as_str(),
                pair[1].event.detail_type.as_str()
            ),
            ("First", "Second")
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
            vec![event("A", "r-1")],
        )
        .await
        .expect("commit 1");
        t.transact(
            vec![put(json!({"pk": "P", "sk": "2"}))],
            vec![event("B", "r-2"), event("C", "r-1")],
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
        .map(|e| e.event.detail_type)
        .collect();
    assert_eq!(r1, ["A", "C"]);

    // Sequence numbers keep increasing after a restart.
    t.transact(vec![], vec![event("D", "r-3")])
        .await
        .expect("commit 3");
    let log = db.event_log(None).await.expect("log");
    assert!(log[3].seq > log[2].seq);
    db.mark_delivered(pending.iter().map(|e| e.seq).collect())
        .await
        .expect("mark");
    assert_eq!(db.undelivered_outbox().await.expect("undelivered").len(), 1);
}
