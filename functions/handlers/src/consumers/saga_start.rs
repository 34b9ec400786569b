//! The saga's starter: on AWS an EventBridge target cannot name a Step Functions execution, so a
//! rule targeting the state machine would start a second saga on every redelivery. This consumer
//! names the execution by the reservation instead: one saga per reservation, however often the
//! event arrives.
use reserveplace_domain::events::{DomainEvent, Event};
use reserveplace_domain::saga::SagaStart;

use super::Delivered;

use crate::error::{StepError, StepResult};
use crate::services::{SAGA_STATE_MACHINE_ARN, Services};

/// [reservation-saga-start] ReservationPlaced → start the reservation's saga, named by its
/// reservation id, with the event as the execution input (what the state machine reads as `$`).
pub async fn reservation_saga_start(
    svc: &Services,
    delivered: Delivered<DomainEvent>,
) -> StepResult<()> {
    let starter = svc.saga_starter.as_ref().ok_or_else(|| {
        StepError::misconfigured(format!(
            "{SAGA_STATE_MACHINE_ARN} is not set: this function starts no state machine"
        ))
    })?;
    // The execution input is the event exactly as delivered: the typed event only checks it.
    let Event::ReservationPlaced(placed) = delivered.event.event else {
        return Err(StepError::invalid("not a ReservationPlaced event"));
    };
    let reservation_id = placed.reservation.reservation_id;
    if reservation_id.is_empty() {
        return Err(StepError::invalid(
            "ReservationPlaced without reservationId",
        ));
    }
    match starter
        .start_execution(&reservation_id, delivered.envelope)
        .await
    {
        Ok(SagaStart::Started) => {
            tracing::info!(reservation_id, "saga started");
            Ok(())
        }
        Ok(SagaStart::AlreadyStarted) => {
            tracing::info!(reservation_id, "saga already started; nothing to do");
            Ok(())
        }
        // Unavailable → retried; Misconfigured (no state machine, no permission) → permanent.
        Err(e) => Err(StepError::from(e)),
    }
}
