//! Test doubles shared by the integration tests and the bench example: an in-memory `Table`
//! honouring conditions and transactions, and a scriptable `TaskInvoker`.
#![allow(dead_code)] // each test binary uses a subset

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::{Cond, Item, Key, Query, StoreError, Table, Write};
use reserveplace_local_sfn::{ExecutionView, Interpreter, StateMachine, TaskError, TaskInvoker};
use serde_json::Value;

pub mod saga_model;

/// A `Mutex<BTreeMap>` table: atomic transactions, DynamoDB-like conditions, sparse gsi1.
#[derive(Default)]
pub struct MemoryTable {
    items: Mutex<BTreeMap<(String, String), Item>>,
    pub transactions: AtomicUsize,
}

fn attr<'a>(item: Option<&'a Item>, name: &str) -> Option<&'a Value> {
    item.and_then(|i| i.get(name))
}

fn eval(cond: &Cond, item: Option<&Item>) -> bool {
    match cond {
        Cond::Exists => item.is_some(),
        Cond::NotExists => item.is_none(),
        Cond::AttrNotExists(a) => attr(item, a).is_none(),
        Cond::Eq(a, v) => attr(item, a) == Some(v),
        Cond::Ne(a, v) => attr(item, a) != Some(v),
        Cond::Lt(a, n) => attr(item, a)
            .and_then(Value::as_i64)
            .is_some_and(|x| x < *n),
        Cond::Le(a, n) => attr(item, a)
            .and_then(Value::as_i64)
            .is_some_and(|x| x <= *n),
        Cond::And(cs) => cs.iter().all(|c| eval(c, item)),
        Cond::Or(cs) => cs.iter().any(|c| eval(c, item)),
    }
}

fn key_of(item: &Item) -> Result<(String, String), StoreError> {
    match (item.get("pk"), item.get("sk")) {
        (Some(Value::String(pk)), Some(Value::String(sk))) => Ok((pk.clone(), sk.clone())),
        _ => Err(StoreError::Invalid("item without pk/sk".into())),
    }
}

fn pair(key: &Key) -> (String, String) {
    (key.pk.clone(), key.sk.clone())
}

impl MemoryTable {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn get_item(&self, pk: &str, sk: &str) -> Option<Item> {
        self.items
            .lock()
            .ok()?
            .get(&(pk.to_owned(), sk.to_owned()))
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.items.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[async_trait]
impl Table for MemoryTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let items = self
            .items
            .lock()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(items.get(&pair(key)).cloned())
    }

