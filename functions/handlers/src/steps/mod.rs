//! Saga steps: the Lambda functions the state machine (`infra/reservation-saga.asl.json`) invokes.
//! Each receives the execution state (`$`: the ReservationPlaced event plus earlier results) and is
//! idempotent, so Retry and a replay after a crash are safe.
use serde::Serialize;
use serde_json::{Value, json};

use crate::consumers::resume;
use crate::error::{StepError, StepResult};
use crate::services::Services;
use reserveplace_domain::payment::ChargeRequest;
use reserveplace_domain::place::{StayRef, TokenOutcome};
use reserveplace_domain::reservation::CancelReason;

fn reservation(input: &Value) -> StepResult<&Value> {
    input
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| StepError::invalid("saga input without detail"))
}

fn id(input: &Value) -> StepResult<String> {
    reservation(input)?
        .get("reservationId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| StepError::invalid("saga input without detail.reservationId"))
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> StepResult<T> {
    serde_json::from_value(v.clone()).map_err(|e| StepError::invalid(format!("saga input: {e}")))
}

fn out<T: Serialize>(v: T) -> StepResult<Value> {
    serde_json::to_value(v).map_err(|e| StepError::invalid(e.to_string()))
}

/// [payment-charge]
pub async fn payment_charge(svc: &Services, input: Value) -> StepResult<Value> {
    let req: ChargeRequest = parse(reservation(&input)?)?;
    out(svc.payments.charge(&req).await?)
}

/// [payment-refund] refunds (or voids) with the saga's `$.reason`, recorded for replays.
pub async fn payment_refund(svc: &Services, input: Value) -> StepResult<Value> {
    let req: ChargeRequest = parse(reservation(&input)?)?;
    let reason = input
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("CUSTOMER_CANCELLED");
    out(svc.payments.refund(&req, reason).await?)
}

/// [reservation-record-payment]
pub async fn reservation_record_payment(svc: &Services, input: Value) -> StepResult<Value> {
    out(svc.reservations.record_payment(&id(&input)?).await?)
}

/// [reservation-await-owner]
pub async fn reservation_await_owner(svc: &Services, input: Value) -> StepResult<Value> {
    out(svc.reservations.await_owner(&id(&input)?).await?)
}

/// [reservation-confirm]
pub async fn reservation_confirm(svc: &Services, input: Value) -> StepResult<Value> {
    out(svc.reservations.confirm(&id(&input)?).await?)
}

/// [reservation-cancel-step] ends CANCELLED with `$.reason`.
pub async fn reservation_cancel_step(svc: &Services, input: Value) -> StepResult<Value> {
    let reason: CancelReason = parse(input.get("reason").unwrap_or(&Value::Null))?;
    out(svc
        .reservations
        .cancel_by_saga(&id(&input)?, reason)
        .await?)
}

/// [place-hold-nights]
pub async fn place_hold_nights(svc: &Services, input: Value) -> StepResult<Value> {
    let stay: StayRef = parse(reservation(&input)?)?;
    out(svc.places.hold_nights(&stay).await?)
}

/// [place-release-nights]
pub async fn place_release_nights(svc: &Services, input: Value) -> StepResult<Value> {
    let stay: StayRef = parse(reservation(&input)?)?;
    svc.places.release_nights(&stay).await?;
    Ok(json!({ "released": true }))
}

/// [place-request-decision] callback task: keeps the token for the owner's decision, or resumes
/// at once when the decision (or a cancel) got there first.
pub async fn place_request_decision(svc: &Services, input: Value) -> StepResult<Value> {
    let token = input
        .get("taskToken")
        .and_then(Value::as_str)
        .ok_or_else(|| StepError::invalid("no taskToken"))?;
    let rid = id(&input)?;
    match svc.places.request_owner_decision(&rid, token).await? {
        TokenOutcome::Stored => {}
        TokenOutcome::AlreadyDecided(d) => {
            use reserveplace_domain::place::OwnerDecision::*;
            let r = match d {
                Confirmed | Rejected | TimedOut => {
                    svc.saga
                        .send_task_success(token, json!({ "decision": d }))
                        .await
                }
                _ => {
                    svc.saga
                        .send_task_failure(
                            token,
                            crate::error::CANCELLED,
                            "cancelled before the owner decided",
                        )
                        .await
                }
            };
            resume(r)?;
        }
    }
    Ok(json!({ "waiting": true }))
}

/// [place-expire-decision] the owner did not answer in time.
pub async fn place_expire_decision(svc: &Services, input: Value) -> StepResult<Value> {
    out(svc.places.expire_owner_decision(&id(&input)?).await?)
}
