//! The project's real saga definition: accepted as is, partition-agnostic, every step after the
//! charge compensates on any error and outlasts a context down for a week, and no execution of it
//! can reach Step Functions' 25,000 history events, whatever fails (counted as `quota.rs`
//! documents).

mod support;

use std::collections::BTreeMap;

use reserveplace_local_sfn::{MAX_HISTORY_EVENTS, StateMachine};
use serde_json::Value;
use support::saga_model::{definition_text, machine};

fn definition() -> Value {
    serde_json::from_str(&definition_text()).expect("the definition is JSON")
}

fn states(def: &Value) -> BTreeMap<String, Value> {
    def["States"]
        .as_object()
        .expect("States")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn the_reservation_saga_parses() {
    if let Err(e) = StateMachine::parse(&definition_text()) {
        panic!("infra/reservation-saga.asl.json is rejected: {e}");
    }
    // And with its substitutions resolved as the wiring resolves them.
    let _ = machine();
}

#[test]
fn every_task_names_the_partition_of_its_stack() {
    for (name, state) in states(&definition()) {
        if state["Type"] == "Task" {
            let resource = state["Resource"].as_str().unwrap_or_default();
            assert!(
                resource == "arn:${Partition}:states:::lambda:invoke"
                    || resource == "arn:${Partition}:states:::lambda:invoke.waitForTaskToken",
                "{name}: {resource}"
            );
        }
    }
}

fn errors(list: &Value) -> Vec<&str> {
    list["ErrorEquals"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn every_step_after_the_charge_compensates_on_any_error() {
    let def = definition();
    let all = states(&def);
    // The compensations, and the capture of a confirmed stay: each must finish, never go back.
    let compensations = [
        "CancelOnSystemError",
        "ReleaseNights",
        "VoidPayment",
        "CancelReservation",
        "CapturePayment",
    ];
    for (name, state) in &all {
        if state["Type"] != "Task" || name == "AuthorizePayment" {
            continue;
        }
        let retry = state["Retry"].as_array().cloned().unwrap_or_default();
        if compensations.contains(&name.as_str()) {
            // Everything is retried but what can never succeed, which fails the execution.
            let last = retry.last().expect("a retrier");
            assert_eq!(errors(last), ["States.ALL"], "{name}");
            assert!(state.get("Catch").is_none(), "{name} must fail, not go on");
            continue;
        }
        let catch = state["Catch"].as_array().cloned().unwrap_or_default();
        let catch_all = catch
            .iter()
            .find(|c| errors(c) == ["States.ALL"])
            .unwrap_or_else(|| panic!("{name} has no States.ALL catcher"));
        // The compensation starts from a reason, and cancels before it gives anything back (a
        // reservation the failing step already confirmed refuses, and keeps its payment).
        let target = &all[catch_all["Next"].as_str().unwrap_or_default()];
        assert_eq!(target["Type"], "Pass", "{name}");
        assert_eq!(target["ResultPath"], "$.reason", "{name}");
        let first = &all[target["Next"].as_str().unwrap_or_default()];
        assert_eq!(
            first["Parameters"]["FunctionName"], "${ReservationCancelStepFunctionArn}",
            "{name}: the first compensation after a system error is the cancel"
        );
        let transient = errors(&retry[0]);
        for error in [
            "ReservePlace.Transient",
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "Lambda.ClientExecutionTimeoutException",
            "Lambda.Unknown",
        ] {
            assert!(transient.contains(&error), "{name} does not retry {error}");
        }
    }
}

/// Most history events `state` and the states after it can write (see `quota.rs`).
fn worst_events(
    all: &BTreeMap<String, Value>,
    name: &str,
    memo: &mut BTreeMap<String, u64>,
) -> u64 {
    if let Some(n) = memo.get(name) {
        return *n;
    }
    let state = &all[name];
    let own = match state["Type"].as_str() {
        Some("Task") => {
            let retries: u64 = state["Retry"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .map(|r| r["MaxAttempts"].as_u64().unwrap_or(3))
                        .sum()
                })
                .unwrap_or(0);
            let callback = state["Resource"]
                .as_str()
                .is_some_and(|r| r.ends_with(".waitForTaskToken"));
            2 + (1 + retries) * if callback { 4 } else { 3 }
        }
        Some("Fail") => 1,
        _ => 2,
    };
    let mut next: Vec<&str> = Vec::new();
    next.extend(state["Next"].as_str());
    next.extend(state["Default"].as_str());
    for list in ["Choices", "Catch"] {
        for c in state[list].as_array().into_iter().flatten() {
            next.extend(c["Next"].as_str());
        }
    }
    let after = next
        .into_iter()
        .map(|n| worst_events(all, n, memo))
        .max()
        .unwrap_or(0);
    let total = own.saturating_add(after);
    memo.insert(name.to_owned(), total);
    total
}

#[test]
fn no_execution_can_reach_the_history_limit() {
    let def = definition();
    let all = states(&def);
    let start = def["StartAt"].as_str().expect("StartAt");
    // ExecutionStarted and the closing event; the definition has no loop (a DAG).
    let worst = 2 + worst_events(&all, start, &mut BTreeMap::new());
    assert!(
        worst <= MAX_HISTORY_EVENTS,
        "a saga execution can write {worst} history events, more than {MAX_HISTORY_EVENTS}"
    );
    // The definition's comment states the budget it was designed to.
    let comment = def["Comment"].as_str().unwrap_or_default();
    assert!(
        comment.contains(&format_thousands(worst)),
        "the top-level Comment should state the worst case, {worst} events"
    );
}

fn format_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Mean and variance, in seconds, of the total wait of `retrier`'s retries: retry `k` waits
/// `IntervalSeconds * BackoffRate^(k-1)` capped by `MaxDelaySeconds`, with FULL jitter a uniform
/// fraction of it (mean d/2, variance d²/12).
fn wait_distribution(retrier: &Value) -> (f64, f64) {
    let interval = retrier["IntervalSeconds"].as_f64().unwrap_or(1.0);
    let rate = retrier["BackoffRate"].as_f64().unwrap_or(2.0);
    let cap = retrier["MaxDelaySeconds"].as_f64().unwrap_or(f64::INFINITY);
    let full = retrier["JitterStrategy"] == "FULL";
    let (mut mean, mut variance, mut delay) = (0.0, 0.0, interval);
    for _ in 0..retrier["MaxAttempts"].as_u64().unwrap_or(3) {
        let d = delay.min(cap);
        if full {
            mean += d / 2.0;
            variance += d * d / 12.0;
        } else {
            mean += d;
        }
        delay *= rate;
    }
    (mean, variance)
}

/// Reservations are accepted while a context is down and complete once it is back: every step
/// after the charge keeps retrying a context that is down (`Lambda.ServiceException`) for a
/// week, but for a chance of less than 6 standard deviations (about 1e-9; the waits are sums of
/// hundreds of uniform delays, so the normal approximation is, if anything, pessimistic).
#[test]
fn every_step_after_the_charge_outlasts_a_context_down_for_a_week() {
    let week = 7.0 * 24.0 * 3600.0;
    let mut checked = 0;
    for (name, state) in states(&definition()) {
        if state["Type"] != "Task" || name == "AuthorizePayment" {
            continue;
        }
        let retrier = state["Retry"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| {
                let e = errors(r);
                e.contains(&"Lambda.ServiceException") || e == ["States.ALL"]
            })
            .unwrap_or_else(|| panic!("{name} does not retry a context that is down"));
        let (mean, variance) = wait_distribution(retrier);
        let sigmas = (mean - week) / variance.sqrt();
        assert!(
            sigmas >= 6.0,
            "{name} retries for {:.1} days on average, {sigmas:.1} standard deviations ({:.1} h) \
             above a week",
            mean / 86_400.0,
            variance.sqrt() / 3600.0
        );
        checked += 1;
    }
    assert!(checked >= 10, "checked {checked} steps");
}
