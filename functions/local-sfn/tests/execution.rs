//! Execution semantics: path processing, Choice, Pass, Wait, Fail/Succeed, Retry, Catch,
//! callback tasks, idempotent starts and the execution timeout.

mod support;

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reserveplace_local_sfn::{
    ExecutionStatus, Interpreter, SfnError, StateMachine, TaskError, TaskInvoker,
};
use serde_json::{Value, json};
use support::{MemoryTable, Reply, TestInvoker, finish, interpreter, until};

#[tokio::test]
async fn path_processing_and_context_object() {
    let def = json!({
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "InputPath": "$.order",
                "Parameters": {
                    "id.$": "$.id",
                    "fixed": "literal",
                    "nested": {"qty.$": "$.items[1].qty", "list": [1, {"first.$": "$.items[0]"}]},
                    "bracket.$": "$['id']",
                    "exec.$": "$$.Execution.Id",
                    "name.$": "$$.Execution.Name",
                    "orig.$": "$$.Execution.Input.order.id",
                    "state.$": "$$.State.Name",
                    "entered.$": "$$.State.EnteredTime",
                    "start.$": "$$.Execution.StartTime",
                    "machine.$": "$$.StateMachine.Name"
                },
                "ResultPath": "$.shaped",
                "Next": "Call"
            },
            "Call": {
                "Type": "Task",
                "Resource": "echo",
                "InputPath": "$.shaped",
                "Parameters": {"id.$": "$.id", "qty.$": "$.nested.qty"},
                "ResultSelector": {"echoedId.$": "$.id", "state.$": "$$.State.Name"},
                "ResultPath": "$.call.result",
                "Next": "Done"
            },
            "Done": {"Type": "Succeed", "OutputPath": "$.call"}
        }
    });
    let invoker = TestInvoker::echo();
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    let input = json!({"order": {"id": "o-1", "items": [{"sku": "a"}, {"sku": "b", "qty": 2}]}});
    let id = interp
        .start_execution("paths", input.clone())
        .await
        .expect("start");
    let view = finish(&interp, "paths").await;
    assert_eq!(view.status, ExecutionStatus::Succeeded, "{view:?}");
    assert_eq!(view.execution_id, id);
    assert_eq!(
        view.output,
        Some(json!({"result": {"echoedId": "o-1", "state": "Call"}}))
    );
    assert_eq!(view.history, vec!["Shape", "Call", "Done"]);
    assert_eq!(invoker.calls("echo"), vec![json!({"id": "o-1", "qty": 2})]);

    // The same Pass state alone, ending the machine, to inspect every value it produced.
    let mut shape = def["States"]["Shape"].clone();
    if let Some(fields) = shape.as_object_mut() {
        fields.remove("Next");
        fields.insert("End".into(), json!(true));
    }
    let def = json!({"StartAt": "Shape", "States": {"Shape": shape}});
    let interp = interpreter(&def, TestInvoker::echo(), MemoryTable::new()).await;
    interp
        .start_execution("ctx", input.clone())
        .await
        .expect("start");
    let view = finish(&interp, "ctx").await;
    let out = view.output.expect("output");
    assert_eq!(
        out["order"], input["order"],
        "ResultPath keeps the raw input"
    );
    let shaped = &out["shaped"];
    assert_eq!(shaped["id"], "o-1");
    assert_eq!(shaped["fixed"], "literal");
    assert_eq!(
        shaped["nested"],
        json!({"qty": 2, "list": [1, {"first": {"sku": "a"}}]})
    );
    assert_eq!(shaped["bracket"], "o-1");
    assert_eq!(shaped["exec"], json!(interp.execution_id("ctx")));
    assert_eq!(shaped["name"], "ctx");
    assert_eq!(shaped["orig"], "o-1");
    assert_eq!(shaped["state"], "Shape");
    assert_eq!(shaped["start"], json!(view.start_time));
    assert_eq!(shaped["machine"], "saga");
    let entered = shaped["entered"].as_str().expect("entered time");
    assert!(entered.ends_with('Z') && entered.len() == 24, "{entered}");
}

