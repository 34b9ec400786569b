//! The money ledger: every movement of a reservation's payment is an entry, written in the same
//! transaction as the payment's new state, and never changed. The sums on the payment are the
//! entries added up, so "captured − refunded = what the policy keeps" and "authorized = captured +
//! voided once settled" can be checked against the entries themselves.
use serde::{Deserialize, Serialize};

use super::model::{Payment, PaymentStatus};
use crate::store::Key;
use crate::terms::Currency;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Movement {
    /// Money held on the card.
    Authorize,
    /// Held money taken.
    Capture,
    /// Held money released (the rest of a partial capture, or all of it).
    Void,
    /// Taken money given back.
    Refund,
    /// A refund the provider reported failed (its webhook): the refund's amount counts as kept
    /// again, and the refund is sent anew under a new key. Never sent to the provider.
    RefundFailed,
}

impl Movement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Capture => "capture",
            Self::Void => "void",
            Self::Refund => "refund",
            Self::RefundFailed => "refund_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub reservation_id: String,
    /// 1, 2, ... in the order the movements happened.
    pub seq: u32,
    pub movement: Movement,
    pub amount: i64,
    pub currency: Currency,
    pub provider_ref: String,
    pub idempotency_key: String,
    pub at: String,
}

impl LedgerEntry {
    pub fn key(reservation_id: &str, seq: u32) -> Key {
        Key::new(format!("PAY#{reservation_id}"), format!("LEDGER#{seq:05}"))
    }

    pub const PREFIX: &'static str = "LEDGER#";
}

/// The entries added up, per movement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sums {
    #[serde(default)]
    pub authorized: i64,
    #[serde(default)]
    pub captured: i64,
    #[serde(default)]
    pub voided: i64,
    #[serde(default)]
    pub refunded: i64,
}

impl Sums {
    pub fn moved(authorized: i64, captured: i64, voided: i64, refunded: i64) -> Self {
        Self {
            authorized,
            captured,
            voided,
            refunded,
        }
    }

    pub fn add(&mut self, movement: Movement, amount: i64) {
        match movement {
            Movement::Authorize => self.authorized += amount,
            Movement::Capture => self.captured += amount,
            Movement::Void => self.voided += amount,
            Movement::Refund => self.refunded += amount,
            Movement::RefundFailed => self.refunded -= amount,
        }
    }

    /// Held and neither taken nor released.
    pub fn open(&self) -> i64 {
        self.authorized - self.captured - self.voided
    }

    /// The status these sums make.
    pub fn status(&self) -> PaymentStatus {
        use PaymentStatus::*;
        match (self.captured, self.refunded) {
            (0, _) if self.open() > 0 => Authorized,
            (0, _) => Voided,
            (c, r) if r >= c => Refunded,
            (_, 0) => Captured,
            _ => PartiallyRefunded,
        }
    }
}

/// What the payment is being moved toward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Take all that is held (the stay is confirmed).
    Capture,
    /// End keeping this much and no more (a cancel: 0, or what its policy keeps).
    Keep(i64),
}

/// The next provider operation toward `goal`, and its amount; `None` when the payment is there (or
/// can get no closer: a payment that never held money keeps nothing).
pub fn next_move(p: &Payment, goal: Goal) -> Option<(Movement, i64)> {
    let s = &p.facts.sums;
    if matches!(
        p.facts.status,
        PaymentStatus::Declined | PaymentStatus::Voided
    ) {
        return None;
    }
    let open = s.open();
    match goal {
        Goal::Capture => (open > 0).then_some((Movement::Capture, open)),
        Goal::Keep(keep) => {
            let keep = keep.max(0);
            let kept = s.captured - s.refunded;
            if open > 0 {
                // Take what the policy keeps and release the rest in the same call; nothing to
                // keep is a void.
                let take = keep.saturating_sub(kept).min(open);
                Some(if take > 0 {
                    (Movement::Capture, take)
                } else {
                    (Movement::Void, open)
                })
            } else {
                (kept > keep).then_some((Movement::Refund, kept - keep))
            }
        }
    }
}

/// The idempotency key of the entry numbered `seq`: the reservation, the operation and its place in
/// the ledger, so a retried step repeats the key and a later refund gets a new one.
pub fn idempotency_key(reservation_id: &str, movement: Movement, seq: u32) -> String {
    format!("{reservation_id}:{}:{seq}", movement.as_str())
}
