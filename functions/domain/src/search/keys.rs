//! Where the search read model keeps its items (one table, laid out for DynamoDB's Query):
//! - the catalogue of a city: `SEARCH#CITY#<cityKey>` / `PLACE#<placeId>`, the place's search facts;
//! - rooms held per month: `SEARCH#CITY#<cityKey>#MONTH#<YYYY-MM>` / `PLACE#<placeId>`, numbers
//!   `d01`..`d31` = rooms of the `standard` room type held that day, `d01#<roomTypeId>`.. those of
//!   another room type;
//! - the city of each place: `SEARCH#PLACE#<placeId>` / `PLACE` (a hold event names no city);
//! - one marker per reservation: `SEARCH#HOLD#<reservationId>` / `HOLD`, PENDING, HELD or RELEASED;
//! - the holds waiting for their place's catalogue event: `SEARCH#PENDING#<placeId>` / `HOLD#<reservationId>`.
pub use crate::stay::{month_of, nights_by_month};
use time::Date;

use crate::place::STANDARD_ROOM_TYPE;
use crate::store::Key;

const PLACE_PREFIX: &str = "PLACE#";

/// The lowercased, trimmed city. `#` and `%` are escaped so no city's key can run into the
/// `#MONTH#` suffix of another's partitions.
pub fn city_key(city: &str) -> String {
    city.trim()
        .to_lowercase()
        .replace('%', "%25")
        .replace('#', "%23")
}

pub fn catalogue_partition(city_key: &str) -> String {
    format!("SEARCH#CITY#{city_key}")
}

pub fn catalogue_key(city_key: &str, place_id: &str) -> Key {
    Key::new(catalogue_partition(city_key), place_sk(place_id))
}

pub fn month_partition(city_key: &str, month: &str) -> String {
    format!("SEARCH#CITY#{city_key}#MONTH#{month}")
}

pub fn month_key(city_key: &str, month: &str, place_id: &str) -> Key {
    Key::new(month_partition(city_key, month), place_sk(place_id))
}

/// The attribute of a month item counting the rooms of `room_type` held on `day`: `d01`..`d31`
/// for `standard` (as before room types), `d01#suite`.. for the others.
pub fn day_attr(room_type: &str, day: Date) -> String {
    if room_type == STANDARD_ROOM_TYPE {
        format!("d{:02}", day.day())
    } else {
        format!("d{:02}#{room_type}", day.day())
    }
}

/// The day of the month and the room type a month item's attribute counts, if it is a day's.
pub fn parse_day_attr(attr: &str) -> Option<(u8, &str)> {
    let rest = attr.strip_prefix('d')?;
    let (day, room_type) = match rest.split_once('#') {
        Some((day, room_type)) => (day, room_type),
        None => (rest, STANDARD_ROOM_TYPE),
    };
    let day: u8 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    Some((day, room_type))
}

pub fn place_city_key(place_id: &str) -> Key {
    Key::new(format!("SEARCH#PLACE#{place_id}"), "PLACE")
}

pub fn hold_marker_key(reservation_id: &str) -> Key {
    Key::new(format!("SEARCH#HOLD#{reservation_id}"), "HOLD")
}

/// The holds of a place that arrived before its catalogue event (one item per reservation).
pub fn pending_partition(place_id: &str) -> String {
    format!("SEARCH#PENDING#{place_id}")
}

pub fn pending_key(place_id: &str, reservation_id: &str) -> Key {
    Key::new(
        pending_partition(place_id),
        format!("HOLD#{reservation_id}"),
    )
}

fn place_sk(place_id: &str) -> String {
    format!("{PLACE_PREFIX}{place_id}")
}

/// The place id of a catalogue or month item's sort key.
pub fn place_of_sk(sk: &str) -> Option<&str> {
    sk.strip_prefix(PLACE_PREFIX)
}
