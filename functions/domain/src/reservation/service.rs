use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::model::*;
use crate::clock::{Clock, Sleeper};
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, Event, EventMeta, ReservationPlaced, ReservationSnapshot};
use crate::idempotency;
use crate::item::to_item;
use crate::place::{Booking, Place, RoomType, choose, price_booking};
use crate::records;
use crate::retry::{Attempt, until_committed};
use crate::seed;
use crate::stay::Stay;
use crate::store::{Cond, Key, StoreError, Table, Write};
use crate::terms::{Guests, LeadGuest, validate_special_request};
/// A seed facade booking of a place the catalogue copy does not know yet re-reads it after these
/// pauses (2 s in all) before answering 404: the copy follows the place context by an event, so a
/// client that registers a place and books it at once would otherwise be told it does not exist.
const CATALOGUE_WAITS_MS: [u64; 8] = [10, 20, 40, 80, 160, 320, 640, 730];
/// The order-number counter of the seed facade.
const ORDER_COUNTER: (&str, &str, &str) = ("SEQ#order", "SEQ", "value");

// The status machine: the saga's steps and every kind of cancel (one reason to change apart
// from placing a reservation).
#[path = "lifecycle.rs"]
mod lifecycle;

pub const MAX_ROOMS_PER_RESERVATION: i64 = 100;
/// The largest amount a reservation can have (price × nights × rooms at their bounds), 3×10^11:
/// loyalty points and any sum of amounts stay far inside a 64-bit integer.
pub const MAX_AMOUNT: i64 =
    crate::place::MAX_PRICE * crate::stay::MAX_NIGHTS * MAX_ROOMS_PER_RESERVATION;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceReservation {
    pub place_id: String,
    pub check_in: String,
    pub check_out: String,
    #[serde(default = "one")]
    pub rooms: i64,
    /// A quote's `priceToken`: the booking is charged that quote's total while it holds.
    #[serde(default)]
    pub price_token: Option<String>,
    /// One of the place's room types; absent: the first the rate plan sells.
    #[serde(default)]
    pub room_type_id: Option<String>,
    /// One of the place's rate plans; absent: the first that sells the room type.
    #[serde(default)]
    pub rate_plan_id: Option<String>,
    /// Absent: one adult.
    #[serde(default)]
    pub guests: Option<Guests>,
    #[serde(default)]
    pub lead_guest: Option<LeadGuest>,
    #[serde(default)]
    pub special_request: Option<String>,
    /// The card, as the payment provider's client library gave it (`pm_…`). Required by a
    /// real provider; the simulation takes none (a card that pays) or its test cards.
    #[serde(default)]
    pub payment_method: Option<String>,
}

/// A payment method reference: a provider's id, never card data.
fn validate_payment_method(method: &str) -> DomainResult<()> {
    let ok = (3..=255).contains(&method.len())
        && method
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(DomainError::invalid(
            "paymentMethod",
            "must be the payment provider's id of the card (3 to 255 letters, digits or _, e.g. pm_card_visa)",
        ));
    }
    Ok(())
}

impl PlaceReservation {
    /// The party, checked against the rooms asked for and the guests one room of `room_type`
    /// sleeps.
    fn party(&self, room_type: &RoomType) -> DomainResult<Party> {
        let guests = self.guests.unwrap_or_else(Guests::one_adult);
        guests.validate(self.rooms, room_type.max_guests)?;
        if let Some(lead) = &self.lead_guest {
            lead.validate()?;
        }
        if let Some(text) = &self.special_request {
            validate_special_request(text)?;
        }
        if let Some(method) = &self.payment_method {
            validate_payment_method(method)?;
        }
        Ok(Party {
            guests,
            lead_guest: self.lead_guest.clone(),
            special_request: self
                .special_request
                .clone()
                .filter(|t| !t.trim().is_empty()),
            payment_method: self.payment_method.clone(),
        })
    }
}

fn one() -> i64 {
    1
}

/// The seed facade's reservation: the client names the place and the amount (the seed had no price list).
#[derive(Debug, Clone)]
pub struct SeedReservation {
    pub user_id: String,
    pub place_id: String,
    pub place_name: String,
    pub check_in: String,
    pub check_out: String,
    pub rooms: i64,
    pub amount: i64,
}

