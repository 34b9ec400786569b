//! Failure injection into the project's saga definition (`infra/reservation-saga.asl.json`),
//! run over a model of its steps (`support::saga_model`), in virtual time. Whatever fails after
//! the charge, the saga ends CONFIRMED with the payment taken, or CANCELLED with it refunded (or
//! never taken) and the nights released; only a compensation that cannot succeed fails the
//! execution (the case the saga-failed alarm reports). A context down for a week only delays the
//! saga (a forward step waits it out, and so does a compensation), within Step Functions' 25,000
//! history events, which the interpreter enforces.
//!
//! `RESERVEPLACE_SAGA_ASL=<file>` runs these tests against another version of the definition.

mod support;

use std::time::Duration;

use reserveplace_local_sfn::{ExecutionStatus, MAX_HISTORY_EVENTS};
use support::saga_model::{
    COMPENSATIONS, FUNCTIONS, Fault, Hold, Outage, Owner, Payment, SCENARIOS, SagaModel, Scenario,
    World, money_and_nights_settled, run,
};

const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// (error, how many calls fail: `None` = every call).
const FAULTS: [(&str, Option<u32>); 9] = [
    ("States.Timeout", Some(3)),
    ("Sandbox.Timedout", Some(3)),
    ("Runtime.ExitError", Some(3)),
    ("Unhandled", Some(3)),
    ("Lambda.Unknown", Some(3)),
    ("Lambda.ClientExecutionTimeoutException", Some(3)),
    ("ReservePlace.Misconfigured", None),
    ("ReservePlace.InvalidInput", None),
    ("ReservePlace.Transient", Some(3)),
];

fn permanent(calls: Option<u32>) -> bool {
    calls.is_none()
}

fn outcome(w: &World) -> (String, Option<String>) {
    (w.status.clone(), w.reason.clone())
}

