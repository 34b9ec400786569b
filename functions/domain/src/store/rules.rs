//! The rules of the [`Table`](super::Table) port, written once for every adapter: what a request
//! may hold (DynamoDB's refusals), how a condition evaluates against an item (DynamoDB's number
//! semantics), what a write does to its item (`ADD` arithmetic), which items the index holds and
//! which sort keys a prefix selects.
//!
//! Pure functions. The embedded store and the in-memory table apply all of them; the DynamoDB
//! adapter validates with them before sending (DynamoDB evaluates conditions itself), so a
//! request AWS would refuse is refused the same way everywhere.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::{Cond, Item, Key, Query, StoreError, Write};
use crate::events::DomainEvent;

/// DynamoDB's `TransactWriteItems` limit: writes plus outbox events.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Invalid(msg.into())
}

fn in_write(index: usize, e: StoreError) -> StoreError {
    match e {
        StoreError::Invalid(m) => invalid(format!("write {index}: {m}")),
        other => other,
    }
}

/// DynamoDB rejects empty strings as key values.
pub fn validate_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(invalid("pk and sk must be non-empty strings"));
    }
    Ok(())
}

/// DynamoDB rejects an empty partition value and `Limit` < 1.
pub fn validate_query(query: &Query) -> Result<(), StoreError> {
    if query.partition.is_empty() {
        return Err(invalid("query partition must be a non-empty string"));
    }
    if query.limit == Some(0) {
        return Err(invalid("query limit must be at least 1"));
    }
    Ok(())
}

fn is_index_attr(name: &str) -> bool {
    name == GSI1PK || name == GSI1SK
}

/// Index key attributes are optional, but when present they must be non-empty strings
/// (DynamoDB validates the type of every index key attribute).
fn check_index_attr(name: &str, value: &Value) -> Result<(), StoreError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(()),
        _ => Err(invalid(format!("{name} must be a non-empty string"))),
    }
}

/// The key of a put's item, which must hold both key attributes as non-empty strings.
fn check_put(item: &Item) -> Result<Key, StoreError> {
    let get = |name: &str| match item.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(invalid(format!(
            "item must contain a non-empty string `{name}`"
        ))),
    };
    let key = Key::new(get(PK)?, get(SK)?);
    for attr in [GSI1PK, GSI1SK] {
        if let Some(v) = item.get(attr) {
            check_index_attr(attr, v)?;
        }
    }
    Ok(key)
}

fn check_update(key: &Key, set: &Item, add: &[(String, i64)]) -> Result<(), StoreError> {
    validate_key(key)?;
    for (name, value) in set {
        if name == PK || name == SK {
            return Err(invalid(format!("update cannot set key attribute `{name}`")));
        }
        if is_index_attr(name) {
            check_index_attr(name, value)?;
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
    Ok(())
}

/// Checks one write on its own; answers the key it targets.
fn check_write(write: &Write) -> Result<Cow<'_, Key>, StoreError> {
    match write {
        Write::Put { item, .. } => check_put(item).map(Cow::Owned),
        Write::Update { key, set, add, .. } => {
            check_update(key, set, add).map(|()| Cow::Borrowed(key))
        }
        Write::Delete { key, .. } | Write::Check { key, .. } => {
            validate_key(key).map(|()| Cow::Borrowed(key))
        }
    }
}

fn check_size(writes: usize, events: usize) -> Result<(), StoreError> {
    if writes + events > MAX_TRANSACTION_ITEMS {
        return Err(invalid(format!(
            "a transaction holds at most {MAX_TRANSACTION_ITEMS} writes and events, got {}",
            writes + events
        )));
    }
    Ok(())
}

/// DynamoDB refuses a transaction that writes one key twice. Quadratic, but n <= 100 and this
/// avoids hashing every key on the hot path.
fn check_distinct<'a>(
    index: usize,
    key: &Key,
    earlier: impl IntoIterator<Item = &'a Key>,
) -> Result<(), StoreError> {
    if earlier.into_iter().any(|k| k == key) {
        return Err(invalid(format!(
            "write {index}: two writes on key ({}, {})",
            key.pk, key.sk
        )));
    }
    Ok(())
}

/// The checks every adapter makes before writing anything: too many items, a key written twice,
/// empty or missing keys, key attributes updated, index keys that are not non-empty strings, an
/// attribute named twice in one update.
pub fn validate_transaction(writes: &[Write], events: &[DomainEvent]) -> Result<(), StoreError> {
    check_size(writes.len(), events.len())?;
    let mut keys: Vec<Cow<'_, Key>> = Vec::with_capacity(writes.len());
    for (index, write) in writes.iter().enumerate() {
        let key = check_write(write).map_err(|e| in_write(index, e))?;
        check_distinct(index, &key, keys.iter().map(|k| k.as_ref()))?;
        keys.push(key);
    }
    Ok(())
}

/// What a valid write does, once its condition passed.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Put(Item),
    Update { set: Item, add: Vec<(String, i64)> },
    Delete,
    Check,
}

/// A write that passed [`validate_transaction`]'s checks, split into its key, effect and guard.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedWrite {
    pub key: Key,
    pub op: Op,
    pub cond: Option<Cond>,
}

