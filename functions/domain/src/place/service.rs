use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::model::*;
use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, EventName, new_event};
use crate::idempotency;
use crate::item::{from_item, to_item};
use crate::seed;
use crate::stay::Stay;
use crate::store::{Cond, Item, Query, StoreError, Table, Write};

/// Upper bound on a conditional-write retry loop; only reached under pathological contention.
const MAX_ATTEMPTS: usize = 64;
pub const MAX_ROOMS: i64 = 10_000;
/// 100,000,000 minor units a night: with at most 30 nights and 100 rooms an amount stays below
/// 3×10^11, so amounts and loyalty points can never overflow a 64-bit integer anywhere.
pub const MAX_PRICE: i64 = 100_000_000;

/// What identifies a stay for the place context (carried by saga input and reservation events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StayRef {
    pub reservation_id: String,
    pub place_id: String,
    pub check_in: String,
    pub check_out: String,
    pub rooms: i64,
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterPlace {
    pub name: String,
    pub room_count: i64,
    pub nightly_price: i64,
    #[serde(default = "default_true")]
    pub instant_book: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePlace {
    pub name: Option<String>,
    pub room_count: Option<i64>,
    pub nightly_price: Option<i64>,
    pub instant_book: Option<bool>,
}

/// Rooms held on one night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NightAvailability {
    pub night: String,
    pub held: i64,
    pub free: i64,
}

/// What happened to a callback token handed to the place context.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenOutcome {
    /// Stored; the owner's decision will resume the saga.
    Stored,
    /// The owner already decided (or the stay was cancelled): resume the saga now with this.
    AlreadyDecided(OwnerDecision),
}

pub struct PlaceService {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    owner_timeout_seconds: u64,
}

fn validate_place(name: &str, room_count: i64, nightly_price: i64) -> DomainResult<()> {
    crate::text::validate_name("name", name)?;
    if !(0..=MAX_ROOMS).contains(&room_count) {
        return Err(DomainError::invalid(
            "roomCount",
            format!("must be between 0 and {MAX_ROOMS}"),
        ));
    }
    if !(0..=MAX_PRICE).contains(&nightly_price) {
        return Err(DomainError::invalid(
            "nightlyPrice",
            format!("must be an integer amount from 0 to {MAX_PRICE}"),
        ));
    }
    Ok(())
}

fn catalogue_event(name: EventName, place: &Place) -> DomainEvent {
    new_event(
        name,
        None,
        place.version,
        &place.updated_at,
        json!({
            "placeId": place.place_id, "ownerId": place.owner_id, "name": place.name,
            "roomCount": place.room_count, "nightlyPrice": place.nightly_price,
            "instantBook": place.instant_book,
        }),
    )
}

fn hold_event(name: EventName, hold: &Hold, at: &str, extra: Value) -> DomainEvent {
    let mut fields = json!({
        "placeId": hold.place_id, "ownerId": hold.owner_id, "checkIn": hold.check_in,
        "checkOut": hold.check_out, "rooms": hold.rooms, "holdVersion": hold.version,
    });
    if let (Some(obj), Value::Object(more)) = (fields.as_object_mut(), extra) {
        obj.extend(more);
    }
    new_event(
        name,
        Some(&hold.reservation_id),
        hold.reservation_version,
        at,
        fields,
    )
}

