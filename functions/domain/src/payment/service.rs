use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::breaker::{Admission, BreakerPolicy, CircuitBreaker};
use super::model::*;
use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, Event, EventMeta, PaymentEvent, ReservationSnapshot};
use crate::item::to_item;
use crate::records;
use crate::reservation::CancelReason;
use crate::retry::{Attempt, until_committed};
use crate::store::{Cond, StoreError, Table, Write};

/// What the payment context needs to know about a reservation (saga input / ReservationCanceled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    pub reservation_id: String,
    pub user_id: String,
    pub amount: i64,
    /// The reservation's version the request was made at (carried into the events).
    #[serde(default)]
    pub version: u64,
}

impl ChargeRequest {
    /// The charge (or refund) a reservation event asks for.
    pub fn of(meta: &EventMeta, r: &ReservationSnapshot) -> Self {
        Self {
            reservation_id: r.reservation_id.clone(),
            user_id: r.user_id.clone(),
            amount: r.amount,
            version: meta.version,
        }
    }
}

pub struct PaymentService {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    provider: Arc<dyn PaymentProvider>,
    breaker: CircuitBreaker,
}

/// `kind` is the event's variant (`Event::PaymentApproved`, ...).
fn payment_event(
    kind: fn(PaymentEvent) -> Event,
    p: &Payment,
    reservation_version: u64,
) -> DomainEvent {
    DomainEvent::new(kind(PaymentEvent {
        meta: EventMeta::new(reservation_version, &p.updated_at),
        payment: p.facts.clone(),
        payment_version: p.version,
    }))
}