#[tokio::test]
async fn null_paths_and_discarded_results() {
    let def = json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": "a", "InputPath": null, "ResultPath": "$.r", "Next": "B"},
            "B": {"Type": "Task", "Resource": "b", "ResultPath": null, "Next": "C"},
            "C": {"Type": "Pass", "OutputPath": null, "Next": "D"},
            "D": {"Type": "Task", "Resource": "d", "End": true}
        }
    });
    let invoker = TestInvoker::new(|r, _, _| Reply::Ok(json!({"from": r})));
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    interp
        .start_execution("nulls", json!({"x": 1}))
        .await
        .expect("start");
    let view = finish(&interp, "nulls").await;
    assert_eq!(view.output, Some(json!({"from": "d"})));
    assert_eq!(invoker.calls("a"), vec![json!({})]);
    assert_eq!(
        invoker.calls("b"),
        vec![json!({"x": 1, "r": {"from": "a"}})]
    );
    assert_eq!(invoker.calls("d"), vec![json!({})]);
}

#[tokio::test]
async fn path_errors_are_terminal_runtime_errors() {
    let def = json!({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": "t", "Parameters": {"id.$": "$.missing"},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
            "Caught": {"Type": "Succeed"}
        }
    });
    let invoker = TestInvoker::echo();
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    interp
        .start_execution("bad-path", json!({}))
        .await
        .expect("start");
    let view = finish(&interp, "bad-path").await;
    assert_eq!(view.status, ExecutionStatus::Failed);
    assert_eq!(view.error.as_deref(), Some("States.Runtime"));
    assert!(
        view.cause.as_deref().unwrap_or("").contains("id.$"),
        "{view:?}"
    );
    assert!(invoker.calls("t").is_empty());

    // ResultPath into a non-object input.
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": true}}});
    let interp = interpreter(&def, TestInvoker::echo(), MemoryTable::new()).await;
    interp
        .start_execution("bad-result-path", json!({"a": "text"}))
        .await
        .expect("start");
    let view = finish(&interp, "bad-result-path").await;
    assert_eq!(view.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn choice_operators() {
    let target = |name: &str| json!({"Type": "Pass", "Result": name, "End": true});
    let def = json!({
        "StartAt": "Decide",
        "States": {
            "Decide": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.s", "StringEquals": "a", "Next": "S"},
                    {"Variable": "$.s", "StringEqualsPath": "$.other", "Next": "SP"},
                    {"And": [{"Variable": "$.n", "NumericGreaterThan": 1},
                             {"Variable": "$.n", "NumericLessThanEquals": 5}], "Next": "Range"},
                    {"Variable": "$.n", "NumericEquals": 10, "Next": "Ten"},
                    {"Or": [{"Variable": "$.n", "NumericLessThan": 0},
                            {"Variable": "$.n", "NumericGreaterThanEquals": 100}], "Next": "Out"},
                    {"Not": {"Variable": "$.b", "IsPresent": true}, "Next": "NoB"},
                    {"Variable": "$.b", "IsNull": true, "Next": "NullB"},
                    {"Variable": "$.b", "BooleanEquals": true, "Next": "True"},
                    {"Variable": "$.b", "IsString": true, "Next": "Str"},
                    {"Variable": "$.b", "IsNumeric": true, "Next": "Num"},
                    {"Variable": "$.b", "IsBoolean": true, "Next": "Bool"}
                ],
                "Default": "Other"
            },
            "S": target("S"), "SP": target("SP"), "Range": target("Range"), "Ten": target("Ten"),
            "Out": target("Out"), "NoB": target("NoB"), "NullB": target("NullB"),
            "True": target("True"), "Str": target("Str"), "Num": target("Num"),
            "Bool": target("Bool"), "Other": target("Other")
        }
    });
    let interp = interpreter(&def, TestInvoker::echo(), MemoryTable::new()).await;
    let cases = [
        (json!({"s": "a", "other": "z", "n": 0}), "S"),
        (json!({"s": "q", "other": "q", "n": 0}), "SP"),
        (json!({"s": 5, "other": 5, "n": 3}), "Range"),
        (json!({"s": "x", "other": "y", "n": 2.5}), "Range"),
        (json!({"s": "x", "other": "y", "n": 10.0}), "Ten"),
        (json!({"s": "x", "other": "y", "n": -1}), "Out"),
        (json!({"s": "x", "other": "y", "n": 100}), "Out"),
        (json!({"s": "x", "other": "y", "n": 50}), "NoB"),
        (json!({"s": "x", "other": "y", "n": 50, "b": null}), "NullB"),
        (json!({"s": "x", "other": "y", "n": 50, "b": true}), "True"),
        (json!({"s": "x", "other": "y", "n": 50, "b": "t"}), "Str"),
        (json!({"s": "x", "other": "y", "n": 50, "b": 7}), "Num"),
        (json!({"s": "x", "other": "y", "n": 50, "b": false}), "Bool"),
        (json!({"s": "x", "other": "y", "n": "50", "b": {}}), "Other"),
    ];
    for (i, (input, expected)) in cases.iter().enumerate() {
        let name = format!("case-{i}");
        interp
            .start_execution(&name, input.clone())
            .await
            .expect("start");
        let view = finish(&interp, &name).await;
        assert_eq!(view.output, Some(json!(expected)), "input {input}");
        assert_eq!(view.history, vec!["Decide", expected]);
    }
    // A missing Variable is a run-time error (only IsPresent tolerates it).
    interp
        .start_execution("missing", json!({"other": "y"}))
        .await
        .expect("start");
    let view = finish(&interp, "missing").await;
    assert_eq!(view.status, ExecutionStatus::Failed);
    assert_eq!(view.error.as_deref(), Some("States.Runtime"));

    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "D"}]},
        "D": {"Type": "Succeed"}}});
    let interp = interpreter(&def, TestInvoker::echo(), MemoryTable::new()).await;
    interp
        .start_execution("nomatch", json!({"n": 2}))
        .await
        .expect("start");
    let view = finish(&interp, "nomatch").await;
    assert_eq!(view.error.as_deref(), Some("States.NoChoiceMatched"));
}

