//! Domain events (the catalogue: `docs/design.md`, section 2). One EventBridge bus; `detail-type` is the event name and `source` is
//! `reserveplace.<context>`. Every detail carries `eventId`, `occurredAt`, `reservationId` and `version`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event as committed to the outbox and published on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    /// RFC 3339 time the event occurred (equals `detail.occurredAt`).
    pub time: String,
    pub detail: Value,
}

impl DomainEvent {
    pub fn event_id(&self) -> &str {
        self.detail
            .get("eventId")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    pub fn reservation_id(&self) -> &str {
        self.detail
            .get("reservationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The EventBridge envelope a rule target receives.
    pub fn to_bus_envelope(&self) -> Value {
        serde_json::json!({
            "version": "0",
            "id": self.event_id(),
            "detail-type": self.detail_type,
            "source": self.source,
            "account": "000000000000",
            "time": self.time,
            "region": "local",
            "resources": [],
            "detail": self.detail,
        })
    }
}

/// Event names (`detail-type`), as in the seed's Kafka trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    ReservationPlaced,
    PaymentApproved,
    PaymentDeclined,
    ReservationConfirmed,
    ReservationCancelConfirmed,
    PaymentCancelApproved,
    ReservationStatusChanged,
    ReservationCanceled,
    /// Place catalogue changes, so the reservation context can price stays without reading the place table.
    PlaceRegistered,
    PlaceUpdated,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReservationPlaced => "ReservationPlaced",
            Self::PaymentApproved => "PaymentApproved",
            Self::PaymentDeclined => "PaymentDeclined",
            Self::ReservationConfirmed => "ReservationConfirmed",
            Self::ReservationCancelConfirmed => "ReservationCancelConfirmed",
            Self::PaymentCancelApproved => "PaymentCancelApproved",
            Self::ReservationStatusChanged => "ReservationStatusChanged",
            Self::ReservationCanceled => "ReservationCanceled",
            Self::PlaceRegistered => "PlaceRegistered",
            Self::PlaceUpdated => "PlaceUpdated",
        }
    }

    /// The bounded context that publishes the event (`source` = `reserveplace.<context>`).
    pub fn source(self) -> &'static str {
        match self {
            Self::ReservationPlaced
            | Self::ReservationStatusChanged
            | Self::ReservationCanceled => "reserveplace.reservation",
            Self::PaymentApproved | Self::PaymentDeclined | Self::PaymentCancelApproved => {
                "reserveplace.payment"
            }
            Self::ReservationConfirmed
            | Self::ReservationCancelConfirmed
            | Self::PlaceRegistered
            | Self::PlaceUpdated => "reserveplace.place",
        }
    }
}

/// Builds an event whose detail is `fields` plus the common envelope fields.
/// `version` is the reservation's version as the emitting context knows it: the reservation's own
/// version for reservation events; for payment and place events, the version the saga or the cancel
/// event handed them (their own aggregates' versions travel as `paymentVersion` / `holdVersion`,
/// which is what their projections order by). Place catalogue events carry the place's version.
pub fn new_event(
    name: EventName,
    reservation_id: Option<&str>,
    version: u64,
    occurred_at: &str,
    fields: Value,
) -> DomainEvent {
    let mut detail = match fields {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    detail.insert(
        "eventId".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    detail.insert("occurredAt".into(), Value::String(occurred_at.to_string()));
    if let Some(id) = reservation_id {
        detail.insert("reservationId".into(), Value::String(id.to_string()));
    }
    detail.insert("version".into(), Value::from(version));
    DomainEvent {
        detail_type: name.as_str().to_string(),
        source: name.source().to_string(),
        time: occurred_at.to_string(),
        detail: Value::Object(detail),
    }
}