#[tokio::test(start_paused = true)]
async fn every_failure_after_the_charge_settles_money_and_nights() {
    let mut breaches = Vec::new();
    let mut runs = 0;
    for scenario in SCENARIOS {
        let (_, baseline, _) = run(SagaModel::new(scenario, Vec::new(), None)).await;
        if let Err(e) = money_and_nights_settled_ok(&baseline) {
            panic!("{scenario:?} without faults: {e}");
        }
        for (function, _) in FUNCTIONS.iter().skip(1) {
            for (error, calls) in FAULTS {
                for after_effect in [false, true] {
                    let fault = Fault {
                        function,
                        error,
                        calls,
                        after_effect,
                    };
                    let label = format!("{scenario:?} / {fault:?}");
                    let (view, w, _) = run(SagaModel::new(scenario, vec![fault], None)).await;
                    runs += 1;
                    let reached = w.calls.get(*function).copied().unwrap_or(0) > 0;
                    let must_finish =
                        COMPENSATIONS.contains(function) || *function == "PaymentCapture";
                    if permanent(calls) && reached && must_finish {
                        // It really cannot succeed: the execution fails (and alarms); a confirmed
                        // stay is never compensated for its capture.
                        if view.status != ExecutionStatus::Failed
                            || view.error.as_deref() != Some(error)
                        {
                            breaches.push(format!("{label}: expected FAILED {error}: {view:?}"));
                        }
                        continue;
                    }
                    if let Err(e) = money_and_nights_settled(&view, &w) {
                        breaches.push(format!("{label}: {e}"));
                        continue;
                    }
                    if error == "ReservePlace.Transient" && outcome(&w) != outcome(&baseline) {
                        breaches.push(format!(
                            "{label}: a transient error changed the outcome {:?} → {:?}",
                            outcome(&baseline),
                            outcome(&w)
                        ));
                    }
                    if permanent(calls)
                        && reached
                        && w.status == "CANCELLED"
                        && baseline.status == "CONFIRMED"
                        && w.reason.as_deref() != Some("SYSTEM_ERROR")
                    {
                        breaches.push(format!("{label}: cancelled with {:?}", w.reason));
                    }
                }
            }
        }
    }
    assert!(runs >= 5 * 9 * FAULTS.len() * 2);
    assert!(
        breaches.is_empty(),
        "{} of {runs} executions broke the saga's guarantee, e.g.:\n{}",
        breaches.len(),
        breaches
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The baseline check without an execution view (the baseline must succeed anyway).
fn money_and_nights_settled_ok(w: &World) -> Result<(), String> {
    match (w.status.as_str(), w.charges, w.voids) {
        ("CONFIRMED", 1, 0) | ("CANCELLED", 1, 1) => Ok(()),
        other => Err(format!("unexpected baseline {other:?}: {w:?}")),
    }
}

const INSTANT: Scenario = SCENARIOS[0];
const SOLD_OUT: Scenario = SCENARIOS[4];
const OWNER_REJECTS: Scenario = Scenario {
    instant_book: false,
    sold_out: false,
    owner: Owner::Rejects,
};

fn outage(context: &'static str, from: &'static str, length: Duration) -> Option<Outage> {
    Some(Outage {
        context,
        from,
        length,
        began: None,
    })
}

const OWNER_CONFIRMS: Scenario = SCENARIOS[1];
const OWNER_SILENT: Scenario = SCENARIOS[3];

/// The forward steps after the charge, each with its context and a scenario that reaches it.
const FORWARD: [(Scenario, &str, &str); 6] = [
    (INSTANT, "reservation", "ReservationRecordPayment"),
    (INSTANT, "place", "PlaceHoldNights"),
    (OWNER_CONFIRMS, "reservation", "ReservationAwaitOwner"),
    (OWNER_CONFIRMS, "place", "PlaceRequestDecision"),
    (OWNER_SILENT, "place", "PlaceExpireDecision"),
    (INSTANT, "reservation", "ReservationConfirm"),
];

#[tokio::test(start_paused = true)]
async fn a_forward_step_down_for_a_week_ends_as_without_the_outage() {
    for (scenario, context, from) in FORWARD {
        let (_, baseline, _) = run(SagaModel::new(scenario, Vec::new(), None)).await;
        let model = SagaModel::new(scenario, Vec::new(), outage(context, from, WEEK));
        let (view, w, took) = run(model).await;
        let label = format!("{scenario:?}, {context} down from {from}");
        if let Err(e) = money_and_nights_settled(&view, &w) {
            panic!("{label}: {e}");
        }
        // The step outlasted the outage: the reservation was not cancelled for it.
        assert_eq!(outcome(&w), outcome(&baseline), "{label}");
        assert_ne!(w.reason.as_deref(), Some("SYSTEM_ERROR"), "{label}");
        assert!(
            !view.history.iter().any(|s| s == "SystemError"),
            "{label}: {:?}",
            view.history
        );
        assert!(took >= WEEK, "{label}: ended after {took:?}");
        // About 12 + (7 days - 34 min) / 30 min retries: the cap was reached and it kept going.
        let forward = w.calls[from];
        assert!(
            (250..=451).contains(&forward),
            "{label}: {from} called {forward} times"
        );
        assert!(
            view.history_events <= MAX_HISTORY_EVENTS && view.history_events > 3 * 250,
            "{label}: {} history events",
            view.history_events
        );
    }
    // The instant-book and owner-confirms cases really end confirmed, with the money and nights.
    let (view, w, _) = run(SagaModel::new(
        INSTANT,
        Vec::new(),
        outage("place", "PlaceHoldNights", WEEK),
    ))
    .await;
    assert_eq!(view.status, ExecutionStatus::Succeeded);
    assert_eq!(
        (w.status.as_str(), &w.payment, &w.hold),
        (
            "CONFIRMED",
            &Some(Payment::Captured),
            &Some(Hold::Held("NONE".into()))
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_forward_step_down_for_a_month_fails_only_in_a_compensation_before_the_history_limit() {
    let month = Duration::from_secs(30 * 24 * 3600);
    for (scenario, context, from) in FORWARD {
        let model = SagaModel::new(scenario, Vec::new(), outage(context, from, month));
        let (view, w, took) = run(model).await;
        let label = format!("{scenario:?}, {context} down from {from}: {view:?} {w:?}");
        // The forward step used every retry (days), then the saga compensated; the first
        // compensation in the same context waited the rest of its own retries (days) and, the
        // context still down, failed the execution: the saga-failed alarm, not a silent stop at
        // the history limit (`States.Runtime`).
        assert_eq!(w.calls[from], 451, "{label}");
        assert!(view.history.iter().any(|s| s == "SystemError"), "{label}");
        assert_eq!(view.status, ExecutionStatus::Failed, "{label}");
        assert_eq!(
            view.error.as_deref(),
            Some("Lambda.ServiceException"),
            "{label}"
        );
        let last = view.history.last().map(String::as_str).unwrap_or_default();
        assert!(
            ["CancelOnSystemError", "ReleaseNights"].contains(&last),
            "{label}: failed in {last}"
        );
        assert!(view.history_events < MAX_HISTORY_EVENTS, "{label}");
        assert!(took > 2 * WEEK && took < month, "{label}: {took:?}");
        // Nothing took effect twice and nothing was confirmed; the money the alarm is about is
        // the one charge, not yet refunded.
        assert!(
            w.charges == 1 && w.voids == 0 && w.holds <= 1 && w.releases <= 1,
            "{label}"
        );
        assert_ne!(w.status, "CONFIRMED", "{label}");
        assert_eq!(w.payment, Some(Payment::Approved), "{label}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_compensation_down_for_a_week_completes_within_the_history_limit() {
    for (scenario, context, from, reason) in [
        (SOLD_OUT, "payment", "PaymentVoid", "SOLD_OUT"),
        (OWNER_REJECTS, "payment", "PaymentVoid", "OWNER_REJECTED"),
        (SOLD_OUT, "reservation", "ReservationCancelStep", "SOLD_OUT"),
    ] {
        let model = SagaModel::new(scenario, Vec::new(), outage(context, from, WEEK));
        let (view, w, took) = run(model).await;
        let label = format!("{scenario:?}, {context} down from {from}");
        if let Err(e) = money_and_nights_settled(&view, &w) {
            panic!("{label}: {e}");
        }
        assert_eq!(
            (w.status.as_str(), w.reason.as_deref()),
            ("CANCELLED", Some(reason)),
            "{label}"
        );
        assert!(took >= WEEK, "{label}: ended after {took:?}");
        assert!(w.calls[from] > 500, "{label}: {:?}", w.calls);
        assert!(
            view.history_events <= MAX_HISTORY_EVENTS,
            "{label}: {} history events",
            view.history_events
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_context_down_for_an_hour_only_delays_the_saga() {
    let model = SagaModel::new(
        INSTANT,
        Vec::new(),
        outage(
            "reservation",
            "ReservationRecordPayment",
            Duration::from_secs(3600),
        ),
    );
    let (view, w, took) = run(model).await;
    if let Err(e) = money_and_nights_settled(&view, &w) {
        panic!("{e}");
    }
    assert_eq!(w.status, "CONFIRMED");
    assert!(took >= Duration::from_secs(3600), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_compensation_down_for_a_month_fails_the_execution_before_the_history_limit() {
    let month = Duration::from_secs(30 * 24 * 3600);
    let model = SagaModel::new(
        SOLD_OUT,
        Vec::new(),
        outage("payment", "PaymentVoid", month),
    );
    let (view, w, took) = run(model).await;
    // Money stays taken only here, with the execution FAILED: the saga-failed alarm fires.
    assert_eq!(view.status, ExecutionStatus::Failed, "{view:?}");
    assert_eq!(view.error.as_deref(), Some("Lambda.ServiceException"));
    assert!(view.history_events < MAX_HISTORY_EVENTS);
    assert!(took > WEEK && took < month, "{took:?}");
    assert_eq!(w.voids, 0);
}
