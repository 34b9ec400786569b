//! Domain events (the catalogue: `docs/design.md`, section 2), one type per event. One EventBridge
//! bus; `detail-type` is the event name and `source` is `reserveplace.<context>`. Every detail
//! carries `eventId`, `occurredAt` and `version`; reservation, payment and hold events also
//! `reservationId`.
//!
//! Producers build these types and consumers receive them, so a field renamed on one side fails to
//! compile on the other; the JSON names are pinned by the tests below and by the sample events.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use time::Date;

use crate::payment::{LedgerEntry, PaymentFacts};
use crate::place::PlaceFacts;
use crate::reservation::{BookingTerms, CancelReason, Cancellation, ReservationStatus};

/// An event as committed to the outbox and published on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    /// `reserveplace.<context>`: [`EventName::source`] for every event this crate builds.
    pub source: String,
    /// RFC 3339 time the event occurred (equals `detail.occurredAt`).
    pub time: String,
    pub event: Event,
}

/// The events of the catalogue; serialized as `detail-type` (the name) and `detail` (the fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "detail-type", content = "detail")]
pub enum Event {
    ReservationPlaced(ReservationPlaced),
    ReservationStatusChanged(ReservationStatusChanged),
    ReservationCanceled(ReservationCanceled),
    /// The card holds the amount (nothing taken yet).
    PaymentAuthorized(PaymentEvent),
    PaymentDeclined(PaymentEvent),
    /// Held money taken (a partial capture also releases the rest: its entries say both).
    PaymentCaptured(PaymentEvent),
    /// Held money released, or nothing will be held: a compensation or cancel came first.
    PaymentVoided(PaymentEvent),
    /// A refund the ledger recorded failed at the provider (its webhook): the entry is reversed
    /// and the refund sent again.
    PaymentRefundFailed(PaymentEvent),
    /// The card holder disputes the charge (the provider's webhook): the owner view flags it.
    PaymentDisputed(PaymentEvent),
    /// Taken money given back, in part or whole (the entry says how much).
    PaymentRefunded(PaymentEvent),
    /// Published before authorization and capture were separate (the seed's 결제완료): read only.
    PaymentApproved(PaymentEvent),
    /// Published before partial refunds (the seed's 결제취소, a full refund): read only.
    PaymentCancelApproved(PaymentEvent),
    ReservationConfirmed(ReservationConfirmed),
    ReservationCancelConfirmed(ReservationCancelConfirmed),
    /// Place catalogue changes: the reservation context's copy of the catalogue (the seed facade
    /// books from it) and the search read model follow them.
    PlaceRegistered(PlaceCatalogued),
    PlaceUpdated(PlaceCatalogued),
    /// Rooms a reservation took on the nights of its stay (committed with the night writes).
    RoomsHeld(RoomsChanged),
    /// Rooms given back (cancel, rejection, timeout, compensation), committed with the night writes.
    RoomsReleased(RoomsChanged),
}

/// The fields every event carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMeta {
    /// UUID, for de-duplication.
    pub event_id: String,
    pub occurred_at: String,
    /// The reservation's version as the emitting context knows it: the reservation's own version
    /// for reservation events; for payment and place events, the version the saga or the cancel
    /// event handed them (their own aggregates' versions travel as `paymentVersion` /
    /// `holdVersion`, which is what their projections order by). Place catalogue events carry the
    /// place's version.
    pub version: u64,
}

impl EventMeta {
    pub fn new(version: u64, occurred_at: &str) -> Self {
        Self {
            event_id: uuid::Uuid::new_v4().to_string(),
            occurred_at: occurred_at.to_string(),
            version,
        }
    }
}

/// The reservation as its events carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationSnapshot {
    pub reservation_id: String,
    pub user_id: String,
    pub place_id: String,
    pub place_name: String,
    pub owner_id: String,
    #[serde(with = "crate::stay::iso_date")]
    pub check_in: Date,
    #[serde(with = "crate::stay::iso_date")]
    pub check_out: Date,
    pub nights: i64,
    pub rooms: i64,
    pub amount: i64,
    pub status: ReservationStatus,
    /// Present (not null) only once cancelled.
    pub status_reason: Option<CancelReason>,
    /// Events published before terms existed carry none of its fields.
    #[serde(flatten)]
    pub terms: BookingTerms,
    /// What a customer's cancel keeps and refunds (only on a cancelled reservation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReservationPlaced {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(flatten)]
    pub reservation: ReservationSnapshot,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationStatusChanged {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(flatten)]
    pub reservation: ReservationSnapshot,
    pub previous_status: ReservationStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationCanceled {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(flatten)]
    pub reservation: ReservationSnapshot,
    pub reason: CancelReason,
    pub previous_status: ReservationStatus,
}

