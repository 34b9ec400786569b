//! Pure request logic shared by the writer and the readers: validation, condition evaluation and
//! update application. Nothing here touches SQLite, so it is unit-tested directly.

use std::cmp::Ordering;
use std::sync::Arc;

use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::{Cond, Item, Key, Query, StoreError, Write};
use serde_json::{Number, Value};

use reserveplace_domain::store::MAX_TRANSACTION_ITEMS;

const PK: &str = "pk";
const SK: &str = "sk";
const GSI1PK: &str = "gsi1pk";
const GSI1SK: &str = "gsi1sk";

/// A transaction validated by the caller's task, so the single writer thread spends its time on
/// SQLite only.
pub(crate) struct PreparedTxn {
    pub table: Arc<str>,
    pub writes: Vec<PreparedWrite>,
    pub events: Vec<PreparedEvent>,
}

pub(crate) struct PreparedWrite {
    pub key: Key,
    pub op: Op,
    pub cond: Option<Cond>,
}

pub(crate) enum Op {
    Put(Item),
    Update { set: Item, add: Vec<(String, i64)> },
    Delete,
    Check,
}

impl PreparedWrite {
    /// Whether the current item must be read: blind puts and deletes skip the lookup.
    pub fn needs_current(&self) -> bool {
        self.cond.is_some() || matches!(self.op, Op::Update { .. })
    }
}

pub(crate) struct PreparedEvent {
    /// `None` when the event carries no reservation id.
    pub reservation_id: Option<String>,
    pub body: String,
    pub event: DomainEvent,
}

/// What a write does to its item once its condition passed.
pub(crate) enum Outcome {
    Unchanged,
    Upsert(Item),
    Remove,
}

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Invalid(msg.into())
}

/// DynamoDB rejects empty strings as key values; the embedded store does the same so code that
/// works locally also works on AWS.
pub(crate) fn validate_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(invalid("pk and sk must be non-empty strings"));
    }
    Ok(())
}

/// Index key attributes are optional, but when present they must be non-empty strings
/// (DynamoDB validates the type of every index key attribute).
fn validate_index_attr(name: &str, value: &Value) -> Result<(), StoreError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(()),
        _ => Err(invalid(format!("{name} must be a non-empty string"))),
    }
}

fn is_index_attr(name: &str) -> bool {
    name == GSI1PK || name == GSI1SK
}

fn item_key(item: &Item) -> Result<Key, StoreError> {
    let get = |name: &str| match item.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(invalid(format!(
            "item must contain a non-empty string `{name}`"
        ))),
    };
    Ok(Key::new(get(PK)?, get(SK)?))
}

/// Validates a transaction and serializes its events. Fails with `Invalid` before anything is
/// written: too many writes, two writes on one key, malformed items or update expressions.
pub(crate) fn prepare(
    table: Arc<str>,
    writes: Vec<Write>,
    events: Vec<DomainEvent>,
) -> Result<PreparedTxn, StoreError> {
    if writes.len() + events.len() > MAX_TRANSACTION_ITEMS {
        return Err(invalid(format!(
            "a transaction holds at most {MAX_TRANSACTION_ITEMS} writes and events, got {}",
            writes.len() + events.len()
        )));
    }
    let mut prepared = Vec::with_capacity(writes.len());
    for (index, write) in writes.into_iter().enumerate() {
        let w = prepare_write(write).map_err(|e| match e {
            StoreError::Invalid(m) => invalid(format!("write {index}: {m}")),
            other => other,
        })?;
        // Quadratic, but n <= 100 and this avoids hashing every key on the hot path.
        if prepared.iter().any(|p: &PreparedWrite| p.key == w.key) {
            return Err(invalid(format!(
                "write {index}: two writes on key ({}, {})",
                w.key.pk, w.key.sk
            )));
        }
        prepared.push(w);
    }
    let mut prepared_events = Vec::with_capacity(events.len());
    for event in events {
        let body = serde_json::to_string(&event)
            .map_err(|e| invalid(format!("event cannot be serialized: {e}")))?;
        let rid = event.reservation_id();
        let reservation_id = (!rid.is_empty()).then(|| rid.to_owned());
        prepared_events.push(PreparedEvent {
            reservation_id,
            body,
            event,
        });
    }
    Ok(PreparedTxn {
        table,
        writes: prepared,
        events: prepared_events,
    })
}

