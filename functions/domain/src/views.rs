//! Read models built only from events: MyPage (customer), the owner's reservations, notifications
//! and loyalty points. Every projection is idempotent and never goes back to an older version.
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{DomainError, DomainResult};
use crate::item::from_item;
use crate::store::{Cond, Item, Key, Query, StoreError, Table, Write};

fn s(detail: &Value, field: &str) -> String {
    detail
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn n(detail: &Value, field: &str) -> i64 {
    detail
        .get(field)
        .and_then(Value::as_i64)
        .unwrap_or_default()
}

fn required(detail: &Value, field: &str) -> DomainResult<String> {
    match detail.get(field).and_then(Value::as_str) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(DomainError::invalid(field, "missing from the event detail")),
    }
}

/// Writes `set` on the item unless it already reflects `version_attr` >= `version`.
async fn upsert_newer(
    table: &Arc<dyn Table>,
    key: Key,
    set: Item,
    version_attr: &str,
    version: i64,
) -> DomainResult<bool> {
    let cond = Cond::Or(vec![
        Cond::AttrNotExists(version_attr.into()),
        Cond::Lt(version_attr.into(), version),
    ]);
    match table
        .transact(
            vec![Write::Update {
                key,
                set,
                add: vec![],
                cond: Some(cond),
            }],
            vec![],
        )
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failed() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn is_reservation_event(detail_type: &str) -> bool {
    matches!(
        detail_type,
        "ReservationPlaced" | "ReservationStatusChanged" | "ReservationCanceled"
    )
}

fn is_payment_event(detail_type: &str) -> bool {
    matches!(
        detail_type,
        "PaymentApproved" | "PaymentDeclined" | "PaymentCancelApproved"
    )
}

/// One MyPage row per reservation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MyPageRow {
    pub reservation_id: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub place_id: String,
    #[serde(default)]
    pub place_name: String,
    #[serde(default)]
    pub check_in: String,
    #[serde(default)]
    pub check_out: String,
    #[serde(default)]
    pub rooms: i64,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub reservation_status: Option<String>,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub updated_at: String,
    /// Version of the last reservation event applied.
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub payment_version: i64,
}

pub struct MyPageService {
    table: Arc<dyn Table>,
}

impl MyPageService {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    fn key(reservation_id: &str) -> Key {
        Key::new(format!("MYPAGE#{reservation_id}"), "MYPAGE")
    }

    pub async fn apply(&self, detail_type: &str, detail: &Value) -> DomainResult<bool> {
        let id = required(detail, "reservationId")?;
        let mut set = Item::new();
        set.insert("reservationId".into(), json!(id));
        if is_reservation_event(detail_type) {
            let user = required(detail, "userId")?;
            for f in [
                "userId",
                "placeId",
                "placeName",
                "checkIn",
                "checkOut",
                "createdAt",
            ] {
                set.insert(f.into(), json!(s(detail, f)));
            }
            for f in ["rooms", "amount"] {
                set.insert(f.into(), json!(n(detail, f)));
            }
            set.insert(
                "reservationStatus".into(),
                detail.get("status").cloned().unwrap_or(Value::Null),
            );
            set.insert(
                "statusReason".into(),
                detail.get("statusReason").cloned().unwrap_or(Value::Null),
            );
            set.insert("updatedAt".into(), json!(s(detail, "occurredAt")));
            set.insert("version".into(), json!(n(detail, "version")));
            set.insert("gsi1pk".into(), json!(format!("USER#{user}")));
            set.insert(
                "gsi1sk".into(),
                json!(format!("{}#{id}", s(detail, "createdAt"))),
            );
            upsert_newer(
                &self.table,
                Self::key(&id),
                set,
                "version",
                n(detail, "version"),
            )
            .await
        } else if is_payment_event(detail_type) {
            set.insert(
                "paymentStatus".into(),
                detail.get("status").cloned().unwrap_or(Value::Null),
            );
            set.insert("paymentVersion".into(), json!(n(detail, "paymentVersion")));
            upsert_newer(
                &self.table,
                Self::key(&id),
                set,
                "paymentVersion",
                n(detail, "paymentVersion"),
            )
            .await
        } else {
            Ok(false)
        }
    }

