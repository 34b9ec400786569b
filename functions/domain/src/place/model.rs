use serde::{Deserialize, Serialize};

use super::pricing::PriceRule;
use super::restrictions::Restriction;
use crate::store::Key;
use crate::terms::{Currency, LocalTime, RatePlan, TimeZoneName, standard_plans};

/// A lowering of the room count finishes within milliseconds; a cap older than this was abandoned.
pub const STALE_CAP_MS: i64 = 2_000;

/// What an owner says about a place: the body of `POST /v1/places`, and the catalogue facts a
/// `Place` and its PlaceRegistered / PlaceUpdated events carry (one type, so they cannot drift).
/// Fields added later have defaults: places and events stored before them still read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceFacts {
    pub name: String,
    /// Rooms sellable per night.
    pub room_count: i64,
    /// Integer minor units (e.g. KRW); a night no price rule covers costs this.
    pub nightly_price: i64,
    /// true: confirmed right after payment; false: the owner confirms within a timeout.
    #[serde(default = "default_true")]
    pub instant_book: bool,
    /// Fixed at registration ("" = not findable by search).
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub description: String,
    /// The guests one room sleeps.
    #[serde(default = "default_guests")]
    pub guests: i64,
    /// Prices of some nights; the last rule covering a night wins (see `pricing::night_price`).
    #[serde(default)]
    pub price_rules: Vec<PriceRule>,
    /// Prices are integers of this currency's minor unit. Fixed at registration.
    #[serde(default)]
    pub currency: Currency,
    /// Where the place is: its deadlines are local times there. Fixed at registration.
    #[serde(default)]
    pub time_zone: TimeZoneName,
    #[serde(default = "LocalTime::check_in")]
    pub check_in_time: LocalTime,
    #[serde(default = "LocalTime::check_out")]
    pub check_out_time: LocalTime,
    /// How the rooms are sold; the first is what a booking naming no plan gets.
    #[serde(default = "standard_plans")]
    pub rate_plans: Vec<RatePlan>,
    /// Stay rules of some dates (see `restrictions::check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<Restriction>,
}

impl PlaceFacts {
    /// The plan `id` names, or the first plan when `None`.
    pub fn rate_plan(&self, id: Option<&str>) -> Option<&RatePlan> {
        match id {
            None => self.rate_plans.first(),
            Some(id) => self.rate_plans.iter().find(|p| p.rate_plan_id == id),
        }
    }

    /// A place of that name, size and price, instantly bookable, with nothing else said about it.
    pub fn new(name: impl Into<String>, room_count: i64, nightly_price: i64) -> Self {
        Self {
            name: name.into(),
            room_count,
            nightly_price,
            instant_book: true,
            city: String::new(),
            address: String::new(),
            description: String::new(),
            guests: DEFAULT_GUESTS,
            price_rules: vec![],
            currency: Currency::default(),
            time_zone: TimeZoneName::default(),
            check_in_time: LocalTime::CHECK_IN,
            check_out_time: LocalTime::CHECK_OUT,
            rate_plans: standard_plans(),
            restrictions: vec![],
        }
    }
}

fn default_true() -> bool {
    true
}

pub const DEFAULT_GUESTS: i64 = 2;

fn default_guests() -> i64 {
    DEFAULT_GUESTS
}

/// An accommodation an owner sells.
///
/// `facts` is flattened: the stored item and the JSON answer keep one flat object. Unknown
/// attributes (the item's keys) are ignored here; `PlaceFacts` refuses them only as a request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Place {
    pub place_id: String,
    pub owner_id: String,
    #[serde(flatten)]
    pub facts: PlaceFacts,
    /// A lower room count being applied: new holds respect it already (see `PlaceService::update`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_room_count: Option<i64>,
    /// When that lowering began (epoch ms): a cap older than `STALE_CAP_MS` was left by a lowering
    /// that crashed between its two writes, and no longer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since_ms: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl Place {
    /// The room ceiling a new hold must respect at `now_ms`.
    pub fn ceiling(&self, now_ms: i64) -> i64 {
        match (self.pending_room_count, self.pending_since_ms) {
            (Some(p), Some(since)) if now_ms - since < STALE_CAP_MS => p.min(self.facts.room_count),
            _ => self.facts.room_count,
        }
    }

    /// The place as an owner sees it (a cap being applied is not part of its description).
    pub fn described(&self) -> Place {
        Place {
            pending_room_count: None,
            pending_since_ms: None,
            ..self.clone()
        }
    }

    pub fn key(place_id: &str) -> Key {
        Key::new(format!("PLACE#{place_id}"), "PLACE")
    }
    pub fn owner_index(&self) -> (String, String) {
        (
            format!("OWNER#{}", self.owner_id),
            format!("PLACE#{}", self.place_id),
        )
    }
}

/// Rooms held on one night of one place (item `PLACE#id` / `NIGHT#date`, attribute `held`).
pub fn night_key(place_id: &str, night: &str) -> Key {
    Key::new(format!("PLACE#{place_id}"), format!("NIGHT#{night}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HoldState {
    /// Rooms are held on every night of the stay.
    Held,
    /// A night had no room: nothing was held.
    SoldOut,
    /// Rooms were given back, or never taken because the reservation was cancelled first.
    Released,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OwnerDecision {
    /// Waiting for the owner (request-to-book).
    Pending,
    Confirmed,
    Rejected,
    TimedOut,
    /// The customer cancelled before a decision.
    Cancelled,
    /// Nothing to decide (sold out, or released before any hold).
    None,
}

/// The inventory taken by one reservation (item `HOLD#reservationId`). Exists at most once per
/// reservation, so holding, releasing and deciding are idempotent state transitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub reservation_id: String,
    pub place_id: String,
    pub owner_id: String,
    pub check_in: String,
    pub check_out: String,
    pub rooms: i64,
    #[serde(default)]
    pub instant_book: bool,
    pub state: HoldState,
    pub decision: OwnerDecision,
    /// The reservation's version when the saga asked for the hold (events carry it as `version`).
    #[serde(default)]
    pub reservation_version: u64,
    /// The saga's callback token while the owner decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token: Option<String>,
    pub version: u64,
    pub updated_at: String,
}

impl Hold {
    pub fn key(reservation_id: &str) -> Key {
        Key::new(format!("HOLD#{reservation_id}"), "HOLD")
    }
}

/// What a saga step learns from the place context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldResult {
    /// HELD, SOLD_OUT or RELEASED.
    pub outcome: HoldState,
    pub instant_book: bool,
    /// How long the owner may take to decide (from configuration).
    pub owner_timeout_seconds: u64,
    /// For a RELEASED hold: why (REJECTED, TIMED_OUT or CANCELLED), so a replayed saga ends with
    /// the same reason as the run that released it.
    pub decision: OwnerDecision,
}

/// The owner's answer as the saga sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionResult {
    pub decision: OwnerDecision,
}