#[tokio::test]
async fn pass_fail_and_succeed() {
    let def = json!({
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": {"step": 1, "ok": true}, "ResultPath": "$.init", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [
                {"Variable": "$.fail", "BooleanEquals": true, "Next": "Boom"}], "Default": "Good"},
            "Boom": {"Type": "Fail", "Error": "Business.Rejected", "Cause": "no rooms"},
            "Good": {"Type": "Succeed", "InputPath": "$.init"}
        }
    });
    let interp = interpreter(&def, TestInvoker::echo(), MemoryTable::new()).await;
    interp
        .start_execution("ok", json!({"fail": false}))
        .await
        .expect("start");
    interp
        .start_execution("ko", json!({"fail": true}))
        .await
        .expect("start");
    let ok = finish(&interp, "ok").await;
    assert_eq!(ok.status, ExecutionStatus::Succeeded);
    assert_eq!(ok.output, Some(json!({"step": 1, "ok": true})));
    assert!(ok.stop_time.is_some() && ok.current_state.is_none());
    let ko = finish(&interp, "ko").await;
    assert_eq!(ko.status, ExecutionStatus::Failed);
    assert_eq!(
        (ko.error.as_deref(), ko.cause.as_deref()),
        (Some("Business.Rejected"), Some("no rooms"))
    );
    assert_eq!(ko.history, vec!["Init", "Check", "Boom"]);
    assert_eq!(ko.output, None);
}