    pub async fn get(&self, reservation_id: &str) -> DomainResult<Option<MyPageRow>> {
        self.table
            .get(&Self::key(reservation_id))
            .await?
            .map(from_item)
            .transpose()
    }

    pub async fn list_by_user(&self, user_id: &str) -> DomainResult<Vec<MyPageRow>> {
        let q = Query {
            partition: format!("USER#{user_id}"),
            index: true,
            descending: true,
            limit: Some(200),
            ..Default::default()
        };
        self.table
            .query(&q)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }
}

/// The reservations of an owner's places (the seed's empty `ManageStatus`, done for real).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReservationRow {
    pub reservation_id: String,
    pub place_id: String,
    pub place_name: String,
    pub user_id: String,
    pub check_in: String,
    pub check_out: String,
    pub rooms: i64,
    pub amount: i64,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

pub struct OwnerViewService {
    table: Arc<dyn Table>,
}

impl OwnerViewService {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    pub async fn apply(&self, detail_type: &str, detail: &Value) -> DomainResult<bool> {
        if !is_reservation_event(detail_type) {
            return Ok(false);
        }
        let id = required(detail, "reservationId")?;
        let owner = s(detail, "ownerId");
        if owner.is_empty() {
            return Ok(false);
        }
        let mut set = Item::new();
        set.insert("reservationId".into(), json!(id));
        for f in [
            "placeId",
            "placeName",
            "userId",
            "checkIn",
            "checkOut",
            "createdAt",
        ] {
            set.insert(f.into(), json!(s(detail, f)));
        }
        for f in ["rooms", "amount", "version"] {
            set.insert(f.into(), json!(n(detail, f)));
        }
        set.insert(
            "status".into(),
            detail.get("status").cloned().unwrap_or(Value::Null),
        );
        set.insert(
            "statusReason".into(),
            detail.get("statusReason").cloned().unwrap_or(Value::Null),
        );
        set.insert("updatedAt".into(), json!(s(detail, "occurredAt")));
        let key = Key::new(format!("OWNER#{owner}"), format!("RES#{id}"));
        upsert_newer(&self.table, key, set, "version", n(detail, "version")).await
    }

    /// Newest first; optionally one place only.
    pub async fn list(
        &self,
        owner_id: &str,
        place_id: Option<&str>,
    ) -> DomainResult<Vec<OwnerReservationRow>> {
        let q = Query {
            partition: format!("OWNER#{owner_id}"),
            sk_prefix: Some("RES#".into()),
            ..Default::default()
        };
        let mut rows: Vec<OwnerReservationRow> = self
            .table
            .query(&q)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<DomainResult<_>>()?;
        rows.retain(|r| place_id.is_none_or(|p| r.place_id == p));
        rows.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(rows)
    }
}

/// One entry per customer-visible status change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub reservation_id: String,
    pub user_id: String,
    pub status: String,
    pub message: String,
    pub created_at: String,
}

/// Where notifications go (default: stored and logged).
#[async_trait]
pub trait NotificationChannel: Send + Sync {
    async fn send(&self, notification: &Notification) -> DomainResult<()>;
}

pub struct NotificationService {
    table: Arc<dyn Table>,
    channel: Arc<dyn NotificationChannel>,
}

pub fn status_message(status: &str, reason: Option<&str>, place_name: &str) -> String {
    match status {
        "PAID" => format!("Payment approved for {place_name}."),
        "AWAITING_OWNER" => {
            format!("Payment approved; waiting for the owner of {place_name} to confirm.")
        }
        "CONFIRMED" => format!("Your stay at {place_name} is confirmed."),
        "CANCELLED" => {
            let why = reason
                .and_then(|r| {
                    serde_json::from_value::<crate::reservation::CancelReason>(json!(r)).ok()
                })
                .map(|r| r.message())
                .unwrap_or("");
            format!("Your reservation at {place_name} is cancelled. {why}")
                .trim_end()
                .to_string()
        }
        other => format!("Your reservation at {place_name} is now {other}."),
    }
}