    async fn query(&self, query: &Query) -> Result<Vec<Item>, StoreError> {
        let items = self
            .items
            .lock()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let (pk_attr, sk_attr) = if query.index {
            ("gsi1pk", "gsi1sk")
        } else {
            ("pk", "sk")
        };
        let mut found: Vec<(String, Item)> = items
            .values()
            .filter(|i| i.get(pk_attr).and_then(Value::as_str) == Some(query.partition.as_str()))
            .filter_map(|i| {
                let sk = i.get(sk_attr)?.as_str()?.to_owned();
                let keep = query.sk_prefix.as_deref().is_none_or(|p| sk.starts_with(p));
                keep.then(|| (sk, i.clone()))
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        if query.descending {
            found.reverse();
        }
        let limit = query.limit.unwrap_or(usize::MAX);
        Ok(found.into_iter().take(limit).map(|(_, i)| i).collect())
    }

    async fn transact(
        &self,
        writes: Vec<Write>,
        _events: Vec<DomainEvent>,
    ) -> Result<(), StoreError> {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        if writes.len() > 100 {
            return Err(StoreError::Invalid("more than 100 writes".into()));
        }
        let mut items = self
            .items
            .lock()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut keys = Vec::with_capacity(writes.len());
        let mut failed = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            let (key, cond) = match w {
                Write::Put { item, cond } => (key_of(item)?, cond.as_ref()),
                Write::Update { key, cond, .. } | Write::Delete { key, cond } => {
                    (pair(key), cond.as_ref())
                }
                Write::Check { key, cond } => (pair(key), Some(cond)),
            };
            if keys.contains(&key) {
                return Err(StoreError::Invalid("two writes on one key".into()));
            }
            if let Some(c) = cond
                && !eval(c, items.get(&key))
            {
                failed.push(i);
            }
            keys.push(key);
        }
        if !failed.is_empty() {
            return Err(StoreError::ConditionFailed { failed });
        }
        for (w, key) in writes.into_iter().zip(keys) {
            match w {
                Write::Put { item, .. } => {
                    items.insert(key, item);
                }
                Write::Update {
                    key: k, set, add, ..
                } => {
                    let item = items.entry(key).or_insert_with(|| {
                        let mut fresh = Item::new();
                        fresh.insert("pk".into(), Value::String(k.pk.clone()));
                        fresh.insert("sk".into(), Value::String(k.sk.clone()));
                        fresh
                    });
                    item.extend(set);
                    for (name, delta) in add {
                        let cur = item.get(&name).and_then(Value::as_i64).unwrap_or(0);
                        item.insert(name, Value::from(cur + delta));
                    }
                }
                Write::Delete { .. } => {
                    items.remove(&key);
                }
                Write::Check { .. } => {}
            }
        }
        Ok(())
    }

    async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, StoreError> {
        let mut items = self
            .items
            .lock()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let item = items.entry(pair(key)).or_insert_with(|| {
            let mut fresh = Item::new();
            fresh.insert("pk".into(), Value::String(key.pk.clone()));
            fresh.insert("sk".into(), Value::String(key.sk.clone()));
            fresh
        });
        let next = item.get(attr).and_then(Value::as_i64).unwrap_or(0) + by;
        item.insert(attr.to_owned(), Value::from(next));
        Ok(next)
    }
}

/// What the scripted invoker does for one call.
pub enum Reply {
    Ok(Value),
    Fail(String, String),
    /// Sleep, then return the value.
    Sleep(Duration, Value),
}

type Handler = Box<dyn Fn(&str, &Value, usize) -> Reply + Send + Sync>;

/// A `TaskInvoker` driven by a closure `(resource, input, n)`, `n` = earlier calls of that
/// resource. Records every call.
pub struct TestInvoker {
    calls: Mutex<Vec<(String, Value)>>,
    handler: Handler,
}

impl TestInvoker {
    pub fn new(
        handler: impl Fn(&str, &Value, usize) -> Reply + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            calls: Mutex::new(Vec::new()),
            handler: Box::new(handler),
        })
    }

    /// Returns its input.
    pub fn echo() -> Arc<Self> {
        Self::new(|_, input, _| Reply::Ok(input.clone()))
    }

    pub fn calls(&self, resource: &str) -> Vec<Value> {
        self.calls
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|(r, _)| r == resource)
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until `resource` was called `n` times and returns the input of the n-th call.
    pub async fn wait_call(&self, resource: &str, n: usize) -> Value {
        for _ in 0..1000 {
            if let Some(v) = self.calls(resource).get(n - 1) {
                return v.clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{resource} was not called {n} times");
    }
}

#[async_trait]
impl TaskInvoker for TestInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskError> {
        let n = {
            let mut calls = self
                .calls
                .lock()
                .map_err(|e| TaskError::new("Poisoned", e.to_string()))?;
            let n = calls.iter().filter(|(r, _)| r == resource).count();
            calls.push((resource.to_owned(), input.clone()));
            n
        };
        match (self.handler)(resource, &input, n) {
            Reply::Ok(v) => Ok(v),
            Reply::Fail(e, c) => Err(TaskError::new(e, c)),
            Reply::Sleep(d, v) => {
                tokio::time::sleep(d).await;
                Ok(v)
            }
        }
    }
}

pub fn machine(def: &Value) -> StateMachine {
    match StateMachine::parse(&def.to_string()) {
        Ok(m) => m,
        Err(e) => panic!("definition rejected: {e}"),
    }
}

pub async fn interpreter(
    def: &Value,
    invoker: Arc<TestInvoker>,
    store: Arc<MemoryTable>,
) -> Arc<Interpreter> {
    match Interpreter::new("saga", machine(def), invoker, store).await {
        Ok(i) => i,
        Err(e) => panic!("interpreter: {e}"),
    }
}

/// Waits (at most 10 s) for the execution to end.
pub async fn finish(interp: &Interpreter, name: &str) -> ExecutionView {
    tokio::time::timeout(Duration::from_secs(10), interp.wait_for_completion(name))
        .await
        .expect("execution did not finish in time")
        .expect("store error")
        .expect("execution exists")
}

/// Polls until `check` holds for the execution's view (at most 5 s).
pub async fn until(
    interp: &Interpreter,
    name: &str,
    check: impl Fn(&ExecutionView) -> bool,
) -> ExecutionView {
    for _ in 0..1000 {
        if let Ok(Some(v)) = interp.describe_execution(name).await
            && check(&v)
        {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition on {name} never held");
}