impl PlannedWrite {
    /// Whether the current item must be read: blind puts and deletes skip the lookup.
    pub fn needs_current(&self) -> bool {
        self.cond.is_some() || matches!(self.op, Op::Update { .. })
    }
}

fn plan_write(write: Write) -> Result<PlannedWrite, StoreError> {
    let (key, op, cond) = match write {
        Write::Put { item, cond } => (check_put(&item)?, Op::Put(item), cond),
        Write::Update {
            key,
            set,
            add,
            cond,
        } => {
            check_update(&key, &set, &add)?;
            (key, Op::Update { set, add }, cond)
        }
        Write::Delete { key, cond } => {
            validate_key(&key)?;
            (key, Op::Delete, cond)
        }
        Write::Check { key, cond } => {
            validate_key(&key)?;
            (key, Op::Check, Some(cond))
        }
    };
    Ok(PlannedWrite { key, op, cond })
}

/// [`validate_transaction`], consuming the writes into their plan (no item is copied).
pub fn plan_transaction(
    writes: Vec<Write>,
    events: &[DomainEvent],
) -> Result<Vec<PlannedWrite>, StoreError> {
    check_size(writes.len(), events.len())?;
    let mut planned: Vec<PlannedWrite> = Vec::with_capacity(writes.len());
    for (index, write) in writes.into_iter().enumerate() {
        let w = plan_write(write).map_err(|e| in_write(index, e))?;
        check_distinct(index, &w.key, planned.iter().map(|p| &p.key))?;
        planned.push(w);
    }
    Ok(planned)
}

/// The one write of [`Table::increment`](super::Table::increment).
pub fn increment_write(key: &Key, attr: &str, by: i64) -> Write {
    Write::Update {
        key: key.clone(),
        set: Item::new(),
        add: vec![(attr.to_owned(), by)],
        cond: None,
    }
}

/// What a write does to its item once its condition passed.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Unchanged,
    Upsert(Item),
    Remove,
}

/// Decides a planned transaction from the state before it, as DynamoDB does: every condition sees
/// the items as they were (each key appears once), an update that cannot apply makes the request
/// invalid (the first such write is reported), any failed condition cancels it (reporting every
/// failing write), otherwise every write's outcome. `current` reads an item; it is called only
/// for the writes that need it.
pub fn resolve<E: From<StoreError>>(
    writes: Vec<PlannedWrite>,
    mut current: impl FnMut(&Key) -> Result<Option<Item>, E>,
) -> Result<Vec<(Key, Outcome)>, E> {
    let mut plan = Vec::with_capacity(writes.len());
    let mut failed = Vec::new();
    let mut refused = None;
    for (index, w) in writes.into_iter().enumerate() {
        let item = if w.needs_current() {
            current(&w.key)?
        } else {
            None
        };
        if let Some(cond) = &w.cond
            && !eval(cond, item.as_ref())
        {
            failed.push(index);
            continue;
        }
        match apply(w.op, &w.key, item) {
            Ok(outcome) => plan.push((w.key, outcome)),
            Err(e) => {
                refused.get_or_insert_with(|| in_write(index, e));
            }
        }
    }
    if let Some(e) = refused {
        return Err(e.into());
    }
    if !failed.is_empty() {
        return Err(StoreError::ConditionFailed { failed }.into());
    }
    Ok(plan)
}

/// Computes the new state of an item whose condition passed.
pub fn apply(op: Op, key: &Key, current: Option<Item>) -> Result<Outcome, StoreError> {
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

/// The value an increment answers: the attribute must be an integer once added to (a float
/// stored there makes it fail, and the increment is not kept).
pub fn counter_value(item: &Item, attr: &str) -> Result<i64, StoreError> {
    item.get(attr)
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid(format!("`{attr}` is not an integer after the increment")))
}

/// `ADD attr :n`: an absent attribute counts as 0; `None` when the attribute is not a number or
/// the result leaves i64. DynamoDB keeps 38 digits, but every reader decodes an i64: a larger
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
pub fn eval(cond: &Cond, item: Option<&Item>) -> bool {
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

/// The index keys of an item. DynamoDB's GSI is sparse: an item is indexed only when it holds
/// both index key attributes.
pub fn index_keys(item: &Item) -> Option<(&str, &str)> {
    match (item.get(GSI1PK), item.get(GSI1SK)) {
        (Some(Value::String(p)), Some(Value::String(s))) => Some((p, s)),
        _ => None,
    }
}

/// The sort keys a query selects: `>= lower` and, when there is an upper bound, `< upper`.
/// Without a prefix (or with an empty one) every sort key of the partition.
pub fn sort_key_range(query: &Query) -> (&str, Option<String>) {
    match query.sk_prefix.as_deref() {
        None | Some("") => ("", None),
        Some(prefix) => (prefix, prefix_successor(prefix)),
    }
}

/// The smallest string greater than every string starting with `prefix`, so a prefix query is a
/// range scan (`>= prefix AND < successor`). Strings compare by UTF-8 bytes (Rust, SQLite's
/// BINARY collation and DynamoDB alike), which orders like code points, so incrementing the last
/// incrementable code point works. `None` when no such bound exists (every char is `char::MAX`).
pub fn prefix_successor(prefix: &str) -> Option<String> {
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
mod tests;
