//! Read models built only from events: MyPage (customer), the owner's reservations, notifications
//! and loyalty points. Every projection is idempotent and never goes back to an older version.
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Date;

use crate::error::{DomainError, DomainResult};
use crate::events::{Event, EventMeta, ReservationSnapshot, ReservationStatusChanged};
use crate::payment::{Dispute, PaymentFacts};
use crate::records;
use crate::reservation::{BookingTerms, CancelReason, Cancellation, ReservationStatus};
use crate::store::{Cond, Item, Key, Query, Table, Write};

fn required<'a>(field: &str, value: &'a str) -> DomainResult<&'a str> {
    if value.is_empty() {
        return Err(DomainError::invalid(field, "empty in the event detail"));
    }
    Ok(value)
}

/// The reservation columns both reservation views copy from a reservation event: one mapping, so
/// the MyPage row and the owner's row cannot drift apart (each adds its status column).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReservationColumns<'a> {
    reservation_id: &'a str,
    user_id: &'a str,
    place_id: &'a str,
    place_name: &'a str,
    #[serde(with = "crate::stay::iso_date")]
    check_in: Date,
    #[serde(with = "crate::stay::iso_date")]
    check_out: Date,
    created_at: &'a str,
    rooms: i64,
    amount: i64,
    status_reason: Option<CancelReason>,
    /// The guest sees what they booked under; the owner sees who arrives and what they asked.
    #[serde(flatten)]
    terms: BookingTerms,
    /// What a customer's cancel kept and refunded.
    #[serde(skip_serializing_if = "Option::is_none")]
    cancellation: Option<&'a Cancellation>,
    /// When the event occurred.
    updated_at: &'a str,
    version: u64,
}