#[tokio::test]
async fn wait_states() {
    let def = json!({
        "StartAt": "One",
        "States": {
            "One": {"Type": "Wait", "Seconds": 1, "Next": "Past"},
            "Past": {"Type": "Wait", "TimestampPath": "$.ts", "Next": "Zero"},
            "Zero": {"Type": "Wait", "SecondsPath": "$.zero", "Next": "Fixed"},
            "Fixed": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "OutputPath": "$.keep", "End": true}
        }
    });
    let store = MemoryTable::new();
    let interp = interpreter(&def, TestInvoker::echo(), store.clone()).await;
    let started = Instant::now();
    let input = json!({"ts": "2001-02-03T04:05:06Z", "zero": 0, "keep": {"k": 1}});
    interp.start_execution("waits", input).await.expect("start");
    let view = finish(&interp, "waits").await;
    let elapsed = started.elapsed();
    assert_eq!(view.status, ExecutionStatus::Succeeded, "{view:?}");
    assert_eq!(view.output, Some(json!({"k": 1})));
    assert!(
        elapsed >= Duration::from_millis(950) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );

    interp
        .start_execution("bad-seconds", json!({"ts": "x", "zero": 0}))
        .await
        .expect("start");
    let view = finish(&interp, "bad-seconds").await;
    assert_eq!(view.error.as_deref(), Some("States.Runtime"), "{view:?}");
}

fn retry_machine(retry: Value) -> Value {
    json!({
        "StartAt": "Flaky",
        "States": {
            "Flaky": {"Type": "Task", "Resource": "flaky", "Retry": retry,
                      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}],
                      "Next": "Done"},
            "Handle": {"Type": "Pass", "Result": "handled", "ResultPath": "$.status", "End": true},
            "Done": {"Type": "Succeed"}
        }
    })
}

/// Fails `failures` times with `Busy`, then returns `{"ok": n}`.
fn flaky(failures: usize) -> Arc<TestInvoker> {
    TestInvoker::new(move |_, _, n| {
        if n < failures {
            Reply::Fail("Busy".into(), format!("attempt {n}"))
        } else {
            Reply::Ok(json!({"ok": n}))
        }
    })
}

#[tokio::test]
async fn retry_until_success() {
    let def =
        retry_machine(json!([{"ErrorEquals": ["Busy"], "IntervalSeconds": 0, "MaxAttempts": 3}]));
    let invoker = flaky(2);
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    interp.start_execution("r", json!({})).await.expect("start");
    let view = finish(&interp, "r").await;
    assert_eq!(view.status, ExecutionStatus::Succeeded);
    assert_eq!(view.output, Some(json!({"ok": 2})));
    assert_eq!(invoker.calls("flaky").len(), 3);
    assert_eq!(view.history, vec!["Flaky", "Done"]);
}

#[tokio::test]
async fn retry_exhausted_goes_to_catch() {
    let def =
        retry_machine(json!([{"ErrorEquals": ["Busy"], "IntervalSeconds": 0, "MaxAttempts": 2}]));
    let invoker = flaky(usize::MAX);
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    interp
        .start_execution("r", json!({"id": 7}))
        .await
        .expect("start");
    let view = finish(&interp, "r").await;
    assert_eq!(invoker.calls("flaky").len(), 3, "1 attempt + 2 retries");
    assert_eq!(
        view.output,
        Some(
            json!({"id": 7, "error": {"Error": "Busy", "Cause": "attempt 2"}, "status": "handled"})
        )
    );
    assert_eq!(view.history, vec!["Flaky", "Handle"]);
}

