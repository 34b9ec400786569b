//! The places an owner sells: registering and changing them, and the catalogue events that keep
//! the reservation context's copy current.
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::model::*;
use super::pricing::{PriceRule, validate_price, validate_rules};
use super::restrictions::{self, Restriction};
use super::room_type::{
    RoomType, STANDARD_ROOM_TYPE, assign_room_type_ids, validate_room_type_ids, validate_room_types,
};
use super::service::PlaceService;
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, Event, EventMeta, PlaceCatalogued};
use crate::idempotency;
use crate::item::to_item;
use crate::records;
use crate::retry::{Attempt, until_committed};
use crate::seed;
use crate::store::{Cond, Query, StoreError, Write};
use crate::terms::{LocalTime, RatePlan, assign_ids, validate_plans};
use crate::text::validate_text;

pub const MAX_ROOMS: i64 = 10_000;
pub const MAX_CITY_CHARS: usize = 60;
pub const MAX_ADDRESS_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
pub const MAX_GUESTS: i64 = 20;

/// `POST /v1/places`: the owner's facts, the same type the place and its events carry.
pub type RegisterPlace = PlaceFacts;

/// `PATCH /v1/places/{placeId}`. The city is fixed at registration, so it is no field here (an
/// unknown field is refused); `priceRules` replaces the whole list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePlace {
    pub name: Option<String>,
    pub room_count: Option<i64>,
    pub nightly_price: Option<i64>,
    pub instant_book: Option<bool>,
    pub address: Option<String>,
    pub description: Option<String>,
    pub guests: Option<i64>,
    pub price_rules: Option<Vec<PriceRule>>,
    pub check_in_time: Option<LocalTime>,
    pub check_out_time: Option<LocalTime>,
    /// Replaces the whole list; plans without an id get a new one.
    pub rate_plans: Option<Vec<RatePlan>>,
    /// Replaces the whole list.
    pub restrictions: Option<Vec<Restriction>>,
    /// Replaces the whole list; room types without an id get a new one. A room type left out is
    /// removed, which, like lowering its count, is refused while any of its nights holds rooms.
    pub room_types: Option<Vec<RoomType>>,
}

impl UpdatePlace {
    /// `facts` with this patch applied (not yet validated). The top-level room fields change the
    /// one room type of a place that has one.
    fn apply(&self, facts: &mut PlaceFacts) -> DomainResult<()> {
        let text = |patch: &Option<String>, current: &mut String| {
            if let Some(t) = patch {
                *current = t.clone();
            }
        };
        text(&self.name, &mut facts.name);
        text(&self.address, &mut facts.address);
        text(&self.description, &mut facts.description);
        facts.instant_book = self.instant_book.unwrap_or(facts.instant_book);
        let room_fields = [
            ("roomCount", self.room_count.is_some()),
            ("nightlyPrice", self.nightly_price.is_some()),
            ("guests", self.guests.is_some()),
            ("priceRules", self.price_rules.is_some()),
        ];
        if let Some((field, _)) = room_fields.iter().find(|(_, given)| *given) {
            let several = facts.room_types.len() > 1;
            if self.room_types.is_some() || several {
                return Err(DomainError::invalid(
                    field,
                    "describes the place's only room type: change room types through roomTypes",
                ));
            }
        }
        if let Some(types) = &self.room_types {
            facts.room_types = types.clone();
        }
        if let Some(only) = facts.room_types.first_mut() {
            only.room_count = self.room_count.unwrap_or(only.room_count);
            only.nightly_price = self.nightly_price.unwrap_or(only.nightly_price);
            only.max_guests = self.guests.unwrap_or(only.max_guests);
            if let Some(rules) = &self.price_rules {
                only.price_rules = rules.clone();
            }
        }
        facts.check_in_time = self.check_in_time.unwrap_or(facts.check_in_time);
        facts.check_out_time = self.check_out_time.unwrap_or(facts.check_out_time);
        if let Some(plans) = &self.rate_plans {
            facts.rate_plans = plans.clone();
        }
        if let Some(rules) = &self.restrictions {
            facts.restrictions = rules.clone();
        }
        facts.mirror_first_room_type();
        Ok(())
    }
}