fn night_writes(hold: &Hold, delta: i64, ceiling: Option<i64>) -> DomainResult<Vec<Write>> {
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

impl PlaceService {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, owner_timeout_seconds: u64) -> Self {
        Self {
            table,
            clock,
            owner_timeout_seconds,
        }
    }

    pub async fn get_place(&self, place_id: &str) -> DomainResult<Option<Place>> {
        self.table
            .get(&Place::key(place_id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// A place as `/v1` shows it: the seed facade's places are not listed there.
    pub async fn get_listed(&self, place_id: &str) -> DomainResult<Option<Place>> {
        if seed::is_seed_id(place_id) {
            return Ok(None);
        }
        self.get_place(place_id).await
    }

    async fn must_get_place(&self, place_id: &str) -> DomainResult<Place> {
        self.get_place(place_id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("place {place_id}")))
    }

    pub async fn owned_place(&self, owner_id: &str, place_id: &str) -> DomainResult<Place> {
        let place = self.must_get_place(place_id).await?;
        if place.owner_id != owner_id {
            return Err(DomainError::Forbidden(format!(
                "place {place_id} belongs to another owner"
            )));
        }
        Ok(place)
    }

    pub async fn list_places(&self, owner_id: &str) -> DomainResult<Vec<Place>> {
        let q = Query {
            partition: format!("OWNER#{owner_id}"),
            index: true,
            ..Default::default()
        };
        self.table
            .query(&q)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Registers a new place under `place_id` (a fresh id, or the seed facade's own). If it exists
    /// and belongs to the same owner, answers it (the seed facade's repeat).
    pub async fn register(
        &self,
        owner_id: &str,
        place_id: String,
        cmd: RegisterPlace,
    ) -> DomainResult<(Place, bool)> {
        let place = self.new_place(owner_id, place_id, cmd)?;
        match self.create(&place, None).await {
            Ok(()) => Ok((place, true)),
            Err(e) if e.is_condition_failed() => {
                let existing = self.must_get_place(&place.place_id).await?;
                if existing.owner_id != owner_id {
                    return Err(DomainError::Conflict(format!(
                        "place {} already exists",
                        place.place_id
                    )));
                }
                Ok((existing, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /v1/places` with an `Idempotency-Key`: the place gets a random id, and the key's
    /// record (written in the same transaction) names it. A repeat answers that place; a repeat
    /// that describes another place is a conflict.
    pub async fn register_idempotent(
        &self,
        owner_id: &str,
        key: &str,
        cmd: RegisterPlace,
    ) -> DomainResult<(Place, bool)> {
        let place = self.new_place(owner_id, idempotency::new_id(), cmd)?;
        let record = idempotency::key(owner_id, key);
        match self.create(&place, Some(&record)).await {
            Ok(()) => Ok((place, true)),
            Err(StoreError::ConditionFailed { failed }) if failed.contains(&1) => {
                let existing = match idempotency::lookup(&*self.table, &record).await? {
                    Some(id) => self.get_place(&id).await?,
                    None => None,
                }
                .ok_or_else(|| DomainError::Unavailable("idempotency record vanished".into()))?;
                let same = existing.owner_id == owner_id
                    && existing.name == place.name
                    && existing.room_count == place.room_count
                    && existing.nightly_price == place.nightly_price
                    && existing.instant_book == place.instant_book;
                if !same {
                    return Err(DomainError::Conflict(
                        "the Idempotency-Key was already used for a different request".into(),
                    ));
                }
                Ok((existing, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn new_place(
        &self,
        owner_id: &str,
        place_id: String,
        cmd: RegisterPlace,
    ) -> DomainResult<Place> {
        validate_place(&cmd.name, cmd.room_count, cmd.nightly_price)?;
        let now = self.clock.now_rfc3339();
        Ok(Place {
            place_id,
            owner_id: owner_id.to_string(),
            name: cmd.name.trim().to_string(),
            room_count: cmd.room_count,
            nightly_price: cmd.nightly_price,
            instant_book: cmd.instant_book,
            pending_room_count: None,
            pending_since_ms: None,
            created_at: now.clone(),
            updated_at: now,
            version: 1,
        })
    }

    /// Writes a new place (write 0) with PlaceRegistered, and the idempotency record (write 1).
    async fn create(
        &self,
        place: &Place,
        record: Option<&crate::store::Key>,
    ) -> Result<(), StoreError> {
        let (gpk, gsk) = place.owner_index();
        let mut writes = vec![Write::Put {
            item: to_item(&Place::key(&place.place_id), Some((&gpk, &gsk)), place),
            cond: Some(Cond::NotExists),
        }];
        if let Some(record) = record {
            writes.push(idempotency::create(
                record,
                &place.place_id,
                &place.created_at,
            ));
        }
        self.table
            .transact(
                writes,
                vec![catalogue_event(EventName::PlaceRegistered, place)],
            )
            .await
    }

    /// Changes a place. Lowering the room count never leaves a night above it: first every new hold
    /// is capped by `pendingRoomCount`, then the count is lowered only if no night holds more.
    pub async fn update(
        &self,
        owner_id: &str,
        place_id: &str,
        patch: UpdatePlace,
    ) -> DomainResult<Place> {
        for _ in 0..MAX_ATTEMPTS {
            let place = self.owned_place(owner_id, place_id).await?;
            let mut next = place.clone();
            if let Some(n) = &patch.name {
                next.name = n.trim().to_string();
            }
            if let Some(p) = patch.nightly_price {
                next.nightly_price = p;
            }
            if let Some(i) = patch.instant_book {
                next.instant_book = i;
            }
            if let Some(r) = patch.room_count {
                next.room_count = r;
            }
            validate_place(&next.name, next.room_count, next.nightly_price)?;
            // Nothing to change — unless a crashed lowering left its cap behind: rewriting the
            // place clears it.
            if next.described() == place.described() && place.pending_room_count.is_none() {
                return Ok(place);
            }
            if next.room_count < place.room_count {
                match self.lower_room_count(&place, next).await? {
                    Some(done) => return Ok(done),
                    None => continue,
                }
            }
            match self.replace(&place, next).await? {
                Some(done) => return Ok(done),
                None => continue,
            }
        }
        Err(DomainError::Unavailable(
            "place update contended; retry".into(),
        ))
    }

    /// Conditional replace; `None` when another writer got there first.
    async fn replace(&self, current: &Place, mut next: Place) -> DomainResult<Option<Place>> {
        next.version = current.version + 1;
        next.updated_at = self.clock.now_rfc3339();
        let (gpk, gsk) = next.owner_index();
        next.pending_room_count = None;
        next.pending_since_ms = None;
        let item = to_item(&Place::key(&next.place_id), Some((&gpk, &gsk)), &next);
        let put = Write::Put {
            item,
            cond: Some(Cond::Eq("version".into(), json!(current.version))),
        };
        match self
            .table
            .transact(
                vec![put],
                vec![catalogue_event(EventName::PlaceUpdated, &next)],
            )
            .await
        {
            Ok(()) => Ok(Some(next)),
            Err(e) if e.is_condition_failed() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn lower_room_count(&self, place: &Place, next: Place) -> DomainResult<Option<Place>> {
        let new_count = next.room_count;
        let key = Place::key(&place.place_id);
        // Phase 1: cap new holds (they check the place version, so in-flight ones retry).
        let phase1 = Write::Update {
            key: key.clone(),
            set: [
                ("pendingRoomCount".to_string(), json!(new_count)),
                ("pendingSinceMs".to_string(), json!(self.clock.now_millis())),
                ("version".to_string(), json!(place.version + 1)),
            ]
            .into_iter()
            .collect(),
            add: vec![],
            cond: Some(Cond::Eq("version".into(), json!(place.version))),
        };
        match self.table.transact(vec![phase1], vec![]).await {
            Ok(()) => {}
            Err(e) if e.is_condition_failed() => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let v1 = place.version + 1;
        let started_ms = self.clock.now_millis();
        // Phase 2: every hold committed before phase 1 is visible now.
        // Every night, past ones included: the seed facade books any date, and the invariant
        // "no night above its room count" has no exception.
        let nights = self
            .availability_from(&place.place_id, "0000-00-00", place.room_count)
            .await?;
        let busiest = nights.iter().map(|n| n.held).max().unwrap_or(0);
        // Holds ignore a cap once it is stale; a lowering that took that long must not commit.
        let too_slow = self.clock.now_millis() - started_ms > STALE_CAP_MS / 2;
        if busiest > new_count || too_slow {
            let undo = Write::Update {
                key: key.clone(),
                set: [("version".to_string(), json!(v1 + 1))]
                    .into_iter()
                    .collect(),
                add: vec![],
                cond: Some(Cond::Eq("version".into(), json!(v1))),
            };
            // Clearing the cap is best effort: a stale cap only makes holds stricter.
            let mut undo_writes = vec![undo];
            if let Write::Update { set, .. } = &mut undo_writes[0] {
                set.insert("pendingRoomCount".into(), Value::Null);
                set.insert("pendingSinceMs".into(), Value::Null);
            }
            let _ = self.table.transact(undo_writes, vec![]).await;
            if too_slow {
                return Err(DomainError::Unavailable(
                    "room count change too slow; retry".into(),
                ));
            }
            return Err(DomainError::Conflict(format!(
                "a night already has {busiest} room(s) held; the room count cannot go below that"
            )));
        }
        self.replace(
            &Place {
                version: v1,
                ..place.clone()
            },
            next,
        )
        .await
    }

    /// Rooms held per night from `from` on (only nights where something was ever held).
    pub async fn availability_from(
        &self,
        place_id: &str,
        from: &str,
        room_count: i64,
    ) -> DomainResult<Vec<NightAvailability>> {
        let q = Query {
            partition: format!("PLACE#{place_id}"),
            sk_prefix: Some("NIGHT#".into()),
            ..Default::default()
        };
        let items = self.table.query(&q).await?;
        Ok(items
            .into_iter()
            .filter_map(|it| {
                let night = it.get("sk")?.as_str()?.strip_prefix("NIGHT#")?.to_string();
                let held = it.get("held").and_then(Value::as_i64).unwrap_or(0);
                (night.as_str() >= from).then(|| NightAvailability {
                    night,
                    held,
                    free: room_count - held,
                })
            })
            .collect())
    }

    pub async fn get_hold(&self, reservation_id: &str) -> DomainResult<Option<Hold>> {
        self.table
            .get(&Hold::key(reservation_id))
            .await?
            .map(from_item)
            .transpose()
    }

    fn hold_result(&self, outcome: HoldState, instant_book: bool) -> HoldResult {
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
        for _ in 0..MAX_ATTEMPTS {
            if let Some(hold) = self.get_hold(&stay.reservation_id).await? {
                let mut result = self.hold_result(hold.state, hold.instant_book);
                if hold.state == HoldState::Released {
                    result.decision = settled_decision(&hold);
                }
                return Ok(result);
            }
            let place = self.get_place(&stay.place_id).await?;
            let now = self.clock.now_rfc3339();
            let mut hold = Hold {
                reservation_id: stay.reservation_id.clone(),
                place_id: stay.place_id.clone(),
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
                return self.record_sold_out(hold, &now, "PLACE_UNKNOWN").await;
            };
            let ceiling = place.ceiling(self.clock.now_millis());
            if ceiling < place.room_count {
                // A room-count change is being applied (milliseconds, or until a crashed one's cap
                // goes stale): wait for it rather than refuse a stay the final count may allow.
                return Err(DomainError::Unavailable(
                    "the place's room count is being changed; retry".into(),
                ));
            }
            if stay.rooms < 1 || stay.rooms > ceiling {
                return self.record_sold_out(hold, &now, "SOLD_OUT").await;
            }
            let instant = place.instant_book;
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
            writes.extend(night_writes(&hold, stay.rooms, Some(ceiling))?);
            let events = if instant {
                vec![hold_event(
                    EventName::ReservationConfirmed,
                    &hold,
                    &now,
                    json!({"decidedBy": "instant"}),
                )]
            } else {
                vec![]
            };
            match self.table.transact(writes, events).await {
                Ok(()) => return Ok(self.hold_result(HoldState::Held, instant)),
                Err(StoreError::ConditionFailed { failed }) => {
                    if failed.iter().any(|i| *i >= 2)
                        && !failed.contains(&0)
                        && !failed.contains(&1)
                    {
                        return self.record_sold_out(hold, &now, "SOLD_OUT").await;
                    }
                    // The hold appeared concurrently or the place changed: look again.
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DomainError::Unavailable("hold contended; retry".into()))
    }

    async fn record_sold_out(
        &self,
        mut hold: Hold,
        now: &str,
        reason: &str,
    ) -> DomainResult<HoldResult> {
        hold.state = HoldState::SoldOut;
        hold.decision = OwnerDecision::None;
        let put = Write::Put {
            item: to_item(&Hold::key(&hold.reservation_id), None, &hold),
            cond: Some(Cond::NotExists),
        };
        let event = hold_event(
            EventName::ReservationCancelConfirmed,
            &hold,
            now,
            json!({"reason": reason}),
        );
        match self.table.transact(vec![put], vec![event]).await {
            Ok(()) => Ok(self.hold_result(HoldState::SoldOut, false)),
            Err(e) if e.is_condition_failed() => {
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
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now_rfc3339();
            let Some(hold) = self.get_hold(&stay.reservation_id).await? else {
                let tomb = Hold {
                    reservation_id: stay.reservation_id.clone(),
                    place_id: stay.place_id.clone(),
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
                match self.table.transact(vec![put], vec![]).await {
                    Ok(()) => return Ok(None),
                    Err(e) if e.is_condition_failed() => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            // The token stays on the hold, so a redelivered cancel can still fail the waiting saga
            // (resuming a task that already ended is harmless).
            if hold.state != HoldState::Held {
                let waiting = hold.decision == OwnerDecision::Cancelled;
                return Ok(waiting.then(|| hold.task_token.clone()).flatten());
            }
            let mut next = hold.clone();
            next.state = HoldState::Released;
            if next.decision == OwnerDecision::Pending {
                next.decision = OwnerDecision::Cancelled;
            }
            let token = (next.decision == OwnerDecision::Cancelled)
                .then(|| hold.task_token.clone())
                .flatten();
            match self.transition(&hold, next, -hold.rooms, vec![]).await? {
                true => return Ok(token),
                false => continue,
            }
        }
        Err(DomainError::Unavailable("release contended; retry".into()))
    }

    /// Conditional hold transition with the matching night updates; false when the hold changed.
    async fn transition(
        &self,
        current: &Hold,
        mut next: Hold,
        night_delta: i64,
        events: Vec<DomainEvent>,
    ) -> DomainResult<bool> {
        next.version = current.version + 1;
        next.updated_at = self.clock.now_rfc3339();
        let mut writes = vec![Write::Put {
            item: to_item(&Hold::key(&next.reservation_id), None, &next),
            cond: Some(Cond::Eq("version".into(), json!(current.version))),
        }];
        if night_delta != 0 {
            writes.extend(night_writes(current, night_delta, None)?);
        }
        // Events were built from `current`; give them the hold's new version.
        let events = events
            .into_iter()
            .map(|mut e| {
                if let Some(obj) = e.detail.as_object_mut() {
                    obj.insert("holdVersion".into(), json!(next.version));
                }
                e
            })
            .collect();
        match self.table.transact(writes, events).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_condition_failed() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Callback-task step: keep the saga's token until the owner decides.
    pub async fn request_owner_decision(
        &self,
        reservation_id: &str,
        token: &str,
    ) -> DomainResult<TokenOutcome> {
        for _ in 0..MAX_ATTEMPTS {
            let hold = self
                .get_hold(reservation_id)
                .await?
                .ok_or_else(|| DomainError::not_found(format!("hold of {reservation_id}")))?;
            if hold.state != HoldState::Held || hold.decision != OwnerDecision::Pending {
                return Ok(TokenOutcome::AlreadyDecided(settled_decision(&hold)));
            }
            // Bumping the version makes a concurrent decision (which rewrites the whole hold) retry
            // and keep the token instead of erasing it.
            let set: Item = [
                ("taskToken".to_string(), json!(token)),
                ("version".to_string(), json!(hold.version + 1)),
            ]
            .into_iter()
            .collect();
            let write = Write::Update {
                key: Hold::key(reservation_id),
                set,
                add: vec![],
                cond: Some(Cond::Eq("version".into(), json!(hold.version))),
            };
            match self.table.transact(vec![write], vec![]).await {
                Ok(()) => return Ok(TokenOutcome::Stored),
                Err(e) if e.is_condition_failed() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(DomainError::Unavailable("decision contended; retry".into()))
    }

    /// The owner confirms or rejects a request-to-book stay. Repeating the same decision answers the
    /// same result; the opposite decision afterwards is a conflict.
    pub async fn decide(
        &self,
        owner_id: &str,
        reservation_id: &str,
        confirm: bool,
    ) -> DomainResult<Hold> {
        for _ in 0..MAX_ATTEMPTS {
            let hold = self
                .get_hold(reservation_id)
                .await?
                .ok_or_else(|| DomainError::not_found(format!("reservation {reservation_id}")))?;
            if hold.owner_id != owner_id {
                // Do not reveal other owners' reservations.
                return Err(DomainError::not_found(format!(
                    "reservation {reservation_id}"
                )));
            }
            let wanted = if confirm {
                OwnerDecision::Confirmed
            } else {
                OwnerDecision::Rejected
            };
            if hold.decision == wanted {
                return Ok(hold);
            }
            if hold.decision != OwnerDecision::Pending || hold.state != HoldState::Held {
                let decided = serde_json::to_value(settled_decision(&hold))
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                return Err(DomainError::Conflict(format!(
                    "reservation {reservation_id} is not awaiting the owner (decision: {decided})"
                )));
            }
            let now = self.clock.now_rfc3339();
            let mut next = hold.clone();
            next.decision = wanted;
            let (delta, event) = if confirm {
                (
                    0,
                    hold_event(
                        EventName::ReservationConfirmed,
                        &hold,
                        &now,
                        json!({"decidedBy": "owner"}),
                    ),
                )
            } else {
                next.state = HoldState::Released;
                (
                    -hold.rooms,
                    hold_event(
                        EventName::ReservationCancelConfirmed,
                        &hold,
                        &now,
                        json!({"reason": "OWNER_REJECTED", "decidedBy": "owner"}),
                    ),
                )
            };
            if self
                .transition(&hold, next.clone(), delta, vec![event])
                .await?
            {
                next.version = hold.version + 1;
                return Ok(next);
            }
        }
        Err(DomainError::Unavailable("decision contended; retry".into()))
    }

    /// Saga step when the owner did not answer in time: release unless a decision got in first.
    pub async fn expire_owner_decision(
        &self,
        reservation_id: &str,
    ) -> DomainResult<DecisionResult> {
        for _ in 0..MAX_ATTEMPTS {
            let hold = self
                .get_hold(reservation_id)
                .await?
                .ok_or_else(|| DomainError::not_found(format!("hold of {reservation_id}")))?;
            if hold.state != HoldState::Held || hold.decision != OwnerDecision::Pending {
                return Ok(DecisionResult {
                    decision: settled_decision(&hold),
                });
            }
            let now = self.clock.now_rfc3339();
            let mut next = hold.clone();
            next.state = HoldState::Released;
            next.decision = OwnerDecision::TimedOut;
            next.task_token = None;
            let event = hold_event(
                EventName::ReservationCancelConfirmed,
                &hold,
                &now,
                json!({"reason": "OWNER_TIMEOUT", "decidedBy": "timeout"}),
            );
            if self
                .transition(&hold, next, -hold.rooms, vec![event])
                .await?
            {
                return Ok(DecisionResult {
                    decision: OwnerDecision::TimedOut,
                });
            }
        }
        Err(DomainError::Unavailable("decision contended; retry".into()))
    }

    /// The token to resume the saga with after an owner decision, if the saga already handed one over.
    pub async fn pending_token(
        &self,
        reservation_id: &str,
    ) -> DomainResult<Option<(String, OwnerDecision)>> {
        Ok(self
            .get_hold(reservation_id)
            .await?
            .and_then(|h| h.task_token.clone().map(|t| (t, settled_decision(&h)))))
    }
}

/// The decision as the saga understands it once nothing is pending.
pub fn settled_decision(hold: &Hold) -> OwnerDecision {
    match (hold.state, hold.decision) {
        (_, OwnerDecision::Pending) if hold.state == HoldState::Held => OwnerDecision::Pending,
        (HoldState::Held, d) => d,
        (_, OwnerDecision::Rejected) => OwnerDecision::Rejected,
        (_, OwnerDecision::TimedOut) => OwnerDecision::TimedOut,
        _ => OwnerDecision::Cancelled,
    }
}