#[tokio::test]
async fn only_the_first_matching_retrier_counts() {
    let def = retry_machine(json!([
        {"ErrorEquals": ["Busy"], "IntervalSeconds": 0, "MaxAttempts": 1},
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 0, "MaxAttempts": 5}
    ]));
    let invoker = flaky(usize::MAX);
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    interp.start_execution("r", json!({})).await.expect("start");
    finish(&interp, "r").await;
    assert_eq!(invoker.calls("flaky").len(), 2);

    let def = retry_machine(json!([{"ErrorEquals": ["Busy"], "MaxAttempts": 0}]));
    let invoker = flaky(usize::MAX);
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    interp.start_execution("r", json!({})).await.expect("start");
    finish(&interp, "r").await;
    assert_eq!(
        invoker.calls("flaky").len(),
        1,
        "MaxAttempts 0 never retries"
    );
}

#[tokio::test]
async fn retry_backoff_is_capped_by_max_delay() {
    // Delays 1 s and min(3 s, MaxDelaySeconds 1) = 1 s: about 2 s in total, not 4.
    let def = retry_machine(json!([{"ErrorEquals": ["Busy"], "IntervalSeconds": 1,
        "BackoffRate": 3.0, "MaxDelaySeconds": 1, "MaxAttempts": 2}]));
    let invoker = flaky(2);
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    let started = Instant::now();
    interp.start_execution("r", json!({})).await.expect("start");
    let view = finish(&interp, "r").await;
    let elapsed = started.elapsed();
    assert_eq!(view.status, ExecutionStatus::Succeeded);
    assert!(
        elapsed >= Duration::from_millis(1950) && elapsed < Duration::from_millis(3500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn catch_by_name_task_failed_and_all() {
    let got =
        |name: &str| json!({"Type": "Pass", "Result": name, "ResultPath": "$.by", "End": true});
    let def = json!({
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task", "Resource": "t", "TimeoutSeconds": 1,
                "Catch": [
                    {"ErrorEquals": ["Custom"], "ResultPath": "$.caught", "Next": "ByName"},
                    {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.caught", "Next": "ByTaskFailed"},
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "ByAll"}
                ],
                "End": true
            },
            "ByName": got("ByName"), "ByTaskFailed": got("ByTaskFailed"), "ByAll": got("ByAll")
        }
    });
    let invoker = TestInvoker::new(|_, input, _| match input["err"].as_str() {
        Some("slow") => Reply::Sleep(Duration::from_secs(3), json!({})),
        Some(e) => Reply::Fail(e.into(), format!("cause of {e}")),
        None => Reply::Ok(json!("fine")),
    });
    let interp = interpreter(&def, invoker, MemoryTable::new()).await;
    for (err, by) in [
        ("Custom", "ByName"),
        ("Other", "ByTaskFailed"),
        ("slow", "ByAll"),
    ] {
        interp
            .start_execution(err, json!({"err": err}))
            .await
            .expect("start");
        let view = finish(&interp, err).await;
        let out = view.output.expect("caught");
        assert_eq!(out["by"], by, "{err}");
        let expected = if err == "slow" { "States.Timeout" } else { err };
        assert_eq!(out["caught"]["Error"], expected);
        assert_eq!(out["err"], err, "catcher ResultPath keeps the input");
    }
    // States.Runtime is never caught by States.ALL / States.TaskFailed.
    interp
        .start_execution("runtime", json!({"err": "States.Runtime"}))
        .await
        .expect("start");
    let view = finish(&interp, "runtime").await;
    assert_eq!(view.status, ExecutionStatus::Failed);
    assert_eq!(view.error.as_deref(), Some("States.Runtime"));
}

fn callback_machine(timeout: Option<u64>) -> Value {
    let mut pay = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
        "Parameters": {"token.$": "$$.Task.Token", "id.$": "$.id"},
        "ResultPath": "$.payment",
        "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 0, "MaxAttempts": 1}],
        "Catch": [
            {"ErrorEquals": ["Declined"], "ResultPath": "$.error", "Next": "Rejected"},
            {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Expired"}
        ],
        "Next": "Confirm"
    });
    if let Some(t) = timeout {
        pay["TimeoutSeconds"] = json!(t);
    }
    json!({
        "StartAt": "Pay",
        "States": {
            "Pay": pay,
            "Confirm": {"Type": "Pass", "Result": "confirmed", "ResultPath": "$.status", "End": true},
            "Rejected": {"Type": "Pass", "Result": "rejected", "ResultPath": "$.status", "End": true},
            "Expired": {"Type": "Pass", "Result": "expired", "ResultPath": "$.status", "End": true}
        }
    })
}

