//! What a stay at a place costs and whether it is free, read from the place context's own items
//! (strongly consistent): the place and the night items of the months the stay touches.
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;
use time::Date;

use super::offer::{Offer, offers};
use super::pricing::NightPrice;
use super::quoted::QuotedPrice;
use super::room_type::parse_night_sk;
use super::service::PlaceService;
use crate::error::{DomainError, DomainResult};
use crate::item::to_item;
use crate::reservation::MAX_ROOMS_PER_RESERVATION;
use crate::stay::nights_by_month;
use crate::stay::{Stay, parse_date};
use crate::store::{Cond, Query, Write};
use crate::terms::Currency;

/// The stay a query string asks about (`checkIn`, `checkOut`, `rooms` default 1), under the rules
/// of a reservation: a quote never prices a stay that could not be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StayAsked {
    pub stay: Stay,
    pub rooms: i64,
}

/// An integer query parameter within `range`; `None` when absent.
pub fn query_integer(
    q: &BTreeMap<String, String>,
    name: &str,
    (min, max): (i64, i64),
) -> DomainResult<Option<i64>> {
    let Some(text) = q.get(name) else {
        return Ok(None);
    };
    match text.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(DomainError::invalid(
            name,
            format!("must be an integer from {min} to {max}"),
        )),
    }
}

impl StayAsked {
    /// `today` is UTC's (the stay must be bookable then).
    pub fn parse(q: &BTreeMap<String, String>, today: Date) -> DomainResult<StayAsked> {
        let date = |name: &str| match q.get(name) {
            Some(text) => parse_date(name, text),
            None => Err(DomainError::invalid(name, "required (YYYY-MM-DD)")),
        };
        let stay = Stay::new(date("checkIn")?, date("checkOut")?)?;
        stay.ensure_bookable(today)?;
        let rooms = query_integer(q, "rooms", (1, MAX_ROOMS_PER_RESERVATION))?.unwrap_or(1);
        Ok(StayAsked { stay, rooms })
    }
}

/// One night of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteNight {
    #[serde(flatten)]
    pub price: NightPrice,
    /// Rooms a new hold could take that night (never below 0).
    pub free: i64,
}

/// An offer of a quote, with what its room type has free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteOffer {
    #[serde(flatten)]
    pub offer: Offer,
    /// The fewest rooms of its room type a new hold could take on any night of the stay.
    pub free: i64,
    /// `rooms` of its room type are free on every night.
    pub available: bool,
}

/// `GET /v1/places/{placeId}/quote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    pub place_id: String,
    pub name: String,
    #[serde(with = "crate::stay::iso_date")]
    pub check_in: Date,
    #[serde(with = "crate::stay::iso_date")]
    pub check_out: Date,
    pub rooms: i64,
    /// The first offer's nights, with the rooms of its room type free on each.
    pub nights: Vec<QuoteNight>,
    /// The amount a reservation of this stay naming no rate plan would have (the first offer's).
    pub total: i64,
    pub currency: Currency,
    /// Every (room type, rate plan) offer, each with its policy as it would be if booked now.
    pub offers: Vec<QuoteOffer>,
    /// `rooms` of the first offer's room type are free on every night.
    pub available: bool,
    /// A booking that presents it is charged `total` until `validUntil` (see `quoted.rs`).
    pub price_token: String,
    pub valid_until: String,
}

impl PlaceService {
    /// `user_id`'s quote of a listed place for the stay `q` asks about; 404 for an unknown place.
    pub async fn quote(
        &self,
        user_id: &str,
        place_id: &str,
        q: &BTreeMap<String, String>,
    ) -> DomainResult<Quote> {
        let asked = StayAsked::parse(q, self.clock.now().date())?;
        let place = self
            .get_listed(place_id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("place {place_id}")))?;
        let now = self.clock.now();
        let offers = offers(&place.facts, &asked.stay, asked.rooms, now)?;
        let held = self.held_on(place_id, &asked.stay).await?;
        // What a new hold may take now: a room-count lowering being applied caps it already.
        let now_ms = self.clock.now_millis();
        let free = |room_type: &str, night: Date| {
            let held = held
                .get(&(night, room_type.to_string()))
                .copied()
                .unwrap_or(0);
            (place.ceiling(room_type, now_ms) - held).max(0)
        };
        let nights: Vec<QuoteNight> = offers
            .first()
            .map(|o| {
                o.nights
                    .iter()
                    .map(|price| QuoteNight {
                        free: free(&o.room_type.room_type_id, price.date),
                        price: *price,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let total = offers.first().map_or(0, |o| o.total);
        let quoted = QuotedPrice::new(
            user_id,
            &place,
            &asked.stay,
            asked.rooms,
            &offers,
            now,
            self.quote_validity_seconds,
        );
        let put = Write::Put {
            item: to_item(&QuotedPrice::key(&quoted.price_token), None, &quoted),
            cond: Some(Cond::NotExists),
        };
        self.table.transact(vec![put], vec![]).await?;
        let offers: Vec<QuoteOffer> = offers
            .into_iter()
            .map(|offer| {
                let id = &offer.room_type.room_type_id;
                let free = offer
                    .nights
                    .iter()
                    .map(|n| free(id, n.date))
                    .min()
                    .unwrap_or(0);
                QuoteOffer {
                    available: free >= asked.rooms,
                    offer,
                    free,
                }
            })
            .collect();
        Ok(Quote {
            total,
            price_token: quoted.price_token,
            valid_until: quoted.valid_until,
            available: offers.first().is_some_and(|o| o.available),
            currency: place.facts.currency,
            offers,
            place_id: place.place_id.clone(),
            name: place.facts.name.clone(),
            check_in: asked.stay.check_in,
            check_out: asked.stay.check_out,
            rooms: asked.rooms,
            nights,
        })
    }

    /// Rooms held on the nights of `stay`, per room type: one consistent Query per calendar month
    /// it touches (a stay of at most 30 nights touches one or two), instead of every night the
    /// place ever had.
    async fn held_on(
        &self,
        place_id: &str,
        stay: &Stay,
    ) -> DomainResult<HashMap<(Date, String), i64>> {
        let mut held = HashMap::new();
        for (month, _) in nights_by_month(stay) {
            let q = Query {
                partition: format!("PLACE#{place_id}"),
                sk_prefix: Some(format!("NIGHT#{month}")),
                ..Default::default()
            };
            for item in self.table.query(&q).await? {
                let Some((night, room_type)) = item
                    .get("sk")
                    .and_then(Value::as_str)
                    .and_then(parse_night_sk)
                else {
                    continue;
                };
                if let Ok(night) = parse_date("night", night) {
                    let rooms = item.get("held").and_then(Value::as_i64).unwrap_or(0);
                    held.insert((night, room_type.to_string()), rooms);
                }
            }
        }
        Ok(held)
    }
}