fn reservation_columns(meta: &EventMeta, r: &ReservationSnapshot) -> DomainResult<Item> {
    let columns = ReservationColumns {
        reservation_id: required("reservationId", &r.reservation_id)?,
        user_id: &r.user_id,
        place_id: &r.place_id,
        place_name: &r.place_name,
        check_in: r.check_in,
        check_out: r.check_out,
        created_at: &r.created_at,
        rooms: r.rooms,
        amount: r.amount,
        status_reason: r.status_reason,
        // The views show what was booked, not which card pays.
        terms: BookingTerms {
            payment_method: None,
            ..r.terms.clone()
        },
        cancellation: r.cancellation.as_ref(),
        updated_at: &meta.occurred_at,
        version: meta.version,
    };
    match serde_json::to_value(columns) {
        Ok(Value::Object(item)) => Ok(item),
        _ => Err(DomainError::Misconfigured(
            "reservation columns are not an object".into(),
        )),
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
    /// The payment's ledger sums: what was taken and what went back.
    #[serde(default)]
    pub payment_captured: i64,
    #[serde(default)]
    pub payment_refunded: i64,
    #[serde(flatten)]
    pub terms: BookingTerms,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
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

    /// Reservation events set the reservation's columns, payment events its payment status; each
    /// kind only moves forward in its own version.
    pub async fn apply(&self, event: &Event) -> DomainResult<bool> {
        let meta = event.meta();
        if let Some(r) = event.reservation() {
            let user = required("userId", &r.user_id)?;
            let mut set = reservation_columns(meta, r)?;
            set.insert("reservationStatus".into(), json!(r.status));
            set.insert("gsi1pk".into(), json!(format!("USER#{user}")));
            set.insert(
                "gsi1sk".into(),
                json!(format!("{}#{}", r.created_at, r.reservation_id)),
            );
            let key = Self::key(&r.reservation_id);
            upsert_newer(&self.table, key, set, "version", meta.version as i64).await
        } else if let Some(p) = event.payment() {
            let id = required("reservationId", &p.payment.reservation_id)?;
            let mut set = Item::new();
            set.insert("reservationId".into(), json!(id));
            set.insert("paymentStatus".into(), json!(p.payment.status));
            set.insert("paymentCaptured".into(), json!(p.payment.sums.captured));
            set.insert("paymentRefunded".into(), json!(p.payment.sums.refunded));
            set.insert("paymentVersion".into(), json!(p.payment_version));
            let version = p.payment_version as i64;
            upsert_newer(&self.table, Self::key(id), set, "paymentVersion", version).await
        } else {
            Ok(false)
        }
    }

    pub async fn get(&self, reservation_id: &str) -> DomainResult<Option<MyPageRow>> {
        records::get(&*self.table, &Self::key(reservation_id)).await
    }

    pub async fn list_by_user(&self, user_id: &str) -> DomainResult<Vec<MyPageRow>> {
        let q = records::newest_on_index(format!("USER#{user_id}"));
        records::query(&*self.table, &q).await
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
    #[serde(flatten)]
    pub terms: BookingTerms,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    /// A chargeback the guest opened on this stay's payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<Dispute>,
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

    pub async fn apply(&self, event: &Event) -> DomainResult<bool> {
        if let Event::PaymentDisputed(p) = event {
            return self.flag_dispute(&p.payment).await;
        }
        let Some(r) = event.reservation() else {
            return Ok(false);
        };
        // Reservations placed before owners were recorded have none: no owner sees them.
        if r.owner_id.is_empty() {
            return Ok(false);
        }
        let meta = event.meta();
        let mut set = reservation_columns(meta, r)?;
        set.insert("status".into(), json!(r.status));
        let key = Key::new(
            format!("OWNER#{}", r.owner_id),
            format!("RES#{}", r.reservation_id),
        );
        upsert_newer(&self.table, key, set, "version", meta.version as i64).await
    }

    /// The owner's row shows the dispute. A payment made before owners were recorded on payments
    /// names none: no row to flag.
    async fn flag_dispute(&self, p: &PaymentFacts) -> DomainResult<bool> {
        let Some(dispute) = &p.dispute else {
            return Ok(false);
        };
        if p.owner_id.is_empty() {
            return Ok(false);
        }
        let key = Key::new(
            format!("OWNER#{}", p.owner_id),
            format!("RES#{}", p.reservation_id),
        );
        let mut set = Item::new();
        set.insert("dispute".into(), json!(dispute));
        let write = Write::Update {
            key,
            set,
            add: vec![],
            cond: Some(Cond::Exists),
        };
        match self.table.transact(vec![write], vec![]).await {
            Ok(()) => Ok(true),
            // The reservation's own events have not made the row yet: the event is retried.
            Err(e) if e.is_condition_failed() => Err(DomainError::Unavailable(
                "the owner's row of the disputed reservation is not there yet".into(),
            )),
            Err(e) => Err(e.into()),
        }
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
        let mut rows: Vec<OwnerReservationRow> = records::query(&*self.table, &q).await?;
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

pub fn status_message(
    status: ReservationStatus,
    reason: Option<CancelReason>,
    place_name: &str,
) -> String {
    match status {
        ReservationStatus::Paid => {
            format!("Payment authorized for {place_name}; nothing is taken until it is confirmed.")
        }
        ReservationStatus::AwaitingOwner => format!(
            "Payment authorized; waiting for the owner of {place_name} to confirm (nothing is taken until then)."
        ),
        ReservationStatus::Confirmed => format!("Your stay at {place_name} is confirmed."),
        ReservationStatus::Cancelled => {
            let why = reason.map(CancelReason::message).unwrap_or("");
            format!("Your reservation at {place_name} is cancelled. {why}")
                .trim_end()
                .to_string()
        }
        ReservationStatus::Pending => format!(
            "Your reservation at {place_name} is now {}.",
            status.as_str()
        ),
    }
}

impl NotificationService {
    pub fn new(table: Arc<dyn Table>, channel: Arc<dyn NotificationChannel>) -> Self {
        Self { table, channel }
    }

    /// Stores and sends one notification per ReservationStatusChanged (duplicates are dropped).
    pub async fn on_status_changed(&self, e: &ReservationStatusChanged) -> DomainResult<bool> {
        let r = &e.reservation;
        let id = required("reservationId", &r.reservation_id)?;
        let user = required("userId", &r.user_id)?;
        let version = e.meta.version;
        let note = Notification {
            reservation_id: id.to_string(),
            user_id: user.to_string(),
            status: r.status.as_str().to_string(),
            message: match &r.cancellation {
                Some(c) => format!(
                    "{} {} refunded, {} kept.",
                    status_message(r.status, r.status_reason, &r.place_name),
                    crate::terms::format_amount(c.refund_amount, c.currency),
                    crate::terms::format_amount(c.penalty_amount, c.currency)
                ),
                None => status_message(r.status, r.status_reason, &r.place_name),
            },
            created_at: e.meta.occurred_at.clone(),
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
        records::query(&*self.table, &q).await
    }
}

mod loyalty;
pub use loyalty::{LoyaltyBalance, LoyaltyEntry, LoyaltyService};
