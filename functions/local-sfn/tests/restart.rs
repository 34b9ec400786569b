//! Durability: an interpreter is shut down (as a crash would) and a new one over the same
//! store continues the executions from their checkpoints, timers included.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::{Item, Key, Query, StoreError, Table, Write};
use reserveplace_local_sfn::{ExecutionStatus, Interpreter, SfnError};
use serde_json::{Value, json};
use support::{MemoryTable, TestInvoker, finish, interpreter};

const PAY: &str = "pay.waitForTaskToken";

fn saga(timeout: Option<u64>) -> Value {
    let mut pay = json!({
        "Type": "Task", "Resource": PAY,
        "Parameters": {"token.$": "$$.Task.Token", "id.$": "$.id"},
        "ResultPath": "$.payment",
        "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Expired"}],
        "Next": "Confirm"
    });
    if let Some(t) = timeout {
        pay["TimeoutSeconds"] = json!(t);
    }
    json!({
        "StartAt": "Hold",
        "States": {
            "Hold": {"Type": "Task", "Resource": "hold", "ResultPath": "$.hold", "Next": "Pay"},
            "Pay": pay,
            "Confirm": {"Type": "Task", "Resource": "confirm", "ResultPath": "$.confirm", "End": true},
            "Expired": {"Type": "Pass", "Result": "expired", "ResultPath": "$.status", "End": true}
        }
    })
}

fn token_of(call: &Value) -> String {
    call["token"].as_str().expect("token").to_owned()
}

fn stored_cursor_kind(store: &MemoryTable, id: &str) -> Option<String> {
    let item = store.item(&Key::new(format!("EXEC#{id}"), "EXEC"))?;
    item.get("cursor")?.get("kind")?.as_str().map(str::to_owned)
}

#[tokio::test]
async fn callback_survives_restart() {
    let store = MemoryTable::new();
    let invoker_a = TestInvoker::new(|r, _, _| support::Reply::Ok(json!({"from": r})));
    let a = interpreter(&saga(None), invoker_a.clone(), store.clone()).await;
    let id = a
        .start_execution("r-1", json!({"id": "r-1"}))
        .await
        .expect("start");
    let token = token_of(&invoker_a.wait_call(PAY, 1).await);
    assert_eq!(stored_cursor_kind(&store, &id).as_deref(), Some("callback"));
    a.shutdown().await;
    drop(a);

    let invoker_b = TestInvoker::new(|r, _, _| support::Reply::Ok(json!({"from": r})));
    let b = interpreter(&saga(None), invoker_b.clone(), store.clone()).await;
    assert_eq!(b.resume_all().await, Ok(1));
    // Resuming a parked callback re-invokes its resource with the same token (at-least-once).
    assert_eq!(token_of(&invoker_b.wait_call(PAY, 1).await), token);
    b.send_task_success(&token, json!({"paid": 42}))
        .await
        .expect("success");
    let view = finish(&b, "r-1").await;
    assert_eq!(view.status, ExecutionStatus::Succeeded, "{view:?}");
    assert_eq!(
        view.output,
        Some(
            json!({"id": "r-1", "hold": {"from": "hold"}, "payment": {"paid": 42},
                    "confirm": {"from": "confirm"}})
        )
    );
    assert_eq!(view.history, vec!["Hold", "Pay", "Confirm"]);
    assert!(
        invoker_b.calls("hold").is_empty(),
        "steps before the checkpoint do not run again"
    );
    assert_eq!(b.resume_all().await, Ok(0), "nothing left to resume");
}

#[tokio::test]
async fn callback_received_while_down_is_not_lost() {
    let store = MemoryTable::new();
    let invoker_a = TestInvoker::echo();
    let a = interpreter(&saga(None), invoker_a.clone(), store.clone()).await;
    a.start_execution("r-2", json!({"id": "r-2"}))
        .await
        .expect("start");
    let token = token_of(&invoker_a.wait_call(PAY, 1).await);
    a.shutdown().await;
    drop(a);

    let invoker_b = TestInvoker::echo();
    let b = interpreter(&saga(None), invoker_b.clone(), store.clone()).await;
    // The callback arrives before the execution is resumed: it is recorded durably.
    b.send_task_success(&token, json!({"paid": true}))
        .await
        .expect("success");
    assert_eq!(
        b.send_task_success(&token, json!({})).await,
        Err(SfnError::TaskTimedOut)
    );
    assert_eq!(b.resume_all().await, Ok(1));
    let view = finish(&b, "r-2").await;
    assert_eq!(
        view.output.expect("output")["payment"],
        json!({"paid": true})
    );
    assert!(
        invoker_b.calls(PAY).is_empty(),
        "a completed callback is not re-invoked"
    );
}

