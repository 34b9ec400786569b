//! Room types: the kinds of room a place sells (10 doubles and 2 suites), each with its own count,
//! size and price calendar, and its own inventory. A place registered with one `roomCount` and
//! `nightlyPrice` (and every place stored before room types) has one room type, `standard`, whose
//! night items keep the keys they always had.
use serde::{Deserialize, Serialize};

use super::pricing::{PriceRule, Prices, validate_price, validate_rules};
use crate::error::{DomainError, DomainResult};
use crate::store::Key;

pub const MAX_ROOM_TYPES: usize = 20;
/// The room type of a place described by its top-level `roomCount` and `nightlyPrice`.
pub const STANDARD_ROOM_TYPE: &str = "standard";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomType {
    /// Assigned by the server when absent (`room-1`, `room-2`, ...).
    #[serde(default)]
    pub room_type_id: String,
    pub name: String,
    /// Rooms of this type sellable per night.
    pub room_count: i64,
    /// The guests one room of this type sleeps.
    #[serde(default = "super::model::default_guests")]
    pub max_guests: i64,
    /// A night no price rule covers costs this (integer minor units of the place's currency).
    pub nightly_price: i64,
    /// Prices of some nights; the last rule covering a night wins.
    #[serde(default)]
    pub price_rules: Vec<PriceRule>,
}

impl RoomType {
    /// The room type a place of one kind of room has.
    pub fn standard(
        room_count: i64,
        max_guests: i64,
        nightly_price: i64,
        price_rules: Vec<PriceRule>,
    ) -> RoomType {
        RoomType {
            room_type_id: STANDARD_ROOM_TYPE.into(),
            name: "Standard room".into(),
            room_count,
            max_guests,
            nightly_price,
            price_rules,
        }
    }

    pub fn prices(&self) -> Prices<'_> {
        Prices {
            nightly_price: self.nightly_price,
            rules: &self.price_rules,
        }
    }

    /// The copy a booking keeps.
    pub fn booked(&self) -> BookedRoomType {
        BookedRoomType {
            room_type_id: self.room_type_id.clone(),
            name: self.name.clone(),
        }
    }
}

/// The room type as a booking keeps it (the owner may rename or drop it later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookedRoomType {
    pub room_type_id: String,
    pub name: String,
}

impl Default for BookedRoomType {
    /// What a booking made before room types had.
    fn default() -> Self {
        RoomType::standard(0, 0, 0, vec![]).booked()
    }
}

/// The room type of holds, stays and events stored before room types.
pub fn standard_room_type_id() -> String {
    STANDARD_ROOM_TYPE.into()
}

/// Rooms of one room type held on one night: `PLACE#<placeId>` / `NIGHT#<date>` for `standard`
/// (the key every night had before room types), `NIGHT#<date>#<roomTypeId>` for the others, so a
/// place's nights of a month, all room types, are one Query by prefix.
pub fn night_key(place_id: &str, room_type_id: &str, night: &str) -> Key {
    Key::new(format!("PLACE#{place_id}"), night_sk(room_type_id, night))
}

fn night_sk(room_type_id: &str, night: &str) -> String {
    if room_type_id == STANDARD_ROOM_TYPE {
        format!("NIGHT#{night}")
    } else {
        format!("NIGHT#{night}#{room_type_id}")
    }
}

/// The night (`YYYY-MM-DD`) and room type of a night item's sort key.
pub fn parse_night_sk(sk: &str) -> Option<(&str, &str)> {
    let rest = sk.strip_prefix("NIGHT#")?;
    match rest.split_once('#') {
        Some((night, room_type)) => Some((night, room_type)),
        None => Some((rest, STANDARD_ROOM_TYPE)),
    }
}

/// Gives every room type without an id the first free `room-N`.
pub fn assign_room_type_ids(types: &mut [RoomType]) {
    crate::ids::assign(types, "room", |t| &mut t.room_type_id);
}

/// Ids are assigned before this check.
pub fn validate_room_types(types: &[RoomType]) -> DomainResult<()> {
    if types.is_empty() || types.len() > MAX_ROOM_TYPES {
        return Err(DomainError::invalid(
            "roomTypes",
            format!("must list 1 to {MAX_ROOM_TYPES} room types"),
        ));
    }
    let ids = types.iter().map(|t| t.room_type_id.as_str());
    crate::ids::check("roomTypes", "roomTypeId", ids)?;
    for (i, t) in types.iter().enumerate() {
        let field = |f: &str| format!("roomTypes[{i}].{f}");
        crate::text::validate_name(&field("name"), &t.name)?;
        if !(0..=super::MAX_ROOMS).contains(&t.room_count) {
            return Err(DomainError::invalid(
                &field("roomCount"),
                format!("must be between 0 and {}", super::MAX_ROOMS),
            ));
        }
        if !(1..=super::MAX_GUESTS).contains(&t.max_guests) {
            return Err(DomainError::invalid(
                &field("maxGuests"),
                format!("must be between 1 and {}", super::MAX_GUESTS),
            ));
        }
        validate_price(&field("nightlyPrice"), t.nightly_price)?;
        validate_rules(&t.price_rules).map_err(|e| e.within(&format!("roomTypes[{i}]")))?;
    }
    Ok(())
}

/// A list of room type ids (`roomTypeIds` of a plan or a restriction) names only room types of
/// `types`; absent means all of them.
pub fn validate_room_type_ids(
    field: &str,
    ids: Option<&[String]>,
    types: &[RoomType],
) -> DomainResult<()> {
    let Some(ids) = ids else {
        return Ok(());
    };
    if ids.is_empty() {
        return Err(DomainError::invalid(
            field,
            "must name at least one room type (leave it out for all)",
        ));
    }
    match ids
        .iter()
        .find(|id| !types.iter().any(|t| &t.room_type_id == *id))
    {
        Some(unknown) => Err(DomainError::invalid(
            field,
            format!("'{unknown}' is not a room type of the place"),
        )),
        None => Ok(()),
    }
}

/// Whether a `roomTypeIds` list covers `room_type_id` (absent: every room type).
pub fn covers(ids: Option<&[String]>, room_type_id: &str) -> bool {
    ids.is_none_or(|ids| ids.iter().any(|id| id == room_type_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_nights_keep_their_keys_and_others_sort_within_the_date() {
        assert_eq!(
            night_key("p1", STANDARD_ROOM_TYPE, "2027-01-05").sk,
            "NIGHT#2027-01-05"
        );
        let suite = night_key("p1", "suite", "2027-01-05").sk;
        assert_eq!(suite, "NIGHT#2027-01-05#suite");
        assert_eq!(parse_night_sk(&suite), Some(("2027-01-05", "suite")));
        assert_eq!(
            parse_night_sk("NIGHT#2027-01-05"),
            Some(("2027-01-05", STANDARD_ROOM_TYPE))
        );
        assert!(suite.starts_with("NIGHT#2027-01"));
    }

    #[test]
    fn ids_are_assigned_around_the_given_ones() {
        let t = |id: &str| RoomType {
            room_type_id: id.into(),
            ..RoomType::standard(1, 2, 100, vec![])
        };
        let mut types = vec![t(""), t("room-1"), t("")];
        assign_room_type_ids(&mut types);
        let ids: Vec<&str> = types.iter().map(|t| t.room_type_id.as_str()).collect();
        assert_eq!(ids, ["room-2", "room-1", "room-3"]);
        assert!(validate_room_types(&types).is_ok());
        types[2].room_type_id = "room-1".into();
        assert!(validate_room_types(&types).is_err());
    }
}
