//! Saga step failures injected into the real handlers (`PUT /_local/faults` `steps`), end to end
//! over HTTP: whatever a step after the authorization does wrong, the reservation ends CONFIRMED
//! with the payment CAPTURED and its nights held, or CANCELLED with the payment voided and no
//! night held; only a compensation that cannot succeed fails the execution (the alarmed case).

use std::time::Duration;

use crate::support::{Local, day};
use serde_json::{Value, json};

/// Reserves one room for one night and waits for its saga execution to end; answers the
/// reservation and the execution.
async fn book(rt: &Local, user: &str, place: &str, night: i64) -> (String, Value, Value) {
    let (s, r) = rt
        .reserve(user, place, &day(night), &day(night + 1), 1)
        .await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id").to_string();
    let view = finished(rt, &id).await;
    let r = rt.reservation(user, &id).await;
    (id, r, view)
}

/// Waits for the saga execution of a reservation to end.
async fn finished(rt: &Local, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..2000 {
        if let Some(view) = execution(rt, id).await {
            if view["status"] != "RUNNING" {
                return view;
            }
            last = view;
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    panic!("the saga of {id} did not end: {last}");
}

async fn payment_status(rt: &Local, user: &str, id: &str) -> String {
    let (_, p) = rt.payment(user, id).await;
    p["status"].as_str().unwrap_or("none").to_string()
}

/// The saga execution of a reservation, once it exists: named by the reservation (or, where the
/// rule starts the saga itself, by its ReservationPlaced event).
async fn execution(rt: &Local, id: &str) -> Option<Value> {
    let mut names = vec![id.to_string()];
    if let Some(placed) = rt
        .events(Some(id))
        .await
        .into_iter()
        .find(|e| e["detail-type"] == "ReservationPlaced")
    {
        names.extend(placed["id"].as_str().map(str::to_string));
    }
    for name in names {
        let (s, view) = rt
            .call("GET", &format!("/_local/executions/{name}"), None, None)
            .await;
        if s == 200 {
            return Some(view);
        }
    }
    None
}

#[tokio::test]
async fn failures_after_the_charge_settle_money_and_nights_with_the_real_handlers() {
    let rt = Local::start("step-faults", &[]).await;
    let place = rt.place("olivia", 5, 10_000, true).await;
    let cases = [
        // A crash after the hold committed: compensated, the hold released.
        (
            json!({"PlaceHoldNightsFunction": {"error": "Runtime.ExitError", "afterEffect": true}}),
            "CANCELLED",
        ),
        (
            json!({"ReservationRecordPaymentFunction": {"error": "Unhandled", "afterEffect": true}}),
            "CANCELLED",
        ),
        // Confirmed, then the answer was lost: the cancel refuses, the stay and its money stand.
        (
            json!({"ReservationConfirmFunction": {"error": "Runtime.ExitError", "afterEffect": true}}),
            "CONFIRMED",
        ),
        (
            json!({"PlaceHoldNightsFunction": {"error": "ReservePlace.Misconfigured"}}),
            "CANCELLED",
        ),
        // Transient: retried, then confirmed.
        (
            json!({"PlaceHoldNightsFunction": {"error": "Lambda.Unknown", "calls": 2, "afterEffect": true}}),
            "CONFIRMED",
        ),
        (
            json!({"ReservationConfirmFunction": {"error": "Lambda.ClientExecutionTimeoutException", "calls": 2}}),
            "CONFIRMED",
        ),
        (
            json!({"ReservationRecordPaymentFunction": {"error": "States.Timeout", "calls": 1}}),
            "CONFIRMED",
        ),
        // A compensation failing for a while: retried until it succeeds.
        (
            json!({"PlaceHoldNightsFunction": {"error": "Runtime.ExitError"},
                "PaymentVoidFunction": {"error": "Runtime.ExitError", "calls": 2, "afterEffect": true},
                "PlaceReleaseNightsFunction": {"error": "Lambda.Unknown", "calls": 1}}),
            "CANCELLED",
        ),
    ];
    for (i, (steps, expected)) in cases.into_iter().enumerate() {
        rt.set_faults(json!({"steps": steps})).await;
        let night = 10 + i64::try_from(i).expect("small");
        let user = format!("u{i}");
        let (id, r, view) = book(&rt, &user, &place, night).await;
        let label = format!("{steps}: {r}");
        assert_eq!(r["status"], expected, "{label}");
        let paid = payment_status(&rt, &user, &id).await;
        let held = rt.held("olivia", &place, &day(night)).await;
        if expected == "CONFIRMED" {
            assert_eq!((paid.as_str(), held), ("CAPTURED", 1), "{label}");
        } else {
            assert_eq!(r["statusReason"], "SYSTEM_ERROR", "{label}");
            assert_eq!((paid.as_str(), held), ("VOIDED", 0), "{label}");
        }
        assert_eq!(view["status"], "SUCCEEDED", "{label}: {view}");
    }
}

#[tokio::test]
async fn a_compensation_that_cannot_succeed_fails_the_execution() {
    let rt = Local::start("step-faults-fail", &[]).await;
    let place = rt.place("olivia", 1, 10_000, true).await;
    rt.set_faults(json!({"steps": {
        "PlaceHoldNightsFunction": {"error": "Runtime.ExitError"},
        "PaymentVoidFunction": {"error": "ReservePlace.Misconfigured"}
    }}))
    .await;
    let (s, r) = rt.reserve("ann", &place, &day(20), &day(21), 1).await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id").to_string();
    let view = finished(&rt, &id).await;
    // The one case money stays held: the execution FAILED, which the saga-failed alarm reports.
    assert_eq!(view["status"], "FAILED", "{view}");
    assert_eq!(view["error"], "ReservePlace.Misconfigured", "{view}");
    assert_eq!(payment_status(&rt, "ann", &id).await, "AUTHORIZED");
}
