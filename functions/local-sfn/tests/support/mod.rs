//! Test doubles shared by the integration tests and the bench example: a scriptable
//! `TaskInvoker`. The store is the domain's in-memory table, which follows the port's rules like
//! the real stores.
#![allow(dead_code)] // each test binary uses a subset

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
pub use reserveplace_domain::store::memory::MemoryTable;
use reserveplace_local_sfn::{ExecutionView, Interpreter, StateMachine, TaskError, TaskInvoker};
use serde_json::Value;

pub mod saga_model;

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
