//! The in-memory [`Table`] of unit tests. It applies the port's [`rules`] exactly as the embedded
//! store does (same refusals, same conditions, same `ADD` arithmetic, same index and ordering), so
//! it passes the same contract suite and a test on it tells the truth about the real stores.
//! Each call holds one lock for its whole duration: transactions are trivially atomic.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::rules::{self, Outcome};
use super::{Item, Key, Query, StoreError, Table, Write};
use crate::events::DomainEvent;

type Outbox = Arc<Mutex<Vec<DomainEvent>>>;

/// A test that panicked while holding a lock left no half-applied change behind (every change is
/// decided before the first mutation), so the data stays usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Tables sharing one outbox, as the tables of one database do.
#[derive(Default)]
pub struct MemoryStore {
    outbox: Outbox,
    tables: Mutex<HashMap<String, Arc<MemoryTable>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The table `name`, created empty on first use.
    pub fn table(&self, name: &str) -> Arc<MemoryTable> {
        let mut tables = lock(&self.tables);
        let table = tables.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(MemoryTable {
                outbox: Arc::clone(&self.outbox),
                ..MemoryTable::default()
            })
        });
        Arc::clone(table)
    }

    /// Every event committed through this store's tables, in commit order.
    pub fn events(&self) -> Vec<DomainEvent> {
        lock(&self.outbox).clone()
    }
}

/// One table; `MemoryTable::default()` is a table with an outbox of its own.
#[derive(Default)]
pub struct MemoryTable {
    items: Mutex<BTreeMap<Key, Item>>,
    outbox: Outbox,
    transactions: AtomicUsize,
}

impl MemoryTable {
    /// A table with an outbox of its own, ready to share.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The stored item at `key`, read without going through the port.
    pub fn item(&self, key: &Key) -> Option<Item> {
        lock(&self.items).get(key).cloned()
    }

    /// How many items the table holds.
    pub fn len(&self) -> usize {
        lock(&self.items).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every event committed through the outbox of this table (and of its store), in commit order.
    pub fn events(&self) -> Vec<DomainEvent> {
        lock(&self.outbox).clone()
    }

    /// The `detail-type` of every committed event, in commit order.
    pub fn event_names(&self) -> Vec<String> {
        lock(&self.outbox)
            .iter()
            .map(|e| e.detail_type().to_owned())
            .collect()
    }

    /// How many times `transact` was called, whatever its result.
    pub fn transactions(&self) -> usize {
        self.transactions.load(Ordering::Relaxed)
    }
}

/// Applies decided outcomes; nothing here can fail, so a transaction is all or nothing.
fn commit(items: &mut BTreeMap<Key, Item>, plan: Vec<(Key, Outcome)>) {
    for (key, outcome) in plan {
        match outcome {
            Outcome::Upsert(item) => {
                items.insert(key, item);
            }
            Outcome::Remove => {
                items.remove(&key);
            }
            Outcome::Unchanged => {}
        }
    }
}

fn query(items: &BTreeMap<Key, Item>, q: &Query) -> Vec<Item> {
    let (lower, upper) = rules::sort_key_range(q);
    let below_upper = |sk: &str| upper.as_deref().is_none_or(|u| sk < u);
    let mut found: Vec<Item> = if q.index {
        // Ties on the index sort key are broken by the primary key, as the embedded store does.
        let mut hits: Vec<(&str, &Key, &Item)> = items
            .iter()
            .filter_map(|(key, item)| {
                let (p, s) = rules::index_keys(item)?;
                (p == q.partition && s >= lower && below_upper(s)).then_some((s, key, item))
            })
            .collect();
        hits.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        hits.into_iter().map(|(_, _, item)| item.clone()).collect()
    } else {
        items
            .range(Key::new(q.partition.as_str(), lower)..)
            .take_while(|(key, _)| key.pk == q.partition && below_upper(&key.sk))
            .map(|(_, item)| item.clone())
            .collect()
    };
    if q.descending {
        found.reverse();
    }
    if let Some(limit) = q.limit {
        found.truncate(limit);
    }
    found
}

#[async_trait]
impl Table for MemoryTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        rules::validate_key(key)?;
        Ok(self.item(key))
    }

    async fn query(&self, q: &Query) -> Result<Vec<Item>, StoreError> {
        rules::validate_query(q)?;
        Ok(query(&lock(&self.items), q))
    }

    async fn transact(
        &self,
        writes: Vec<Write>,
        events: Vec<DomainEvent>,
    ) -> Result<(), StoreError> {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        if writes.is_empty() && events.is_empty() {
            return Ok(());
        }
        let planned = rules::plan_transaction(writes, &events)?;
        let mut items = lock(&self.items);
        let plan = rules::resolve(planned, |k| Ok::<_, StoreError>(items.get(k).cloned()))?;
        commit(&mut items, plan);
        // Under the items' lock: no reader sees the writes without their events.
        lock(&self.outbox).extend(events);
        Ok(())
    }

    async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, StoreError> {
        let planned = rules::plan_transaction(vec![rules::increment_write(key, attr, by)], &[])?;
        let mut items = lock(&self.items);
        let plan = rules::resolve(planned, |k| Ok::<_, StoreError>(items.get(k).cloned()))?;
        let value = match plan.first() {
            Some((_, Outcome::Upsert(item))) => rules::counter_value(item, attr)?,
            _ => {
                return Err(StoreError::Invalid(
                    "an increment must update its item".into(),
                ));
            }
        };
        commit(&mut items, plan);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::store::Cond;

    fn item(v: Value) -> Item {
        match v {
            Value::Object(m) => m,
            _ => Item::new(),
        }
    }

    #[tokio::test]
    async fn numbers_compare_by_value_like_the_real_stores() {
        let t = MemoryTable::new();
        let seed = Write::Put {
            item: item(json!({"pk": "p", "sk": "s", "n": 2.0, "big": u64::MAX})),
            cond: None,
        };
        t.transact(vec![seed], vec![]).await.expect("seed");
        let check = |cond| Write::Check {
            key: Key::new("p", "s"),
            cond,
        };
        t.transact(vec![check(Cond::Eq("n".into(), json!(2)))], vec![])
            .await
            .expect("2.0 equals 2");
        assert_eq!(
            t.transact(vec![check(Cond::Le("big".into(), i64::MAX))], vec![])
                .await,
            Err(StoreError::ConditionFailed { failed: vec![0] })
        );
        assert!(matches!(
            t.increment(&Key::new("p", "s"), "n", 1).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(
            t.item(&Key::new("p", "s")).map(|i| i["n"].clone()),
            Some(json!(2.0))
        );
        assert_eq!(t.transactions(), 3);
    }

    #[tokio::test]
    async fn a_store_hands_out_one_table_per_name() {
        let store = MemoryStore::new();
        let (a, b) = (store.table("a"), store.table("b"));
        assert!(Arc::ptr_eq(&a, &store.table("a")));
        let write = Write::Put {
            item: item(json!({"pk": "p", "sk": "s"})),
            cond: None,
        };
        a.transact(vec![write], vec![]).await.expect("put");
        assert_eq!(a.len(), 1);
        assert!(b.is_empty());
        assert!(store.events().is_empty());
    }
}