impl NotificationService {
    pub fn new(table: Arc<dyn Table>, channel: Arc<dyn NotificationChannel>) -> Self {
        Self { table, channel }
    }

    /// Stores and sends one notification per ReservationStatusChanged (duplicates are dropped).
    pub async fn on_status_changed(&self, detail: &Value) -> DomainResult<bool> {
        let id = required(detail, "reservationId")?;
        let user = required(detail, "userId")?;
        let status = s(detail, "status");
        let version = n(detail, "version");
        let note = Notification {
            reservation_id: id.clone(),
            user_id: user.clone(),
            status: status.clone(),
            message: status_message(
                &status,
                detail.get("statusReason").and_then(Value::as_str),
                &s(detail, "placeName"),
            ),
            created_at: s(detail, "occurredAt"),
        };
        // Keyed by the reservation version, so a redelivered event maps to the same entry.
        let key = Key::new(
            format!("USER#{user}"),
            format!("NOTE#{}#{id}#{version:08}", note.created_at),
        );
        let item = crate::item::to_item(&key, None, &note);
        match self
            .table
            .transact(
                vec![Write::Put {
                    item,
                    cond: Some(Cond::NotExists),
                }],
                vec![],
            )
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_condition_failed() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.channel.send(&note).await?;
        Ok(true)
    }

    pub async fn list(&self, user_id: &str) -> DomainResult<Vec<Notification>> {
        let q = Query {
            partition: format!("USER#{user_id}"),
            sk_prefix: Some("NOTE#".into()),
            descending: true,
            limit: Some(200),
            ..Default::default()
        };
        self.table
            .query(&q)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }
}

/// Checked `ADD attr :delta` (delta > 0): the write fails rather than wrap or leave a value no
/// reader can use. DynamoDB would store the sum (38 digits); a 64-bit reader could not read it.
fn no_overflow(attr: &str, delta: i64) -> Cond {
    Cond::Or(vec![
        Cond::AttrNotExists(attr.into()),
        Cond::Le(attr.into(), i64::MAX - delta),
    ])
}

/// Loyalty points: 1% of the amount per confirmed stay, taken back when a confirmed stay is cancelled.
pub struct LoyaltyService {
    table: Arc<dyn Table>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyBalance {
    pub user_id: String,
    pub points: i64,
}

impl LoyaltyService {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    pub fn points_for(detail: &Value) -> i64 {
        let amount = n(detail, "amount");
        match (
            s(detail, "status").as_str(),
            s(detail, "previousStatus").as_str(),
        ) {
            ("CONFIRMED", _) => amount / 100,
            ("CANCELLED", "CONFIRMED") => -(amount / 100),
            _ => 0,
        }
    }

    pub async fn on_status_changed(&self, detail: &Value) -> DomainResult<bool> {
        let points = Self::points_for(detail);
        if points == 0 {
            return Ok(false);
        }
        let id = required(detail, "reservationId")?;
        let user = required(detail, "userId")?;
        let version = n(detail, "version");
        let entry = Key::new(format!("USER#{user}"), format!("ENTRY#{id}#{version:08}"));
        let mut ledger = Item::new();
        ledger.insert("pk".into(), json!(entry.pk));
        ledger.insert("sk".into(), json!(entry.sk));
        ledger.insert("points".into(), json!(points));
        ledger.insert("reservationId".into(), json!(id));
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
        Ok(LoyaltyBalance {
            user_id: user_id.to_string(),
            points,
        })
    }
}

#[cfg(test)]
mod loyalty_tests {
    use super::*;
    use crate::test_support::MemTable;

    fn confirmed(id: &str, amount: i64) -> Value {
        json!({"reservationId": id, "userId": "u", "version": 3, "status": "CONFIRMED", "amount": amount})
    }

    #[tokio::test]
    async fn an_award_that_would_overflow_is_refused_and_the_balance_stays_exact() {
        let table = Arc::new(MemTable::default());
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
        let table = Arc::new(MemTable::default());
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
