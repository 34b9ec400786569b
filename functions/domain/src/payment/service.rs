use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::breaker::{BreakerPolicy, CircuitBreaker};
use super::ledger::{Goal, LedgerEntry, Movement, Sums, idempotency_key, next_move};
use super::model::*;
use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, Event, EventMeta, PaymentEvent, ReservationSnapshot};
use crate::item::to_item;
use crate::records;
use crate::reservation::CancelReason;
use crate::retry::{Attempt, MAX_ATTEMPTS, until_committed};
use crate::store::{Cond, Table, Write};
use crate::terms::Currency;

/// What the payment context needs to know about a reservation (saga input / ReservationCanceled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    pub reservation_id: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner_id: String,
    pub amount: i64,
    #[serde(default)]
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// The reservation's version the request was made at (carried into the events).
    #[serde(default)]
    pub version: u64,
}

impl ChargeRequest {
    /// The authorization (or settlement) a reservation event asks for.
    pub fn of(meta: &EventMeta, r: &ReservationSnapshot) -> Self {
        Self {
            reservation_id: r.reservation_id.clone(),
            user_id: r.user_id.clone(),
            owner_id: r.owner_id.clone(),
            amount: r.amount,
            currency: r.terms.currency,
            payment_method: r.terms.payment_method.clone(),
            version: meta.version,
        }
    }
}

pub struct PaymentService {
    pub(super) table: Arc<dyn Table>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) provider: Arc<dyn PaymentProvider>,
    pub(super) breaker: CircuitBreaker,
}

/// `kind` is the event's variant (`Event::PaymentAuthorized`, ...); `entries` what this commit
/// added to the ledger.
pub(super) fn payment_event(
    kind: fn(PaymentEvent) -> Event,
    p: &Payment,
    reservation_version: u64,
    entries: Vec<LedgerEntry>,
) -> DomainEvent {
    DomainEvent::new(kind(PaymentEvent {
        meta: EventMeta::new(reservation_version, &p.updated_at),
        payment: p.facts.clone(),
        payment_version: p.version,
        entries,
    }))
}

fn event_of(movement: Movement) -> fn(PaymentEvent) -> Event {
    match movement {
        Movement::Authorize => Event::PaymentAuthorized,
        Movement::Capture => Event::PaymentCaptured,
        Movement::Void => Event::PaymentVoided,
        Movement::Refund => Event::PaymentRefunded,
        Movement::RefundFailed => Event::PaymentRefundFailed,
    }
}

pub(super) fn provider_failure(e: ProviderError) -> DomainError {
    match e {
        ProviderError::Refused(why) => {
            DomainError::Misconfigured(format!("payment provider refused: {why}"))
        }
        other => DomainError::Unavailable(other.to_string()),
    }
}

