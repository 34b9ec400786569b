//! Loyalty points, a read model of reservation status changes: they follow the money each stay
//! keeps.
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::required;
use crate::error::{DomainError, DomainResult};
use crate::events::ReservationStatusChanged;
use crate::records;
use crate::reservation::ReservationStatus;
use crate::store::{Cond, Item, Key, Query, StoreError, Table, Write};

/// Checked `ADD attr :delta` (delta > 0): the write fails rather than wrap or leave a value no
/// reader can use. DynamoDB would store the sum (38 digits); a 64-bit reader could not read it.
fn no_overflow(attr: &str, delta: i64) -> Cond {
    Cond::Or(vec![
        Cond::AttrNotExists(attr.into()),
        Cond::Le(attr.into(), i64::MAX - delta),
    ])
}

/// Loyalty points follow the money a stay keeps: 1% of the amount once confirmed; when a confirmed
/// stay is cancelled, 1% of what its cancellation kept (nothing after a full refund).
pub struct LoyaltyService {
    table: Arc<dyn Table>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyBalance {
    pub user_id: String,
    pub points: i64,
    /// The latest changes of the balance, newest first (at most [`LoyaltyService::SHOWN`]).
    #[serde(default)]
    pub entries: Vec<LoyaltyEntry>,
}

/// One change of a balance: the stay, what it keeps after the change, and the points it moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyEntry {
    pub reservation_id: String,
    pub points: i64,
    /// CONFIRMED, or CANCELLED (points taken back down to what the cancellation kept).
    #[serde(default)]
    pub status: Option<ReservationStatus>,
    /// The money the stay keeps after this change, in minor units of `currency`.
    #[serde(default)]
    pub kept: Option<i64>,
    #[serde(default)]
    pub currency: Option<crate::terms::Currency>,
    #[serde(default)]
    pub at: Option<String>,
}

impl LoyaltyService {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// How many entries the balance shows.
    pub const SHOWN: usize = 50;

    /// The money the stay keeps after `e`, and the points that moves; `None` for a change that
    /// moves no money a stay keeps (a non-refundable cancel does, though its points stay).
    pub fn points_for(e: &ReservationStatusChanged) -> Option<(i64, i64)> {
        use ReservationStatus::{Cancelled, Confirmed};
        let amount = e.reservation.amount;
        Some(match (e.reservation.status, e.previous_status) {
            (Confirmed, _) => (amount, amount / 100),
            (Cancelled, Confirmed) => {
                let kept = e
                    .reservation
                    .cancellation
                    .as_ref()
                    .map_or(0, |c| c.penalty_amount);
                (kept, kept / 100 - amount / 100)
            }
            _ => return None,
        })
    }

    pub async fn on_status_changed(&self, e: &ReservationStatusChanged) -> DomainResult<bool> {
        let Some((kept, points)) = Self::points_for(e) else {
            return Ok(false);
        };
        let id = required("reservationId", &e.reservation.reservation_id)?;
        let user = required("userId", &e.reservation.user_id)?;
        let version = e.meta.version;
        let entry = Key::new(format!("USER#{user}"), format!("ENTRY#{id}#{version:08}"));
        let mut ledger = Item::new();
        ledger.insert("pk".into(), json!(entry.pk));
        ledger.insert("sk".into(), json!(entry.sk));
        ledger.insert("points".into(), json!(points));
        ledger.insert("reservationId".into(), json!(id));
        ledger.insert("status".into(), json!(e.reservation.status));
        ledger.insert("kept".into(), json!(kept));
        ledger.insert("currency".into(), json!(e.reservation.terms.currency));
        ledger.insert("at".into(), json!(e.meta.occurred_at));
        let writes = vec![
            Write::Put {
                item: ledger,
                cond: Some(Cond::NotExists),
            },
            Write::Update {
                key: Key::new(format!("USER#{user}"), "BALANCE"),
                set: [("userId".to_string(), json!(user))].into_iter().collect(),
                add: vec![("points".into(), points)],
                cond: (points > 0).then(|| no_overflow("points", points)),
            },
        ];
        match self.table.transact(writes, vec![]).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { failed }) if failed.contains(&1) => {
                Err(DomainError::Misconfigured(format!(
                    "loyalty balance of {user} would overflow adding {points}"
                )))
            }
            Err(e) if e.is_condition_failed() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn balance(&self, user_id: &str) -> DomainResult<LoyaltyBalance> {
        let item = self
            .table
            .get(&Key::new(format!("USER#{user_id}"), "BALANCE"))
            .await?;
        // A balance that is not a 64-bit integer is reported, never shown as 0: a silent 0 would
        // hide lost points (DynamoDB itself stores up to 38 digits, so it could hold one).
        let points = match item.as_ref().and_then(|i| i.get("points")) {
            None => 0,
            Some(v) => v.as_i64().ok_or_else(|| {
                DomainError::Misconfigured(format!(
                    "loyalty balance of {user_id} is not a 64-bit integer: {v}"
                ))
            })?,
        };
        let mut entries: Vec<LoyaltyEntry> = records::query(
            &*self.table,
            &Query {
                partition: format!("USER#{user_id}"),
                sk_prefix: Some("ENTRY#".into()),
                eventually_consistent: true,
                ..Default::default()
            },
        )
        .await?;
        entries.sort_by(|a, b| b.at.cmp(&a.at));
        entries.truncate(Self::SHOWN);
        Ok(LoyaltyBalance {
            user_id: user_id.to_string(),
            points,
            entries,
        })
    }
}

#[cfg(test)]
mod loyalty_tests {
    use super::*;
    use crate::events::Event;
    use crate::store::memory::MemoryTable;

    fn confirmed(id: &str, amount: i64) -> ReservationStatusChanged {
        let Event::ReservationStatusChanged(mut e) =
            crate::events::example(crate::events::EventName::ReservationStatusChanged, id).event
        else {
            unreachable!("the example of ReservationStatusChanged is one")
        };
        e.meta.version = 3;
        e.reservation.user_id = "u".into();
        e.reservation.status = ReservationStatus::Confirmed;
        e.reservation.amount = amount;
        e
    }

    #[tokio::test]
    async fn an_award_that_would_overflow_is_refused_and_the_balance_stays_exact() {
        let table = Arc::new(MemoryTable::default());
        let svc = LoyaltyService::new(table.clone());
        let near = (i64::MAX / 100) * 100; // points i64::MAX / 100
        for i in 0..100 {
            assert!(
                svc.on_status_changed(&confirmed(&format!("r{i}"), near))
                    .await
                    .expect("award")
            );
        }
        let before = svc.balance("u").await.expect("balance").points;
        assert_eq!(before, (i64::MAX / 100) * 100);
        let err = svc
            .on_status_changed(&confirmed("r-last", near))
            .await
            .expect_err("overflow refused");
        assert!(matches!(err, DomainError::Misconfigured(_)), "{err:?}");
        assert_eq!(svc.balance("u").await.expect("balance").points, before);
    }

    #[tokio::test]
    async fn a_balance_beyond_64_bits_is_reported_not_shown_as_zero() {
        let table = Arc::new(MemoryTable::default());
        let mut item = Item::new();
        item.insert("pk".into(), json!("USER#u"));
        item.insert("sk".into(), json!("BALANCE"));
        item.insert("points".into(), json!(i64::MAX as u64 + 1));
        table
            .transact(vec![Write::Put { item, cond: None }], vec![])
            .await
            .expect("put");
        let svc = LoyaltyService::new(table);
        assert!(matches!(
            svc.balance("u").await,
            Err(DomainError::Misconfigured(_))
        ));
    }
}
