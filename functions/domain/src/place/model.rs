use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pricing::PriceRule;
use super::restrictions::Restriction;
use super::room_type::RoomType;
use crate::store::Key;
use crate::terms::{Currency, LocalTime, RatePlan, TimeZoneName, standard_plans};

/// A lowering of the room count finishes within milliseconds; a cap older than this was abandoned.
pub const STALE_CAP_MS: i64 = 2_000;

/// What an owner says about a place: the body of `POST /v1/places`, and the catalogue facts a
/// `Place` and its PlaceRegistered / PlaceUpdated events carry (one type, so they cannot drift).
/// Fields added later have defaults: places and events stored before them still read.
///
/// `roomCount`, `nightlyPrice`, `guests` and `priceRules` are the first room type's: what clients
/// written before room types send and read. A body without `roomTypes` describes one room type
/// with them (see `PlaceFactsWire`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "PlaceFactsWire")]
pub struct PlaceFacts {
    pub name: String,
    /// The first room type's rooms sellable per night.
    pub room_count: i64,
    /// The first room type's price of a night no price rule covers (integer minor units).
    pub nightly_price: i64,
    /// true: confirmed right after payment; false: the owner confirms within a timeout.
    pub instant_book: bool,
    /// Fixed at registration ("" = not findable by search).
    pub city: String,
    pub address: String,
    pub description: String,
    /// The guests one room of the first room type sleeps.
    pub guests: i64,
    /// The first room type's price rules.
    pub price_rules: Vec<PriceRule>,
    /// Prices are integers of this currency's minor unit. Fixed at registration.
    pub currency: Currency,
    /// Where the place is: its deadlines are local times there. Fixed at registration.
    pub time_zone: TimeZoneName,
    pub check_in_time: LocalTime,
    pub check_out_time: LocalTime,
    /// The kinds of room sold, each with its own inventory; never empty.
    pub room_types: Vec<RoomType>,
    /// How the rooms are sold; the first is what a booking naming no plan gets.
    pub rate_plans: Vec<RatePlan>,
    /// Stay rules of some dates (see `restrictions::check`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<Restriction>,
}

/// `PlaceFacts` as it is written: by a client (with `roomTypes`, or with the top-level fields
/// only), as stored, and as stored before room types (top-level fields only).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PlaceFactsWire {
    name: String,
    #[serde(default, deserialize_with = "given")]
    room_count: Option<i64>,
    #[serde(default, deserialize_with = "given")]
    nightly_price: Option<i64>,
    #[serde(default = "default_true")]
    instant_book: bool,
    #[serde(default)]
    city: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    description: String,
    #[serde(default, deserialize_with = "given")]
    guests: Option<i64>,
    #[serde(default, deserialize_with = "given")]
    price_rules: Option<Vec<PriceRule>>,
    #[serde(default)]
    currency: Currency,
    #[serde(default)]
    time_zone: TimeZoneName,
    #[serde(default = "LocalTime::check_in")]
    check_in_time: LocalTime,
    #[serde(default = "LocalTime::check_out")]
    check_out_time: LocalTime,
    #[serde(default, deserialize_with = "given")]
    room_types: Option<Vec<RoomType>>,
    #[serde(default = "standard_plans")]
    rate_plans: Vec<RatePlan>,
    #[serde(default)]
    restrictions: Vec<Restriction>,
}