/// Every payment event: the payment's facts after the change, and the ledger entries it added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentEvent {
    #[serde(flatten)]
    pub meta: EventMeta,
    /// The same facts the payment record carries.
    #[serde(flatten)]
    pub payment: PaymentFacts,
    /// The payment's own version: what the MyPage projection orders payment events by.
    pub payment_version: u64,
    /// The movements this change wrote to the ledger (none for a decline or a tombstone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<LedgerEntry>,
}

/// The rooms a reservation holds, as the place context's events carry them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldFacts {
    pub reservation_id: String,
    pub place_id: String,
    /// `standard` in events published before room types.
    #[serde(default = "crate::place::standard_room_type_id")]
    pub room_type_id: String,
    /// Empty when the place is unknown (reason PLACE_UNKNOWN).
    pub owner_id: String,
    #[serde(with = "crate::stay::iso_date")]
    pub check_in: Date,
    #[serde(with = "crate::stay::iso_date")]
    pub check_out: Date,
    pub rooms: i64,
    /// The hold's version after the change this event reports.
    pub hold_version: u64,
}

/// Who settled a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecidedBy {
    /// The place books instantly.
    Instant,
    Owner,
    /// Nobody answered in time.
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationConfirmed {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(flatten)]
    pub hold: HoldFacts,
    pub decided_by: DecidedBy,
}

/// Why the place context did not (or no longer) hold the stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HoldCancelReason {
    SoldOut,
    PlaceUnknown,
    OwnerRejected,
    OwnerTimeout,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationCancelConfirmed {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(flatten)]
    pub hold: HoldFacts,
    pub reason: HoldCancelReason,
    /// Absent when nobody decided (sold out, unknown place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<DecidedBy>,
}

/// PlaceRegistered and PlaceUpdated (`version` is the place's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceCatalogued {
    #[serde(flatten)]
    pub meta: EventMeta,
    pub place_id: String,
    pub owner_id: String,
    /// The same facts the place itself carries; fields added later have defaults, so events
    /// stored before them still parse (a missing required field is still refused).
    #[serde(flatten)]
    pub place: PlaceFacts,
}

/// RoomsHeld and RoomsReleased: what the search read model counts per night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomsChanged {
    #[serde(flatten)]
    pub meta: EventMeta,
    #[serde(flatten)]
    pub hold: HoldFacts,
}

/// Event names (`detail-type`), as in the seed's Kafka trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    ReservationPlaced,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentCaptured,
    PaymentRefunded,
    PaymentApproved,
    ReservationConfirmed,
    ReservationCancelConfirmed,
    PaymentCancelApproved,
    PaymentVoided,
    PaymentRefundFailed,
    PaymentDisputed,
    ReservationStatusChanged,
    ReservationCanceled,
    PlaceRegistered,
    PlaceUpdated,
    RoomsHeld,
    RoomsReleased,
}

