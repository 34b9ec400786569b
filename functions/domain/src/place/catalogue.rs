//! The places an owner sells: registering and changing them, and the catalogue events that keep
//! the reservation context's copy current.
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::*;
use super::service::PlaceService;
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, Event, EventMeta, PlaceCatalogued};
use crate::idempotency;
use crate::item::to_item;
use crate::records;
use crate::retry::{Attempt, until_committed};
use crate::seed;
use crate::store::{Cond, Query, StoreError, Write};

pub const MAX_ROOMS: i64 = 10_000;
/// 100,000,000 minor units a night: with at most 30 nights and 100 rooms an amount stays below
/// 3×10^11, so amounts and loyalty points can never overflow a 64-bit integer anywhere.
pub const MAX_PRICE: i64 = 100_000_000;

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

/// `kind` is `Event::PlaceRegistered` or `Event::PlaceUpdated`.
fn catalogue_event(kind: fn(PlaceCatalogued) -> Event, place: &Place) -> DomainEvent {
    DomainEvent::new(kind(PlaceCatalogued {
        meta: EventMeta::new(place.version, &place.updated_at),
        place_id: place.place_id.clone(),
        owner_id: place.owner_id.clone(),
        name: place.name.clone(),
        room_count: place.room_count,
        nightly_price: place.nightly_price,
        instant_book: place.instant_book,
    }))
}

impl PlaceService {
    pub async fn get_place(&self, place_id: &str) -> DomainResult<Option<Place>> {
        records::get(&*self.table, &Place::key(place_id)).await
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
        records::query(&*self.table, &q).await
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
                let existing: Place = records::replayed(&*self.table, &record, Place::key).await?;
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
            .transact(writes, vec![catalogue_event(Event::PlaceRegistered, place)])
            .await
    }

    /// Changes a place. Lowering the room count never leaves a night above it: first every new hold
    /// is capped by `pendingRoomCount`, then the count is lowered only if no night holds more.
    /// Changes a place. Lowering the room count never leaves a night above it: first every new hold
    /// is capped by `pendingRoomCount`, then the count is lowered only if no night holds more.
    pub async fn update(
        &self,
        owner_id: &str,
        place_id: &str,
        patch: UpdatePlace,
    ) -> DomainResult<Place> {
        let patch = &patch;
        until_committed(
            &*self.table,
            "place update contended",
            move |_| async move {
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
                    return Ok(Attempt::Done(place));
                }
                if next.room_count < place.room_count {
                    return self.lower_room_count(&place, next).await;
                }
                Ok(self.replace(&place, next))
            },
        )
        .await
    }

    /// The conditional replace of `current` by `next` (retried when another writer got there first).
    fn replace(&self, current: &Place, mut next: Place) -> Attempt<Place> {
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
        let event = catalogue_event(Event::PlaceUpdated, &next);
        Attempt::commit(vec![put], vec![event], next)
    }

    async fn lower_room_count(&self, place: &Place, next: Place) -> DomainResult<Attempt<Place>> {
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
            Err(e) if e.is_condition_failed() => return Ok(Attempt::Retry),
            Err(e) => return Err(e.into()),
        }
        let v1 = place.version + 1;
        let started_ms = self.clock.now_millis();
        // Phase 2: every hold committed before phase 1 is visible now.
        // Every night, past ones included: the seed facade books any date, and the invariant
        // "no night above its room count" has no exception.
        let nights = self
            .availability_from(&place.place_id, None, place.room_count)
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
        Ok(self.replace(
            &Place {
                version: v1,
                ..place.clone()
            },
            next,
        ))
    }
}
