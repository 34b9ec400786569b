//! Definition validation: everything unsupported or inconsistent is rejected at parse time,
//! naming the state and the field.

use reserveplace_local_sfn::{AslError, StateMachine};
use serde_json::{Value, json};

fn parse(def: Value) -> Result<StateMachine, AslError> {
    StateMachine::parse(&def.to_string())
}

/// A one-state machine around `state`.
fn one(state: Value) -> Value {
    json!({ "StartAt": "S", "States": { "S": state, "End": { "Type": "Succeed" } } })
}

#[track_caller]
fn unsupported(def: Value, state: Option<&str>, field: &str) {
    match parse(def) {
        Err(e @ AslError::Unsupported { .. }) => {
            assert_eq!((e.state(), e.field()), (state, Some(field)), "{e}");
        }
        other => panic!("expected Unsupported at {state:?}/{field}, got {other:?}"),
    }
}

#[track_caller]
fn invalid(def: Value, state: Option<&str>, field: &str) {
    match parse(def) {
        Err(e @ AslError::Invalid { .. }) => {
            assert_eq!((e.state(), e.field()), (state, Some(field)), "{e}");
        }
        other => panic!("expected Invalid at {state:?}/{field}, got {other:?}"),
    }
}

#[test]
fn rejects_map_and_parallel() {
    unsupported(
        one(json!({"Type": "Map", "ItemProcessor": {}, "End": true})),
        Some("S"),
        "Type",
    );
    unsupported(
        one(json!({"Type": "Parallel", "Branches": [], "End": true})),
        Some("S"),
        "Type",
    );
}

#[test]
fn rejects_intrinsic_functions() {
    let def = one(json!({
        "Type": "Task", "Resource": "r", "End": true,
        "Parameters": { "nested": { "msg.$": "States.Format('hello {}', $.name)" } }
    }));
    unsupported(def, Some("S"), "Parameters.nested.msg.$");
    let def = one(json!({
        "Type": "Pass", "End": true, "Parameters": { "id.$": "States.UUID()" }
    }));
    unsupported(def, Some("S"), "Parameters.id.$");
}

#[test]
fn rejects_unknown_and_unsupported_fields() {
    invalid(
        one(json!({"Type": "Task", "Resource": "r", "End": true, "Foo": 1})),
        Some("S"),
        "Foo",
    );
    invalid(
        one(json!({"Type": "Pass", "End": true, "ResultSelector": {}})),
        Some("S"),
        "ResultSelector",
    );
    unsupported(
        one(json!({"Type": "Task", "Resource": "r", "End": true, "HeartbeatSeconds": 10})),
        Some("S"),
        "HeartbeatSeconds",
    );
    unsupported(
        one(json!({"Type": "Task", "Resource": "r", "End": true, "QueryLanguage": "JSONata"})),
        Some("S"),
        "QueryLanguage",
    );
    invalid(
        one(json!({"Type": "Task", "Resource": "r", "End": true,
                   "Retry": [{"ErrorEquals": ["E"], "Backoff": 2}]})),
        Some("S"),
        "Retry[0].Backoff",
    );
    let mut top = one(json!({"Type": "Succeed"}));
    top["Extra"] = json!(true);
    invalid(top, None, "Extra");
    unsupported(
        one(json!({"Type": "Fail", "ErrorPath": "$.e"})),
        Some("S"),
        "ErrorPath",
    );
}

