use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::breaker::{Admission, BreakerPolicy, CircuitBreaker};
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
    provider: Arc<dyn PaymentProvider>,
    breaker: CircuitBreaker,
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

fn provider_failure(e: ProviderError) -> DomainError {
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

    fn answer(p: &Payment) -> ChargeResult {
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

    fn new_payment(&self, req: &ChargeRequest, status: PaymentStatus) -> Payment {
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
                        let v = t.version;
                        let mut t = t;
                        t.version += 1;
                        t.updated_at = self.clock.now_rfc3339();
                        (t, Some(v))
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
                let mut next = p.clone();
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
                next.version += 1;
                next.updated_at = self.clock.now_rfc3339();
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
    async fn perform(
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
        let mut next = p.clone();
        next.pending = None;
        next.version += 1;
        next.updated_at = self.clock.now_rfc3339();
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

    /// Sends an authorization whose answer was lost again, with its key: the provider answers
    /// what the first one did (or acts now, if the first never reached it).
    async fn perform_authorization(
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
        let mut next = p.clone();
        next.pending = None;
        next.version += 1;
        next.updated_at = self.clock.now_rfc3339();
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