impl EventName {
    pub const ALL: [EventName; 18] = [
        Self::ReservationPlaced,
        Self::PaymentAuthorized,
        Self::PaymentCaptured,
        Self::PaymentRefunded,
        Self::PaymentApproved,
        Self::PaymentDeclined,
        Self::ReservationConfirmed,
        Self::ReservationCancelConfirmed,
        Self::PaymentCancelApproved,
        Self::PaymentVoided,
        Self::PaymentRefundFailed,
        Self::PaymentDisputed,
        Self::ReservationStatusChanged,
        Self::ReservationCanceled,
        Self::PlaceRegistered,
        Self::PlaceUpdated,
        Self::RoomsHeld,
        Self::RoomsReleased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReservationPlaced => "ReservationPlaced",
            Self::PaymentAuthorized => "PaymentAuthorized",
            Self::PaymentCaptured => "PaymentCaptured",
            Self::PaymentRefunded => "PaymentRefunded",
            Self::PaymentApproved => "PaymentApproved",
            Self::PaymentDeclined => "PaymentDeclined",
            Self::ReservationConfirmed => "ReservationConfirmed",
            Self::ReservationCancelConfirmed => "ReservationCancelConfirmed",
            Self::PaymentCancelApproved => "PaymentCancelApproved",
            Self::PaymentVoided => "PaymentVoided",
            Self::PaymentRefundFailed => "PaymentRefundFailed",
            Self::PaymentDisputed => "PaymentDisputed",
            Self::ReservationStatusChanged => "ReservationStatusChanged",
            Self::ReservationCanceled => "ReservationCanceled",
            Self::PlaceRegistered => "PlaceRegistered",
            Self::PlaceUpdated => "PlaceUpdated",
            Self::RoomsHeld => "RoomsHeld",
            Self::RoomsReleased => "RoomsReleased",
        }
    }

    pub fn parse(name: &str) -> Option<EventName> {
        Self::ALL.into_iter().find(|n| n.as_str() == name)
    }

    /// The bounded context that publishes the event (`source` = `reserveplace.<context>`).
    pub fn source(self) -> &'static str {
        match self {
            Self::ReservationPlaced
            | Self::ReservationStatusChanged
            | Self::ReservationCanceled => "reserveplace.reservation",
            Self::PaymentAuthorized
            | Self::PaymentCaptured
            | Self::PaymentRefunded
            | Self::PaymentApproved
            | Self::PaymentDeclined
            | Self::PaymentCancelApproved
            | Self::PaymentVoided
            | Self::PaymentRefundFailed
            | Self::PaymentDisputed => "reserveplace.payment",
            Self::ReservationConfirmed
            | Self::ReservationCancelConfirmed
            | Self::PlaceRegistered
            | Self::PlaceUpdated
            | Self::RoomsHeld
            | Self::RoomsReleased => "reserveplace.place",
        }
    }
}

impl Event {
    pub fn name(&self) -> EventName {
        match self {
            Self::ReservationPlaced(_) => EventName::ReservationPlaced,
            Self::ReservationStatusChanged(_) => EventName::ReservationStatusChanged,
            Self::ReservationCanceled(_) => EventName::ReservationCanceled,
            Self::PaymentAuthorized(_) => EventName::PaymentAuthorized,
            Self::PaymentCaptured(_) => EventName::PaymentCaptured,
            Self::PaymentRefunded(_) => EventName::PaymentRefunded,
            Self::PaymentApproved(_) => EventName::PaymentApproved,
            Self::PaymentDeclined(_) => EventName::PaymentDeclined,
            Self::PaymentCancelApproved(_) => EventName::PaymentCancelApproved,
            Self::PaymentVoided(_) => EventName::PaymentVoided,
            Self::PaymentRefundFailed(_) => EventName::PaymentRefundFailed,
            Self::PaymentDisputed(_) => EventName::PaymentDisputed,
            Self::ReservationConfirmed(_) => EventName::ReservationConfirmed,
            Self::ReservationCancelConfirmed(_) => EventName::ReservationCancelConfirmed,
            Self::PlaceRegistered(_) => EventName::PlaceRegistered,
            Self::PlaceUpdated(_) => EventName::PlaceUpdated,
            Self::RoomsHeld(_) => EventName::RoomsHeld,
            Self::RoomsReleased(_) => EventName::RoomsReleased,
        }
    }

    pub fn meta(&self) -> &EventMeta {
        match self {
            Self::ReservationPlaced(e) => &e.meta,
            Self::ReservationStatusChanged(e) => &e.meta,
            Self::ReservationCanceled(e) => &e.meta,
            Self::PaymentAuthorized(e)
            | Self::PaymentCaptured(e)
            | Self::PaymentRefunded(e)
            | Self::PaymentApproved(e)
            | Self::PaymentDeclined(e)
            | Self::PaymentCancelApproved(e)
            | Self::PaymentVoided(e)
            | Self::PaymentRefundFailed(e)
            | Self::PaymentDisputed(e) => &e.meta,
            Self::ReservationConfirmed(e) => &e.meta,
            Self::ReservationCancelConfirmed(e) => &e.meta,
            Self::PlaceRegistered(e) | Self::PlaceUpdated(e) => &e.meta,
            Self::RoomsHeld(e) | Self::RoomsReleased(e) => &e.meta,
        }
    }

