//! Saga steps: the Lambda functions the state machine (`infra/reservation-saga.asl.json`) invokes.
//! Each receives the execution state (`$`: the ReservationPlaced event plus earlier results) and is
//! idempotent, so Retry and a replay after a crash are safe.
//!
//! Each step names the part of the state it reads as a struct; the registry parses it strictly
//! before the step runs, so a state-machine edit that stops passing a field fails the step as
//! `ReservePlace.InvalidInput` naming the field, instead of the step guessing a value.
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::consumers::resume;
use crate::error::StepResult;
use crate::services::Services;
use reserveplace_domain::events::ReservationPlaced;
use reserveplace_domain::payment::{ChargeRequest, ChargeResult, Settled};
use reserveplace_domain::place::{
    DecisionResult, HoldResult, OwnerDecision, StayRef, TokenOutcome,
};
use reserveplace_domain::reservation::{CancelReason, StatusOutcome};

/// What every step reads: the ReservationPlaced the saga was started with (`$.detail`); the
/// results of earlier steps are the state machine's business.
#[derive(Debug, Clone, Deserialize)]
pub struct SagaInput {
    pub detail: ReservationPlaced,
}

fn reservation_id(placed: &ReservationPlaced) -> &str {
    &placed.reservation.reservation_id
}

fn charge(placed: &ReservationPlaced) -> ChargeRequest {
    ChargeRequest::of(&placed.meta, &placed.reservation)
}

fn stay(placed: &ReservationPlaced) -> StayRef {
    StayRef::of(&placed.meta, &placed.reservation)
}

/// The input of a step on a cancelling path: every `Pass` before it sets `$.reason`.
#[derive(Debug, Clone, Deserialize)]
pub struct CancelInput {
    pub detail: ReservationPlaced,
    pub reason: CancelReason,
}

/// The callback task's payload (`WaitForOwner`'s `Parameters`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRequest {
    pub detail: ReservationPlaced,
    pub task_token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Released {
    pub released: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Waiting {
    pub waiting: bool,
}

/// [payment-authorize] holds the amount on the card (taken only once the stay is confirmed).
pub async fn payment_authorize(svc: &Services, input: SagaInput) -> StepResult<ChargeResult> {
    Ok(svc.payments.authorize(&charge(&input.detail)).await?)
}

/// [payment-void] a compensation: releases the authorization (no money moved), recording the
/// saga's `$.reason` for replays.
pub async fn payment_void(svc: &Services, input: CancelInput) -> StepResult<Settled> {
    Ok(svc
        .payments
        .settle(&charge(&input.detail), 0, input.reason)
        .await?)
}

/// [payment-capture] the stay is confirmed: take what was authorized.
pub async fn payment_capture(svc: &Services, input: SagaInput) -> StepResult<Settled> {
    Ok(svc.payments.capture(&charge(&input.detail)).await?)
}

/// [reservation-record-payment]
pub async fn reservation_record_payment(
    svc: &Services,
    input: SagaInput,
) -> StepResult<StatusOutcome> {
    Ok(svc
        .reservations
        .record_payment(reservation_id(&input.detail))
        .await?)
}

/// [reservation-await-owner]
pub async fn reservation_await_owner(
    svc: &Services,
    input: SagaInput,
) -> StepResult<StatusOutcome> {
    Ok(svc
        .reservations
        .await_owner(reservation_id(&input.detail))
        .await?)
}

/// [reservation-confirm]
pub async fn reservation_confirm(svc: &Services, input: SagaInput) -> StepResult<StatusOutcome> {
    Ok(svc
        .reservations
        .confirm(reservation_id(&input.detail))
        .await?)
}

/// [reservation-cancel-step] ends CANCELLED with `$.reason`.
pub async fn reservation_cancel_step(
    svc: &Services,
    input: CancelInput,
) -> StepResult<StatusOutcome> {
    Ok(svc
        .reservations
        .cancel_by_saga(reservation_id(&input.detail), input.reason)
        .await?)
}

/// [place-hold-nights]
pub async fn place_hold_nights(svc: &Services, input: SagaInput) -> StepResult<HoldResult> {
    Ok(svc.places.hold_nights(&stay(&input.detail)).await?)
}

/// [place-release-nights]
pub async fn place_release_nights(svc: &Services, input: SagaInput) -> StepResult<Released> {
    svc.places.release_nights(&stay(&input.detail)).await?;
    Ok(Released { released: true })
}

/// [place-request-decision] callback task: keeps the token for the owner's decision, or resumes
/// at once when the decision (or a cancel) got there first.
pub async fn place_request_decision(svc: &Services, input: DecisionRequest) -> StepResult<Waiting> {
    let token = input.task_token.as_str();
    let rid = reservation_id(&input.detail);
    match svc.places.request_owner_decision(rid, token).await? {
        TokenOutcome::Stored => {}
        TokenOutcome::AlreadyDecided(d) => {
            use OwnerDecision::*;
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
    Ok(Waiting { waiting: true })
}

/// [place-expire-decision] the owner did not answer in time.
pub async fn place_expire_decision(svc: &Services, input: SagaInput) -> StepResult<DecisionResult> {
    Ok(svc
        .places
        .expire_owner_decision(reservation_id(&input.detail))
        .await?)
}
