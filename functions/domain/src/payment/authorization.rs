//! How a payment's authorization is made, and learnt when its answer was lost: the one call that
//! creates the payment, recorded with its answer (or as AUTHORIZING until the same call, with the
//! same key, answers).
use super::breaker::Admission;
use super::ledger::{Goal, LedgerEntry, Movement, Sums, idempotency_key};
use super::model::*;
use super::service::{ChargeRequest, PaymentService, payment_event, provider_failure};
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, Event, PaymentEvent};
use crate::retry::{Attempt, until_committed};
use crate::store::Write;

impl PaymentService {
    /// Saga step: authorize once. Replays answer the recorded outcome without calling the provider.
    pub async fn authorize(&self, req: &ChargeRequest) -> DomainResult<ChargeResult> {
        if req.amount < 0 {
            return Err(DomainError::invalid("amount", "must not be negative"));
        }
        if let Some(p) = self.get(&req.reservation_id).await? {
            if p.facts.status == PaymentStatus::Authorizing {
                return self.learn_authorization(&p, req.version).await;
            }
            return Ok(Self::answer(&p));
        }
        let admission = self.breaker.admit().await?;
        if admission == Admission::Rejected {
            return Ok(ChargeResult {
                outcome: ChargeOutcome::Unavailable,
                payment_id: None,
                reason: None,
            });
        }
        let key = idempotency_key(&req.reservation_id, Movement::Authorize, 1);
        let result = self
            .provider
            .authorize(AuthorizeCall {
                reservation_id: &req.reservation_id,
                user_id: &req.user_id,
                amount: req.amount,
                currency: req.currency,
                payment_method: req.payment_method.as_deref(),
                idempotency_key: &key,
            })
            .await;
        match &result {
            Ok(_) => self.breaker.on_success(&admission).await?,
            Err(_) => self.breaker.on_failure(&admission).await?,
        }
        let (mut payment, mut entries) = match result {
            Ok(ProviderCharge::Approved { provider_ref }) => {
                let mut p = self.new_payment(req, PaymentStatus::Authorized);
                p.facts.provider_ref = Some(provider_ref);
                let e = self.entry(&p, Movement::Authorize, req.amount, &key);
                (p, vec![e])
            }
            Ok(ProviderCharge::Declined { reason }) => {
                let mut p = self.new_payment(req, PaymentStatus::Declined);
                p.facts.decline_reason = Some(reason);
                (p, vec![])
            }
            Err(ProviderError::Unavailable(why)) => {
                tracing::warn!(reservation_id = %req.reservation_id, %why, "payment unavailable");
                return Ok(ChargeResult {
                    outcome: ChargeOutcome::Unavailable,
                    payment_id: None,
                    reason: None,
                });
            }
            Err(ProviderError::Unknown(why)) => {
                return self.record_unknown_authorization(req, &key, why).await;
            }
            Err(e) => return Err(provider_failure(e)),
        };
        let kind = if entries.is_empty() {
            Event::PaymentDeclined
        } else {
            Event::PaymentAuthorized
        };
        let writes = Self::commit(&mut payment, None, &mut entries);
        let event = payment_event(kind, &payment, req.version, entries.clone());
        match self.table.transact(writes, vec![event]).await {
            Ok(()) => Ok(Self::answer(&payment)),
            Err(e) if e.is_condition_failed() => {
                let existing = self
                    .get(&req.reservation_id)
                    .await?
                    .ok_or_else(|| DomainError::Unavailable("payment vanished".into()))?;
                if existing.facts.status != PaymentStatus::Voided || entries.is_empty() {
                    // A concurrent replay recorded the same idempotent authorization first.
                    return Ok(Self::answer(&existing));
                }
                // Cancelled while we were authorizing: record the hold over the tombstone, then
                // release it like any cancel would.
                self.adopt(&existing, payment, entries, req.version).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An authorization whose answer was lost may hold money: the payment records it as pending
    /// (over a cancel's tombstone too), so nothing is settled until the provider is asked again
    /// with the same key. The step fails as transient and its retry asks.
    async fn record_unknown_authorization(
        &self,
        req: &ChargeRequest,
        key: &str,
        why: String,
    ) -> DomainResult<ChargeResult> {
        tracing::warn!(reservation_id = %req.reservation_id, %why, "authorization outcome unknown");
        let pending = PendingOperation {
            movement: Movement::Authorize,
            amount: req.amount,
            idempotency_key: key.to_string(),
            payment_method: req.payment_method.clone(),
        };
        until_committed(&*self.table, "payment contended", |_| {
            let pending = pending.clone();
            async move {
                let existing = self.get(&req.reservation_id).await?;
                let (mut next, expected) = match existing {
                    None => (self.new_payment(req, PaymentStatus::Authorizing), None),
                    // A cancel's tombstone: it learns that money may be held after all.
                    Some(t) if t.facts.provider_ref.is_none() && t.pending.is_none() => {
                        (self.next_version(&t), Some(t.version))
                    }
                    Some(_) => return Ok(Attempt::Done(())),
                };
                next.pending = Some(pending);
                let writes = Self::commit(&mut next, expected, &mut []);
                Ok(Attempt::commit(writes, vec![], ()))
            }
        })
        .await?;
        Err(DomainError::Unavailable(format!(
            "authorization outcome unknown ({why}); asking again with the same key"
        )))
    }

    /// A replayed authorization step on a payment whose authorization is unknown: the provider is
    /// asked again with the same key, the answer recorded, and a hold nobody wants any more
    /// (the reservation was cancelled meanwhile) released.
    async fn learn_authorization(&self, p: &Payment, version: u64) -> DomainResult<ChargeResult> {
        let rid = p.facts.reservation_id.clone();
        let goal = p.keep.map_or(Goal::Capture, Goal::Keep);
        if goal == Goal::Capture {
            if let Some(op) = &p.pending {
                let (writes, events) = self.perform(p, op, version).await?;
                match self.table.transact(writes, events).await {
                    Ok(()) => {}
                    Err(e) if e.is_condition_failed() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        } else {
            self.drive(&rid, goal, version, None).await?;
        }
        let p = self
            .get(&rid)
            .await?
            .ok_or_else(|| DomainError::Unavailable("payment vanished".into()))?;
        if p.facts.status == PaymentStatus::Authorizing {
            return Err(DomainError::Unavailable(
                "authorization outcome still unknown".into(),
            ));
        }
        Ok(Self::answer(&p))
    }

    /// An authorization that landed after its reservation's cancel left a tombstone: the hold is
    /// recorded (keeping the tombstone's reason and nothing of the money) and voided.
    async fn adopt(
        &self,
        tombstone: &Payment,
        mut payment: Payment,
        entries: Vec<LedgerEntry>,
        version: u64,
    ) -> DomainResult<ChargeResult> {
        payment.version = tombstone.version + 1;
        payment.refund_reason = tombstone.refund_reason.clone();
        payment.keep = Some(0);
        payment.entries = 0;
        payment.facts.sums = Sums::default();
        let mut entries = entries;
        let writes = Self::commit(&mut payment, Some(tombstone.version), &mut entries);
        let event = payment_event(Event::PaymentAuthorized, &payment, version, entries);
        match self.table.transact(writes, vec![event]).await {
            Ok(()) => {}
            Err(e) if e.is_condition_failed() => {}
            Err(e) => return Err(e.into()),
        }
        let reason = payment.refund_reason.clone();
        self.drive(&payment.facts.reservation_id, Goal::Keep(0), version, None)
            .await?;
        Ok(ChargeResult {
            outcome: ChargeOutcome::Cancelled,
            payment_id: Some(payment.facts.payment_id),
            reason,
        })
    }

    /// Sends an authorization whose answer was lost again, with its key: the provider answers
    /// what the first one did (or acts now, if the first never reached it).
    pub(super) async fn perform_authorization(
        &self,
        p: &Payment,
        op: &PendingOperation,
        version: u64,
    ) -> DomainResult<(Vec<Write>, Vec<DomainEvent>)> {
        let answer = self
            .provider
            .authorize(AuthorizeCall {
                reservation_id: &p.facts.reservation_id,
                user_id: &p.facts.user_id,
                amount: op.amount,
                currency: p.facts.currency,
                payment_method: op.payment_method.as_deref(),
                idempotency_key: &op.idempotency_key,
            })
            .await
            .map_err(provider_failure)?;
        let mut next = self.next_version(p);
        next.pending = None;
        let (kind, mut entries) = match answer {
            ProviderCharge::Approved { provider_ref } => {
                next.facts.provider_ref = Some(provider_ref);
                let e = self.entry(&next, Movement::Authorize, op.amount, &op.idempotency_key);
                (
                    Event::PaymentAuthorized as fn(PaymentEvent) -> Event,
                    vec![e],
                )
            }
            ProviderCharge::Declined { reason } => {
                next.facts.decline_reason = Some(reason);
                // A cancel's tombstone stays VOIDED; a booking's payment is declined.
                if next.keep.is_none() {
                    next.facts.status = PaymentStatus::Declined;
                }
                (Event::PaymentDeclined as fn(PaymentEvent) -> Event, vec![])
            }
        };
        let writes = Self::commit(&mut next, Some(p.version), &mut entries);
        let event = payment_event(kind, &next, version, entries);
        Ok((writes, vec![event]))
    }
}
