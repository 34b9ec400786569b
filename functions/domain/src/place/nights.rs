//! The night inventory: holding a stay's rooms on every night (all or none), giving them back, and
//! what each night holds.
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Date;

use super::decision::settled_decision;
use super::model::*;
use super::room_type::{RoomType, parse_night_sk, standard_room_type_id};
use super::service::{PlaceService, Rooms, hold_facts, night_change};
use crate::error::{DomainError, DomainResult};
use crate::events::{
    DecidedBy, DomainEvent, Event, HoldCancelReason, ReservationCancelConfirmed,
    ReservationConfirmed,
};
use crate::item::to_item;
use crate::records;
use crate::retry::{Attempt, until_committed};
use crate::stay::{Stay, format_date};
use crate::store::{Cond, Query, StoreError, Write};

/// What identifies a stay for the place context (carried by saga input and reservation events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StayRef {
    pub reservation_id: String,
    pub place_id: String,
    /// `standard` in saga input written before room types.
    #[serde(default = "standard_room_type_id")]
    pub room_type_id: String,
    pub check_in: String,
    pub check_out: String,
    pub rooms: i64,
    #[serde(default)]
    pub version: u64,
}

impl StayRef {
    /// The stay a reservation event names.
    pub fn of(meta: &crate::events::EventMeta, r: &crate::events::ReservationSnapshot) -> Self {
        Self {
            reservation_id: r.reservation_id.clone(),
            place_id: r.place_id.clone(),
            room_type_id: r.terms.room_type.room_type_id.clone(),
            check_in: format_date(r.check_in),
            check_out: format_date(r.check_out),
            rooms: r.rooms,
            version: meta.version,
        }
    }
}

/// Rooms of one room type held on one night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NightAvailability {
    pub night: String,
    pub room_type_id: String,
    pub held: i64,
    pub free: i64,
}

/// The write indices of a first hold: the hold (0), the place's version check (1), then the nights.
const FIRST_NIGHT: usize = 2;

impl PlaceService {
    /// Rooms held per night and room type from `from` on (every night when `None`; only nights
    /// where something was ever held), in date order. `free` counts against `room_types` (a room
    /// type not among them has none).
    pub async fn availability_from(
        &self,
        place_id: &str,
        from: Option<Date>,
        room_types: &[RoomType],
    ) -> DomainResult<Vec<NightAvailability>> {
        let q = Query {
            partition: format!("PLACE#{place_id}"),
            sk_prefix: Some("NIGHT#".into()),
            ..Default::default()
        };
        let from = from.map(format_date);
        let items = self.table.query(&q).await?;
        Ok(items
            .into_iter()
            .filter_map(|it| {
                let (night, room_type) = parse_night_sk(it.get("sk")?.as_str()?)?;
                let held = it.get("held").and_then(Value::as_i64).unwrap_or(0);
                let room_count = room_types
                    .iter()
                    .find(|t| t.room_type_id == room_type)
                    .map_or(0, |t| t.room_count);
                // Nights are `YYYY-MM-DD`, so text order is date order.
                from.as_deref()
                    .is_none_or(|f| night >= f)
                    .then(|| NightAvailability {
                        night: night.to_string(),
                        room_type_id: room_type.to_string(),
                        held,
                        free: room_count - held,
                    })
            })
            .collect())
    }

    pub async fn get_hold(&self, reservation_id: &str) -> DomainResult<Option<Hold>> {
        records::get(&*self.table, &Hold::key(reservation_id)).await
    }

    pub(super) fn hold_result(&self, outcome: HoldState, instant_book: bool) -> HoldResult {
        HoldResult {
            outcome,
            instant_book,
            owner_timeout_seconds: self.owner_timeout_seconds,
            decision: OwnerDecision::None,
        }
    }

