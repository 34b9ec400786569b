//! What a payment provider tells on its own, through its webhooks: a refund that failed after it
//! was accepted, a dispute the card holder opened. The adapter verifies and reads the delivery;
//! here it is applied to the payment once per notice id, whatever the deliveries.
use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;

use super::ledger::{Goal, LedgerEntry, Movement};
use super::model::{Dispute, Payment};
use super::service::{PaymentService, payment_event};
use crate::error::{DomainError, DomainResult};
use crate::events::Event;
use crate::item::to_item;
use crate::records;
use crate::retry::{Attempt, until_committed};
use crate::store::{Cond, Key, Query, Write};

/// A failed refund is sent anew this many times; after that it waits for a person (the alarm
/// has fired on every failure).
pub const REFUND_ATTEMPTS: usize = 3;

/// One verified notice of the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The provider's event id: the same notice delivered again is applied once.
    pub id: String,
    pub reservation_id: String,
    pub kind: NoticeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NoticeKind {
    /// The refund sent with `idempotency_key` did not reach the card.
    RefundFailed {
        idempotency_key: String,
        reason: String,
    },
    /// The card holder disputes `amount` (minor units of the payment's currency).
    Disputed { amount: i64, reason: String },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoticeError {
    /// The delivery is not the provider's (signature missing, wrong or too old): a 400.
    #[error("{0}")]
    Unverified(String),
    /// Signed, but not a notice this service can read: a 400.
    #[error("{0}")]
    Unreadable(String),
    /// The provider could not be asked what the notice is about: retried by the provider.
    #[error("{0}")]
    Unavailable(String),
    /// The deployment cannot read notices (no signing secret it can read): a 500 until fixed.
    #[error("{0}")]
    Misconfigured(String),
}

/// The provider's webhooks, verified with the endpoint's secret and read into notices.
#[async_trait]
pub trait NoticeReader: Send + Sync {
    /// `Ok(None)` for a genuine event this service does not act on.
    async fn read(
        &self,
        signature: Option<&str>,
        body: &str,
    ) -> Result<Option<Notice>, NoticeError>;
}

/// What applying a notice did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoticeOutcome {
    Applied,
    /// Delivered before: nothing more was recorded.
    Repeated,
    /// About no payment of this deployment.
    NotOurs,
    /// A refund failed: counted for the alarm, and sent anew unless it failed too often.
    #[serde(rename_all = "camelCase")]
    RefundFailed {
        sent_again: bool,
    },
}

fn notice_key(reservation_id: &str, id: &str) -> Key {
    Key::new(format!("PAY#{reservation_id}"), format!("NOTICE#{id}"))
}

impl PaymentService {
    /// Applies a provider's notice once: its id is recorded in the same transaction as its effect.
    pub async fn on_notice(&self, n: &Notice) -> DomainResult<NoticeOutcome> {
        let rid = n.reservation_id.as_str();
        let outcome = until_committed(&*self.table, "payment contended", |_| async move {
            let Some(p) = self.get(rid).await? else {
                return Ok(Attempt::Done(NoticeOutcome::NotOurs));
            };
            if self.table.get(&notice_key(rid, &n.id)).await?.is_some() {
                return Ok(Attempt::Done(NoticeOutcome::Repeated));
            }
            let mut next = self.next_version(&p);
            let (kind, mut entries, outcome) = match &n.kind {
                NoticeKind::RefundFailed {
                    idempotency_key,
                    reason,
                } => {
                    tracing::error!(
                        reservation_id = rid,
                        idempotency_key,
                        reason,
                        metric = "RefundsFailed",
                        "a refund failed at the provider"
                    );
                    let entries = self.reversal(&p, idempotency_key).await?;
                    let outcome = NoticeOutcome::RefundFailed { sent_again: false };
                    (Event::PaymentRefundFailed as fn(_) -> _, entries, outcome)
                }
                NoticeKind::Disputed { amount, reason } => {
                    tracing::warn!(
                        reservation_id = rid,
                        amount,
                        reason,
                        "the charge is disputed"
                    );
                    next.facts.dispute = Some(Dispute {
                        amount: *amount,
                        reason: reason.clone(),
                        at: self.clock.now_rfc3339(),
                    });
                    (
                        Event::PaymentDisputed as fn(_) -> _,
                        vec![],
                        NoticeOutcome::Applied,
                    )
                }
            };
            let mut writes = Self::commit(&mut next, Some(p.version), &mut entries);
            writes.push(Write::Put {
                item: to_item(
                    &notice_key(rid, &n.id),
                    None,
                    &json!({"noticeId": n.id, "at": next.updated_at}),
                ),
                cond: Some(Cond::NotExists),
            });
            let event = payment_event(kind, &next, 0, entries);
            Ok(Attempt::commit(writes, vec![event], outcome))
        })
        .await?;
        match outcome {
            // Also on a repeated delivery: the refund that was to be sent anew may not have been.
            NoticeOutcome::RefundFailed { .. } | NoticeOutcome::Repeated => {
                let retried = self.refund_anew(rid).await?;
                Ok(match outcome {
                    NoticeOutcome::Repeated => outcome,
                    _ => NoticeOutcome::RefundFailed {
                        sent_again: retried,
                    },
                })
            }
            other => Ok(other),
        }
    }

    /// The entry reversing the refund sent with `key`; none when there is no such refund or it
    /// was reversed already.
    async fn reversal(&self, p: &Payment, key: &str) -> DomainResult<Vec<LedgerEntry>> {
        let ledger = self.ledger(&p.facts.reservation_id).await?;
        let with_key = |m: Movement| {
            ledger
                .iter()
                .find(|e| e.movement == m && e.idempotency_key == key)
        };
        Ok(
            match (with_key(Movement::Refund), with_key(Movement::RefundFailed)) {
                (Some(refund), None) => {
                    vec![self.entry(p, Movement::RefundFailed, refund.amount, key)]
                }
                _ => vec![],
            },
        )
    }

    pub(super) async fn ledger(&self, reservation_id: &str) -> DomainResult<Vec<LedgerEntry>> {
        records::query(
            &*self.table,
            &Query {
                partition: Payment::key(reservation_id).pk,
                sk_prefix: Some(LedgerEntry::PREFIX.into()),
                ..Default::default()
            },
        )
        .await
    }

    /// Sends what the failed refunds gave back anew (a new entry, a new key), until it failed
    /// [`REFUND_ATTEMPTS`] times.
    async fn refund_anew(&self, reservation_id: &str) -> DomainResult<bool> {
        let Some(p) = self.get(reservation_id).await? else {
            return Ok(false);
        };
        let failures = self
            .ledger(reservation_id)
            .await?
            .iter()
            .filter(|e| e.movement == Movement::RefundFailed)
            .count();
        let Some(keep) = p.keep else {
            return Ok(false);
        };
        if failures >= REFUND_ATTEMPTS {
            tracing::error!(
                reservation_id,
                failures,
                metric = "RefundsFailed",
                "refunds keep failing; the guest must be refunded by hand"
            );
            return Ok(false);
        }
        self.drive(reservation_id, Goal::Keep(keep), 0, None)
            .await?;
        Ok(true)
    }
}

impl From<NoticeError> for DomainError {
    fn from(e: NoticeError) -> Self {
        match e {
            NoticeError::Unverified(why) | NoticeError::Unreadable(why) => {
                DomainError::invalid("body", &why)
            }
            NoticeError::Unavailable(why) => DomainError::Unavailable(why),
            NoticeError::Misconfigured(why) => DomainError::Misconfigured(why),
        }
    }
}