/// The record of a quote's single use (`PRICETOKEN#<token>`): one booking per quote.
fn used_token_key(token: &str) -> Key {
    Key::new(format!("PRICETOKEN#{token}"), "USED")
}

/// Makes the id of a new `/v1` reservation.
pub type IdSource = Arc<dyn Fn() -> String + Send + Sync>;

pub struct ReservationService {
    table: Arc<dyn Table>,
    /// The place context's table, read (never written) when a `/v1` booking is priced: the
    /// catalogue copy in `table` follows the place by an event, and a price read from it could
    /// be another than the one just quoted.
    places: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    ids: IdSource,
    /// Paces re-reads of the catalogue on a miss; without it a miss answers 404 at once.
    sleeper: Option<Arc<dyn Sleeper>>,
}

/// The reservation as its events carry it (its stay was validated when it was placed).
fn snapshot(r: &Reservation) -> DomainResult<ReservationSnapshot> {
    let stay = Stay::parse(&r.check_in, &r.check_out)?;
    Ok(ReservationSnapshot {
        reservation_id: r.reservation_id.clone(),
        user_id: r.user_id.clone(),
        place_id: r.place_id.clone(),
        place_name: r.place_name.clone(),
        owner_id: r.owner_id.clone(),
        check_in: stay.check_in,
        check_out: stay.check_out,
        nights: r.nights,
        rooms: r.rooms,
        amount: r.amount,
        status: r.status,
        status_reason: r.status_reason,
        terms: r.terms.clone(),
        cancellation: r.cancellation.clone(),
        created_at: r.created_at.clone(),
        updated_at: r.updated_at.clone(),
    })
}

fn validate_rooms(rooms: i64) -> DomainResult<()> {
    if !(1..=MAX_ROOMS_PER_RESERVATION).contains(&rooms) {
        return Err(DomainError::invalid(
            "rooms",
            format!("must be between 1 and {MAX_ROOMS_PER_RESERVATION}"),
        ));
    }
    Ok(())
}

fn validate_id(field: &str, id: &str) -> DomainResult<()> {
    // Characters, not bytes, as the schema's `maxLength` counts them.
    if id.is_empty()
        || id.chars().count() > 128
        || id.contains('#')
        || id.chars().any(char::is_control)
    {
        return Err(DomainError::invalid(
            field,
            "must be 1 to 128 characters, without '#'",
        ));
    }
    Ok(())
}

impl ReservationService {
    pub fn new(table: Arc<dyn Table>, places: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self {
            table,
            places,
            clock,
            ids: Arc::new(idempotency::new_id),
            sleeper: None,
        }
    }

    /// Replaces the random ids of new `/v1` reservations (fixtures that need a known id).
    pub fn set_id_source(&mut self, ids: IdSource) {
        self.ids = ids;
    }

    /// Seed facade bookings wait up to 2 s for the catalogue copy of a place just registered
    /// (read-your-writes across the two contexts) instead of answering 404 at once.
    pub fn with_catalogue_wait(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = Some(sleeper);
        self
    }

    pub async fn get(&self, reservation_id: &str) -> DomainResult<Option<Reservation>> {
        records::get(&*self.table, &Reservation::key(reservation_id)).await
    }

    /// A customer's own reservation; someone else's is reported as absent.
    pub async fn get_own(&self, user_id: &str, reservation_id: &str) -> DomainResult<Reservation> {
        match self.get(reservation_id).await? {
            Some(r) if r.user_id == user_id => Ok(r),
            _ => Err(DomainError::not_found(format!(
                "reservation {reservation_id}"
            ))),
        }
    }

