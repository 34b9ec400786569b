//! Test doubles for unit tests of the use cases: an in-memory table with the port's semantics, a
//! settable clock and a scripted payment provider.
use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::events::DomainEvent;
use crate::payment::{PaymentProvider, ProviderCharge, ProviderError};
use crate::store::{Cond, Item, Key, Query, StoreError, Table, Write};

#[derive(Default)]
pub struct MemTable {
    items: Mutex<BTreeMap<(String, String), Item>>,
    pub events: Mutex<Vec<DomainEvent>>,
}

fn holds(cond: &Cond, item: Option<&Item>) -> bool {
    let attr = |a: &str| item.and_then(|i| i.get(a));
    match cond {
        Cond::Exists => item.is_some(),
        Cond::NotExists => item.is_none(),
        Cond::AttrNotExists(a) => attr(a).is_none(),
        Cond::Eq(a, v) => attr(a) == Some(v),
        Cond::Ne(a, v) => attr(a) != Some(v),
        Cond::Lt(a, n) => attr(a).and_then(Value::as_i64).is_some_and(|x| x < *n),
        Cond::Le(a, n) => attr(a).and_then(Value::as_i64).is_some_and(|x| x <= *n),
        Cond::And(cs) => cs.iter().all(|c| holds(c, item)),
        Cond::Or(cs) => cs.iter().any(|c| holds(c, item)),
    }
}

fn key_of(w: &Write) -> (String, String) {
    match w {
        Write::Put { item, .. } => (
            item.get("pk")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            item.get("sk")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        Write::Update { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => {
            (key.pk.clone(), key.sk.clone())
        }
    }
}

#[async_trait]
impl Table for MemTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let items = self
            .items
            .lock()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(items.get(&(key.pk.clone(), key.sk.clone())).cloned())
    }

    async fn query(&self, q: &Query) -> Result<Vec<Item>, StoreError> {
        let items = self
            .items
            .lock()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let (pk, sk) = if q.index {
            ("gsi1pk", "gsi1sk")
        } else {
            ("pk", "sk")
        };
        let mut found: Vec<Item> = items
            .values()
            .filter(|i| i.get(pk).and_then(Value::as_str) == Some(q.partition.as_str()))
            .filter(|i| {
                q.sk_prefix.as_ref().is_none_or(|p| {
                    i.get(sk)
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.starts_with(p.as_str()))
                })
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            a.get(sk)
                .and_then(Value::as_str)
                .cmp(&b.get(sk).and_then(Value::as_str))
        });
        if q.descending {
            found.reverse();
        }
        if let Some(l) = q.limit {
            found.truncate(l);
        }
        Ok(found)
    }

    async fn transact(
        &self,
        writes: Vec<Write>,
        events: Vec<DomainEvent>,
    ) -> Result<(), StoreError> {
        let mut items = self
            .items
            .lock()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let failed: Vec<usize> = writes
            .iter()
            .enumerate()
            .filter(|(_, w)| {
                let current = items.get(&key_of(w));
                match w {
                    Write::Put { cond, .. }
                    | Write::Update { cond, .. }
                    | Write::Delete { cond, .. } => {
                        cond.as_ref().is_some_and(|c| !holds(c, current))
                    }
                    Write::Check { cond, .. } => !holds(cond, current),
                }
            })
            .map(|(i, _)| i)
            .collect();
        if !failed.is_empty() {
            return Err(StoreError::ConditionFailed { failed });
        }
        for w in writes {
            let k = key_of(&w);
            match w {
                Write::Put { item, .. } => {
                    items.insert(k, item);
                }
                Write::Update { set, add, .. } => {
                    let item = items.entry(k.clone()).or_insert_with(|| {
                        let mut i = Item::new();
                        i.insert("pk".into(), Value::String(k.0.clone()));
                        i.insert("sk".into(), Value::String(k.1.clone()));
                        i
                    });
                    item.extend(set);
                    for (a, d) in add {
                        let now = item.get(&a).and_then(Value::as_i64).unwrap_or(0);
                        item.insert(a, Value::from(now + d));
                    }
                }
                Write::Delete { .. } => {
                    items.remove(&k);
                }
                Write::Check { .. } => {}
            }
        }
        self.events
            .lock()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .extend(events);
        Ok(())
    }

    async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, StoreError> {
        let mut items = self
            .items
            .lock()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let item = items
            .entry((key.pk.clone(), key.sk.clone()))
            .or_insert_with(|| {
                let mut i = Item::new();
                i.insert("pk".into(), Value::String(key.pk.clone()));
                i.insert("sk".into(), Value::String(key.sk.clone()));
                i
            });
        let now = match item.get(attr) {
            None => 0,
            Some(v) => v
                .as_i64()
                .ok_or_else(|| StoreError::Invalid(format!("`{attr}` is not a number")))?,
        };
        item.insert(attr.to_owned(), Value::from(now + by));
        Ok(now + by)
    }
}

impl MemTable {
    pub fn event_names(&self) -> Vec<String> {
        self.events
            .lock()
            .map(|e| e.iter().map(|e| e.detail_type.clone()).collect())
            .unwrap_or_default()
    }
}

pub struct FixedClock(pub Mutex<OffsetDateTime>);

impl FixedClock {
    pub fn at(unix: i64) -> Self {
        Self(Mutex::new(
            OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        ))
    }
    pub fn advance_ms(&self, ms: i64) {
        if let Ok(mut t) = self.0.lock() {
            *t += time::Duration::milliseconds(ms);
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Answers charges from a script (one entry per call; the last one repeats) and counts calls.
pub struct ScriptedProvider {
    pub script: Mutex<Vec<Result<ProviderCharge, ProviderError>>>,
    pub charges: Mutex<usize>,
    pub refunds: Mutex<usize>,
}

impl ScriptedProvider {
    pub fn new(script: Vec<Result<ProviderCharge, ProviderError>>) -> Self {
        Self {
            script: Mutex::new(script),
            charges: Mutex::new(0),
            refunds: Mutex::new(0),
        }
    }
    pub fn approving() -> Self {
        Self::new(vec![Ok(ProviderCharge::Approved {
            provider_ref: "ref".into(),
        })])
    }
}

#[async_trait]
impl PaymentProvider for ScriptedProvider {
    async fn charge(&self, _: &str, _: &str, _: i64) -> Result<ProviderCharge, ProviderError> {
        if let Ok(mut c) = self.charges.lock() {
            *c += 1;
        }
        let mut s = self
            .script
            .lock()
            .map_err(|e| ProviderError::Transient(e.to_string()))?;
        if s.len() > 1 {
            s.remove(0)
        } else {
            s.first()
                .cloned()
                .unwrap_or(Err(ProviderError::Unavailable("empty script".into())))
        }
    }

    async fn refund(&self, _: &str, _: &str, _: i64) -> Result<(), ProviderError> {
        if let Ok(mut c) = self.refunds.lock() {
            *c += 1;
        }
        Ok(())
    }
}