const PAY: &str = "arn:aws:states:::events:putEvents.waitForTaskToken";

fn token_of(call: &Value) -> String {
    call["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn callback_success() {
    let invoker = TestInvoker::echo();
    let interp = interpreter(&callback_machine(None), invoker.clone(), MemoryTable::new()).await;
    interp
        .start_execution("cb", json!({"id": "r-1"}))
        .await
        .expect("start");
    let call = invoker.wait_call(PAY, 1).await;
    assert_eq!(call["id"], "r-1");
    let token = token_of(&call);
    let parked = interp
        .describe_execution("cb")
        .await
        .expect("describe")
        .expect("exists");
    assert_eq!(parked.status, ExecutionStatus::Running);
    assert_eq!(parked.current_state.as_deref(), Some("Pay"));

    interp
        .send_task_success(&token, json!({"paid": true}))
        .await
        .expect("success");
    let view = finish(&interp, "cb").await;
    assert_eq!(view.status, ExecutionStatus::Succeeded);
    assert_eq!(
        view.output,
        Some(json!({"id": "r-1", "payment": {"paid": true}, "status": "confirmed"}))
    );
    assert_eq!(
        interp.send_task_success(&token, json!({})).await,
        Err(SfnError::TaskTimedOut)
    );
    assert_eq!(
        interp.send_task_failure(&token, "E", "c").await,
        Err(SfnError::TaskTimedOut)
    );
    assert_eq!(
        interp.send_task_success("no-such-token", json!({})).await,
        Err(SfnError::TaskDoesNotExist)
    );
}

#[tokio::test]
async fn callback_failure_is_retried_then_caught() {
    let invoker = TestInvoker::echo();
    let interp = interpreter(&callback_machine(None), invoker.clone(), MemoryTable::new()).await;
    interp
        .start_execution("cb", json!({"id": "r-2"}))
        .await
        .expect("start");
    let first = token_of(&invoker.wait_call(PAY, 1).await);
    interp
        .send_task_failure(&first, "Busy", "try again")
        .await
        .expect("failure");
    // The retry is a new attempt with a new token.
    let second = token_of(&invoker.wait_call(PAY, 2).await);
    assert_ne!(first, second);
    interp
        .send_task_failure(&second, "Declined", "card refused")
        .await
        .expect("failure");
    let view = finish(&interp, "cb").await;
    assert_eq!(
        view.output,
        Some(
            json!({"id": "r-2", "error": {"Error": "Declined", "Cause": "card refused"}, "status": "rejected"})
        )
    );
}

#[tokio::test]
async fn callback_timeout() {
    let invoker = TestInvoker::echo();
    let interp = interpreter(
        &callback_machine(Some(1)),
        invoker.clone(),
        MemoryTable::new(),
    )
    .await;
    let started = Instant::now();
    interp
        .start_execution("cb", json!({"id": "r-3"}))
        .await
        .expect("start");
    let token = token_of(&invoker.wait_call(PAY, 1).await);
    let view = finish(&interp, "cb").await;
    assert!(started.elapsed() >= Duration::from_millis(950));
    let out = view.output.expect("output");
    assert_eq!(out["status"], "expired");
    assert_eq!(out["error"]["Error"], "States.Timeout");
    // A late callback is rejected and changes nothing.
    assert_eq!(
        interp
            .send_task_success(&token, json!({"late": true}))
            .await,
        Err(SfnError::TaskTimedOut)
    );
    let again = interp
        .describe_execution("cb")
        .await
        .expect("describe")
        .expect("exists");
    assert_eq!(again.output, Some(out));
}

#[tokio::test]
async fn failing_invoke_fails_the_callback_task() {
    let invoker = TestInvoker::new(|_, _, _| Reply::Fail("Declined".into(), "bus down".into()));
    let interp = interpreter(&callback_machine(None), invoker, MemoryTable::new()).await;
    interp
        .start_execution("cb", json!({"id": "r-4"}))
        .await
        .expect("start");
    let view = finish(&interp, "cb").await;
    assert_eq!(view.output.expect("output")["status"], "rejected");
}

/// Calls back from inside `invoke`, before it returns: the token must already be durable.
struct ImmediateCallback {
    interp: OnceLock<Weak<Interpreter>>,
}

#[async_trait]
impl TaskInvoker for ImmediateCallback {
    async fn invoke(&self, _resource: &str, input: Value) -> Result<Value, TaskError> {
        let interp = self
            .interp
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| TaskError::new("NoInterp", ""))?;
        let token = input["token"].as_str().unwrap_or_default();
        interp
            .send_task_success(token, json!({"instant": true}))
            .await
            .map_err(|e| TaskError::new("CallbackRejected", e.to_string()))?;
        Ok(json!(null))
    }
}

