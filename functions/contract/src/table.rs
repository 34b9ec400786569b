//! The storage port ([`Table`]): conditional writes, all-or-nothing transactions with their
//! outbox events, queries by key and by index, and races between concurrent writers.
use std::sync::Arc;

use async_trait::async_trait;
use reserveplace_domain::events::{self, DomainEvent, EventName};
use reserveplace_domain::store::{Cond, Item, Key, Query, StoreError, Table, Write};
use serde_json::{Value, json};

/// One isolated store per case: tables that start empty and the events committed through them.
#[async_trait]
pub trait StoreFixture: Send + Sync {
    /// A table of this store, created empty on first use of `name`.
    async fn table(&self, name: &str) -> Arc<dyn Table>;
    /// Every event committed through this store's tables so far (the outbox), in any order.
    async fn committed_events(&self) -> Vec<DomainEvent>;
}

/// Emits one test per case: `table_contract!(async { <expression giving a StoreFixture> })`.
#[macro_export]
macro_rules! table_contract {
    ($fixture:expr) => {
        $crate::table_contract!(@cases $fixture;
            put_get_replace_delete,
            tables_are_independent_namespaces,
            put_requires_string_keys,
            every_condition_true_and_false,
            update_upserts_sets_and_adds,
            condition_failure_writes_nothing_and_reports_every_failing_write,
            invalid_transactions_write_nothing,
            query_orders_filters_limits_and_uses_the_index,
            query_pages_through_large_partitions,
            concurrent_conditional_increments_never_oversell,
            failing_transactions_do_not_affect_concurrent_ones,
            reads_see_acknowledged_writes,
            events_commit_with_their_writes,
            concurrent_increments_are_distinct_and_consecutive,
        );
    };
    (@cases $fixture:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $fixture.await;
                $crate::table::$case(&fixture).await;
            }
        )+
    };
}

/// Test-item builders, shared with adapter-specific tests.
pub fn item(v: Value) -> Item {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub fn put(v: Value) -> Write {
    Write::Put {
        item: item(v),
        cond: None,
    }
}

pub fn put_if(v: Value, cond: Cond) -> Write {
    Write::Put {
        item: item(v),
        cond: Some(cond),
    }
}

pub fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

/// A well-formed event of the catalogue kind `name` (e.g. "ReservationPlaced") about `reservation`.
pub fn event(name: &str, reservation: &str) -> DomainEvent {
    let kind =
        EventName::parse(name).unwrap_or_else(|| panic!("{name} is not an event of the catalogue"));
    events::example(kind, reservation)
}

async fn get(t: &Arc<dyn Table>, pk: &str, sk: &str) -> Option<Item> {
    t.get(&key(pk, sk)).await.expect("get")
}

/// One attribute of the item at (`pk`, `sk`), if the item is there.
async fn attr(t: &Arc<dyn Table>, pk: &str, sk: &str, name: &str) -> Option<Value> {
    get(t, pk, sk).await.map(|i| i[name].clone())
}

/// Runs `n` copies of `case` (given the table and the copy's number) at once; answers their
/// results in order.
async fn race<F, Fut>(t: &Arc<dyn Table>, n: usize, case: F) -> Vec<Fut::Output>
where
    F: Fn(Arc<dyn Table>, usize) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(case(Arc::clone(t), i)))
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.expect("join"));
    }
    results
}

fn in_partition(pk: &str) -> Query {
    Query {
        partition: pk.into(),
        ..Query::default()
    }
}

fn sks(items: &[Item]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["sk"].as_str().unwrap_or("?"))
        .collect()
}

async fn reservation_ids(f: &dyn StoreFixture) -> Vec<String> {
    let mut ids: Vec<String> = f
        .committed_events()
        .await
        .iter()
        .map(|e| e.reservation_id().to_owned())
        .collect();
    ids.sort();
    ids
}