fn prepare_write(write: Write) -> Result<PreparedWrite, StoreError> {
    match write {
        Write::Put { item, cond } => {
            let key = item_key(&item)?;
            for attr in [GSI1PK, GSI1SK] {
                if let Some(v) = item.get(attr) {
                    validate_index_attr(attr, v)?;
                }
            }
            Ok(PreparedWrite {
                key,
                op: Op::Put(item),
                cond,
            })
        }
        Write::Update {
            key,
            set,
            add,
            cond,
        } => {
            validate_key(&key)?;
            for (name, value) in &set {
                if name == PK || name == SK {
                    return Err(invalid(format!("update cannot set key attribute `{name}`")));
                }
                if is_index_attr(name) {
                    validate_index_attr(name, value)?;
                }
            }
            for (i, (name, _)) in add.iter().enumerate() {
                if name == PK || name == SK || is_index_attr(name) {
                    return Err(invalid(format!(
                        "update cannot add to key attribute `{name}`"
                    )));
                }
                // DynamoDB: "Two document paths overlap".
                if set.contains_key(name) || add[..i].iter().any(|(n, _)| n == name) {
                    return Err(invalid(format!("update names attribute `{name}` twice")));
                }
            }
            Ok(PreparedWrite {
                key,
                op: Op::Update { set, add },
                cond,
            })
        }
        Write::Delete { key, cond } => {
            validate_key(&key)?;
            Ok(PreparedWrite {
                key,
                op: Op::Delete,
                cond,
            })
        }
        Write::Check { key, cond } => {
            validate_key(&key)?;
            Ok(PreparedWrite {
                key,
                op: Op::Check,
                cond: Some(cond),
            })
        }
    }
}

/// Validates a query (DynamoDB rejects an empty partition value and `Limit` < 1).
pub(crate) fn validate_query(query: &Query) -> Result<(), StoreError> {
    if query.partition.is_empty() {
        return Err(invalid("query partition must be a non-empty string"));
    }
    if query.limit == Some(0) {
        return Err(invalid("query limit must be at least 1"));
    }
    Ok(())
}

/// Computes the new state of an item whose condition passed.
pub(crate) fn apply(op: Op, key: &Key, current: Option<Item>) -> Result<Outcome, StoreError> {
    match op {
        Op::Put(item) => Ok(Outcome::Upsert(item)),
        Op::Delete => Ok(Outcome::Remove),
        Op::Check => Ok(Outcome::Unchanged),
        Op::Update { set, add } => {
            let mut item = current.unwrap_or_else(|| {
                let mut fresh = Item::new();
                fresh.insert(PK.to_owned(), Value::String(key.pk.clone()));
                fresh.insert(SK.to_owned(), Value::String(key.sk.clone()));
                fresh
            });
            item.extend(set);
            for (name, delta) in add {
                let sum = match item.get(&name) {
                    Some(v) if !v.is_number() => {
                        return Err(invalid(format!(
                            "cannot add to non-number attribute `{name}`"
                        )));
                    }
                    current => add_number(current, delta).ok_or_else(|| {
                        invalid(format!(
                            "number overflow: `{name}` + {delta} does not fit a 64-bit integer"
                        ))
                    })?,
                };
                item.insert(name, sum);
            }
            Ok(Outcome::Upsert(item))
        }
    }
}