    /// The reservation the event is about; `None` for place catalogue events.
    pub fn reservation_id(&self) -> Option<&str> {
        match self {
            Self::ReservationPlaced(e) => Some(&e.reservation.reservation_id),
            Self::ReservationStatusChanged(e) => Some(&e.reservation.reservation_id),
            Self::ReservationCanceled(e) => Some(&e.reservation.reservation_id),
            Self::PaymentAuthorized(e)
            | Self::PaymentCaptured(e)
            | Self::PaymentRefunded(e)
            | Self::PaymentApproved(e)
            | Self::PaymentDeclined(e)
            | Self::PaymentCancelApproved(e)
            | Self::PaymentVoided(e)
            | Self::PaymentRefundFailed(e)
            | Self::PaymentDisputed(e) => Some(&e.payment.reservation_id),
            Self::ReservationConfirmed(e) => Some(&e.hold.reservation_id),
            Self::ReservationCancelConfirmed(e) => Some(&e.hold.reservation_id),
            Self::RoomsHeld(e) | Self::RoomsReleased(e) => Some(&e.hold.reservation_id),
            Self::PlaceRegistered(_) | Self::PlaceUpdated(_) => None,
        }
    }

    /// The reservation's snapshot, for the three reservation events.
    pub fn reservation(&self) -> Option<&ReservationSnapshot> {
        match self {
            Self::ReservationPlaced(e) => Some(&e.reservation),
            Self::ReservationStatusChanged(e) => Some(&e.reservation),
            Self::ReservationCanceled(e) => Some(&e.reservation),
            _ => None,
        }
    }

    /// The payment's facts, for the payment events.
    pub fn payment(&self) -> Option<&PaymentEvent> {
        match self {
            Self::PaymentAuthorized(e)
            | Self::PaymentCaptured(e)
            | Self::PaymentRefunded(e)
            | Self::PaymentApproved(e)
            | Self::PaymentDeclined(e)
            | Self::PaymentCancelApproved(e)
            | Self::PaymentVoided(e)
            | Self::PaymentRefundFailed(e)
            | Self::PaymentDisputed(e) => Some(e),
            _ => None,
        }
    }
}

impl DomainEvent {
    /// The event as its context publishes it: `source` from its name, `time` = `occurredAt`.
    pub fn new(event: Event) -> Self {
        Self {
            source: event.name().source().to_string(),
            time: event.meta().occurred_at.clone(),
            event,
        }
    }

    pub fn name(&self) -> EventName {
        self.event.name()
    }
    pub fn detail_type(&self) -> &'static str {
        self.event.name().as_str()
    }
    pub fn event_id(&self) -> &str {
        &self.event.meta().event_id
    }
    /// The reservation id, or "" for place catalogue events (which have none).
    pub fn reservation_id(&self) -> &str {
        self.event.reservation_id().unwrap_or_default()
    }

    /// The `detail` as JSON text, exactly as it travels on the bus.
    pub fn detail_json(&self) -> String {
        self.wire().detail.to_string()
    }

    /// The EventBridge envelope a rule target receives.
    pub fn to_bus_envelope(&self) -> Value {
        let wire = self.wire();
        serde_json::json!({
            "version": "0",
            "id": self.event_id(),
            "detail-type": wire.detail_type,
            "source": wire.source,
            "account": "000000000000",
            "time": wire.time,
            "region": "local",
            "resources": [],
            "detail": wire.detail,
        })
    }

    /// The four envelope fields, with the detail as a JSON object whose keys are sorted: the
    /// bytes committed to the outbox stay what they were when details were built as maps.
    fn wire(&self) -> Wire {
        let (detail_type, detail) = match serde_json::to_value(&self.event) {
            Ok(Value::Object(mut tagged)) => (
                tagged.remove("detail-type"),
                tagged.remove("detail").unwrap_or(Value::Null),
            ),
            _ => (None, Value::Null),
        };
        Wire {
            detail_type: detail_type
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| self.detail_type().to_string()),
            source: self.source.clone(),
            time: self.time.clone(),
            detail,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    time: String,
    detail: Value,
}