/// Trims what is compared and searched by its trimmed form (the name, the city).
fn normalized(mut facts: PlaceFacts) -> PlaceFacts {
    facts.name = facts.name.trim().to_string();
    facts.city = facts.city.trim().to_string();
    assign_ids(&mut facts.rate_plans);
    assign_room_type_ids(&mut facts.room_types);
    facts.reconcile_room_types();
    facts
}

/// Checks the facts as the client sent them (so a control character is refused even where
/// trimming would drop it); the city's length counts once trimmed, and "" means none.
fn validate_place(facts: &PlaceFacts) -> DomainResult<()> {
    let mut reconciled = facts.clone();
    reconciled.reconcile_room_types();
    let facts = &reconciled;
    crate::text::validate_name("name", &facts.name)?;
    // A place of one kind of room hears about it by the top-level names it was described by; a
    // place of room types by `roomTypes[i]...` (below).
    let one_kind =
        matches!(facts.room_types.as_slice(), [only] if only.room_type_id == STANDARD_ROOM_TYPE);
    if one_kind {
        validate_one_kind(facts)?;
    }
    if !facts.city.is_empty() && facts.city.trim().is_empty() {
        return Err(DomainError::invalid("city", "must not be blank"));
    }
    validate_text("city", &facts.city, usize::MAX, false)?;
    validate_text("city", facts.city.trim(), MAX_CITY_CHARS, false)?;
    validate_text("address", &facts.address, MAX_ADDRESS_CHARS, false)?;
    validate_text(
        "description",
        &facts.description,
        MAX_DESCRIPTION_CHARS,
        true,
    )?;
    facts.time_zone.zone()?;
    restrictions::validate(&facts.restrictions)?;
    // Ids are assigned before these checks: a plan or room type without one is valid.
    let mut plans = facts.rate_plans.clone();
    assign_ids(&mut plans);
    validate_plans(&plans)?;
    let mut types = facts.room_types.clone();
    assign_room_type_ids(&mut types);
    validate_room_types(&types)?;
    for (i, plan) in plans.iter().enumerate() {
        let ids = plan.room_type_ids.as_deref();
        validate_room_type_ids(&format!("ratePlans[{i}].roomTypeIds"), ids, &types)?;
    }
    for (i, rule) in facts.restrictions.iter().enumerate() {
        let ids = rule.room_type_ids.as_deref();
        validate_room_type_ids(&format!("restrictions[{i}].roomTypeIds"), ids, &types)?;
    }
    match types
        .iter()
        .find(|t| !plans.iter().any(|p| p.sells(&t.room_type_id)))
    {
        Some(unsold) => Err(DomainError::invalid(
            "ratePlans",
            format!("no rate plan sells room type '{}'", unsold.room_type_id),
        )),
        None => Ok(()),
    }
}

/// The top-level `roomCount`, `nightlyPrice`, `guests` and `priceRules` of a place of one kind of
/// room.
fn validate_one_kind(facts: &PlaceFacts) -> DomainResult<()> {
    if !(0..=MAX_ROOMS).contains(&facts.room_count) {
        return Err(DomainError::invalid(
            "roomCount",
            format!("must be between 0 and {MAX_ROOMS}"),
        ));
    }
    validate_price("nightlyPrice", facts.nightly_price)?;
    if !(1..=MAX_GUESTS).contains(&facts.guests) {
        return Err(DomainError::invalid(
            "guests",
            format!("must be between 1 and {MAX_GUESTS}"),
        ));
    }
    validate_rules(&facts.price_rules)
}