/// `ADD attr :n`: an absent attribute counts as 0; `None` when the attribute is not a number or
/// the result leaves i64. DynamoDB keeps 38 digits, but every reader here decodes an i64: a larger
/// sum is refused like DynamoDB refuses one beyond 38 digits, never stored where no reader sees it.
fn add_number(current: Option<&Value>, delta: i64) -> Option<Value> {
    let n = match current {
        None => return Some(Value::from(delta)),
        Some(Value::Number(n)) => n,
        Some(_) => return None,
    };
    if let Some(i) = n.as_i64() {
        return int_value(i128::from(i) + i128::from(delta));
    }
    if let Some(u) = n.as_u64() {
        return int_value(i128::from(u) + i128::from(delta));
    }
    let f = n.as_f64()? + delta as f64;
    Number::from_f64(f).map(Value::Number)
}

fn int_value(sum: i128) -> Option<Value> {
    i64::try_from(sum).ok().map(Value::from)
}

/// Evaluates a condition against the current item (`None` = absent item, no attributes).
pub(crate) fn eval(cond: &Cond, item: Option<&Item>) -> bool {
    let attr = |name: &str| item.and_then(|i| i.get(name));
    match cond {
        Cond::Exists => item.is_some(),
        Cond::NotExists => item.is_none(),
        Cond::AttrNotExists(a) => attr(a).is_none(),
        Cond::Eq(a, v) => attr(a).is_some_and(|cur| json_eq(cur, v)),
        Cond::Ne(a, v) => attr(a).is_none_or(|cur| !json_eq(cur, v)),
        Cond::Lt(a, n) => attr(a).and_then(|cur| cmp_number(cur, *n)) == Some(Ordering::Less),
        Cond::Le(a, n) => matches!(
            attr(a).and_then(|cur| cmp_number(cur, *n)),
            Some(Ordering::Less | Ordering::Equal)
        ),
        Cond::And(cs) => cs.iter().all(|c| eval(c, item)),
        Cond::Or(cs) => cs.iter().any(|c| eval(c, item)),
    }
}

/// Numeric comparison; `None` when the value is not a number.
fn cmp_number(value: &Value, n: i64) -> Option<Ordering> {
    let Value::Number(num) = value else {
        return None;
    };
    if let Some(i) = num.as_i64() {
        Some(i.cmp(&n))
    } else if num.as_u64().is_some() {
        // Only integers above i64::MAX fail `as_i64` while passing `as_u64`.
        Some(Ordering::Greater)
    } else {
        num.as_f64().and_then(|f| f.partial_cmp(&(n as f64)))
    }
}

/// Equality as DynamoDB sees it: numbers compare by value (`1` equals `1.0`), recursively.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn number_eq(x: &Number, y: &Number) -> bool {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(x), int(y)) {
        (Some(p), Some(q)) => p == q,
        _ => x.as_f64().zip(y.as_f64()).is_some_and(|(p, q)| p == q),
    }
}

/// Index columns of an item. DynamoDB's GSI is sparse: an item is indexed only when it holds
/// both index key attributes.
pub(crate) fn index_keys(item: &Item) -> Option<(&str, &str)> {
    match (item.get(GSI1PK), item.get(GSI1SK)) {
        (Some(Value::String(p)), Some(Value::String(s))) => Some((p, s)),
        _ => None,
    }
}

/// The smallest string greater than every string starting with `prefix`, so a prefix query is
/// an index range scan (`>= prefix AND < successor`). SQLite's BINARY collation compares UTF-8
/// bytes, which orders like code points, so incrementing the last incrementable code point works.
/// `None` when no such bound exists (every char is `char::MAX`).
pub(crate) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 + 1 {
            0xD800 => Some('\u{E000}'), // skip the surrogate gap
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        match v {
            Value::Object(m) => m,
            _ => Item::new(),
        }
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
        let it = item(json!({"pk": "p", "sk": "s", "n": 3, "f": 2.5, "s": "x", "big": u64::MAX}));
        let it = Some(&it);
        assert!(eval(&Cond::Exists, it));
        assert!(!eval(&Cond::NotExists, it));
        assert!(!eval(&Cond::AttrNotExists("n".into()), it));
        assert!(eval(&Cond::Eq("n".into(), json!(3.0)), it));
        assert!(!eval(&Cond::Ne("n".into(), json!(3)), it));
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
}