#[test]
fn rejects_missing_transition_targets() {
    invalid(
        one(json!({"Type": "Pass", "Next": "Nope"})),
        Some("S"),
        "Next",
    );
    invalid(
        one(json!({"Type": "Task", "Resource": "r", "End": true,
                   "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Nope"}]})),
        Some("S"),
        "Catch[0].Next",
    );
    invalid(
        one(json!({"Type": "Choice", "Default": "Nope",
                   "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "End"}]})),
        Some("S"),
        "Default",
    );
    invalid(
        one(json!({"Type": "Choice",
                   "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "Nope"}]})),
        Some("S"),
        "Choices[0].Next",
    );
    invalid(
        json!({"StartAt": "Nope", "States": {"S": {"Type": "Succeed"}}}),
        None,
        "StartAt",
    );
}

#[test]
fn rejects_bad_transitions_and_error_lists() {
    invalid(one(json!({"Type": "Pass"})), Some("S"), "Next");
    invalid(
        one(json!({"Type": "Pass", "Next": "End", "End": true})),
        Some("S"),
        "Next",
    );
    invalid(
        one(
            json!({"Type": "Task", "Resource": "r", "End": true, "Retry": [
                {"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}
            ]}),
        ),
        Some("S"),
        "Retry[0].ErrorEquals",
    );
    invalid(
        one(
            json!({"Type": "Task", "Resource": "r", "End": true, "Catch": [
                {"ErrorEquals": ["E", "States.ALL"], "Next": "End"}
            ]}),
        ),
        Some("S"),
        "Catch[0].ErrorEquals",
    );
    invalid(
        one(json!({"Type": "Task", "Resource": "r", "End": true,
                   "Retry": [{"ErrorEquals": ["E"], "BackoffRate": 0.5}]})),
        Some("S"),
        "Retry[0].BackoffRate",
    );
    invalid(
        one(json!({"Type": "Task", "Resource": "r", "End": true,
                   "TimeoutSeconds": 1, "TimeoutSecondsPath": "$.t"})),
        Some("S"),
        "TimeoutSecondsPath",
    );
}

#[test]
fn rejects_unsupported_choice_rules_and_paths() {
    unsupported(
        one(json!({"Type": "Choice",
                   "Choices": [{"Variable": "$.a", "StringMatches": "x*", "Next": "End"}]})),
        Some("S"),
        "Choices[0].StringMatches",
    );
    invalid(
        one(json!({"Type": "Choice", "Choices": [{"Not": {
            "Variable": "$.a", "IsPresent": true, "Next": "End"}, "Next": "End"}]})),
        Some("S"),
        "Choices[0].Not.Next",
    );
    invalid(
        one(json!({"Type": "Choice",
                   "Choices": [{"Variable": "$.a", "IsPresent": true}]})),
        Some("S"),
        "Choices[0].Next",
    );
    unsupported(
        one(json!({"Type": "Pass", "End": true, "InputPath": "$..a"})),
        Some("S"),
        "InputPath",
    );
    unsupported(
        one(json!({"Type": "Pass", "End": true, "Parameters": {"x.$": "$.items[*].id"}})),
        Some("S"),
        "Parameters.x.$",
    );
    invalid(
        one(json!({"Type": "Pass", "End": true, "OutputPath": "a.b"})),
        Some("S"),
        "OutputPath",
    );
    invalid(
        one(json!({"Type": "Task", "Resource": "r", "End": true,
                   "Parameters": {"t.$": "$$.Task.Token"}})),
        Some("S"),
        "Parameters.t.$",
    );
    invalid(
        one(json!({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true})),
        Some("S"),
        "Seconds",
    );
    invalid(
        one(json!({"Type": "Wait", "Timestamp": "tomorrow", "End": true})),
        Some("S"),
        "Timestamp",
    );
}

#[test]
fn errors_name_state_and_field() {
    let err = parse(one(
        json!({"Type": "Task", "Resource": "r", "End": true, "HeartbeatSeconds": 5}),
    ))
    .expect_err("heartbeat accepted");
    let text = err.to_string();
    assert!(
        text.contains("\"S\"") && text.contains("HeartbeatSeconds"),
        "{text}"
    );
    assert!(matches!(StateMachine::parse("{"), Err(AslError::Json(_))));
}

#[test]
fn accepts_a_saga_definition_with_unreachable_states() {
    let def = json!({
        "Comment": "reservation saga",
        "Version": "1.0",
        "TimeoutSeconds": 3600,
        "StartAt": "Hold",
        "States": {
            "Hold": {
                "Type": "Task", "Resource": "arn:aws:lambda:::function:hold",
                "Parameters": {"reservationId.$": "$.id", "execution.$": "$$.Execution.Id"},
                "ResultSelector": {"holdId.$": "$.holdId"},
                "ResultPath": "$.hold",
                "TimeoutSeconds": 10,
                "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 1, "MaxAttempts": 3,
                           "BackoffRate": 2.0, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"},
                          {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
                "Next": "Pay"
            },
            "Pay": {
                "Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                "Parameters": {"token.$": "$$.Task.Token", "id.$": "$.id"},
                "TimeoutSecondsPath": "$.payTimeout",
                "ResultPath": "$.payment",
                "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": null, "Next": "Release"}],
                "Next": "Paid?"
            },
            "Paid?": {
                "Type": "Choice",
                "Choices": [{"And": [{"Variable": "$.payment.ok", "IsPresent": true},
                                     {"Variable": "$.payment.ok", "BooleanEquals": true}],
                             "Next": "Confirm"}],
                "Default": "Release"
            },
            "Confirm": {"Type": "Pass", "Result": "ok", "ResultPath": "$.status", "Next": "Done"},
            "Release": {"Type": "Wait", "Seconds": 0, "Next": "Failed"},
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "SagaFailed", "Cause": "compensated"},
            "Orphan": {"Type": "Pass", "End": true}
        }
    });
    let m = parse(def).expect("valid saga");
    assert_eq!(m.start_at(), "Hold");
    assert_eq!(m.timeout_seconds(), Some(3600));
    assert_eq!(m.state_names().count(), 8);
}
