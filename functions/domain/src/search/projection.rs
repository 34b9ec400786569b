//! Builds the search read model from events. Delivery is at-least-once and unordered, so:
//! a place's catalogue item moves only to a newer place version, and each reservation's hold is
//! counted at most once: its marker is written in the same transaction as the per-day deltas,
//! HELD when it added them and RELEASED when it took them back (or when the release came first:
//! that tombstone makes the late RoomsHeld a no-op). A hold of a place whose catalogue event has
//! not arrived yet waits as PENDING, and that event counts it.
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::keys::*;
use super::{SearchPlace, SearchService};
use crate::error::{DomainError, DomainResult};
use crate::events::{Event, HoldFacts, PlaceCatalogued};
use crate::item::to_item;
use crate::records;
use crate::retry::{Attempt, until_committed};
use crate::stay::Stay;
use crate::store::{Cond, Item, Query, StoreError, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MarkerState {
    /// Held, but the place's city is not known yet: counted once its catalogue event arrives.
    Pending,
    /// The hold's rooms are counted in the month items.
    Held,
    /// They were taken back, or never counted because the release arrived first.
    Released,
}

/// What the projection knows of one reservation's hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldMarker {
    pub reservation_id: String,
    pub state: MarkerState,
    /// The city key the rooms were counted under ("" when the place is not searchable or the
    /// hold is not counted).
    pub city_key: String,
    pub place_id: String,
    /// `standard` in markers written before room types.
    #[serde(default = "crate::place::standard_room_type_id")]
    pub room_type_id: String,
    #[serde(with = "crate::stay::iso_date")]
    pub check_in: time::Date,
    #[serde(with = "crate::stay::iso_date")]
    pub check_out: time::Date,
    pub rooms: i64,
}

/// The city a place was registered in (fixed at registration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaceCity {
    city_key: String,
}

impl SearchService {
    /// Applies one event; `true` when it changed the read model, `false` for a repeat, a stale
    /// catalogue version or an event search does not use.
    pub async fn apply(&self, event: &Event) -> DomainResult<bool> {
        match event {
            Event::PlaceRegistered(p) | Event::PlaceUpdated(p) => self.apply_place(p).await,
            Event::RoomsHeld(e) => self.apply_hold(&e.hold, MarkerState::Held).await,
            Event::RoomsReleased(e) => self.apply_hold(&e.hold, MarkerState::Released).await,
            _ => Ok(false),
        }
    }

    async fn apply_place(&self, p: &PlaceCatalogued) -> DomainResult<bool> {
        let city_key = city_key(&p.place.city);
        let city = Write::Put {
            item: to_item(
                &place_city_key(&p.place_id),
                None,
                &PlaceCity {
                    city_key: city_key.clone(),
                },
            ),
            cond: None,
        };
        let mut writes = vec![city];
        if !city_key.is_empty() {
            let place = SearchPlace {
                place_id: p.place_id.clone(),
                facts: p.place.clone(),
                place_version: p.meta.version,
            };
            let version = i64::try_from(p.meta.version)
                .map_err(|_| DomainError::invalid("version", "out of range"))?;
            writes.push(Write::Put {
                item: place.item(&catalogue_key(&city_key, &p.place_id)),
                cond: Some(Cond::Or(vec![
                    Cond::AttrNotExists("placeVersion".into()),
                    Cond::Lt("placeVersion".into(), version),
                ])),
            });
        }
        // A place without a city is never found: only its city (none) is remembered, for its holds.
        let changed = match self.table.transact(writes, vec![]).await {
            Ok(()) => !city_key.is_empty(),
            Err(StoreError::ConditionFailed { .. }) => false,
            Err(e) => return Err(e.into()),
        };
        // The city is known now (a stale version names the same one): count what waited for it.
        let counted = self.count_pending(&p.place_id, &city_key).await?;
        Ok(changed || counted)
    }