    /// Saga step: hold `rooms` on every night of the stay, all or none.
    pub async fn hold_nights(&self, stay: &StayRef) -> DomainResult<HoldResult> {
        let nights = Stay::parse(&stay.check_in, &stay.check_out)?;
        // The hold the previous attempt tried to write, for when only a night refused it.
        let tried: Mutex<Option<(Hold, String)>> = Mutex::new(None);
        let tried = &tried;
        until_committed(&*self.table, "hold contended", move |conflict| async move {
            let previous = tried.lock().map(|mut t| t.take()).unwrap_or_default();
            if let (Some(failed), Some((hold, now))) = (conflict, previous) {
                let nights_only = failed.iter().any(|i| *i >= FIRST_NIGHT)
                    && !failed.contains(&0)
                    && !failed.contains(&1);
                if nights_only {
                    let sold_out = self.record_sold_out(hold, &now, HoldCancelReason::SoldOut);
                    return Ok(Attempt::Done(sold_out.await?));
                }
                // The hold appeared concurrently or the place changed: look again.
            }
            if let Some(hold) = self.get_hold(&stay.reservation_id).await? {
                let mut result = self.hold_result(hold.state, hold.instant_book);
                if hold.state == HoldState::Released {
                    result.decision = settled_decision(&hold);
                }
                return Ok(Attempt::Done(result));
            }
            let place = self.get_place(&stay.place_id).await?;
            let now = self.clock.now_rfc3339();
            let mut hold = Hold {
                reservation_id: stay.reservation_id.clone(),
                place_id: stay.place_id.clone(),
                room_type_id: stay.room_type_id.clone(),
                owner_id: place
                    .as_ref()
                    .map(|p| p.owner_id.clone())
                    .unwrap_or_default(),
                check_in: nights.check_in_str(),
                check_out: nights.check_out_str(),
                rooms: stay.rooms,
                instant_book: false,
                state: HoldState::Held,
                decision: OwnerDecision::Pending,
                reservation_version: stay.version,
                task_token: None,
                version: 1,
                updated_at: now.clone(),
            };
            let Some(place) = place else {
                let unknown = self.record_sold_out(hold, &now, HoldCancelReason::PlaceUnknown);
                return Ok(Attempt::Done(unknown.await?));
            };
            let now_ms = self.clock.now_millis();
            let ceiling = place.ceiling(&stay.room_type_id, now_ms);
            if place.lowering(&stay.room_type_id, now_ms) {
                // A room-count change is being applied (milliseconds, or until a crashed one's cap
                // goes stale): wait for it rather than refuse a stay the final count may allow.
                return Err(DomainError::Unavailable(
                    "the place's room count is being changed; retry".into(),
                ));
            }
            if stay.rooms < 1 || stay.rooms > ceiling {
                let sold_out = self.record_sold_out(hold, &now, HoldCancelReason::SoldOut);
                return Ok(Attempt::Done(sold_out.await?));
            }
            let instant = place.facts.instant_book;
            if instant {
                hold.decision = OwnerDecision::Confirmed;
                hold.instant_book = true;
            }
            let mut writes = vec![
                Write::Put {
                    item: to_item(&Hold::key(&hold.reservation_id), None, &hold),
                    cond: Some(Cond::NotExists),
                },
                Write::Check {
                    key: Place::key(&place.place_id),
                    cond: Cond::Eq("version".into(), json!(place.version)),
                },
            ];
            let nights = night_change(&hold, Rooms::Hold { ceiling }, &now)?;
            writes.extend(nights.writes);
            let mut events = nights.events;
            if instant {
                let (meta, facts) = hold_facts(&hold, &now)?;
                events.push(DomainEvent::new(Event::ReservationConfirmed(
                    ReservationConfirmed {
                        meta,
                        hold: facts,
                        decided_by: DecidedBy::Instant,
                    },
                )));
            }
            if let Ok(mut t) = tried.lock() {
                *t = Some((hold, now));
            }
            Ok(Attempt::commit(
                writes,
                events,
                self.hold_result(HoldState::Held, instant),
            ))
        })
        .await
    }

    async fn record_sold_out(
        &self,
        mut hold: Hold,
        now: &str,
        reason: HoldCancelReason,
    ) -> DomainResult<HoldResult> {
        hold.state = HoldState::SoldOut;
        hold.decision = OwnerDecision::None;
        let put = Write::Put {
            item: to_item(&Hold::key(&hold.reservation_id), None, &hold),
            cond: Some(Cond::NotExists),
        };
        let (meta, facts) = hold_facts(&hold, now)?;
        let event = DomainEvent::new(Event::ReservationCancelConfirmed(
            ReservationCancelConfirmed {
                meta,
                hold: facts,
                reason,
                decided_by: None,
            },
        ));
        match self.table.transact(vec![put], vec![event]).await {
            Ok(()) => Ok(self.hold_result(HoldState::SoldOut, false)),
            Err(StoreError::ConditionFailed { .. }) => {
                let existing = self
                    .get_hold(&hold.reservation_id)
                    .await?
                    .ok_or_else(|| DomainError::Unavailable("hold vanished".into()))?;
                Ok(self.hold_result(existing.state, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the rooms back (compensation or customer cancel). Idempotent: without a hold it leaves a
    /// tombstone so a late `hold_nights` holds nothing. Returns the pending callback token, if any.
    pub async fn release_nights(&self, stay: &StayRef) -> DomainResult<Option<String>> {
        until_committed(&*self.table, "release contended", move |_| async move {
            let now = self.clock.now_rfc3339();
            let Some(hold) = self.get_hold(&stay.reservation_id).await? else {
                let tomb = Hold {
                    reservation_id: stay.reservation_id.clone(),
                    place_id: stay.place_id.clone(),
                    room_type_id: stay.room_type_id.clone(),
                    owner_id: String::new(),
                    check_in: stay.check_in.clone(),
                    check_out: stay.check_out.clone(),
                    rooms: stay.rooms,
                    instant_book: false,
                    state: HoldState::Released,
                    decision: OwnerDecision::None,
                    reservation_version: stay.version,
                    task_token: None,
                    version: 1,
                    updated_at: now,
                };
                let put = Write::Put {
                    item: to_item(&Hold::key(&tomb.reservation_id), None, &tomb),
                    cond: Some(Cond::NotExists),
                };
                return Ok(Attempt::commit(vec![put], vec![], None));
            };
            // The token stays on the hold, so a redelivered cancel can still fail the waiting saga
            // (resuming a task that already ended is harmless).
            if hold.state != HoldState::Held {
                let waiting = hold.decision == OwnerDecision::Cancelled;
                return Ok(Attempt::Done(
                    waiting.then(|| hold.task_token.clone()).flatten(),
                ));
            }
            let mut next = hold.clone();
            next.state = HoldState::Released;
            if next.decision == OwnerDecision::Pending {
                next.decision = OwnerDecision::Cancelled;
            }
            let token = (next.decision == OwnerDecision::Cancelled)
                .then(|| hold.task_token.clone())
                .flatten();
            let change = self.transition(&hold, &mut next, true)?;
            Ok(Attempt::commit(change.writes, change.events, token))
        })
        .await
    }
}