/// `kind` is `Event::PlaceRegistered` or `Event::PlaceUpdated`.
fn catalogue_event(kind: fn(PlaceCatalogued) -> Event, place: &Place) -> DomainEvent {
    DomainEvent::new(kind(PlaceCatalogued {
        meta: EventMeta::new(place.version, &place.updated_at),
        place_id: place.place_id.clone(),
        owner_id: place.owner_id.clone(),
        place: place.facts.clone(),
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
                if existing.owner_id != owner_id || existing.facts != place.facts {
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
        validate_place(&cmd)?;
        let facts = normalized(cmd);
        let now = self.clock.now_rfc3339();
        Ok(Place {
            place_id,
            owner_id: owner_id.to_string(),
            facts,
            pending_room_counts: BTreeMap::new(),
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
    /// is capped by `pendingRoomCounts`, then the count is lowered only if no night holds more.
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
                patch.apply(&mut next.facts)?;
                validate_place(&next.facts)?;
                next.facts = normalized(next.facts);
                // Nothing to change — unless a crashed lowering left its cap behind: rewriting the
                // place clears it.
                if next.described() == place.described() && place.pending_room_counts.is_empty() {
                    return Ok(Attempt::Done(place));
                }
                let lowered = lowered_counts(&place.facts, &next.facts);
                if !lowered.is_empty() {
                    return self.lower_room_counts(&place, next, lowered).await;
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
        next.pending_room_counts = BTreeMap::new();
        next.pending_since_ms = None;
        let item = to_item(&Place::key(&next.place_id), Some((&gpk, &gsk)), &next);
        let put = Write::Put {
            item,
            cond: Some(Cond::Eq("version".into(), json!(current.version))),
        };
        let event = catalogue_event(Event::PlaceUpdated, &next);
        Attempt::commit(vec![put], vec![event], next)
    }

    /// Lowers room counts (a room type removed goes to 0) in two phases, so no night is ever left
    /// above its room type's count.
    async fn lower_room_counts(
        &self,
        place: &Place,
        next: Place,
        lowered: BTreeMap<String, i64>,
    ) -> DomainResult<Attempt<Place>> {
        let key = Place::key(&place.place_id);
        // Phase 1: cap new holds (they check the place version, so in-flight ones retry).
        let phase1 = Write::Update {
            key: key.clone(),
            set: [
                ("pendingRoomCounts".to_string(), json!(lowered)),
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
            .availability_from(&place.place_id, None, &place.facts.room_types)
            .await?;
        let over = nights.iter().find(|n| {
            lowered
                .get(&n.room_type_id)
                .is_some_and(|count| n.held > *count)
        });
        // Holds ignore a cap once it is stale; a lowering that took that long must not commit.
        let too_slow = self.clock.now_millis() - started_ms > STALE_CAP_MS / 2;
        if over.is_some() || too_slow {
            let undo = Write::Update {
                key: key.clone(),
                set: [
                    ("version".to_string(), json!(v1 + 1)),
                    ("pendingRoomCounts".to_string(), json!({})),
                    ("pendingSinceMs".to_string(), Value::Null),
                ]
                .into_iter()
                .collect(),
                add: vec![],
                cond: Some(Cond::Eq("version".into(), json!(v1))),
            };
            // Clearing the cap is best effort: a stale cap only makes holds stricter.
            let _ = self.table.transact(vec![undo], vec![]).await;
            if let Some(night) = over {
                return Err(DomainError::Conflict(format!(
                    "room type '{}' has {} room(s) held on {}; its room count cannot go below that",
                    night.room_type_id, night.held, night.night
                )));
            }
            return Err(DomainError::Unavailable(
                "room count change too slow; retry".into(),
            ));
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

/// The room types whose count `next` lowers (to 0 for a room type it removes), with the new count.
fn lowered_counts(current: &PlaceFacts, next: &PlaceFacts) -> BTreeMap<String, i64> {
    current
        .room_types
        .iter()
        .filter_map(|t| {
            let count = next
                .room_type(Some(&t.room_type_id))
                .map_or(0, |n| n.room_count);
            (count < t.room_count || next.room_type(Some(&t.room_type_id)).is_none())
                .then(|| (t.room_type_id.clone(), count))
        })
        .collect()
}