impl Serialize for DomainEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.wire().serialize(s)
    }
}

/// Strict: an unknown `detail-type` or a missing field is an error. Other envelope fields (the
/// bus's `id`, `account`, ...) are ignored, so a rule target's input parses too.
impl<'de> Deserialize<'de> for DomainEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(d)?;
        let tagged = serde_json::json!({"detail-type": wire.detail_type, "detail": wire.detail});
        let event = Event::deserialize(tagged).map_err(serde::de::Error::custom)?;
        Ok(Self {
            source: wire.source,
            time: wire.time,
            event,
        })
    }
}

/// A well-formed event of kind `name` with placeholder facts, for adapters' tests and benches that
/// need events but not their meaning (the store, the outbox, the bus). Not in a release build:
/// other crates' tests enable the `test-support` feature.
#[cfg(any(test, feature = "test-support"))]
pub fn example(name: EventName, reservation_id: &str) -> DomainEvent {
    use crate::payment::PaymentStatus;
    let at = "2025-01-01T00:00:00.000Z";
    let meta = EventMeta::new(1, at);
    let day = |d| Date::from_calendar_date(2025, time::Month::February, d).unwrap_or(Date::MIN);
    let reservation = ReservationSnapshot {
        reservation_id: reservation_id.to_string(),
        user_id: "user-example".into(),
        place_id: "place-example".into(),
        place_name: "Example".into(),
        owner_id: "owner-example".into(),
        check_in: day(1),
        check_out: day(2),
        nights: 1,
        rooms: 1,
        amount: 10_000,
        status: ReservationStatus::Pending,
        status_reason: None,
        terms: BookingTerms::default(),
        cancellation: None,
        created_at: at.into(),
        updated_at: at.into(),
    };
    let payment = |status| PaymentEvent {
        meta: meta.clone(),
        payment: PaymentFacts {
            payment_id: "payment-example".into(),
            reservation_id: reservation_id.to_string(),
            user_id: "user-example".into(),
            amount: 10_000,
            currency: crate::terms::Currency::KRW,
            status,
            provider_ref: None,
            decline_reason: None,
            sums: crate::payment::Sums::default(),
            owner_id: "owner-example".into(),
            dispute: None,
        },
        payment_version: 1,
        entries: vec![],
    };
    let hold = HoldFacts {
        reservation_id: reservation_id.to_string(),
        place_id: "place-example".into(),
        room_type_id: crate::place::standard_room_type_id(),
        owner_id: "owner-example".into(),
        check_in: day(1),
        check_out: day(2),
        rooms: 1,
        hold_version: 1,
    };
    let mut facts = PlaceFacts {
        name: "Example".into(),
        room_count: 1,
        nightly_price: 10_000,
        instant_book: true,
        city: "Seoul".into(),
        address: "1 Example-ro".into(),
        description: String::new(),
        guests: 2,
        price_rules: vec![crate::place::PriceRule {
            from: day(1),
            to: day(3),
            nightly_price: 12_000,
            days: Some(vec![crate::place::Day::Sat]),
        }],
        ..PlaceFacts::new("Example", 1, 10_000)
    };
    facts.reconcile_room_types();
    let place = PlaceCatalogued {
        meta: meta.clone(),
        place_id: "place-example".into(),
        owner_id: "owner-example".into(),
        place: facts,
    };
    let event = match name {
        EventName::ReservationPlaced => {
            Event::ReservationPlaced(ReservationPlaced { meta, reservation })
        }
        EventName::ReservationStatusChanged => {
            Event::ReservationStatusChanged(ReservationStatusChanged {
                meta,
                reservation: ReservationSnapshot {
                    status: ReservationStatus::Paid,
                    ..reservation
                },
                previous_status: ReservationStatus::Pending,
            })
        }
        EventName::ReservationCanceled => Event::ReservationCanceled(ReservationCanceled {
            meta,
            reservation: ReservationSnapshot {
                status: ReservationStatus::Cancelled,
                status_reason: Some(CancelReason::CustomerCancelled),
                ..reservation
            },
            reason: CancelReason::CustomerCancelled,
            previous_status: ReservationStatus::Pending,
        }),
        EventName::PaymentAuthorized => {
            Event::PaymentAuthorized(payment(PaymentStatus::Authorized))
        }
        EventName::PaymentCaptured => Event::PaymentCaptured(payment(PaymentStatus::Captured)),
        EventName::PaymentRefunded => Event::PaymentRefunded(payment(PaymentStatus::Refunded)),
        EventName::PaymentApproved => Event::PaymentApproved(payment(PaymentStatus::Captured)),
        EventName::PaymentDeclined => Event::PaymentDeclined(payment(PaymentStatus::Declined)),
        EventName::PaymentCancelApproved => {
            Event::PaymentCancelApproved(payment(PaymentStatus::Refunded))
        }
        EventName::PaymentVoided => Event::PaymentVoided(payment(PaymentStatus::Voided)),
        EventName::PaymentRefundFailed => {
            Event::PaymentRefundFailed(payment(PaymentStatus::PartiallyRefunded))
        }
        EventName::PaymentDisputed => {
            let mut e = payment(PaymentStatus::Captured);
            e.payment.dispute = Some(crate::payment::Dispute {
                amount: 10_000,
                reason: "fraudulent".into(),
                at: at.into(),
            });
            Event::PaymentDisputed(e)
        }
        EventName::ReservationConfirmed => Event::ReservationConfirmed(ReservationConfirmed {
            meta,
            hold,
            decided_by: DecidedBy::Instant,
        }),
        EventName::ReservationCancelConfirmed => {
            Event::ReservationCancelConfirmed(ReservationCancelConfirmed {
                meta,
                hold,
                reason: HoldCancelReason::SoldOut,
                decided_by: None,
            })
        }
        EventName::PlaceRegistered => Event::PlaceRegistered(place),
        EventName::PlaceUpdated => Event::PlaceUpdated(place),
        EventName::RoomsHeld => Event::RoomsHeld(RoomsChanged { meta, hold }),
        EventName::RoomsReleased => Event::RoomsReleased(RoomsChanged {
            meta,
            hold: HoldFacts {
                hold_version: 2,
                ..hold
            },
        }),
    };
    DomainEvent::new(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(v: &Value) -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The JSON names of every event, pinned: renaming a field breaks this test.
    #[test]
    fn every_event_has_the_catalogue_fields() {
        let common = ["eventId", "occurredAt", "version"];
        let snapshot = [
            "reservationId",
            "userId",
            "placeId",
            "placeName",
            "ownerId",
            "checkIn",
            "checkOut",
            "nights",
            "rooms",
            "amount",
            "status",
            "statusReason",
            "currency",
            "roomType",
            "createdAt",
            "updatedAt",
        ];
        let payment = [
            "reservationId",
            "paymentId",
            "userId",
            "ownerId",
            "amount",
            "status",
            "paymentVersion",
            "providerRef",
            "declineReason",
            "currency",
            "authorized",
            "captured",
            "voided",
            "refunded",
        ];
        let hold = [
            "reservationId",
            "placeId",
            "roomTypeId",
            "ownerId",
            "checkIn",
            "checkOut",
            "rooms",
            "holdVersion",
        ];
        let place = [
            "placeId",
            "ownerId",
            "name",
            "roomCount",
            "nightlyPrice",
            "instantBook",
            "city",
            "address",
            "description",
            "guests",
            "priceRules",
            "currency",
            "timeZone",
            "checkInTime",
            "checkOutTime",
            "roomTypes",
            "ratePlans",
        ];
        for name in EventName::ALL {
            let extra: Vec<&str> = match name {
                EventName::ReservationPlaced => snapshot.to_vec(),
                EventName::ReservationStatusChanged => {
                    [&snapshot[..], &["previousStatus"]].concat()
                }
                EventName::ReservationCanceled => {
                    [&snapshot[..], &["reason", "previousStatus"]].concat()
                }
                EventName::PaymentAuthorized
                | EventName::PaymentCaptured
                | EventName::PaymentRefunded
                | EventName::PaymentApproved
                | EventName::PaymentDeclined
                | EventName::PaymentCancelApproved
                | EventName::PaymentVoided
                | EventName::PaymentRefundFailed => payment.to_vec(),
                EventName::PaymentDisputed => [&payment[..], &["dispute"]].concat(),
                EventName::ReservationConfirmed => [&hold[..], &["decidedBy"]].concat(),
                EventName::ReservationCancelConfirmed => [&hold[..], &["reason"]].concat(),
                EventName::PlaceRegistered | EventName::PlaceUpdated => place.to_vec(),
                EventName::RoomsHeld | EventName::RoomsReleased => hold.to_vec(),
            };
            let mut want: Vec<String> =
                common.iter().chain(&extra).map(|s| s.to_string()).collect();
            want.sort();
            let e = example(name, "r-1");
            let wire = serde_json::to_value(&e).expect("serialize");
            assert_eq!(keys(&wire["detail"]), want, "{}", name.as_str());
            assert_eq!(wire["detail-type"], json!(name.as_str()));
            assert_eq!(wire["source"], json!(name.source()));
            let back: DomainEvent = serde_json::from_value(wire).expect("parse back");
            assert_eq!(back, e, "{}", name.as_str());
            assert_eq!(EventName::parse(name.as_str()), Some(name));
        }
    }

    #[test]
    fn dates_and_options_travel_as_before() {
        let wire = serde_json::to_value(example(EventName::ReservationPlaced, "r-1")).expect("ser");
        assert_eq!(wire["detail"]["checkIn"], json!("2025-02-01"));
        assert_eq!(wire["detail"]["statusReason"], Value::Null);
        assert_eq!(wire["detail"]["status"], json!("PENDING"));
        let wire = serde_json::to_value(example(EventName::PaymentAuthorized, "r-1")).expect("ser");
        assert_eq!(wire["detail"]["providerRef"], Value::Null);
        assert_eq!(wire["time"], wire["detail"]["occurredAt"]);
    }

    #[test]
    fn the_outbox_text_keeps_sorted_detail_keys() {
        let e = example(EventName::PlaceUpdated, "");
        let text = serde_json::to_string(&e).expect("ser");
        assert!(
            text.starts_with(
                r#"{"detail-type":"PlaceUpdated","source":"reserveplace.place","time":"#
            )
        );
        let detail = e.detail_json();
        assert!(detail.starts_with(r#"{"address":"#), "{detail}");
        assert!(detail.ends_with(r#","version":1}"#), "{detail}");
    }

    #[test]
    fn a_missing_field_or_an_unknown_name_is_refused() {
        let mut wire =
            serde_json::to_value(example(EventName::ReservationPlaced, "r-1")).expect("s");
        let bad_name = json!({"detail-type": "Later", "source": "s", "time": "t", "detail": wire["detail"].clone()});
        assert!(serde_json::from_value::<DomainEvent>(bad_name).is_err());
        if let Some(d) = wire["detail"].as_object_mut() {
            d.remove("userId");
        }
        assert!(serde_json::from_value::<DomainEvent>(wire).is_err());
    }

    /// A catalogue event stored before the place had a city, texts, guests and rules still
    /// parses, with their defaults; one missing a field it always had does not.
    #[test]
    fn an_older_catalogue_event_parses_with_defaults() {
        let old = json!({"detail-type": "PlaceUpdated", "source": "reserveplace.place", "time": "t",
            "detail": {"eventId": "e", "occurredAt": "t", "version": 3, "placeId": "p", "ownerId": "o",
                "name": "Cabin", "roomCount": 2, "nightlyPrice": 5000, "instantBook": false}});
        let e: DomainEvent = serde_json::from_value(old.clone()).expect("old event");
        let Event::PlaceUpdated(p) = e.event else {
            panic!("not a PlaceUpdated: {e:?}");
        };
        assert_eq!((p.place.city.as_str(), p.place.guests), ("", 2));
        assert!(p.place.price_rules.is_empty() && !p.place.instant_book);
        let mut missing = old;
        if let Some(d) = missing["detail"].as_object_mut() {
            d.remove("roomCount");
        }
        assert!(serde_json::from_value::<DomainEvent>(missing).is_err());
    }

    #[test]
    fn a_bus_envelope_parses_back_to_its_event() {
        let e = example(EventName::ReservationCanceled, "r-9");
        let envelope = e.to_bus_envelope();
        assert_eq!(envelope["id"], json!(e.event_id()));
        assert_eq!(
            serde_json::from_value::<DomainEvent>(envelope).expect("parse"),
            e
        );
    }
}
