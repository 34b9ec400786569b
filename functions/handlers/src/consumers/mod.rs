//! Event consumers: each receives the EventBridge envelope its rule in `template.yaml` matched.
//! All are idempotent: redelivery and disorder leave the same state.
//!
//! Each takes the typed envelope ([`DomainEvent`]); the registry parses it strictly before the
//! consumer runs, so an unknown `detail-type` or a missing field is refused as invalid input.

mod saga_start;
pub use saga_start::reservation_saga_start;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::Value;

use crate::error::{StepError, StepResult};
use crate::services::Services;
use reserveplace_domain::events::{
    DomainEvent, Event, EventMeta, ReservationSnapshot, ReservationStatusChanged,
};
use reserveplace_domain::payment::ChargeRequest;
use reserveplace_domain::place::StayRef;
use reserveplace_domain::reservation::{CancelReason, CatalogPlace};
use reserveplace_domain::saga::SagaError;

/// An event typed, with its envelope exactly as delivered, for a consumer that passes the event on
/// (the bus's `id`, `account`, ... are no part of the typed event).
#[derive(Debug, Clone)]
pub struct Delivered<E> {
    pub event: E,
    pub envelope: Value,
}

impl<'de, E: DeserializeOwned> Deserialize<'de> for Delivered<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let envelope = Value::deserialize(d)?;
        let event = E::deserialize(&envelope).map_err(D::Error::custom)?;
        Ok(Self { event, envelope })
    }
}

/// The reservation snapshot of a reservation event (the rule sends no other kind here).
fn reservation(event: &Event) -> StepResult<(&EventMeta, &ReservationSnapshot)> {
    event
        .reservation()
        .map(|r| (event.meta(), r))
        .ok_or_else(|| {
            StepError::invalid(format!(
                "not a reservation event: {}",
                event.name().as_str()
            ))
        })
}

/// [reservation-catalogue] PlaceRegistered / PlaceUpdated → the reservation context's catalogue copy.
pub async fn reservation_catalogue(svc: &Services, event: DomainEvent) -> StepResult<()> {
    let place = match event.event {
        Event::PlaceRegistered(p) | Event::PlaceUpdated(p) => CatalogPlace::from(&p),
        other => {
            return Err(StepError::invalid(format!(
                "not a catalogue event: {}",
                other.name().as_str()
            )));
        }
    };
    svc.reservations.apply_catalogue(place).await?;
    Ok(())
}

/// [mypage-projector] ReservationPlaced / ReservationStatusChanged / ReservationCanceled / PaymentAuthorized / PaymentDeclined / PaymentCaptured / PaymentVoided / PaymentRefunded / PaymentRefundFailed / PaymentDisputed / PaymentApproved / PaymentCancelApproved → MyPage rows.
pub async fn mypage_projector(svc: &Services, event: DomainEvent) -> StepResult<()> {
    svc.mypages.apply(&event.event).await?;
    Ok(())
}

/// [owner-view-projector] ReservationPlaced / ReservationStatusChanged / ReservationCanceled / PaymentDisputed → the owner's reservation list (a dispute flags its row).
pub async fn owner_view_projector(svc: &Services, event: DomainEvent) -> StepResult<()> {
    svc.owner_view.apply(&event.event).await?;
    Ok(())
}

/// [search-projection] PlaceRegistered / PlaceUpdated / RoomsHeld / RoomsReleased → the search read
/// model: each city's catalogue and the rooms held per day.
pub async fn search_projection(svc: &Services, event: DomainEvent) -> StepResult<()> {
    svc.search.apply(&event.event).await?;
    Ok(())
}

fn status_changed(event: DomainEvent) -> StepResult<ReservationStatusChanged> {
    match event.event {
        Event::ReservationStatusChanged(e) => Ok(e),
        other => Err(StepError::invalid(format!(
            "not a ReservationStatusChanged event: {}",
            other.name().as_str()
        ))),
    }
}

/// [notification-sender] ReservationStatusChanged → one notification.
pub async fn notification_sender(svc: &Services, event: DomainEvent) -> StepResult<()> {
    svc.notifications
        .on_status_changed(&status_changed(event)?)
        .await?;
    Ok(())
}

/// [loyalty-awarder] ReservationStatusChanged (CONFIRMED / CANCELLED) → points.
pub async fn loyalty_awarder(svc: &Services, event: DomainEvent) -> StepResult<()> {
    svc.loyalty
        .on_status_changed(&status_changed(event)?)
        .await?;
    Ok(())
}

/// [payment-refund-on-cancel] ReservationCanceled(CUSTOMER_CANCELLED, OWNER_CANCELLED, NO_SHOW) → keep
/// what the cancel keeps and void or refund the rest, exactly once.
pub async fn payment_refund_on_cancel(svc: &Services, event: DomainEvent) -> StepResult<()> {
    let event = event.event;
    let (meta, r) = reservation(&event)?;
    let keep = r.cancellation.as_ref().map_or(0, |c| c.penalty_amount);
    svc.payments
        .settle(
            &ChargeRequest::of(meta, r),
            keep,
            CancelReason::CustomerCancelled,
        )
        .await?;
    Ok(())
}

/// [place-release-on-cancel] ReservationCanceled(CUSTOMER_CANCELLED, OWNER_CANCELLED, NO_SHOW) →
/// release the nights, and stop a saga waiting for the owner.
pub async fn place_release_on_cancel(svc: &Services, event: DomainEvent) -> StepResult<()> {
    let event = event.event;
    let (meta, r) = reservation(&event)?;
    if let Some(token) = svc.places.release_nights(&StayRef::of(meta, r)).await? {
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
pub async fn place_resume_saga(svc: &Services, event: DomainEvent) -> StepResult<()> {
    let event = event.event;
    let id = event
        .reservation_id()
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
