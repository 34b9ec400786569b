use serde::{Deserialize, Serialize};

use super::cancellation::Cancellation;
use crate::events::PlaceCatalogued;
use crate::place::{BookedPlan, BookedRoomType, NightPrice, Offer, PriceRule, Prices};
use crate::store::Key;
use crate::terms::{Currency, Guests, LeadGuest, PolicySnapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationStatus {
    /// [예약처리] accepted, saga running.
    Pending,
    /// [결제완료] payment authorized (taken when confirmed).
    Paid,
    /// Request-to-book: waiting for the owner.
    AwaitingOwner,
    /// [예약완료]
    Confirmed,
    /// [예약취소] see `CancelReason`.
    Cancelled,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Paid => "PAID",
            Self::AwaitingOwner => "AWAITING_OWNER",
            Self::Confirmed => "CONFIRMED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CancelReason {
    PaymentDeclined,
    /// Payment overloaded or circuit open: "please try again later".
    PaymentUnavailable,
    SoldOut,
    OwnerRejected,
    OwnerTimeout,
    CustomerCancelled,
    /// The owner cancelled a confirmed stay: everything is refunded.
    OwnerCancelled,
    /// The guest did not arrive: the owner marked it after the check-in day; the policy's
    /// no-show penalty is kept.
    NoShow,
    /// A saga step after the charge failed for good (a crash, a permanent error, or a context
    /// down longer than the step's retries): the saga compensated.
    SystemError,
}

impl CancelReason {
    pub const ALL: [CancelReason; 9] = [
        Self::PaymentDeclined,
        Self::PaymentUnavailable,
        Self::SoldOut,
        Self::OwnerRejected,
        Self::OwnerTimeout,
        Self::CustomerCancelled,
        Self::OwnerCancelled,
        Self::NoShow,
        Self::SystemError,
    ];

    /// The name the reason travels and is stored as (its JSON string).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentDeclined => "PAYMENT_DECLINED",
            Self::PaymentUnavailable => "PAYMENT_UNAVAILABLE",
            Self::SoldOut => "SOLD_OUT",
            Self::OwnerRejected => "OWNER_REJECTED",
            Self::OwnerTimeout => "OWNER_TIMEOUT",
            Self::CustomerCancelled => "CUSTOMER_CANCELLED",
            Self::OwnerCancelled => "OWNER_CANCELLED",
            Self::NoShow => "NO_SHOW",
            Self::SystemError => "SYSTEM_ERROR",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::PaymentDeclined => "Your payment was declined.",
            Self::PaymentUnavailable => "Payment is busy right now. Please try again later.",
            Self::SoldOut => "The place is sold out for these nights; your payment was released.",
            Self::OwnerRejected => "The owner declined the reservation; your payment was released.",
            Self::OwnerTimeout => "The owner did not answer in time; your payment was released.",
            Self::CustomerCancelled => "You cancelled the reservation.",
            Self::OwnerCancelled => "The owner cancelled your stay; everything is refunded.",
            Self::NoShow => "You did not arrive; the owner marked the stay as a no-show.",
            Self::SystemError => "Something went wrong on our side; your payment was released.",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub reservation_id: String,
    pub user_id: String,
    pub place_id: String,
    pub place_name: String,
    #[serde(default)]
    pub owner_id: String,
    pub check_in: String,
    pub check_out: String,
    pub nights: i64,
    pub rooms: i64,
    /// Integer minor units: the sum of the nights' prices (`place::pricing`) x rooms (the seed
    /// facade: the client's amount).
    pub amount: i64,
    pub status: ReservationStatus,
    #[serde(default)]
    pub status_reason: Option<CancelReason>,
    #[serde(flatten)]
    pub terms: BookingTerms,
    /// What the customer's cancel kept and refunded (absent for every other end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// What a booking was sold under and who stays: a snapshot taken when it was placed, so nothing
/// the owner changes later alters it. Reservations placed before terms existed (and the seed
/// facade's) have only the currency, which was KRW.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingTerms {
    #[serde(default)]
    pub currency: Currency,
    /// `standard` for reservations placed before room types.
    #[serde(default)]
    pub room_type: BookedRoomType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_plan: Option<BookedPlan>,
    /// Each night's price for one room.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub night_prices: Vec<NightPrice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_policy: Option<PolicySnapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guests: Option<Guests>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_guest: Option<LeadGuest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_request: Option<String>,
    /// The card the guest pays with, as the provider's client library gave it (`pm_…`): a
    /// reference usable only with the provider's secret key, never card data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
}

impl BookingTerms {
    /// The terms of `offer` for `party`.
    pub fn of(offer: Offer, party: Party) -> Self {
        Self {
            currency: offer.currency,
            room_type: offer.room_type,
            rate_plan: Some(offer.plan),
            night_prices: offer.nights,
            cancellation_policy: Some(offer.cancellation_policy),
            guests: Some(party.guests),
            lead_guest: party.lead_guest,
            special_request: party.special_request,
            payment_method: party.payment_method,
        }
    }
}

/// Who a booking is for, as the request names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub guests: Guests,
    pub lead_guest: Option<LeadGuest>,
    pub special_request: Option<String>,
    pub payment_method: Option<String>,
}

impl Reservation {
    pub fn key(reservation_id: &str) -> Key {
        Key::new(format!("RES#{reservation_id}"), "RES")
    }
    pub fn user_index(&self) -> (String, String) {
        (
            format!("USER#{}", self.user_id),
            format!("{}#{}", self.created_at, self.reservation_id),
        )
    }
}

/// The reservation context's copy of the place catalogue, fed by PlaceRegistered / PlaceUpdated:
/// what a booking needs (who owns the place, its name, what its nights cost).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPlace {
    pub place_id: String,
    pub owner_id: String,
    pub name: String,
    pub nightly_price: i64,
    /// Copies written before places had rules have none.
    #[serde(default)]
    pub price_rules: Vec<PriceRule>,
    pub version: u64,
}

impl From<&PlaceCatalogued> for CatalogPlace {
    fn from(p: &PlaceCatalogued) -> Self {
        Self {
            place_id: p.place_id.clone(),
            owner_id: p.owner_id.clone(),
            name: p.place.name.clone(),
            nightly_price: p.place.nightly_price,
            price_rules: p.place.price_rules.clone(),
            version: p.meta.version,
        }
    }
}

impl CatalogPlace {
    pub fn prices(&self) -> Prices<'_> {
        Prices {
            nightly_price: self.nightly_price,
            rules: &self.price_rules,
        }
    }
    pub fn key(place_id: &str) -> Key {
        Key::new(format!("CATALOG#{place_id}"), "PLACE")
    }
}

/// A saga step's view of the reservation after it acted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusOutcome {
    pub status: ReservationStatus,
    pub version: u64,
}
