//! Throughput of the interpreter: 10,000 executions of a 6-state saga with instant fake tasks
//! over the in-memory table. Run with `cargo run --release -p reserveplace-local-sfn --example
//! saga_bench [executions]`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use reserveplace_local_sfn::{ExecutionStatus, Interpreter, TaskError, TaskInvoker};
use serde_json::{Value, json};
use support::MemoryTable;

/// Instant tasks (the scripted test invoker records calls, which would dominate the figure).
struct Instant0;

#[async_trait]
impl TaskInvoker for Instant0 {
    async fn invoke(&self, resource: &str, _input: Value) -> Result<Value, TaskError> {
        Ok(match resource {
            "hold" => json!({"ok": true}),
            "pay" => json!({"paymentId": "p-1", "extra": [1, 2, 3]}),
            _ => json!({}),
        })
    }
}

fn saga() -> Value {
    json!({
        "StartAt": "Hold",
        "States": {
            "Hold": {"Type": "Task", "Resource": "hold", "Parameters": {"id.$": "$.id"},
                     "ResultPath": "$.hold", "Retry": [{"ErrorEquals": ["Busy"]}], "Next": "Available?"},
            "Available?": {"Type": "Choice", "Choices": [
                {"Variable": "$.hold.ok", "BooleanEquals": true, "Next": "Pay"}], "Default": "Done"},
            "Pay": {"Type": "Task", "Resource": "pay",
                    "Parameters": {"id.$": "$.id", "amount.$": "$.amount", "execution.$": "$$.Execution.Id"},
                    "ResultSelector": {"paymentId.$": "$.paymentId"}, "ResultPath": "$.payment",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}], "Next": "Record"},
            "Record": {"Type": "Pass", "Result": "paid", "ResultPath": "$.status", "Next": "Confirm"},
            "Confirm": {"Type": "Task", "Resource": "confirm", "ResultPath": null, "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let invoker = Arc::new(Instant0);
    let store = MemoryTable::new();
    let machine = reserveplace_local_sfn::StateMachine::parse(&saga().to_string())?;
    let interp = Interpreter::new("bench", machine, invoker, store.clone()).await?;

    let started = Instant::now();
    // Start from 16 concurrent clients, as an API under load would.
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let interp = Arc::clone(&interp);
            tokio::spawn(async move {
                for i in (c..total).step_by(16) {
                    let input = json!({"id": format!("r-{i}"), "amount": 120 + i % 7});
                    interp.start_execution(&format!("exec-{i}"), input).await?;
                }
                Ok::<_, reserveplace_local_sfn::SfnError>(())
            })
        })
        .collect();
    for c in clients {
        c.await??;
    }
    let started_all = started.elapsed();
    let mut succeeded = 0;
    for i in 0..total {
        if let Some(view) = interp.wait_for_completion(&format!("exec-{i}")).await?
            && view.status == ExecutionStatus::Succeeded
        {
            succeeded += 1;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{total} executions ({succeeded} succeeded) of a 6-state saga in {:.3} s: {:.0} executions/s \
         (all started after {:.3} s; {} store transactions)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        started_all.as_secs_f64(),
        store.transactions(),
    );
    if succeeded != total {
        return Err(format!("{} executions did not succeed", total - succeeded).into());
    }
    Ok(())
}
