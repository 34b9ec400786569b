//! Step Functions Standard quotas, enforced as AWS does: 25,000 history events per execution,
//! 256 KiB per payload, 80 characters per name.

mod support;

use reserveplace_local_sfn::{
    AslError, ExecutionStatus, ExecutionView, MAX_HISTORY_EVENTS, MAX_PAYLOAD_BYTES, SfnError,
    StateMachine,
};
use serde_json::{Value, json};
use support::{MemoryTable, Reply, TestInvoker, interpreter};

async fn run(def: &Value, invoker: std::sync::Arc<TestInvoker>, input: Value) -> ExecutionView {
    let interp = interpreter(def, invoker, MemoryTable::new()).await;
    interp.start_execution("q", input).await.expect("start");
    interp
        .wait_for_completion("q")
        .await
        .expect("store")
        .expect("exists")
}

#[tokio::test(start_paused = true)]
async fn an_execution_past_25000_history_events_fails_and_nothing_catches_it() {
    let def = json!({
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task", "Resource": "flaky",
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1,
                    "BackoffRate": 1.0, "MaxAttempts": 99999999}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": true
            },
            "Caught": {"Type": "Succeed"}
        }
    });
    let invoker = TestInvoker::new(|_, _, _| Reply::Fail("Boom".into(), "always".into()));
    let view = run(&def, invoker.clone(), json!({})).await;
    assert_eq!(view.status, ExecutionStatus::Failed, "{view:?}");
    assert_eq!(view.error.as_deref(), Some("States.Runtime"));
    let cause = view.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("maximum number of history events"),
        "{cause}"
    );
    assert!(
        (MAX_HISTORY_EVENTS - 3..=MAX_HISTORY_EVENTS).contains(&view.history_events),
        "{}",
        view.history_events
    );
    assert_eq!(view.history, vec!["Flaky"], "the catcher never ran");
    // ExecutionStarted, TaskStateEntered, 3 events per attempt, room for ExecutionFailed.
    let attempts = invoker.calls("flaky").len() as u64;
    assert_eq!(attempts, (MAX_HISTORY_EVENTS - 3) / 3);
}

#[tokio::test]
async fn history_events_are_counted_as_step_functions_counts_them() {
    let def = json!({
        "StartAt": "Shape",
        "States": {
            "Shape": {"Type": "Pass", "Next": "Call"},
            "Call": {
                "Type": "Task", "Resource": "call",
                "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 0, "MaxAttempts": 5}],
                "Next": "Pick"
            },
            "Pick": {"Type": "Choice",
                "Choices": [{"Variable": "$.x", "StringEquals": "a", "Next": "Done"}]},
            "Done": {"Type": "Succeed"}
        }
    });
    // Fails twice, then succeeds: 3 attempts.
    let invoker = TestInvoker::new(|_, input, n| {
        if n < 2 {
            Reply::Fail("Flaky".into(), "again".into())
        } else {
            Reply::Ok(input.clone())
        }
    });
    let view = run(&def, invoker, json!({"x": "a"})).await;
    assert_eq!(view.status, ExecutionStatus::Succeeded, "{view:?}");
    // Started + Pass 2 + Task 2 + 3 attempts × 3 + Choice 2 + Succeed 2 + Succeeded.
    assert_eq!(view.history_events, 1 + 2 + 2 + 9 + 2 + 2 + 1);
}

#[tokio::test]
async fn a_payload_over_256_kib_fails_with_data_limit_exceeded() {
    let big = "x".repeat(257 * 1024);
    // A task result: States.ALL does not catch it; an explicit catcher does.
    for (catch, caught) in [("States.ALL", false), ("States.DataLimitExceeded", true)] {
        let def = json!({
            "StartAt": "Call",
            "States": {
                "Call": {"Type": "Task", "Resource": "call", "End": true,
                    "Catch": [{"ErrorEquals": [catch], "Next": "Caught"}]},
                "Caught": {"Type": "Succeed"}
            }
        });
        let result = json!({"blob": big});
        let invoker = TestInvoker::new(move |_, _, _| Reply::Ok(result.clone()));
        let view = run(&def, invoker, json!({})).await;
        if caught {
            assert_eq!(view.status, ExecutionStatus::Succeeded, "{view:?}");
            assert_eq!(view.history.last().map(String::as_str), Some("Caught"));
        } else {
            assert_eq!(view.status, ExecutionStatus::Failed);
            assert_eq!(view.error.as_deref(), Some("States.DataLimitExceeded"));
        }
    }
    // A state's output.
    let def = json!({"StartAt": "Grow", "States": {
        "Grow": {"Type": "Pass", "Result": big, "ResultPath": "$.blob", "End": true}}});
    let view = run(&def, TestInvoker::echo(), json!({})).await;
    assert_eq!(view.status, ExecutionStatus::Failed);
    assert_eq!(view.error.as_deref(), Some("States.DataLimitExceeded"));
    assert!(view.cause.unwrap_or_default().contains("\"Grow\""));
    // Exactly at the limit is fine.
    let fits = "x".repeat(MAX_PAYLOAD_BYTES - r#"{"blob":""}"#.len());
    let def = json!({"StartAt": "Grow", "States": {
        "Grow": {"Type": "Pass", "Result": fits, "ResultPath": "$.blob", "End": true}}});
    let view = run(&def, TestInvoker::echo(), json!({})).await;
    assert_eq!(view.status, ExecutionStatus::Succeeded);
    // The execution input.
    let interp = interpreter(&def, TestInvoker::echo(), MemoryTable::new()).await;
    match interp.start_execution("big", json!({"blob": big})).await {
        Err(SfnError::InvalidExecutionInput(_)) => {}
        other => panic!("a 257 KiB input was accepted: {other:?}"),
    }
}

#[tokio::test]
async fn names_are_at_most_80_characters() {
    let name80 = "n".repeat(80);
    let name81 = "n".repeat(81);
    let def = |state: &str| json!({"StartAt": state, "States": {state: {"Type": "Succeed"}}});
    assert!(StateMachine::parse(&def(&name80).to_string()).is_ok());
    match StateMachine::parse(&def(&name81).to_string()) {
        Err(AslError::Invalid { .. }) => {}
        other => panic!("an 81-character state name was accepted: {other:?}"),
    }
    let interp = interpreter(&def("S"), TestInvoker::echo(), MemoryTable::new()).await;
    assert!(interp.start_execution(&name80, json!({})).await.is_ok());
    match interp.start_execution(&name81, json!({})).await {
        Err(SfnError::InvalidName(_)) => {}
        other => panic!("an 81-character execution name was accepted: {other:?}"),
    }
    let machine = StateMachine::parse(&def("S").to_string()).expect("parse");
    let result = reserveplace_local_sfn::Interpreter::new(
        &name81,
        machine,
        TestInvoker::echo(),
        MemoryTable::new(),
    )
    .await;
    assert!(matches!(result, Err(AslError::InvalidMachineName(_))));
}