pub async fn put_get_replace_delete(f: &dyn StoreFixture) {
    let t = f.table("rooms").await;
    assert_eq!(get(&t, "R#1", "META").await, None);
    let first = json!({"pk": "R#1", "sk": "META", "name": "Sea view", "beds": 2, "tags": ["a", "b"],
                       "nested": {"x": 1, "y": null}, "price": 50000, "ok": true});
    t.transact(vec![put(first.clone())], vec![])
        .await
        .expect("put");
    assert_eq!(
        get(&t, "R#1", "META").await,
        Some(item(first)),
        "values round-trip"
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

    let delete = |cond| Write::Delete {
        key: key("R#1", "META"),
        cond,
    };
    t.transact(vec![delete(None)], vec![])
        .await
        .expect("delete");
    assert_eq!(get(&t, "R#1", "META").await, None);
    // Deleting an absent item succeeds; with a failing condition it does not.
    t.transact(vec![delete(None)], vec![])
        .await
        .expect("delete absent");
    let err = t
        .transact(vec![delete(Some(Cond::Exists))], vec![])
        .await
        .expect_err("conditional delete of absent item");
    assert_eq!(err, StoreError::ConditionFailed { failed: vec![0] });
}

pub async fn tables_are_independent_namespaces(f: &dyn StoreFixture) {
    let (a, b) = (f.table("a").await, f.table("b").await);
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
    assert_eq!(attr(&a, "P", "S", "from").await, Some(json!("a")));
    assert_eq!(attr(&b, "P", "S", "from").await, Some(json!("b")));
    let q = in_partition("P");
    assert_eq!(a.query(&q).await.expect("query").len(), 1);
}

pub async fn put_requires_string_keys(f: &dyn StoreFixture) {
    let t = f.table("t").await;
    for bad in [
        json!({"sk": "S"}),
        json!({"pk": "P"}),
        json!({"pk": 1, "sk": "S"}),
        json!({"pk": "P", "sk": ""}),
        json!({"pk": "P", "sk": "S", "gsi1pk": 7}),
    ] {
        let err = t
            .transact(
                vec![put(bad.clone())],
                vec![event("ReservationPlaced", "r")],
            )
            .await
            .expect_err("invalid put");
        assert!(matches!(err, StoreError::Invalid(_)), "{bad}: {err:?}");
    }
    assert!(matches!(
        t.get(&key("", "S")).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(f.committed_events().await.is_empty());
}

pub async fn every_condition_true_and_false(f: &dyn StoreFixture) {
    let t = f.table("t").await;
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
            // The same condition guarding a single-item write.
            let got = t
                .transact(
                    vec![Write::Update {
                        key: k.clone(),
                        set: item(json!({"probe": true})),
                        add: vec![],
                        cond: Some(cond.clone()),
                    }],
                    vec![],
                )
                .await;
            assert_eq!(got, expect, "update if {cond:?} on {k:?}");
            if got.is_ok() {
                // Undo the probe so every case sees the same item.
                let undo = if k.sk == "ABSENT" {
                    Write::Delete {
                        key: k.clone(),
                        cond: None,
                    }
                } else {
                    put(json!({"pk": "P", "sk": "S", "n": 3, "s": "x", "z": null}))
                };
                t.transact(vec![undo], vec![]).await.expect("undo");
            }
        }
    }
    // Check never writes.
    assert_eq!(get(&t, "P", "ABSENT").await, None);
}

pub async fn update_upserts_sets_and_adds(f: &dyn StoreFixture) {
    let t = f.table("inventory").await;
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
        vec![event("ReservationPlaced", "r")],
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
            .transact(vec![bad], vec![event("ReservationPlaced", "bad")])
            .await
            .expect_err("invalid update");
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(
        t.get(&k).await.expect("get"),
        Some(got),
        "invalid updates change nothing"
    );
    assert_eq!(
        reservation_ids(f).await,
        ["r"],
        "only the committed update published"
    );
}

pub async fn condition_failure_writes_nothing_and_reports_every_failing_write(
    f: &dyn StoreFixture,
) {
    let t = f.table("t").await;
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
            vec![event("ReservationConfirmed", "r-1")],
        )
        .await
        .expect_err("cancelled");
    assert_eq!(err, StoreError::ConditionFailed { failed: vec![1, 2] });
    assert!(err.is_condition_failed());
    assert_eq!(get(&t, "A", "S").await, None);
    assert_eq!(attr(&t, "B", "S", "v").await, Some(json!(1)));
    assert_eq!(get(&t, "C", "S").await, None);
    assert!(
        f.committed_events().await.is_empty(),
        "a cancelled transaction publishes nothing"
    );

    t.transact(vec![], vec![event("PaymentApproved", "r-2")])
        .await
        .expect("event only");
    let events = f.committed_events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail_type(), "PaymentApproved");
}