fn settled(p: Option<&Payment>) -> Settled {
    match p {
        None => Settled {
            status: None,
            captured: 0,
            refunded: 0,
            kept: 0,
        },
        Some(p) => Settled {
            status: Some(p.facts.status),
            captured: p.facts.sums.captured,
            refunded: p.facts.sums.refunded,
            kept: p.facts.kept(),
        },
    }
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
        let p: Option<Payment> = records::get(&*self.table, &Payment::key(reservation_id)).await?;
        Ok(p.map(|mut p| {
            p.facts = p.facts.with_legacy_sums();
            p
        }))
    }

    /// The payment with its ledger, oldest entry first.
    pub async fn view(&self, reservation_id: &str) -> DomainResult<Option<PaymentView>> {
        let Some(p) = self.get(reservation_id).await? else {
            return Ok(None);
        };
        let ledger = self.ledger(reservation_id).await?;
        Ok(Some(PaymentView {
            kept: p.facts.kept(),
            facts: p.facts,
            ledger,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }))
    }

    pub(super) fn answer(p: &Payment) -> ChargeResult {
        let outcome = match (p.facts.status, p.keep) {
            (PaymentStatus::Declined, _) => ChargeOutcome::Declined,
            (PaymentStatus::Authorized | PaymentStatus::Captured, None) => ChargeOutcome::Approved,
            _ => ChargeOutcome::Cancelled,
        };
        let reason = (outcome == ChargeOutcome::Cancelled).then(|| {
            p.refund_reason
                .clone()
                .unwrap_or_else(|| CancelReason::CustomerCancelled.as_str().to_string())
        });
        ChargeResult {
            outcome,
            payment_id: Some(p.facts.payment_id.clone()),
            reason,
        }
    }

    pub(super) fn new_payment(&self, req: &ChargeRequest, status: PaymentStatus) -> Payment {
        let now = self.clock.now_rfc3339();
        Payment {
            facts: PaymentFacts {
                payment_id: uuid::Uuid::now_v7().to_string(),
                reservation_id: req.reservation_id.clone(),
                user_id: req.user_id.clone(),
                amount: req.amount,
                currency: req.currency,
                status,
                provider_ref: None,
                decline_reason: None,
                sums: Sums::default(),
                owner_id: req.owner_id.clone(),
                dispute: None,
            },
            refund_reason: None,
            keep: None,
            pending: None,
            entries: 0,
            version: 1,
            created_at: now.clone(),
            updated_at: now,
        }
    }

    /// `p` as its next version, changed now (the commit is conditional on `p`'s version).
    pub(super) fn next_version(&self, p: &Payment) -> Payment {
        let mut next = p.clone();
        next.version += 1;
        next.updated_at = self.clock.now_rfc3339();
        next
    }

    pub(super) fn entry(
        &self,
        p: &Payment,
        movement: Movement,
        amount: i64,
        key: &str,
    ) -> LedgerEntry {
        LedgerEntry {
            reservation_id: p.facts.reservation_id.clone(),
            seq: 0,
            movement,
            amount,
            currency: p.facts.currency,
            provider_ref: p.facts.provider_ref.clone().unwrap_or_default(),
            idempotency_key: key.to_string(),
            at: self.clock.now_rfc3339(),
        }
    }

    /// `next` with `entries` appended to its ledger: the writes of one commit (the payment, on
    /// condition it is still at `expected` version, or absent for `None`, and each entry).
    pub(super) fn commit(
        next: &mut Payment,
        expected: Option<u64>,
        entries: &mut [LedgerEntry],
    ) -> Vec<Write> {
        for e in entries.iter_mut() {
            next.entries += 1;
            e.seq = next.entries;
            next.facts.sums.add(e.movement, e.amount);
        }
        let authorizing = next
            .pending
            .as_ref()
            .is_some_and(|op| op.movement == Movement::Authorize);
        if authorizing {
            next.facts.status = PaymentStatus::Authorizing;
        } else if next.facts.status != PaymentStatus::Declined {
            next.facts.status = next.facts.sums.status();
        }
        let rid = next.facts.reservation_id.clone();
        let mut writes = vec![Write::Put {
            item: to_item(&Payment::key(&rid), None, &*next),
            cond: Some(match expected {
                Some(v) => Cond::Eq("version".into(), json!(v)),
                None => Cond::NotExists,
            }),
        }];
        writes.extend(entries.iter().map(|e| Write::Put {
            item: to_item(&LedgerEntry::key(&rid, e.seq), None, e),
            cond: Some(Cond::NotExists),
        }));
        writes
    }

    /// Saga step once the stay is confirmed: take what was authorized. Nothing to do when a cancel
    /// is settling the payment already, or when it was never authorized.
    pub async fn capture(&self, req: &ChargeRequest) -> DomainResult<Settled> {
        self.drive(&req.reservation_id, Goal::Capture, req.version, None)
            .await
    }

    /// A cancel: end keeping `keep` (0 for every compensation and full refund; the policy's
    /// penalty for a late cancel). Without a payment it leaves a VOIDED tombstone so an
    /// authorization still in flight releases itself instead of holding the money.
    pub async fn settle(
        &self,
        req: &ChargeRequest,
        keep: i64,
        reason: CancelReason,
    ) -> DomainResult<Settled> {
        if self.get(&req.reservation_id).await?.is_none() {
            let tomb = until_committed(&*self.table, "payment contended", move |_| async move {
                if self.get(&req.reservation_id).await?.is_some() {
                    return Ok(Attempt::Done(false));
                }
                let mut tomb = self.new_payment(req, PaymentStatus::Voided);
                tomb.refund_reason = Some(reason.as_str().to_string());
                tomb.keep = Some(0);
                let put = Write::Put {
                    item: to_item(&Payment::key(&req.reservation_id), None, &tomb),
                    cond: Some(Cond::NotExists),
                };
                // The views learn that no money will move (MyPage shows VOIDED).
                let event = payment_event(Event::PaymentVoided, &tomb, req.version, vec![]);
                Ok(Attempt::commit(vec![put], vec![event], true))
            })
            .await?;
            if tomb {
                return Ok(settled(None));
            }
        }
        self.drive(
            &req.reservation_id,
            Goal::Keep(keep),
            req.version,
            Some(reason),
        )
        .await
    }

    /// Moves the payment toward `goal` one provider call at a time. Each call is first recorded as
    /// the payment's pending operation (so it is retried with its key after any crash), then sent,
    /// then its answer is written with its ledger entries, each step a conditional commit.
    pub(super) async fn drive(
        &self,
        reservation_id: &str,
        goal: Goal,
        version: u64,
        reason: Option<CancelReason>,
    ) -> DomainResult<Settled> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(p) = self.get(reservation_id).await? else {
                return Ok(settled(None));
            };
            let next = if let Some(op) = &p.pending {
                self.perform(&p, op, version).await?
            } else {
                // The first cancel fixes what the payment keeps; a capture never overrides it.
                let keep = match (p.keep, goal) {
                    (Some(k), _) => Some(k),
                    (None, Goal::Keep(k)) => Some(k),
                    (None, Goal::Capture) => None,
                };
                let goal = keep.map_or(Goal::Capture, Goal::Keep);
                let Some((movement, amount)) = next_move(&p, goal) else {
                    return Ok(settled(Some(&p)));
                };
                let mut next = self.next_version(&p);
                next.keep = keep;
                if next.refund_reason.is_none() {
                    next.refund_reason = reason.map(|r| r.as_str().to_string());
                }
                next.pending = Some(PendingOperation {
                    movement,
                    amount,
                    idempotency_key: idempotency_key(reservation_id, movement, p.entries + 1),
                    payment_method: None,
                });
                (
                    vec![Write::Put {
                        item: to_item(&Payment::key(reservation_id), None, &next),
                        cond: Some(Cond::Eq("version".into(), json!(p.version))),
                    }],
                    vec![],
                )
            };
            match self.table.transact(next.0, next.1).await {
                Ok(()) => {}
                Err(e) if e.is_condition_failed() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(DomainError::Unavailable("payment contended; retry".into()))
    }

    /// Sends the pending operation (again, with its key) and answers the commit recording it.
    pub(super) async fn perform(
        &self,
        p: &Payment,
        op: &PendingOperation,
        version: u64,
    ) -> DomainResult<(Vec<Write>, Vec<DomainEvent>)> {
        if op.movement == Movement::Authorize {
            return self.perform_authorization(p, op, version).await;
        }
        let provider_ref = p.facts.provider_ref.clone().unwrap_or_default();
        self.provider
            .apply(MoveCall {
                provider_ref: &provider_ref,
                movement: op.movement,
                amount: op.amount,
                currency: p.facts.currency,
                idempotency_key: &op.idempotency_key,
            })
            .await
            .map_err(provider_failure)?;
        let mut next = self.next_version(p);
        next.pending = None;
        let mut entries = vec![self.entry(p, op.movement, op.amount, &op.idempotency_key)];
        let open = p.facts.sums.open();
        if op.movement == Movement::Capture && op.amount < open {
            // A partial capture releases the rest of the hold in the same provider call.
            entries.push(self.entry(p, Movement::Void, open - op.amount, &op.idempotency_key));
        }
        let writes = Self::commit(&mut next, Some(p.version), &mut entries);
        let event = payment_event(event_of(op.movement), &next, version, entries);
        Ok((writes, vec![event]))
    }
}