#[tokio::test]
async fn callback_deadline_passed_while_down_fires_at_once() {
    let store = MemoryTable::new();
    let invoker = TestInvoker::echo();
    let a = interpreter(&saga(Some(1)), invoker.clone(), store.clone()).await;
    a.start_execution("r-3", json!({"id": "r-3"}))
        .await
        .expect("start");
    let token = token_of(&invoker.wait_call(PAY, 1).await);
    a.shutdown().await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let b = interpreter(&saga(Some(1)), TestInvoker::echo(), store.clone()).await;
    let resumed = Instant::now();
    assert_eq!(b.resume_all().await, Ok(1));
    let view = finish(&b, "r-3").await;
    assert!(
        resumed.elapsed() < Duration::from_millis(800),
        "{:?}",
        resumed.elapsed()
    );
    let out = view.output.expect("output");
    assert_eq!(out["status"], "expired");
    assert_eq!(out["error"]["Error"], "States.Timeout");
    assert_eq!(
        b.send_task_success(&token, json!({})).await,
        Err(SfnError::TaskTimedOut)
    );
}

fn napper(seconds: u64) -> Value {
    json!({
        "StartAt": "Nap",
        "States": {
            "Nap": {"Type": "Wait", "Seconds": seconds, "Next": "Wake"},
            "Wake": {"Type": "Task", "Resource": "wake", "End": true}
        }
    })
}

#[tokio::test]
async fn wait_spans_a_restart() {
    let store = MemoryTable::new();
    let a = interpreter(&napper(2), TestInvoker::echo(), store.clone()).await;
    let started = Instant::now();
    let id = a
        .start_execution("nap", json!({"n": 1}))
        .await
        .expect("start");
    for _ in 0..200 {
        if stored_cursor_kind(&store, &id).as_deref() == Some("wait") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(stored_cursor_kind(&store, &id).as_deref(), Some("wait"));
    a.shutdown().await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(900)).await;

    let invoker = TestInvoker::echo();
    let b = interpreter(&napper(2), invoker.clone(), store.clone()).await;
    assert_eq!(b.resume_all().await, Ok(1));
    let view = finish(&b, "nap").await;
    let elapsed = started.elapsed();
    assert_eq!(view.status, ExecutionStatus::Succeeded);
    assert_eq!(view.output, Some(json!({"n": 1})));
    // The stored wake time is kept: about 2 s from the start, not 2 s from the resume.
    assert!(
        elapsed >= Duration::from_millis(1950) && elapsed < Duration::from_millis(2700),
        "{elapsed:?}"
    );
    assert_eq!(invoker.calls("wake").len(), 1);
}

