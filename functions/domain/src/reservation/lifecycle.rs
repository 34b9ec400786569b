//! A reservation's status after it is placed: the saga's steps move it forward, and it ends
//! CANCELLED by the saga, the customer or the owner, with what the cancel keeps.
use serde_json::json;

use super::{ReservationService, snapshot};
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, Event, EventMeta, ReservationCanceled, ReservationStatusChanged};
use crate::item::to_item;
use crate::reservation::cancellation::{
    Cancellation, cancellation_at, no_show_at, owner_cancellation,
};
use crate::reservation::model::*;
use crate::retry::{Attempt, until_committed};
use crate::store::{Cond, Write};

/// ReservationStatusChanged, and ReservationCanceled when `next` ends cancelled.
fn status_events(current: &Reservation, next: &Reservation) -> DomainResult<Vec<DomainEvent>> {
    let meta = || EventMeta::new(next.version, &next.updated_at);
    let reservation = snapshot(next)?;
    let mut events = vec![];
    if let (ReservationStatus::Cancelled, Some(reason)) = (next.status, next.status_reason) {
        events.push(Event::ReservationCanceled(ReservationCanceled {
            meta: meta(),
            reservation: reservation.clone(),
            reason,
            previous_status: current.status,
        }));
    }
    events.insert(
        0,
        Event::ReservationStatusChanged(ReservationStatusChanged {
            meta: meta(),
            reservation,
            previous_status: current.status,
        }),
    );
    Ok(events.into_iter().map(DomainEvent::new).collect())
}

/// What a saga step or the customer asks of the status machine.
enum Step {
    /// Move to this status (not CANCELLED: see `Cancel`).
    To(ReservationStatus),
    /// End CANCELLED for this reason (a customer's cancel with what it keeps).
    Cancel(CancelReason, Option<Cancellation>),
    /// Nothing to do: answer the current status.
    Stay,
}

impl ReservationService {
    /// Applies one status step with optimistic concurrency; emits ReservationStatusChanged (and
    /// ReservationCanceled when it ends cancelled) in the same commit.
    async fn step(
        &self,
        reservation_id: &str,
        decide: impl Fn(&Reservation) -> DomainResult<Step>,
    ) -> DomainResult<Reservation> {
        let decide = &decide;
        until_committed(&*self.table, "reservation contended", move |_| async move {
            let current = self
                .get(reservation_id)
                .await?
                .ok_or_else(|| DomainError::not_found(format!("reservation {reservation_id}")))?;
            let (status, reason, cancellation) = match decide(&current)? {
                Step::Stay => return Ok(Attempt::Done(current)),
                Step::To(s) => (s, None, None),
                Step::Cancel(r, c) => (ReservationStatus::Cancelled, Some(r), c),
            };
            let mut next = current.clone();
            next.status = status;
            next.status_reason = reason;
            next.cancellation = cancellation;
            next.version += 1;
            next.updated_at = self.clock.now_rfc3339();
            let events = status_events(&current, &next)?;
            let (gpk, gsk) = next.user_index();
            let put = Write::Put {
                item: to_item(&Reservation::key(reservation_id), Some((&gpk, &gsk)), &next),
                cond: Some(Cond::Eq("version".into(), json!(current.version))),
            };
            Ok(Attempt::commit(vec![put], events, next))
        })
        .await
    }

    fn outcome(r: Reservation) -> StatusOutcome {
        StatusOutcome {
            status: r.status,
            version: r.version,
        }
    }

    /// Moves to `to` from any status in `from`; any other status stays as it is.
    async fn advance(
        &self,
        reservation_id: &str,
        from: &[ReservationStatus],
        to: ReservationStatus,
    ) -> DomainResult<StatusOutcome> {
        self.step(reservation_id, |r| {
            Ok(if from.contains(&r.status) {
                Step::To(to)
            } else {
                Step::Stay
            })
        })
        .await
        .map(Self::outcome)
    }

    /// Saga: payment approved → PAID (unless the customer cancelled meanwhile).
    pub async fn record_payment(&self, reservation_id: &str) -> DomainResult<StatusOutcome> {
        use ReservationStatus::*;
        self.advance(reservation_id, &[Pending], Paid).await
    }

    /// Saga: request-to-book → AWAITING_OWNER.
    pub async fn await_owner(&self, reservation_id: &str) -> DomainResult<StatusOutcome> {
        use ReservationStatus::*;
        self.advance(reservation_id, &[Pending, Paid], AwaitingOwner)
            .await
    }