    async fn apply_hold(&self, hold: &HoldFacts, to: MarkerState) -> DomainResult<bool> {
        let key = &hold_marker_key(&hold.reservation_id);
        until_committed(&*self.table, "search hold contended", move |_| async move {
            let marker: Option<HoldMarker> = records::get(&*self.table, key).await?;
            let mut writes = Vec::new();
            let (next, cond) = match (marker, to) {
                // Counted (or waiting) already, or released first (the tombstone).
                (Some(_), MarkerState::Held) => return Ok(Attempt::Done(false)),
                (Some(m), _) if m.state == MarkerState::Released => {
                    return Ok(Attempt::Done(false));
                }
                (Some(m), _) => {
                    if m.state == MarkerState::Held {
                        writes.extend(day_deltas(&m, -m.rooms)?);
                    } else {
                        writes.push(Write::Delete {
                            key: pending_key(&m.place_id, &m.reservation_id),
                            cond: None,
                        });
                    }
                    let cond = Cond::Eq("state".into(), json!(m.state));
                    (with_state(m, MarkerState::Released, None), cond)
                }
                (None, _) => {
                    let new = HoldMarker {
                        reservation_id: hold.reservation_id.clone(),
                        state: MarkerState::Released,
                        city_key: String::new(),
                        place_id: hold.place_id.clone(),
                        room_type_id: hold.room_type_id.clone(),
                        check_in: hold.check_in,
                        check_out: hold.check_out,
                        rooms: hold.rooms,
                    };
                    let new = match (to, self.city_of(&hold.place_id).await?) {
                        // A tombstone counts nothing, under no city.
                        (MarkerState::Released, _) => new,
                        (_, Some(city)) => {
                            let held = with_state(new, MarkerState::Held, Some(city));
                            writes.extend(day_deltas(&held, held.rooms)?);
                            held
                        }
                        (_, None) => {
                            let pending = with_state(new, MarkerState::Pending, None);
                            writes.push(Write::Put {
                                item: to_item(
                                    &pending_key(&pending.place_id, &pending.reservation_id),
                                    None,
                                    &pending,
                                ),
                                cond: None,
                            });
                            // Were the city to arrive meanwhile, its event could miss this
                            // hold: then this transaction fails, and the retry counts it.
                            writes.push(Write::Check {
                                key: place_city_key(&pending.place_id),
                                cond: Cond::NotExists,
                            });
                            pending
                        }
                    };
                    (new, Cond::NotExists)
                }
            };
            writes.insert(
                0,
                Write::Put {
                    item: to_item(key, None, &next),
                    cond: Some(cond),
                },
            );
            Ok(Attempt::commit(writes, vec![], true))
        })
        .await
    }

    /// The city key of a place, once its catalogue event has arrived.
    async fn city_of(&self, place_id: &str) -> DomainResult<Option<String>> {
        let city: Option<PlaceCity> = records::get(&*self.table, &place_city_key(place_id)).await?;
        Ok(city.map(|c| c.city_key))
    }

    /// Counts the holds of `place_id` that arrived before its catalogue event; `true` if any.
    async fn count_pending(&self, place_id: &str, city_key: &str) -> DomainResult<bool> {
        let q = Query {
            partition: pending_partition(place_id),
            ..Default::default()
        };
        let waiting: Vec<HoldMarker> = records::query(&*self.table, &q).await?;
        let mut counted = false;
        for pending in waiting {
            let marker_key = hold_marker_key(&pending.reservation_id);
            let held = with_state(pending, MarkerState::Held, Some(city_key.to_string()));
            let mut writes = vec![
                Write::Put {
                    item: to_item(&marker_key, None, &held),
                    cond: Some(Cond::Eq("state".into(), json!(MarkerState::Pending))),
                },
                Write::Delete {
                    key: pending_key(&held.place_id, &held.reservation_id),
                    cond: None,
                },
            ];
            writes.extend(day_deltas(&held, held.rooms)?);
            match self.table.transact(writes, vec![]).await {
                Ok(()) => counted = true,
                // Released (or counted) meanwhile: that change removed the waiting item itself.
                Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(counted)
    }
}

fn with_state(marker: HoldMarker, state: MarkerState, city_key: Option<String>) -> HoldMarker {
    HoldMarker {
        state,
        city_key: city_key.unwrap_or(marker.city_key.clone()),
        ..marker
    }
}

/// `delta` rooms on every day of the stay, one `ADD` update per calendar month (none for a place
/// that is not searchable).
fn day_deltas(marker: &HoldMarker, delta: i64) -> DomainResult<Vec<Write>> {
    if marker.city_key.is_empty() {
        return Ok(Vec::new());
    }
    let stay = Stay::new(marker.check_in, marker.check_out)?;
    Ok(nights_by_month(&stay)
        .into_iter()
        .map(|(month, nights)| Write::Update {
            key: month_key(&marker.city_key, &month, &marker.place_id),
            set: Item::new(),
            add: nights
                .into_iter()
                .map(|n| (day_attr(&marker.room_type_id, n), delta))
                .collect(),
            cond: None,
        })
        .collect())
}
