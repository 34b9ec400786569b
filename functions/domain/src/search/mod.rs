//! Search: the places of a city with rooms free on every night of a stay. A read model built only
//! from the place context's events (PlaceRegistered, PlaceUpdated, RoomsHeld, RoomsReleased), laid
//! out so that one search is one Query of the city's catalogue and one per calendar month of the
//! stay (`keys.rs`; the design and its cost: `docs/design.md`, "Search read model"). It is
//! eventually consistent: a quote and a hold read the place context's own night items instead.
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::item::{to_fields, to_item};
use crate::place::{PlaceFacts, RoomType};
use crate::store::{Item, Key, Table};

pub mod keys;
mod projection;
mod query;
pub mod read_units;
#[cfg(test)]
mod tests;

pub use projection::{HoldMarker, MarkerState};
pub use query::{DEFAULT_LIMIT, MAX_LIMIT, SearchHit, SearchPage, SearchRequest};
pub use read_units::ReadUnits;

/// A place as the city's catalogue item holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPlace {
    pub place_id: String,
    #[serde(flatten)]
    pub facts: PlaceFacts,
    /// The place version of the catalogue event applied last.
    pub place_version: u64,
}

/// Terms a place has unless its owner said otherwise: left out of catalogue items (they read back
/// as the same defaults), since every search reads every item of its city and pays by the byte.
const DEFAULT_TERMS: [&str; 5] = [
    "currency",
    "timeZone",
    "checkInTime",
    "checkOutTime",
    "ratePlans",
];

impl SearchPlace {
    /// The catalogue item at `key`, without the terms that equal their defaults, and with its
    /// room types said once: as the top-level fields of a place of the one room type they imply,
    /// else as `roomTypes` alone (the top-level fields read back as its first).
    pub fn item(&self, key: &Key) -> Item {
        let mut item = to_item(key, None, self);
        let defaults = to_fields(&PlaceFacts::new("", 0, 0));
        for attr in DEFAULT_TERMS {
            if item.get(attr).is_some() && item.get(attr) == defaults.get(attr) {
                item.remove(attr);
            }
        }
        let f = &self.facts;
        let implied = [RoomType::standard(
            f.room_count,
            f.guests,
            f.nightly_price,
            f.price_rules.clone(),
        )];
        if f.room_types == implied {
            item.remove("roomTypes");
        } else {
            for attr in ["roomCount", "nightlyPrice", "guests", "priceRules"] {
                item.remove(attr);
            }
        }
        item
    }
}

pub struct SearchService {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
}

impl SearchService {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self { table, clock }
    }
}