pub async fn invalid_transactions_write_nothing(f: &dyn StoreFixture) {
    let t = f.table("t").await;
    let many = |n: usize| {
        (0..n)
            .map(|i| put(json!({"pk": "P", "sk": format!("{i:03}")})))
            .collect::<Vec<_>>()
    };
    let err = t.transact(many(101), vec![]).await.expect_err("too many");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = t
        .transact(many(100), vec![event("ReservationPlaced", "r")])
        .await
        .expect_err("events count toward the limit");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let dup = vec![
        put(json!({"pk": "P", "sk": "1"})),
        Write::Delete {
            key: key("P", "1"),
            cond: None,
        },
    ];
    let err = t
        .transact(dup, vec![event("ReservationPlaced", "r")])
        .await
        .expect_err("duplicate key");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    let q = in_partition("P");
    assert!(t.query(&q).await.expect("query").is_empty());
    assert!(f.committed_events().await.is_empty());

    t.transact(many(99), vec![event("ReservationPlaced", "r")])
        .await
        .expect("100 items are allowed");
    assert_eq!(t.query(&q).await.expect("query").len(), 99);
    assert_eq!(f.committed_events().await.len(), 1);
}

pub async fn query_orders_filters_limits_and_uses_the_index(f: &dyn StoreFixture) {
    let t = f.table("t").await;
    let other = f.table("other").await;
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
        vec![event("ReservationPlaced", "r")],
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

    let q = in_partition;
    let by_index = |partition: &str| Query {
        index: true,
        ..q(partition)
    };
    let cases: Vec<(&str, Query, Vec<&str>)> = vec![
        ("all", q("H"), vec!["META", "R#a", "R#b", "R#c", "R#d"]),
        (
            "prefix",
            Query {
                sk_prefix: Some("R#".into()),
                ..q("H")
            },
            vec!["R#a", "R#b", "R#c", "R#d"],
        ),
        (
            "desc",
            Query {
                sk_prefix: Some("R#".into()),
                descending: true,
                limit: Some(2),
                ..q("H")
            },
            vec!["R#d", "R#c"],
        ),
        (
            "limit",
            Query {
                limit: Some(1),
                ..q("H")
            },
            vec!["META"],
        ),
        ("empty", q("nobody"), vec![]),
        (
            "index: ordered by gsi1sk, sparse, this table only",
            by_index("GUEST#1"),
            vec!["R#e", "R#a", "R#b"],
        ),
        (
            "index prefix",
            Query {
                sk_prefix: Some("2025-".into()),
                descending: true,
                ..by_index("GUEST#1")
            },
            vec!["R#b", "R#a"],
        ),
        ("index by pk", by_index("H"), vec![]),
    ];
    for (what, query, want) in cases {
        let got = t.query(&query).await.expect(what);
        assert_eq!(sks(&got), want, "{what}");
    }

    // Removing gsi1pk through a Put drops the item from the index.
    t.transact(vec![put(json!({"pk": "H", "sk": "R#a"}))], vec![])
        .await
        .expect("unindex");
    let guest = t.query(&by_index("GUEST#1")).await.expect("index");
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

/// Results larger than one DynamoDB page (1 MB) come back whole, in order.
pub async fn query_pages_through_large_partitions(f: &dyn StoreFixture) {
    let t = f.table("big").await;
    let filler = "x".repeat(40_000);
    for chunk in 0..3 {
        let writes = (0..10)
            .map(|i| {
                put(json!({"pk": "BIG", "sk": format!("{:03}", chunk * 10 + i), "fill": filler}))
            })
            .collect();
        t.transact(writes, vec![]).await.expect("seed");
    }
    let q = in_partition("BIG");
    let all = t.query(&q).await.expect("query");
    let expected: Vec<String> = (0..30).map(|i| format!("{i:03}")).collect();
    assert_eq!(sks(&all), expected);
    let some = t
        .query(&Query {
            limit: Some(27),
            descending: true,
            ..q
        })
        .await
        .expect("limited");
    assert_eq!(some.len(), 27);
    assert_eq!(some[0]["sk"], json!("029"));
}

pub async fn concurrent_conditional_increments_never_oversell(f: &dyn StoreFixture) {
    let t = f.table("inventory").await;
    let results = race(&t, 100, |t, _| async move {
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
            vec![event("ReservationConfirmed", "r")],
        )
        .await
    })
    .await;
    let mut ok = 0;
    for result in results {
        match result {
            Ok(()) => ok += 1,
            Err(StoreError::ConditionFailed { failed }) => assert_eq!(failed, [0]),
            // A conflicting concurrent transaction (DynamoDB's TransactionConflict) is retryable.
            Err(StoreError::Unavailable(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(attr(&t, "ROOM#1", "DAY#1", "held").await, Some(json!(5)));
    assert_eq!(
        f.committed_events().await.len(),
        5,
        "only successful commits publish"
    );
}

pub async fn failing_transactions_do_not_affect_concurrent_ones(f: &dyn StoreFixture) {
    let t = f.table("t").await;
    t.transact(vec![put(json!({"pk": "TAKEN", "sk": "S"}))], vec![])
        .await
        .expect("seed");
    let results = race(&t, 150, |t, i| async move {
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
        t.transact(writes, vec![event("ReservationPlaced", &format!("r{i}"))])
            .await
    })
    .await;
    for (i, result) in results.into_iter().enumerate() {
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
    let events = f.committed_events().await;
    assert_eq!(events.len(), 50);
    assert!(events.iter().all(|e| {
        e.reservation_id()
            .trim_start_matches('r')
            .parse::<usize>()
            .is_ok_and(|i| i % 3 == 0)
    }));
}

pub async fn reads_see_acknowledged_writes(f: &dyn StoreFixture) {
    let t = f.table("t").await;
    race(&t, 40, |t, i| async move {
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
    .await;
}

/// The outbox: each event of a committed transaction is there exactly once, whole.
pub async fn events_commit_with_their_writes(f: &dyn StoreFixture) {
    let t = f.table("t").await;
    let (a, b) = (
        event("ReservationPlaced", "r-1"),
        event("ReservationStatusChanged", "r-1"),
    );
    t.transact(
        vec![put(json!({"pk": "R#r-1", "sk": "META"}))],
        vec![a.clone(), b.clone()],
    )
    .await
    .expect("commit");
    let only_events = event("PaymentApproved", "r-2");
    t.transact(vec![], vec![only_events.clone()])
        .await
        .expect("events alone");
    let mut got = f.committed_events().await;
    got.sort_by(|x, y| x.event_id().cmp(y.event_id()));
    let mut want = vec![a, b, only_events];
    want.sort_by(|x, y| x.event_id().cmp(y.event_id()));
    assert_eq!(got, want);
    // Outbox entries are not items of the table.
    let q = in_partition("R#r-1");
    assert_eq!(t.query(&q).await.expect("query").len(), 1);
}

/// `increment` is atomic: racing increments each get their own value, consecutive, none lost
/// (the seed facade's order numbers rely on it). It keeps the item's other attributes, accepts any
/// step, refuses non-numbers and key attributes, and publishes nothing.
pub async fn concurrent_increments_are_distinct_and_consecutive(f: &dyn StoreFixture) {
    let t = f.table("counters").await;
    let counter = key("SEQ#order", "SEQ");
    let mut got: Vec<i64> = race(&t, 64, |t, _| {
        let counter = counter.clone();
        async move { t.increment(&counter, "value", 1).await.expect("increment") }
    })
    .await;
    got.sort_unstable();
    assert_eq!(got, (1..=64).collect::<Vec<i64>>());
    assert_eq!(attr(&t, "SEQ#order", "SEQ", "value").await, Some(json!(64)));

    t.transact(
        vec![put(json!({"pk": "C", "sk": "1", "n": 10, "keep": "yes"}))],
        vec![],
    )
    .await
    .expect("seed item");
    assert_eq!(t.increment(&key("C", "1"), "n", 5).await, Ok(15));
    assert_eq!(t.increment(&key("C", "1"), "n", -20).await, Ok(-5));
    for attr in ["keep", "pk", "gsi1pk"] {
        assert!(
            matches!(
                t.increment(&key("C", "1"), attr, 1).await,
                Err(StoreError::Invalid(_))
            ),
            "increment of `{attr}` must be refused"
        );
    }
    assert_eq!(
        get(&t, "C", "1").await,
        Some(item(json!({"pk": "C", "sk": "1", "n": -5, "keep": "yes"})))
    );
    assert!(
        f.committed_events().await.is_empty(),
        "increments publish nothing"
    );
}