#[tokio::test]
async fn fast_callback_from_inside_invoke() {
    let invoker = Arc::new(ImmediateCallback {
        interp: OnceLock::new(),
    });
    let machine = StateMachine::parse(&callback_machine(Some(5)).to_string()).expect("parse");
    let interp = Interpreter::new("saga", machine, invoker.clone(), MemoryTable::new())
        .await
        .expect("new");
    invoker
        .interp
        .set(Arc::downgrade(&interp))
        .expect("set once");
    interp
        .start_execution("fast", json!({"id": "r-5"}))
        .await
        .expect("start");
    let view = finish(&interp, "fast").await;
    assert_eq!(
        view.output,
        Some(json!({"id": "r-5", "payment": {"instant": true}, "status": "confirmed"}))
    );
}

#[tokio::test]
async fn start_is_idempotent_by_name() {
    let def =
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "t", "End": true}}});
    let invoker = TestInvoker::echo();
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    let starts = (0..8).map(|_| {
        let interp = interp.clone();
        tokio::spawn(async move { interp.start_execution("once", json!({"n": 1})).await })
    });
    let mut ids = Vec::new();
    for s in starts {
        ids.push(s.await.expect("join").expect("start"));
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    finish(&interp, "once").await;
    // Also after completion: same input → same id, nothing runs again.
    assert_eq!(
        interp.start_execution("once", json!({"n": 1})).await,
        Ok(ids[0].clone())
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(invoker.calls("t").len(), 1);
    assert_eq!(
        interp.start_execution("once", json!({"n": 2})).await,
        Err(SfnError::ExecutionAlreadyExists(ids[0].clone()))
    );
    assert!(matches!(
        interp.start_execution("bad name", json!({})).await,
        Err(SfnError::InvalidName(_))
    ));
    assert_eq!(interp.describe_execution("unknown").await, Ok(None));
    let by_id = interp
        .describe_execution(&ids[0])
        .await
        .expect("describe")
        .expect("exists");
    assert_eq!(by_id.name, "once");
}

/// What the saga starter reports (started or already started) comes from the start itself:
/// of racing starts exactly one started the execution, and a start after it ended did not.
#[tokio::test]
async fn exactly_one_of_racing_starts_reports_it_started() {
    let def =
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "t", "End": true}}});
    let invoker = TestInvoker::echo();
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let interp = interp.clone();
            tokio::spawn(async move { interp.start_execution_once("race", json!({"n": 1})).await })
        })
        .collect();
    let mut started = 0;
    for s in starts {
        let (id, new) = s.await.expect("join").expect("start");
        assert_eq!(id, interp.execution_id("race"));
        started += usize::from(new);
    }
    assert_eq!(started, 1, "one start ran it, the others found it");
    finish(&interp, "race").await;
    assert_eq!(
        interp.start_execution_once("race", json!({"n": 1})).await,
        Ok((interp.execution_id("race"), false))
    );
    assert_eq!(
        interp.start_execution_once("race", json!({"n": 2})).await,
        Err(SfnError::ExecutionAlreadyExists(
            interp.execution_id("race")
        ))
    );
    assert_eq!(invoker.calls("t").len(), 1);
}

