//! Event consumers: each receives the EventBridge envelope its rule in `template.yaml` matched.
//! All are idempotent: redelivery and disorder leave the same state.
use serde_json::Value;

mod saga_start;
pub use saga_start::reservation_saga_start;

use crate::error::{StepError, StepResult};
use crate::services::Services;
use reserveplace_domain::payment::ChargeRequest;
use reserveplace_domain::place::StayRef;
use reserveplace_domain::reservation::CatalogPlace;
use reserveplace_domain::saga::SagaError;

fn detail(event: &Value) -> StepResult<&Value> {
    event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| StepError::invalid("event without detail"))
}

fn detail_type(event: &Value) -> &str {
    event
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> StepResult<T> {
    serde_json::from_value(v.clone()).map_err(|e| StepError::invalid(format!("event detail: {e}")))
}

/// [reservation-catalogue] PlaceRegistered / PlaceUpdated → the reservation context's catalogue copy.
pub async fn reservation_catalogue(svc: &Services, event: Value) -> StepResult<()> {
    let d = detail(&event)?;
    let place: CatalogPlace = parse(d)?;
    svc.reservations.apply_catalogue(place).await?;
    Ok(())
}

/// [mypage-projector] reservation and payment events → MyPage rows.
pub async fn mypage_projector(svc: &Services, event: Value) -> StepResult<()> {
    svc.mypages
        .apply(detail_type(&event), detail(&event)?)
        .await?;
    Ok(())
}

/// [owner-view-projector] reservation events → the owner's reservation list.
pub async fn owner_view_projector(svc: &Services, event: Value) -> StepResult<()> {
    svc.owner_view
        .apply(detail_type(&event), detail(&event)?)
        .await?;
    Ok(())
}

/// [notification-sender] ReservationStatusChanged → one notification.
pub async fn notification_sender(svc: &Services, event: Value) -> StepResult<()> {
    svc.notifications.on_status_changed(detail(&event)?).await?;
    Ok(())
}

/// [loyalty-awarder] ReservationStatusChanged (CONFIRMED / CANCELLED) → points.
pub async fn loyalty_awarder(svc: &Services, event: Value) -> StepResult<()> {
    svc.loyalty.on_status_changed(detail(&event)?).await?;
    Ok(())
}

/// [payment-refund-on-cancel] ReservationCanceled(CUSTOMER_CANCELLED) → refund exactly once.
pub async fn payment_refund_on_cancel(svc: &Services, event: Value) -> StepResult<()> {
    let req: ChargeRequest = parse(detail(&event)?)?;
    svc.payments.refund(&req, "CUSTOMER_CANCELLED").await?;
    Ok(())
}

/// [place-release-on-cancel] ReservationCanceled(CUSTOMER_CANCELLED) → release the nights, and stop
/// a saga waiting for the owner.
pub async fn place_release_on_cancel(svc: &Services, event: Value) -> StepResult<()> {
    let stay: StayRef = parse(detail(&event)?)?;
    if let Some(token) = svc.places.release_nights(&stay).await? {
        resume(
            svc.saga
                .send_task_failure(&token, crate::error::CANCELLED, "the customer cancelled")
                .await,
        )?;
    }
    Ok(())
}

/// [place-resume-saga] the owner's ReservationConfirmed / ReservationCancelConfirmed → resume the
/// saga waiting on its callback token (if it handed one over yet; otherwise it will see the decision).
pub async fn place_resume_saga(svc: &Services, event: Value) -> StepResult<()> {
    let d = detail(&event)?;
    let id = d
        .get("reservationId")
        .and_then(Value::as_str)
        .ok_or_else(|| StepError::invalid("no reservationId"))?;
    if let Some((token, decision)) = svc.places.pending_token(id).await? {
        resume(
            svc.saga
                .send_task_success(&token, serde_json::json!({ "decision": decision }))
                .await,
        )?;
    }
    Ok(())
}

/// A task that is no longer waiting was resumed already: that is success for an idempotent consumer.
pub(crate) fn resume(r: Result<(), SagaError>) -> StepResult<()> {
    match r {
        Ok(()) | Err(SagaError::TaskGone(_)) => Ok(()),
        Err(e) => Err(StepError::from(e)),
    }
}
