//! The place context's service and what its three parts share: the catalogue (`catalogue.rs`),
//! the night inventory and holds (`nights.rs`) and the owner's decision (`decision.rs`).
use std::sync::Arc;

use serde_json::json;

use super::model::*;
use crate::clock::Clock;
use crate::error::DomainResult;
use crate::events::{EventMeta, HoldFacts};
use crate::item::to_item;
use crate::stay::{Stay, parse_date};
use crate::store::{Cond, Item, Table, Write};

pub struct PlaceService {
    pub(super) table: Arc<dyn Table>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) owner_timeout_seconds: u64,
}

impl PlaceService {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, owner_timeout_seconds: u64) -> Self {
        Self {
            table,
            clock,
            owner_timeout_seconds,
        }
    }

    /// The conditional writes of a hold transition from `current` to `next`, with the matching
    /// night updates; `next` gets its new version and time.
    pub(super) fn transition(
        &self,
        current: &Hold,
        next: &mut Hold,
        night_delta: i64,
    ) -> DomainResult<Vec<Write>> {
        next.version = current.version + 1;
        next.updated_at = self.clock.now_rfc3339();
        let mut writes = vec![Write::Put {
            item: to_item(&Hold::key(&next.reservation_id), None, &*next),
            cond: Some(Cond::Eq("version".into(), json!(current.version))),
        }];
        if night_delta != 0 {
            writes.extend(night_writes(current, night_delta, None)?);
        }
        Ok(writes)
    }
}

/// What a hold event says about `hold` (at its current version), occurring at `at`.
pub(super) fn hold_facts(hold: &Hold, at: &str) -> DomainResult<(EventMeta, HoldFacts)> {
    Ok((
        EventMeta::new(hold.reservation_version, at),
        HoldFacts {
            reservation_id: hold.reservation_id.clone(),
            place_id: hold.place_id.clone(),
            owner_id: hold.owner_id.clone(),
            check_in: parse_date("checkIn", &hold.check_in)?,
            check_out: parse_date("checkOut", &hold.check_out)?,
            rooms: hold.rooms,
            hold_version: hold.version,
        },
    ))
}

/// `delta` rooms on every night of the hold; with a `ceiling`, no night may go above it.
pub(super) fn night_writes(
    hold: &Hold,
    delta: i64,
    ceiling: Option<i64>,
) -> DomainResult<Vec<Write>> {
    let stay = Stay::parse(&hold.check_in, &hold.check_out)?;
    Ok(stay
        .night_dates()
        .into_iter()
        .map(|night| Write::Update {
            key: night_key(&hold.place_id, &night),
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
        .collect())
}