#[tokio::test]
async fn execution_timeout_closes_the_pending_callback() {
    let mut def = callback_machine(None);
    def["TimeoutSeconds"] = json!(1);
    let invoker = TestInvoker::echo();
    let interp = interpreter(&def, invoker.clone(), MemoryTable::new()).await;
    interp
        .start_execution("slow", json!({"id": "r-6"}))
        .await
        .expect("start");
    let token = token_of(&invoker.wait_call(PAY, 1).await);
    let view = finish(&interp, "slow").await;
    assert_eq!(view.status, ExecutionStatus::TimedOut);
    assert_eq!(view.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        interp.send_task_success(&token, json!({})).await,
        Err(SfnError::TaskTimedOut)
    );
}

#[tokio::test]
async fn view_tracks_progress() {
    let invoker = TestInvoker::echo();
    let interp = interpreter(&callback_machine(None), invoker.clone(), MemoryTable::new()).await;
    interp
        .start_execution("v", json!({"id": 1}))
        .await
        .expect("start");
    let view = until(&interp, "v", |v| v.current_state.as_deref() == Some("Pay")).await;
    assert_eq!(view.history, vec!["Pay"]);
    assert_eq!(interp.running_count(), 1);
    let mut rx = interp.subscribe("v").expect("runs here");
    let token = token_of(&invoker.wait_call(PAY, 1).await);
    interp
        .send_task_success(&token, json!(1))
        .await
        .expect("success");
    rx.wait_for(|v| v.status == ExecutionStatus::Succeeded)
        .await
        .expect("final view");
    finish(&interp, "v").await;
    for _ in 0..100 {
        if interp.running_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(interp.running_count(), 0);
}

/// Instant tasks for the concurrency smoke test.
struct Instant0;

#[async_trait]
impl TaskInvoker for Instant0 {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskError> {
        Ok(json!({"resource": resource, "id": input["id"]}))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_executions() {
    let def = json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": "a", "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 1000, "Next": "C"}], "Default": "D"},
            "C": {"Type": "Task", "Resource": "c", "ResultPath": "$.c", "Next": "D"},
            "D": {"Type": "Pass", "Result": true, "ResultPath": "$.d", "Next": "E"},
            "E": {"Type": "Task", "Resource": "e", "ResultPath": null, "Next": "F"},
            "F": {"Type": "Succeed"}
        }
    });
    let store = MemoryTable::new();
    let machine = StateMachine::parse(&def.to_string()).expect("parse");
    let interp = Interpreter::new("many", machine, Arc::new(Instant0), store.clone())
        .await
        .expect("new");
    let total = 2000;
    for n in 0..total {
        interp
            .start_execution(&format!("e-{n}"), json!({"id": n, "n": n}))
            .await
            .expect("start");
    }
    for n in 0..total {
        let view = finish(&interp, &format!("e-{n}")).await;
        assert_eq!(view.status, ExecutionStatus::Succeeded);
        let expected: Vec<&str> = if n < 1000 {
            vec!["A", "B", "C", "D", "E", "F"]
        } else {
            vec!["A", "B", "D", "E", "F"]
        };
        assert_eq!(view.history, expected);
    }
    assert_eq!(store.transactions(), 2 * total, "two writes per execution");
}