    /// Saga: the stay is held and accepted → CONFIRMED.
    pub async fn confirm(&self, reservation_id: &str) -> DomainResult<StatusOutcome> {
        use ReservationStatus::*;
        self.advance(reservation_id, &[Pending, Paid, AwaitingOwner], Confirmed)
            .await
    }

    /// Saga: end CANCELLED with the saga's reason (a no-op when already cancelled).
    pub async fn cancel_by_saga(
        &self,
        reservation_id: &str,
        reason: CancelReason,
    ) -> DomainResult<StatusOutcome> {
        use ReservationStatus::*;
        self.step(reservation_id, |r| {
            Ok(match r.status {
                Cancelled => Step::Stay,
                // The saga compensates only before confirming; a confirmed stay is left to the customer.
                Confirmed => Step::Stay,
                _ => Step::Cancel(reason, None),
            })
        })
        .await
        .map(Self::outcome)
    }

    /// `POST /v1/reservations/{id}/cancel`: any status but CANCELLED ends CANCELLED/CUSTOMER_CANCELLED
    /// with what its policy keeps now; the payment and the place context compensate on
    /// ReservationCanceled (the payment refunds all but the kept amount). Repeating it changes nothing.
    pub async fn cancel_by_customer(
        &self,
        user_id: &str,
        reservation_id: &str,
    ) -> DomainResult<Reservation> {
        self.get_own(user_id, reservation_id).await?;
        self.step(reservation_id, |r| {
            Ok(match r.status {
                ReservationStatus::Cancelled => Step::Stay,
                _ => Step::Cancel(
                    CancelReason::CustomerCancelled,
                    Some(cancellation_at(r, self.clock.now())),
                ),
            })
        })
        .await
    }

    /// `POST /v1/owner/reservations/{id}/cancel` (`no_show` false) and `.../no-show` (true): the
    /// owner ends a confirmed stay of their place. A cancel refunds everything; a no-show, from
    /// the end of the check-in day, keeps the policy's no-show penalty. Repeating the same end
    /// changes nothing; anything but a confirmed stay is a 409.
    pub async fn end_by_owner(
        &self,
        owner_id: &str,
        reservation_id: &str,
        no_show: bool,
    ) -> DomainResult<Reservation> {
        let r = self
            .get(reservation_id)
            .await?
            .filter(|r| r.owner_id == owner_id && !owner_id.is_empty())
            .ok_or_else(|| DomainError::not_found(format!("reservation {reservation_id}")))?;
        let reason = if no_show {
            CancelReason::NoShow
        } else {
            CancelReason::OwnerCancelled
        };
        if r.status == ReservationStatus::Cancelled && r.status_reason == Some(reason) {
            return Ok(r);
        }
        self.step(reservation_id, |r| {
            if r.status == ReservationStatus::Cancelled && r.status_reason == Some(reason) {
                return Ok(Step::Stay);
            }
            if r.status != ReservationStatus::Confirmed {
                return Err(DomainError::Conflict(format!(
                    "only a confirmed stay can be {}; this one is {}",
                    if no_show {
                        "marked a no-show"
                    } else {
                        "cancelled by its owner"
                    },
                    r.status.as_str()
                )));
            }
            let now = self.clock.now();
            let c = if no_show {
                no_show_at(r, now)?
            } else {
                owner_cancellation(r, now)
            };
            Ok(Step::Cancel(reason, Some(c)))
        })
        .await
    }

    /// `GET /v1/reservations/{id}/cancellation`: what a cancel now would refund and keep; for a
    /// cancelled reservation, what its cancel did (nothing kept when it was not the customer's).
    pub async fn cancellation(
        &self,
        user_id: &str,
        reservation_id: &str,
    ) -> DomainResult<Cancellation> {
        let r = self.get_own(user_id, reservation_id).await?;
        Ok(match (&r.status, &r.cancellation) {
            (ReservationStatus::Cancelled, Some(c)) => c.clone(),
            (ReservationStatus::Cancelled, None) => Cancellation {
                refund_amount: r.amount,
                penalty_amount: 0,
                currency: r.terms.currency,
                policy: None,
                why: r
                    .status_reason
                    .map_or("Cancelled.", |reason| reason.message())
                    .to_string(),
                changes_at: None,
                at: r.updated_at.clone(),
            },
            _ => cancellation_at(&r, self.clock.now()),
        })
    }
}