    /// Keeps the catalogue copy current; older versions never overwrite newer ones.
    pub async fn apply_catalogue(&self, place: CatalogPlace) -> DomainResult<()> {
        let put = Write::Put {
            item: to_item(&CatalogPlace::key(&place.place_id), None, &place),
            cond: Some(Cond::Or(vec![
                Cond::AttrNotExists("version".into()),
                Cond::Lt("version".into(), place.version as i64),
            ])),
        };
        match self.table.transact(vec![put], vec![]).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_condition_failed() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn catalogue(&self, place_id: &str) -> DomainResult<Option<CatalogPlace>> {
        records::get(&*self.table, &CatalogPlace::key(place_id)).await
    }

    /// The catalogue copy of a place, waiting for it a bounded time when it is not there (yet).
    /// `shown` is the id the client used, for the 404.
    async fn catalogue_or_wait(&self, place_id: &str, shown: &str) -> DomainResult<CatalogPlace> {
        let mut waits = CATALOGUE_WAITS_MS.iter();
        loop {
            if let Some(place) = self.catalogue(place_id).await? {
                return Ok(place);
            }
            match (&self.sleeper, waits.next()) {
                (Some(sleeper), Some(ms)) => sleeper.sleep(Duration::from_millis(*ms)).await,
                _ => return Err(DomainError::not_found(format!("place {shown}"))),
            }
        }
    }

    /// `POST /v1/reservations`: validates, prices and stores PENDING with ReservationPlaced.
    /// Returns the reservation and whether this call created it (false: an idempotent repeat).
    pub async fn place(
        &self,
        user_id: &str,
        cmd: PlaceReservation,
        idempotency_key: Option<&str>,
    ) -> DomainResult<(Reservation, bool)> {
        validate_id("placeId", &cmd.place_id)?;
        let stay = Stay::parse(&cmd.check_in, &cmd.check_out)?;
        validate_rooms(cmd.rooms)?;
        // The seed facade's places are not bookable here.
        if seed::is_seed_id(&cmd.place_id) {
            return Err(DomainError::not_found(format!("place {}", cmd.place_id)));
        }
        // A repeat is answered before anything is priced: the first request was priced and
        // stored, and a retry must not be refused because its quote expired since.
        let record = idempotency_key.map(|key| idempotency::key(user_id, key));
        if let Some(record) = &record
            && let Some(id) = idempotency::lookup(&*self.table, record).await?
        {
            return self.repeated(&id, user_id, &cmd, &stay).await;
        }
        let place: Place = records::get(&*self.places, &Place::key(&cmd.place_id))
            .await?
            .ok_or_else(|| DomainError::not_found(format!("place {}", cmd.place_id)))?;
        stay.ensure_bookable(self.clock.now().date())?;
        let room_type_id = cmd.room_type_id.as_deref();
        let rate_plan_id = cmd.rate_plan_id.as_deref();
        let (room_type, _) = choose(&place, room_type_id, rate_plan_id)?;
        let party = cmd.party(room_type)?;
        let token = cmd.price_token.as_deref();
        let offer = price_booking(
            &*self.places,
            &place,
            Booking {
                user_id,
                stay: &stay,
                rooms: cmd.rooms,
                room_type_id,
                rate_plan_id,
                token,
            },
            self.clock.now(),
        )
        .await?;
        let amount = offer.total;
        let now = self.clock.now_rfc3339();
        let r = Reservation {
            reservation_id: (self.ids)(),
            user_id: user_id.to_string(),
            place_id: place.place_id,
            place_name: place.facts.name,
            owner_id: place.owner_id,
            check_in: stay.check_in_str(),
            check_out: stay.check_out_str(),
            nights: stay.nights(),
            rooms: cmd.rooms,
            amount,
            status: ReservationStatus::Pending,
            status_reason: None,
            terms: BookingTerms::of(offer, party),
            cancellation: None,
            version: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        // Written with the reservation: the key's record, then the token's single use.
        let mut extra = vec![];
        if let Some(record) = &record {
            extra.push(idempotency::create(
                record,
                &r.reservation_id,
                &r.created_at,
            ));
        }
        if let Some(token) = token {
            extra.push(Write::Put {
                item: to_item(
                    &used_token_key(token),
                    None,
                    &json!({"reservationId": r.reservation_id}),
                ),
                cond: Some(Cond::NotExists),
            });
        }
        let token_write = extra.len();
        let (writes, events) = Self::insert_writes(&r, extra)?;
        match self.table.transact(writes, events).await {
            Ok(()) => Ok((r, true)),
            Err(StoreError::ConditionFailed { failed }) => {
                // A concurrent first use of the same key won: answer its reservation.
                if let Some(record) = record.as_ref().filter(|_| failed.contains(&1)) {
                    let id = idempotency::lookup(&*self.table, record)
                        .await?
                        .ok_or_else(|| {
                            DomainError::Unavailable("idempotency record vanished".into())
                        })?;
                    return self.repeated(&id, user_id, &cmd, &stay).await;
                }
                if token.is_some() && failed.contains(&token_write) {
                    return Err(DomainError::Conflict(
                        "this priceToken was already used for a booking: ask for a new quote"
                            .into(),
                    ));
                }
                Err(StoreError::ConditionFailed { failed }.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The reservation an Idempotency-Key already names, if this request asks for the same stay.
    async fn repeated(
        &self,
        reservation_id: &str,
        user_id: &str,
        cmd: &PlaceReservation,
        stay: &Stay,
    ) -> DomainResult<(Reservation, bool)> {
        let existing = self
            .get(reservation_id)
            .await?
            .ok_or_else(|| DomainError::Unavailable("idempotency record vanished".into()))?;
        let same = existing.user_id == user_id
            && existing.place_id == cmd.place_id
            && existing.check_in == stay.check_in_str()
            && existing.check_out == stay.check_out_str()
            && existing.rooms == cmd.rooms
            && cmd
                .room_type_id
                .as_ref()
                .is_none_or(|id| *id == existing.terms.room_type.room_type_id);
        if !same {
            return Err(DomainError::Conflict(
                "the Idempotency-Key was already used for a different request".into(),
            ));
        }
        Ok((existing, false))
    }

    /// The seed facade (`POST /accommodations`): ids are the next order number, as the seed's client
    /// expects, from an atomic counter, so concurrent bookings never contend for a number. The
    /// counter and the reservation are two writes: a number is skipped if the reservation write
    /// then fails, which is harmless for order numbers.
    pub async fn place_seed(&self, cmd: SeedReservation) -> DomainResult<Reservation> {
        validate_id("usrId", &cmd.user_id)?;
        validate_id("placeId", &cmd.place_id)?;
        let stay = Stay::parse(&cmd.check_in, &cmd.check_out)?;
        validate_rooms(cmd.rooms)?;
        // Blank means "the place's own name"; anything else is held to the rules of every name.
        if !cmd.place_name.trim().is_empty() {
            crate::text::validate_name("placeNm", &cmd.place_name)?;
        }
        if !(0..=seed::MAX_AMOUNT).contains(&cmd.amount) {
            return Err(DomainError::invalid(
                "amount",
                format!("must be an integer from 0 to {}", seed::MAX_AMOUNT),
            ));
        }
        let place = self
            .catalogue_or_wait(&seed::place_id(&cmd.place_id), &cmd.place_id)
            .await?;
        let (pk, sk, attr) = ORDER_COUNTER;
        let counter = Key::new(pk, sk);
        // Only if the counter fell behind the orders (e.g. restored from an older copy) does the
        // insert conflict: take the next number.
        let (counter, place, cmd) = (&counter, &place, &cmd);
        until_committed(
            &*self.table,
            "order numbers already in use",
            move |_| async move {
                let number = self.table.increment(counter, attr, 1).await?;
                let now = self.clock.now_rfc3339();
                let r = Reservation {
                    reservation_id: number.to_string(),
                    user_id: seed::user_id(&cmd.user_id),
                    place_id: place.place_id.clone(),
                    place_name: if cmd.place_name.trim().is_empty() {
                        place.name.clone()
                    } else {
                        cmd.place_name.clone()
                    },
                    owner_id: place.owner_id.clone(),
                    check_in: stay.check_in_str(),
                    check_out: stay.check_out_str(),
                    nights: stay.nights(),
                    rooms: cmd.rooms,
                    amount: cmd.amount,
                    status: ReservationStatus::Pending,
                    status_reason: None,
                    terms: BookingTerms::default(),
                    cancellation: None,
                    version: 1,
                    created_at: now.clone(),
                    updated_at: now,
                };
                let (writes, events) = Self::insert_writes(&r, vec![])?;
                Ok(Attempt::commit(writes, events, r))
            },
        )
        .await
    }

    /// A new reservation (it must not exist) with ReservationPlaced, and `extra` writes.
    fn insert_writes(
        r: &Reservation,
        mut extra: Vec<Write>,
    ) -> DomainResult<(Vec<Write>, Vec<DomainEvent>)> {
        let (gpk, gsk) = r.user_index();
        let event = DomainEvent::new(Event::ReservationPlaced(ReservationPlaced {
            meta: EventMeta::new(r.version, &r.created_at),
            reservation: snapshot(r)?,
        }));
        let mut writes = vec![Write::Put {
            item: to_item(&Reservation::key(&r.reservation_id), Some((&gpk, &gsk)), r),
            cond: Some(Cond::NotExists),
        }];
        writes.append(&mut extra);
        Ok((writes, vec![event]))
    }
}
