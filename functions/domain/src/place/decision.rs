//! The owner's decision on a request-to-book stay: the saga's callback token, the owner's answer,
//! and the timeout.
use serde_json::json;

use super::model::*;
use super::service::{NightChange, PlaceService, hold_facts};
use crate::error::{DomainError, DomainResult};
use crate::events::{
    DecidedBy, DomainEvent, Event, HoldCancelReason, ReservationCancelConfirmed,
    ReservationConfirmed,
};
use crate::retry::{Attempt, until_committed};
use crate::store::{Cond, Item, Write};

/// What happened to a callback token handed to the place context.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenOutcome {
    /// Stored; the owner's decision will resume the saga.
    Stored,
    /// The owner already decided (or the stay was cancelled): resume the saga now with this.
    AlreadyDecided(OwnerDecision),
}

/// Held and not decided yet: the owner (or the timeout) may still settle it.
fn awaits_owner(hold: &Hold) -> bool {
    hold.state == HoldState::Held && hold.decision == OwnerDecision::Pending
}

impl PlaceService {
    /// Settles `hold` as `next` (released): its rooms given back (RoomsReleased) and the
    /// ReservationCancelConfirmed saying who released it and why, to commit together.
    fn release_decided(
        &self,
        hold: &Hold,
        next: &mut Hold,
        reason: HoldCancelReason,
        by: DecidedBy,
    ) -> DomainResult<NightChange> {
        next.state = HoldState::Released;
        let mut change = self.transition(hold, next, true)?;
        let (meta, facts) = hold_facts(next, &next.updated_at)?;
        change
            .events
            .push(DomainEvent::new(Event::ReservationCancelConfirmed(
                ReservationCancelConfirmed {
                    meta,
                    hold: facts,
                    reason,
                    decided_by: Some(by),
                },
            )));
        Ok(change)
    }

    async fn must_get_hold(&self, reservation_id: &str) -> DomainResult<Hold> {
        self.get_hold(reservation_id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("hold of {reservation_id}")))
    }

    /// Callback-task step: keep the saga's token until the owner decides.
    pub async fn request_owner_decision(
        &self,
        reservation_id: &str,
        token: &str,
    ) -> DomainResult<TokenOutcome> {
        until_committed(&*self.table, "decision contended", move |_| async move {
            let hold = self.must_get_hold(reservation_id).await?;
            if !awaits_owner(&hold) {
                return Ok(Attempt::Done(TokenOutcome::AlreadyDecided(
                    settled_decision(&hold),
                )));
            }
            // Bumping the version makes a concurrent decision (which rewrites the whole hold) retry
            // and keep the token instead of erasing it.
            let set: Item = [
                ("taskToken".to_string(), json!(token)),
                ("version".to_string(), json!(hold.version + 1)),
            ]
            .into_iter()
            .collect();
            let write = Write::Update {
                key: Hold::key(reservation_id),
                set,
                add: vec![],
                cond: Some(Cond::Eq("version".into(), json!(hold.version))),
            };
            Ok(Attempt::commit(vec![write], vec![], TokenOutcome::Stored))
        })
        .await
    }

    /// The owner confirms or rejects a request-to-book stay. Repeating the same decision answers the
    /// same result; the opposite decision afterwards is a conflict.
    pub async fn decide(
        &self,
        owner_id: &str,
        reservation_id: &str,
        confirm: bool,
    ) -> DomainResult<Hold> {
        until_committed(&*self.table, "decision contended", move |_| async move {
            let hold = self
                .get_hold(reservation_id)
                .await?
                .ok_or_else(|| DomainError::not_found(format!("reservation {reservation_id}")))?;
            if hold.owner_id != owner_id {
                // Do not reveal other owners' reservations.
                return Err(DomainError::not_found(format!(
                    "reservation {reservation_id}"
                )));
            }
            let wanted = if confirm {
                OwnerDecision::Confirmed
            } else {
                OwnerDecision::Rejected
            };
            if hold.decision == wanted {
                return Ok(Attempt::Done(hold));
            }
            if !awaits_owner(&hold) {
                let decided = serde_json::to_value(settled_decision(&hold))
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                return Err(DomainError::Conflict(format!(
                    "reservation {reservation_id} is not awaiting the owner (decision: {decided})"
                )));
            }
            let mut next = hold.clone();
            next.decision = wanted;
            let change = if confirm {
                let mut change = self.transition(&hold, &mut next, false)?;
                let (meta, facts) = hold_facts(&next, &next.updated_at)?;
                change
                    .events
                    .push(DomainEvent::new(Event::ReservationConfirmed(
                        ReservationConfirmed {
                            meta,
                            hold: facts,
                            decided_by: DecidedBy::Owner,
                        },
                    )));
                change
            } else {
                let (reason, by) = (HoldCancelReason::OwnerRejected, DecidedBy::Owner);
                self.release_decided(&hold, &mut next, reason, by)?
            };
            Ok(Attempt::commit(change.writes, change.events, next))
        })
        .await
    }

    /// Saga step when the owner did not answer in time: release unless a decision got in first.
    pub async fn expire_owner_decision(
        &self,
        reservation_id: &str,
    ) -> DomainResult<DecisionResult> {
        until_committed(&*self.table, "decision contended", move |_| async move {
            let hold = self.must_get_hold(reservation_id).await?;
            if !awaits_owner(&hold) {
                return Ok(Attempt::Done(DecisionResult {
                    decision: settled_decision(&hold),
                }));
            }
            let mut next = hold.clone();
            next.decision = OwnerDecision::TimedOut;
            next.task_token = None;
            let (reason, by) = (HoldCancelReason::OwnerTimeout, DecidedBy::Timeout);
            let change = self.release_decided(&hold, &mut next, reason, by)?;
            let result = DecisionResult {
                decision: OwnerDecision::TimedOut,
            };
            Ok(Attempt::commit(change.writes, change.events, result))
        })
        .await
    }

    /// The token to resume the saga with after an owner decision, if the saga already handed one over.
    pub async fn pending_token(
        &self,
        reservation_id: &str,
    ) -> DomainResult<Option<(String, OwnerDecision)>> {
        Ok(self
            .get_hold(reservation_id)
            .await?
            .and_then(|h| h.task_token.clone().map(|t| (t, settled_decision(&h)))))
    }
}

/// The decision as the saga understands it once nothing is pending.
pub fn settled_decision(hold: &Hold) -> OwnerDecision {
    match (hold.state, hold.decision) {
        (_, OwnerDecision::Pending) if hold.state == HoldState::Held => OwnerDecision::Pending,
        (HoldState::Held, d) => d,
        (_, OwnerDecision::Rejected) => OwnerDecision::Rejected,
        (_, OwnerDecision::TimedOut) => OwnerDecision::TimedOut,
        _ => OwnerDecision::Cancelled,
    }
}
