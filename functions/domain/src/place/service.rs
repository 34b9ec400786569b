//! The place context's service and what its three parts share: the catalogue (`catalogue.rs`),
//! the night inventory and holds (`nights.rs`) and the owner's decision (`decision.rs`).
use std::sync::Arc;

use serde_json::json;

use super::model::*;
use super::room_type::night_key;
use crate::clock::Clock;
use crate::error::DomainResult;
use crate::events::{DomainEvent, Event, EventMeta, HoldFacts, RoomsChanged};
use crate::item::to_item;
use crate::stay::{Stay, parse_date};
use crate::store::{Cond, Item, Table, Write};

pub struct PlaceService {
    pub(super) table: Arc<dyn Table>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) owner_timeout_seconds: u64,
    /// How long a quote's price holds for a booking that presents its token.
    pub(super) quote_validity_seconds: u64,
}

impl PlaceService {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, owner_timeout_seconds: u64) -> Self {
        Self {
            table,
            clock,
            owner_timeout_seconds,
            quote_validity_seconds: super::DEFAULT_QUOTE_VALIDITY_SECONDS,
        }
    }

    pub fn with_quote_validity(mut self, seconds: u64) -> Self {
        self.quote_validity_seconds = seconds;
        self
    }

    /// The conditional writes of a hold transition from `current` to `next`; with `release`, the
    /// night updates giving its rooms back and their RoomsReleased. `next` gets its new version and
    /// time.
    pub(super) fn transition(
        &self,
        current: &Hold,
        next: &mut Hold,
        release: bool,
    ) -> DomainResult<NightChange> {
        next.version = current.version + 1;
        next.updated_at = self.clock.now_rfc3339();
        let put = Write::Put {
            item: to_item(&Hold::key(&next.reservation_id), None, &*next),
            cond: Some(Cond::Eq("version".into(), json!(current.version))),
        };
        let mut change = if release {
            night_change(next, Rooms::Release, &next.updated_at)?
        } else {
            NightChange::default()
        };
        change.writes.insert(0, put);
        Ok(change)
    }
}

/// Which way a change moves a hold's rooms on its nights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rooms {
    /// Take them, no night going above this ceiling.
    Hold {
        ceiling: i64,
    },
    Release,
}

/// Writes and the events committed with them.
#[derive(Debug, Default)]
pub(super) struct NightChange {
    pub writes: Vec<Write>,
    pub events: Vec<DomainEvent>,
}

/// What a hold event says about `hold` (at its current version), occurring at `at`.
pub(super) fn hold_facts(hold: &Hold, at: &str) -> DomainResult<(EventMeta, HoldFacts)> {
    Ok((
        EventMeta::new(hold.reservation_version, at),
        HoldFacts {
            reservation_id: hold.reservation_id.clone(),
            place_id: hold.place_id.clone(),
            room_type_id: hold.room_type_id.clone(),
            owner_id: hold.owner_id.clone(),
            check_in: parse_date("checkIn", &hold.check_in)?,
            check_out: parse_date("checkOut", &hold.check_out)?,
            rooms: hold.rooms,
            hold_version: hold.version,
        },
    ))
}

/// The hold's rooms taken or given back on every night of its stay, and the RoomsHeld or
/// RoomsReleased that reports it: every change of the rooms held on a night goes through here, so
/// the search read model sees each one, in the same transaction. `hold` is the hold as it is after
/// the change (its event carries that version).
pub(super) fn night_change(hold: &Hold, rooms: Rooms, at: &str) -> DomainResult<NightChange> {
    let (delta, ceiling) = match rooms {
        Rooms::Hold { ceiling } => (hold.rooms, Some(ceiling)),
        Rooms::Release => (-hold.rooms, None),
    };
    let (meta, facts) = hold_facts(hold, at)?;
    let changed = RoomsChanged { meta, hold: facts };
    let event = DomainEvent::new(match rooms {
        Rooms::Hold { .. } => Event::RoomsHeld(changed),
        Rooms::Release => Event::RoomsReleased(changed),
    });
    let stay = Stay::parse(&hold.check_in, &hold.check_out)?;
    let writes = stay
        .night_dates()
        .into_iter()
        .map(|night| Write::Update {
            key: night_key(&hold.place_id, &hold.room_type_id, &night),
            set: Item::new(),
            add: vec![("held".into(), delta)],
            // A night item is created on first hold, so "absent" means nothing held yet.
            cond: ceiling.map(|max| {
                Cond::Or(vec![
                    Cond::AttrNotExists("held".into()),
                    Cond::Le("held".into(), max - delta),
                ])
            }),
        })
        .collect();
    Ok(NightChange {
        writes,
        events: vec![event],
    })
}