impl PaymentService {
    pub fn new(
        table: Arc<dyn Table>,
        clock: Arc<dyn Clock>,
        provider: Arc<dyn PaymentProvider>,
        policy: BreakerPolicy,
    ) -> Self {
        let breaker = CircuitBreaker::new(table.clone(), clock.clone(), policy, "payment-provider");
        Self {
            table,
            clock,
            provider,
            breaker,
        }
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    pub async fn get(&self, reservation_id: &str) -> DomainResult<Option<Payment>> {
        records::get(&*self.table, &Payment::key(reservation_id)).await
    }

    fn settled(p: &Payment) -> ChargeResult {
        let outcome = match p.facts.status {
            PaymentStatus::Approved => ChargeOutcome::Approved,
            PaymentStatus::Declined => ChargeOutcome::Declined,
            PaymentStatus::Refunded | PaymentStatus::Voided => ChargeOutcome::Cancelled,
        };
        let reason = (outcome == ChargeOutcome::Cancelled).then(|| {
            p.refund_reason
                .clone()
                .unwrap_or_else(|| "CUSTOMER_CANCELLED".to_string())
        });
        ChargeResult {
            outcome,
            payment_id: Some(p.facts.payment_id.clone()),
            reason,
        }
    }

    fn new_payment(&self, req: &ChargeRequest, status: PaymentStatus) -> Payment {
        let now = self.clock.now_rfc3339();
        Payment {
            facts: PaymentFacts {
                payment_id: uuid::Uuid::now_v7().to_string(),
                reservation_id: req.reservation_id.clone(),
                user_id: req.user_id.clone(),
                amount: req.amount,
                status,
                provider_ref: None,
                decline_reason: None,
            },
            refund_reason: None,
            version: 1,
            created_at: now.clone(),
            updated_at: now,
        }
    }

    /// Saga step: charge once. Replays answer the recorded outcome without calling the provider.
    pub async fn charge(&self, req: &ChargeRequest) -> DomainResult<ChargeResult> {
        if req.amount < 0 {
            return Err(DomainError::invalid("amount", "must not be negative"));
        }
        if let Some(p) = self.get(&req.reservation_id).await? {
            return Ok(Self::settled(&p));
        }
        let admission = self.breaker.admit().await?;
        if admission == Admission::Rejected {
            return Ok(ChargeResult {
                outcome: ChargeOutcome::Unavailable,
                payment_id: None,
                reason: None,
            });
        }
        let result = self
            .provider
            .charge(&req.reservation_id, &req.user_id, req.amount)
            .await;
        match &result {
            Ok(_) => self.breaker.on_success(&admission).await?,
            Err(_) => self.breaker.on_failure(&admission).await?,
        }
        let mut payment = match result {
            Ok(ProviderCharge::Approved { provider_ref }) => {
                let mut p = self.new_payment(req, PaymentStatus::Approved);
                p.facts.provider_ref = Some(provider_ref);
                p
            }
            Ok(ProviderCharge::Declined { reason }) => {
                let mut p = self.new_payment(req, PaymentStatus::Declined);
                p.facts.decline_reason = Some(reason);
                p
            }
            Err(ProviderError::Unavailable(why)) => {
                tracing::warn!(reservation_id = %req.reservation_id, %why, "payment unavailable");
                return Ok(ChargeResult {
                    outcome: ChargeOutcome::Unavailable,
                    payment_id: None,
                    reason: None,
                });
            }
            Err(ProviderError::Transient(why)) => {
                return Err(DomainError::Unavailable(format!("payment provider: {why}")));
            }
        };
        let kind = if payment.facts.status == PaymentStatus::Approved {
            Event::PaymentApproved
        } else {
            Event::PaymentDeclined
        };
        let put = Write::Put {
            item: to_item(&Payment::key(&req.reservation_id), None, &payment),
            cond: Some(Cond::NotExists),
        };
        match self
            .table
            .transact(vec![put], vec![payment_event(kind, &payment, req.version)])
            .await
        {
            Ok(()) => Ok(Self::settled(&payment)),
            Err(e) if e.is_condition_failed() => {
                let existing = self
                    .get(&req.reservation_id)
                    .await?
                    .ok_or_else(|| DomainError::Unavailable("payment vanished".into()))?;
                if existing.facts.status != PaymentStatus::Voided
                    || payment.facts.status != PaymentStatus::Approved
                {
                    // A concurrent replay recorded the same idempotent charge first.
                    return Ok(Self::settled(&existing));
                }
                // Cancelled while we were charging: give the money back and record both facts.
                let provider_ref = payment.facts.provider_ref.clone().unwrap_or_default();
                self.provider
                    .refund(&req.reservation_id, &provider_ref, req.amount)
                    .await
                    .map_err(|e| DomainError::Unavailable(e.to_string()))?;
                payment.version = existing.version + 1;
                payment.refund_reason = existing.refund_reason.clone();
                let approved = payment_event(Event::PaymentApproved, &payment, req.version);
                payment.facts.status = PaymentStatus::Refunded;
                payment.version += 1;
                payment.updated_at = self.clock.now_rfc3339();
                let refunded = payment_event(Event::PaymentCancelApproved, &payment, req.version);
                let put = Write::Put {
                    item: to_item(&Payment::key(&req.reservation_id), None, &payment),
                    cond: Some(Cond::Eq("version".into(), json!(existing.version))),
                };
                match self
                    .table
                    .transact(vec![put], vec![approved, refunded])
                    .await
                {
                    Ok(()) => Ok(ChargeResult {
                        outcome: ChargeOutcome::Cancelled,
                        payment_id: Some(payment.facts.payment_id),
                        reason: payment.refund_reason,
                    }),
                    Err(StoreError::ConditionFailed { .. }) => Err(DomainError::Unavailable(
                        "payment changed concurrently".into(),
                    )),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Compensation: refund exactly once. Without a payment it leaves a VOIDED tombstone so a
    /// charge still in flight refunds itself instead of keeping the money.
    pub async fn refund(
        &self,
        req: &ChargeRequest,
        reason: CancelReason,
    ) -> DomainResult<RefundResult> {
        until_committed(&*self.table, "refund contended", move |_| async move {
            let Some(p) = self.get(&req.reservation_id).await? else {
                let mut tomb = self.new_payment(req, PaymentStatus::Voided);
                tomb.refund_reason = Some(reason.as_str().to_string());
                let put = Write::Put {
                    item: to_item(&Payment::key(&req.reservation_id), None, &tomb),
                    cond: Some(Cond::NotExists),
                };
                // The views learn that no charge will come (MyPage shows VOIDED).
                let event = payment_event(Event::PaymentVoided, &tomb, req.version);
                return Ok(Attempt::commit(
                    vec![put],
                    vec![event],
                    RefundResult { refunded: false },
                ));
            };
            match p.facts.status {
                PaymentStatus::Refunded => {
                    return Ok(Attempt::Done(RefundResult { refunded: true }));
                }
                PaymentStatus::Declined | PaymentStatus::Voided => {
                    return Ok(Attempt::Done(RefundResult { refunded: false }));
                }
                PaymentStatus::Approved => {}
            }
            let provider_ref = p.facts.provider_ref.clone().unwrap_or_default();
            self.provider
                .refund(&p.facts.reservation_id, &provider_ref, p.facts.amount)
                .await
                .map_err(|e| DomainError::Unavailable(e.to_string()))?;
            let mut next = p.clone();
            next.facts.status = PaymentStatus::Refunded;
            next.refund_reason = Some(reason.as_str().to_string());
            next.version += 1;
            next.updated_at = self.clock.now_rfc3339();
            let put = Write::Put {
                item: to_item(&Payment::key(&p.facts.reservation_id), None, &next),
                cond: Some(Cond::Eq("status".into(), json!(PaymentStatus::Approved))),
            };
            let event = payment_event(Event::PaymentCancelApproved, &next, req.version);
            Ok(Attempt::commit(
                vec![put],
                vec![event],
                RefundResult { refunded: true },
            ))
        })
        .await
    }
}
