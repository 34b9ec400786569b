//! What a stay at a place costs and whether it is free, read from the place context's own items
//! (strongly consistent): the place and the night items of the months the stay touches.
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;
use time::Date;

use super::offer::{Offer, offers};
use super::pricing::NightPrice;
use super::quoted::QuotedPrice;
use super::service::PlaceService;
use crate::error::{DomainError, DomainResult};
use crate::item::to_item;
use crate::reservation::MAX_ROOMS_PER_RESERVATION;
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
    /// The first offer's nights, with the rooms free on each.
    pub nights: Vec<QuoteNight>,
    /// The amount a reservation of this stay naming no rate plan would have (the first offer's).
    pub total: i64,
    pub currency: Currency,
    /// Every rate plan's offer, each with its policy as it would be if booked now.
    pub offers: Vec<Offer>,
    /// `rooms` are free on every night.
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
        let priced = offers.first().map(|o| o.nights.clone()).unwrap_or_default();
        let held = self.held_on(place_id, &priced).await?;
        // What a new hold may take now: a room-count lowering being applied caps it already.
        let sellable = place.ceiling(self.clock.now_millis());
        let nights: Vec<QuoteNight> = priced
            .into_iter()
            .map(|price| QuoteNight {
                free: (sellable - held.get(&price.date).copied().unwrap_or(0)).max(0),
                price,
            })
            .collect();
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
        Ok(Quote {
            total,
            price_token: quoted.price_token,
            valid_until: quoted.valid_until,
            available: nights.iter().all(|n| n.free >= asked.rooms),
            currency: place.facts.currency,
            offers,
            place_id: place.place_id,
            name: place.facts.name,
            check_in: asked.stay.check_in,
            check_out: asked.stay.check_out,
            rooms: asked.rooms,
            nights,
        })
    }

    /// Rooms held on `nights`: one consistent Query per calendar month they touch (a stay of at
    /// most 30 nights touches one or two), instead of every night the place ever had.
    async fn held_on(
        &self,
        place_id: &str,
        nights: &[NightPrice],
    ) -> DomainResult<HashMap<Date, i64>> {
        let mut months: Vec<String> = nights
            .iter()
            .map(|n| format!("{:04}-{:02}", n.date.year(), u8::from(n.date.month())))
            .collect();
        months.dedup();
        let mut held = HashMap::new();
        for month in months {
            let q = Query {
                partition: format!("PLACE#{place_id}"),
                sk_prefix: Some(format!("NIGHT#{month}")),
                ..Default::default()
            };
            for item in self.table.query(&q).await? {
                let night = item
                    .get("sk")
                    .and_then(Value::as_str)
                    .and_then(|sk| sk.strip_prefix("NIGHT#"))
                    .and_then(|d| parse_date("night", d).ok());
                if let Some(night) = night {
                    held.insert(night, item.get("held").and_then(Value::as_i64).unwrap_or(0));
                }
            }
        }
        Ok(held)
    }
}
