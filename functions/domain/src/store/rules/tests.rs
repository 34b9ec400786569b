use serde_json::json;

use super::*;

fn item(v: Value) -> Item {
    match v {
        Value::Object(m) => m,
        _ => Item::new(),
    }
}

fn put(v: Value) -> Write {
    Write::Put {
        item: item(v),
        cond: None,
    }
}

fn update(set: Value, add: &[(&str, i64)]) -> Write {
    Write::Update {
        key: Key::new("p", "s"),
        set: item(set),
        add: add.iter().map(|(a, n)| ((*a).to_owned(), *n)).collect(),
        cond: None,
    }
}

/// Both entry points refuse the same requests with the same message.
fn refused(writes: Vec<Write>, events: &[DomainEvent]) -> String {
    let borrowed = validate_transaction(&writes, events);
    let planned = plan_transaction(writes, events).map(drop);
    assert_eq!(borrowed, planned, "validate and plan must agree");
    match planned {
        Err(StoreError::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn malformed_writes_are_refused_with_their_index() {
    let cases: Vec<(Write, &str)> = vec![
        (put(json!({"sk": "s"})), "non-empty string `pk`"),
        (put(json!({"pk": "p", "sk": ""})), "non-empty string `sk`"),
        (put(json!({"pk": 1, "sk": "s"})), "non-empty string `pk`"),
        (
            put(json!({"pk": "p", "sk": "s", "gsi1pk": 7})),
            "gsi1pk must be a non-empty string",
        ),
        (
            put(json!({"pk": "p", "sk": "s", "gsi1sk": ""})),
            "gsi1sk must be a non-empty string",
        ),
        (
            update(json!({"pk": "x"}), &[]),
            "cannot set key attribute `pk`",
        ),
        (update(json!({"gsi1pk": ""}), &[]), "gsi1pk must be"),
        (update(json!({}), &[("gsi1sk", 1)]), "cannot add to key"),
        (update(json!({"n": 1}), &[("n", 1)]), "`n` twice"),
        (update(json!({}), &[("n", 1), ("n", 2)]), "`n` twice"),
        (
            Write::Delete {
                key: Key::new("", "s"),
                cond: None,
            },
            "pk and sk must be non-empty",
        ),
        (
            Write::Check {
                key: Key::new("p", ""),
                cond: Cond::Exists,
            },
            "pk and sk must be non-empty",
        ),
    ];
    for (bad, expected) in cases {
        let ok = put(json!({"pk": "other", "sk": "s"}));
        let m = refused(vec![ok, bad.clone()], &[]);
        assert!(
            m.starts_with("write 1: ") && m.contains(expected),
            "{bad:?}: {m}"
        );
    }
}

#[test]
fn size_and_duplicate_keys_are_refused() {
    let many = |n: usize| -> Vec<Write> {
        (0..n)
            .map(|i| put(json!({"pk": "p", "sk": format!("{i}")})))
            .collect()
    };
    assert!(refused(many(101), &[]).contains("at most 100"));
    assert!(plan_transaction(many(100), &[]).is_ok());
    let dup = vec![
        put(json!({"pk": "p", "sk": "s"})),
        Write::Check {
            key: Key::new("p", "s"),
            cond: Cond::Exists,
        },
    ];
    assert_eq!(refused(dup, &[]), "write 1: two writes on key (p, s)");
}

#[test]
fn queries_are_validated() {
    let q = |partition: &str, limit| Query {
        partition: partition.into(),
        limit,
        ..Query::default()
    };
    assert!(validate_query(&q("p", None)).is_ok());
    assert!(validate_query(&q("p", Some(1))).is_ok());
    assert!(matches!(
        validate_query(&q("", None)),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        validate_query(&q("p", Some(0))),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn plan_keeps_order_keys_and_guards() {
    let writes = vec![
        put(json!({"pk": "a", "sk": "1"})),
        Write::Check {
            key: Key::new("b", "2"),
            cond: Cond::Exists,
        },
        Write::Delete {
            key: Key::new("c", "3"),
            cond: None,
        },
    ];
    let plan = plan_transaction(writes, &[]).expect("valid");
    let keys: Vec<_> = plan
        .iter()
        .map(|w| (w.key.pk.as_str(), w.key.sk.as_str()))
        .collect();
    assert_eq!(keys, [("a", "1"), ("b", "2"), ("c", "3")]);
    assert_eq!(plan[1].cond, Some(Cond::Exists));
    assert!(plan[1].needs_current());
    assert!(!plan[0].needs_current() && !plan[2].needs_current());
}

#[test]
fn resolve_sees_the_state_before_and_reports_every_failed_condition() {
    let stored = item(json!({"pk": "b", "sk": "s", "n": 1}));
    let read =
        |k: &Key| -> Result<Option<Item>, StoreError> { Ok((k.pk == "b").then(|| stored.clone())) };
    let guarded = |pk: &str, cond| Write::Update {
        key: Key::new(pk, "s"),
        set: Item::new(),
        add: vec![("n".into(), 1)],
        cond: Some(cond),
    };
    let plan = |writes| plan_transaction(writes, &[]).expect("valid");
    let failed = resolve(
        plan(vec![
            guarded("a", Cond::Exists),
            guarded("b", Cond::Eq("n".into(), json!(1.0))),
            guarded("c", Cond::Exists),
        ]),
        read,
    );
    assert_eq!(
        failed,
        Err(StoreError::ConditionFailed { failed: vec![0, 2] })
    );

    let done = resolve(plan(vec![guarded("b", Cond::Le("n".into(), 1))]), read).expect("ok");
    assert_eq!(
        done,
        [(
            Key::new("b", "s"),
            Outcome::Upsert(item(json!({"pk": "b", "sk": "s", "n": 2})))
        )]
    );

    // An update that cannot apply makes the whole request invalid, even beside failed conditions.
    let text = Write::Update {
        key: Key::new("t", "s"),
        set: item(json!({"n": "x"})),
        add: vec![],
        cond: None,
    };
    let bad_add = Write::Update {
        key: Key::new("b", "s"),
        set: Item::new(),
        add: vec![("n".into(), i64::MAX)],
        cond: None,
    };
    let got = resolve(plan(vec![guarded("a", Cond::Exists), text, bad_add]), read);
    match got {
        Err(StoreError::Invalid(m)) => assert!(m.starts_with("write 2: number overflow"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn resolve_reads_only_what_it_needs() {
    let mut reads = Vec::new();
    let writes = plan_transaction(
        vec![
            put(json!({"pk": "a", "sk": "s"})),
            Write::Delete {
                key: Key::new("b", "s"),
                cond: None,
            },
            update(json!({}), &[("n", 1)]),
        ],
        &[],
    )
    .expect("valid");
    let out = resolve(writes, |k: &Key| {
        reads.push(k.pk.clone());
        Ok::<_, StoreError>(None)
    })
    .expect("ok");
    assert_eq!(reads, ["p"]);
    assert_eq!(out.len(), 3);
    assert_eq!(out[1].1, Outcome::Remove);
}

#[test]
fn increment_write_and_counter_value() {
    let w = increment_write(&Key::new("c", "1"), "n", 3);
    let plan = plan_transaction(vec![w], &[]).expect("valid");
    let out = resolve(plan, |_: &Key| Ok::<_, StoreError>(None)).expect("ok");
    let Outcome::Upsert(created) = &out[0].1 else {
        panic!("an increment upserts");
    };
    assert_eq!(counter_value(created, "n"), Ok(3));
    let float = item(json!({"n": 1.5}));
    assert!(matches!(
        counter_value(&float, "n"),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        plan_transaction(vec![increment_write(&Key::new("c", "1"), "pk", 1)], &[]),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn conditions_on_absent_item() {
    assert!(!eval(&Cond::Exists, None));
    assert!(eval(&Cond::NotExists, None));
    assert!(eval(&Cond::AttrNotExists("a".into()), None));
    assert!(!eval(&Cond::Eq("a".into(), json!(1)), None));
    assert!(eval(&Cond::Ne("a".into(), json!(1)), None));
    assert!(!eval(&Cond::Lt("a".into(), 1), None));
    assert!(!eval(&Cond::Le("a".into(), 1), None));
    assert!(eval(&Cond::And(vec![]), None));
    assert!(!eval(&Cond::Or(vec![]), None));
}

#[test]
fn conditions_on_present_item() {
    let it = item(
        json!({"pk": "p", "sk": "s", "n": 3, "f": 2.5, "s": "x", "big": u64::MAX,
                         "nested": {"a": [1, 2.0]}}),
    );
    let it = Some(&it);
    assert!(eval(&Cond::Exists, it));
    assert!(!eval(&Cond::NotExists, it));
    assert!(!eval(&Cond::AttrNotExists("n".into()), it));
    assert!(eval(&Cond::Eq("n".into(), json!(3.0)), it));
    assert!(!eval(&Cond::Ne("n".into(), json!(3)), it));
    assert!(eval(&Cond::Eq("nested".into(), json!({"a": [1.0, 2]})), it));
    assert!(!eval(
        &Cond::Eq("nested".into(), json!({"a": [1, 2, 3]})),
        it
    ));
    assert!(eval(&Cond::Lt("n".into(), 4), it));
    assert!(!eval(&Cond::Lt("n".into(), 3), it));
    assert!(eval(&Cond::Le("n".into(), 3), it));
    assert!(eval(&Cond::Lt("f".into(), 3), it));
    assert!(!eval(&Cond::Le("f".into(), 2), it));
    assert!(!eval(&Cond::Le("big".into(), i64::MAX), it));
    assert!(
        !eval(&Cond::Lt("s".into(), 100), it),
        "strings are not numbers"
    );
}

#[test]
fn add_handles_types_and_overflow() {
    assert_eq!(add_number(None, 5), Some(json!(5)));
    assert_eq!(add_number(Some(&json!(2)), -5), Some(json!(-3)));
    assert_eq!(add_number(Some(&json!(i64::MAX)), 1), None);
    assert_eq!(add_number(Some(&json!(i64::MIN)), -1), None);
    assert_eq!(
        add_number(Some(&json!(i64::MAX as u64 + 1)), -2),
        Some(json!(i64::MAX - 1))
    );
    assert_eq!(add_number(Some(&json!(1.5)), 1), Some(json!(2.5)));
    assert_eq!(add_number(Some(&json!("1")), 1), None);
    assert_eq!(add_number(Some(&json!(u64::MAX)), 1), None);
}

#[test]
fn add_overflow_is_refused_not_stored() {
    let key = Key::new("p", "s");
    let current = item(json!({"pk": "p", "sk": "s", "n": i64::MAX}));
    let op = |d| Op::Update {
        set: Item::new(),
        add: vec![("n".into(), d)],
    };
    match apply(op(1), &key, Some(current.clone())) {
        Err(StoreError::Invalid(m)) => assert!(m.contains("overflow"), "{m}"),
        _ => panic!("an i64 overflow must be refused"),
    }
    assert!(matches!(
        apply(op(-1), &key, Some(current)),
        Ok(Outcome::Upsert(i)) if i["n"] == json!(i64::MAX - 1)
    ));
}

#[test]
fn index_keys_are_sparse() {
    assert_eq!(
        index_keys(&item(json!({"gsi1pk": "g", "gsi1sk": "1"}))),
        Some(("g", "1"))
    );
    assert_eq!(index_keys(&item(json!({"gsi1pk": "g"}))), None);
    assert_eq!(index_keys(&item(json!({"gsi1sk": "1"}))), None);
}

#[test]
fn sort_key_range_of_a_query() {
    let q = |prefix: Option<&str>| Query {
        partition: "p".into(),
        sk_prefix: prefix.map(str::to_owned),
        ..Query::default()
    };
    assert_eq!(sort_key_range(&q(None)), ("", None));
    assert_eq!(sort_key_range(&q(Some(""))), ("", None));
    assert_eq!(
        sort_key_range(&q(Some("R#"))),
        ("R#", Some("R$".to_owned()))
    );
    assert_eq!(sort_key_range(&q(Some("\u{10FFFF}"))), ("\u{10FFFF}", None));
}

#[test]
fn prefix_successor_bounds_exactly_the_prefix() {
    assert_eq!(prefix_successor("abc").as_deref(), Some("abd"));
    assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_successor("\u{10FFFF}"), None);
    assert_eq!(prefix_successor(""), None);
    let upper = prefix_successor("ab").unwrap_or_default();
    for s in ["ab", "ab\u{0}", "ab\u{10FFFF}\u{10FFFF}", "abz"] {
        assert!(s >= "ab" && s < upper.as_str(), "{s:?} must be inside");
    }
    for s in ["aa\u{10FFFF}", "ac", "b"] {
        assert!(!(s >= "ab" && s < upper.as_str()), "{s:?} must be outside");
    }
}