/// A field that may be left out but, when present, is a value (`null` is refused, as for the
/// fields that have a default).
fn given<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl TryFrom<PlaceFactsWire> for PlaceFacts {
    type Error = String;

    fn try_from(w: PlaceFactsWire) -> Result<Self, String> {
        let room_types = if let Some(types) = w.room_types {
            let Some(first) = types.first() else {
                return Err("roomTypes: list at least one room type".into());
            };
            let agrees = w.room_count.is_none_or(|c| c == first.room_count)
                && w.nightly_price.is_none_or(|p| p == first.nightly_price)
                && w.guests.is_none_or(|g| g == first.max_guests)
                && w.price_rules
                    .as_ref()
                    .is_none_or(|r| *r == first.price_rules);
            if !agrees {
                return Err(
                    "roomCount, nightlyPrice, guests and priceRules are the first room \
                     type's: leave them out when giving roomTypes"
                        .into(),
                );
            }
            types
        } else {
            let (Some(room_count), Some(nightly_price)) = (w.room_count, w.nightly_price) else {
                return Err(
                    "give roomTypes, or roomCount and nightlyPrice (one kind of room)".into(),
                );
            };
            vec![RoomType::standard(
                room_count,
                w.guests.unwrap_or(DEFAULT_GUESTS),
                nightly_price,
                w.price_rules.unwrap_or_default(),
            )]
        };
        let mut facts = PlaceFacts {
            name: w.name,
            room_count: 0,
            nightly_price: 0,
            instant_book: w.instant_book,
            city: w.city,
            address: w.address,
            description: w.description,
            guests: DEFAULT_GUESTS,
            price_rules: vec![],
            currency: w.currency,
            time_zone: w.time_zone,
            check_in_time: w.check_in_time,
            check_out_time: w.check_out_time,
            room_types,
            rate_plans: w.rate_plans,
            restrictions: w.restrictions,
        };
        facts.mirror_first_room_type();
        Ok(facts)
    }
}

impl PlaceFacts {
    /// Makes the top-level room fields and the room types agree: a place of one room type takes
    /// them from the top-level fields (as code that builds facts sets them), one of several from
    /// its first room type. Bodies and stored items always agree already (see `PlaceFactsWire`).
    pub fn reconcile_room_types(&mut self) {
        if let [only] = self.room_types.as_mut_slice() {
            only.room_count = self.room_count;
            only.nightly_price = self.nightly_price;
            only.max_guests = self.guests;
            only.price_rules = self.price_rules.clone();
        }
        self.mirror_first_room_type();
    }

    /// Copies the first room type into the top-level fields that describe it.
    pub fn mirror_first_room_type(&mut self) {
        if let Some(first) = self.room_types.first() {
            self.room_count = first.room_count;
            self.nightly_price = first.nightly_price;
            self.guests = first.max_guests;
            self.price_rules = first.price_rules.clone();
        }
    }

    /// The room type `id` names, or the first when `None`.
    pub fn room_type(&self, id: Option<&str>) -> Option<&RoomType> {
        match id {
            None => self.room_types.first(),
            Some(id) => self.room_types.iter().find(|t| t.room_type_id == id),
        }
    }

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
            room_types: vec![RoomType::standard(
                room_count,
                DEFAULT_GUESTS,
                nightly_price,
                vec![],
            )],
            rate_plans: standard_plans(),
            restrictions: vec![],
        }
    }
}

fn default_true() -> bool {
    true
}

pub const DEFAULT_GUESTS: i64 = 2;

pub(super) fn default_guests() -> i64 {
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
    /// Lower room counts being applied, per room type: new holds respect them already (see
    /// `PlaceService::update`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_room_counts: BTreeMap<String, i64>,
    /// When that lowering began (epoch ms): a cap older than `STALE_CAP_MS` was left by a lowering
    /// that crashed between its two writes, and no longer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since_ms: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl Place {
    /// The rooms of `room_type` a new hold must stay within at `now_ms` (0 for a room type the
    /// place does not have).
    pub fn ceiling(&self, room_type: &str, now_ms: i64) -> i64 {
        let count = self
            .facts
            .room_type(Some(room_type))
            .map_or(0, |t| t.room_count);
        match (
            self.pending_room_counts.get(room_type),
            self.pending_since_ms,
        ) {
            (Some(p), Some(since)) if now_ms - since < STALE_CAP_MS => (*p).min(count),
            _ => count,
        }
    }

    /// Whether a lowering of `room_type`'s count is being applied at `now_ms`.
    pub fn lowering(&self, room_type: &str, now_ms: i64) -> bool {
        let count = self
            .facts
            .room_type(Some(room_type))
            .map_or(0, |t| t.room_count);
        self.ceiling(room_type, now_ms) < count
    }

    /// The place as an owner sees it (a cap being applied is not part of its description).
    pub fn described(&self) -> Place {
        Place {
            pending_room_counts: BTreeMap::new(),
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
    /// The room type whose nights it holds (`standard` for holds stored before room types).
    #[serde(default = "super::room_type::standard_room_type_id")]
    pub room_type_id: String,
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