#[tokio::test]
async fn wait_deadline_passed_while_down_fires_at_once() {
    let store = MemoryTable::new();
    let a = interpreter(&napper(1), TestInvoker::echo(), store.clone()).await;
    let id = a.start_execution("nap", json!({})).await.expect("start");
    for _ in 0..200 {
        if stored_cursor_kind(&store, &id).as_deref() == Some("wait") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.shutdown().await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b = interpreter(&napper(1), TestInvoker::echo(), store.clone()).await;
    let resumed = Instant::now();
    assert_eq!(b.resume_all().await, Ok(1));
    assert_eq!(finish(&b, "nap").await.status, ExecutionStatus::Succeeded);
    assert!(resumed.elapsed() < Duration::from_millis(800));
}

#[tokio::test]
async fn resume_skips_executions_running_here_and_finished_ones() {
    let store = MemoryTable::new();
    let invoker = TestInvoker::echo();
    let a = interpreter(&saga(None), invoker.clone(), store.clone()).await;
    a.start_execution("parked", json!({"id": 1}))
        .await
        .expect("start");
    invoker.wait_call(PAY, 1).await;
    assert_eq!(a.resume_all().await, Ok(0));

    let done = interpreter(&napper(0), TestInvoker::echo(), store.clone()).await;
    done.start_execution("quick", json!({}))
        .await
        .expect("start");
    finish(&done, "quick").await;
    // `quick` belongs to the same machine name ("saga") but is finished: not indexed as RUNNING.
    let c = interpreter(&saga(None), TestInvoker::echo(), store.clone()).await;
    assert_eq!(c.resume_all().await, Ok(1), "only `parked`");
    a.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn a_stale_runner_cannot_overwrite_a_newer_one() {
    // Two interpreters run the same execution (no shutdown of the first): the version
    // condition lets only one of them record the end.
    let store = MemoryTable::new();
    let invoker = TestInvoker::echo();
    let a = interpreter(&saga(Some(1)), invoker.clone(), store.clone()).await;
    a.start_execution("dup", json!({"id": "d"}))
        .await
        .expect("start");
    let token = token_of(&invoker.wait_call(PAY, 1).await);
    let b = interpreter(&saga(Some(1)), TestInvoker::echo(), store.clone()).await;
    assert_eq!(b.resume_all().await, Ok(1));
    b.send_task_success(&token, json!({"paid": 1}))
        .await
        .expect("success");
    let view = finish(&b, "dup").await;
    assert_eq!(view.status, ExecutionStatus::Succeeded);
    // A's runner times out its (already resolved) attempt, then loses the version race.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let stored = b
        .describe_execution("dup")
        .await
        .expect("describe")
        .expect("exists");
    assert_eq!(
        stored.output.expect("output")["payment"],
        json!({"paid": 1})
    );
    assert_eq!(a.running_count(), 0);
}

#[tokio::test]
async fn a_callback_through_another_interpreter_wakes_the_runner() {
    // SendTaskSuccess names no state machine: any interpreter over the table that shares the
    // runner's waiters can deliver it.
    let store = MemoryTable::new();
    let invoker = TestInvoker::echo();
    let saga_interp = interpreter(&saga(None), invoker.clone(), store.clone()).await;
    saga_interp
        .start_execution("x", json!({"id": "x"}))
        .await
        .expect("start");
    let token = token_of(&invoker.wait_call(PAY, 1).await);
    let other = Interpreter::with_waiters(
        "other-machine",
        support::machine(&napper(0)),
        TestInvoker::echo(),
        store.clone(),
        Arc::clone(saga_interp.waiters()),
    )
    .await
    .expect("interpreter");
    other
        .send_task_success(&token, json!({"paid": "elsewhere"}))
        .await
        .expect("success");
    let view = finish(&saga_interp, "x").await;
    assert_eq!(
        view.output.expect("output")["payment"],
        json!({"paid": "elsewhere"})
    );
}

/// Fails every other transaction with `Unavailable`, before touching the data.
struct FlakyTable {
    inner: Arc<MemoryTable>,
    calls: AtomicUsize,
}

#[async_trait]
impl Table for FlakyTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn query(&self, query: &Query) -> Result<Vec<Item>, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(
        &self,
        writes: Vec<Write>,
        events: Vec<DomainEvent>,
    ) -> Result<(), StoreError> {
        if self.calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
            return Err(StoreError::Unavailable("blip".into()));
        }
        self.inner.transact(writes, events).await
    }
    async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, StoreError> {
        self.inner.increment(key, attr, by).await
    }
}

#[tokio::test]
async fn transient_store_failures_are_retried() {
    let store = Arc::new(FlakyTable {
        inner: MemoryTable::new(),
        calls: Default::default(),
    });
    let invoker = TestInvoker::echo();
    let interp = Interpreter::new(
        "saga",
        support::machine(&saga(None)),
        invoker.clone(),
        store,
    )
    .await
    .expect("interpreter");
    interp
        .start_execution("blips", json!({"id": "b"}))
        .await
        .expect("start");
    let token = token_of(&invoker.wait_call(PAY, 1).await);
    interp
        .send_task_success(&token, json!({"paid": true}))
        .await
        .expect("success");
    let view = finish(&interp, "blips").await;
    assert_eq!(view.status, ExecutionStatus::Succeeded);
    let stored = interp
        .describe_execution("blips")
        .await
        .expect("describe")
        .expect("exists");
    assert_eq!(stored.status, ExecutionStatus::Succeeded);
}
