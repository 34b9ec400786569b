//! Quoted is charged. Every quote is kept as a record of the place context (`QUOTE#<token>`),
//! and its id is the quote's `priceToken`: a booking that presents it within `validUntil` is
//! priced exactly as quoted, whatever the owner changed since. After that the booking is priced
//! from the place as it is now, and refused with "the price changed" when that differs.
//!
//! A stored record rather than a signed token: nothing to keep secret or rotate, and the token
//! proves itself by existing. The record outlives its validity by a day (`expiresAt`, the table's
//! TTL), so a late booking is told the price changed rather than that the token is unknown.
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};

use super::model::Place;
use super::offer::{Offer, QuotedOffer, Sold, offer, price_offer};
use super::room_type::RoomType;
use crate::error::{DomainError, DomainResult};
use crate::records;
use crate::stay::Stay;
use crate::store::{Key, Table};
use crate::terms::RatePlan;

/// How long a quote's price holds by default (`QuoteValiditySeconds` in the template).
pub const DEFAULT_QUOTE_VALIDITY_SECONDS: u64 = 1_800;
/// How long a record is kept past its validity before the table's TTL may delete it.
const KEPT_AFTER_VALIDITY: Duration = Duration::days(1);

/// One quote as stored, and what a booking presenting its token is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotedPrice {
    pub price_token: String,
    /// Who asked: a quote is a price held for that guest, not a code anybody may pass around.
    pub user_id: String,
    pub place_id: String,
    #[serde(with = "crate::stay::iso_date")]
    pub check_in: Date,
    #[serde(with = "crate::stay::iso_date")]
    pub check_out: Date,
    pub rooms: i64,
    /// The first offer's total (what a booking naming no plan is charged).
    pub total: i64,
    /// Every plan's offer as quoted (quotes stored before plans have none).
    #[serde(default)]
    pub offers: Vec<QuotedOffer>,
    /// The place's version the quote priced.
    pub place_version: u64,
    /// RFC 3339: the price holds until then.
    pub valid_until: String,
    /// Epoch seconds: the table's TTL attribute.
    pub expires_at: i64,
}

impl QuotedPrice {
    pub fn key(price_token: &str) -> Key {
        Key::new(format!("QUOTE#{price_token}"), "QUOTE")
    }

    pub fn new(
        user_id: &str,
        place: &Place,
        stay: &Stay,
        rooms: i64,
        offers: &[Offer],
        now: OffsetDateTime,
        validity_seconds: u64,
    ) -> Self {
        let quoted: Vec<QuotedOffer> = offers
            .iter()
            .filter_map(|o| {
                let plan = place.facts.rate_plan(Some(&o.plan.rate_plan_id))?;
                Some(QuotedOffer::of(o, &plan.cancellation_policy))
            })
            .collect();
        let valid_until = now + Duration::seconds(validity_seconds.min(86_400) as i64);
        Self {
            price_token: uuid::Uuid::new_v4().simple().to_string(),
            user_id: user_id.to_string(),
            place_id: place.place_id.clone(),
            check_in: stay.check_in,
            check_out: stay.check_out,
            rooms,
            total: offers.first().map_or(0, |o| o.total),
            offers: quoted,
            place_version: place.version,
            valid_until: rfc3339(valid_until),
            expires_at: (valid_until + KEPT_AFTER_VALIDITY).unix_timestamp(),
        }
    }

    fn valid_at(&self, now: OffsetDateTime) -> bool {
        let until = OffsetDateTime::parse(
            &self.valid_until,
            &time::format_description::well_known::Rfc3339,
        );
        until.is_ok_and(|until| now < until)
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A token as clients send it: what the quote answered, nothing else (32 lower-case hex digits).
fn check_token(token: &str) -> DomainResult<()> {
    if token.len() == 32
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "priceToken",
            "must be the priceToken a quote answered",
        ))
    }
}

/// What a booking asks to be priced: `user_id`'s stay of `rooms` rooms of a room type under a
/// rate plan (see `choose`), with a quote's token or none.
#[derive(Debug, Clone, Copy)]
pub struct Booking<'a> {
    pub user_id: &'a str,
    pub stay: &'a Stay,
    pub rooms: i64,
    pub room_type_id: Option<&'a str>,
    pub rate_plan_id: Option<&'a str>,
    pub token: Option<&'a str>,
}

/// The room type and plan a booking names. Left out, the room type is the first the plan sells
/// (the place's first without a plan) and the plan the first that sells the room type.
pub fn choose<'p>(
    place: &'p Place,
    room_type_id: Option<&str>,
    rate_plan_id: Option<&str>,
) -> DomainResult<(&'p RoomType, &'p RatePlan)> {
    let facts = &place.facts;
    let ask_quote = "ask for a quote to see its offers";
    let plan = match rate_plan_id {
        None => None,
        Some(id) => Some(facts.rate_plan(Some(id)).ok_or_else(|| {
            DomainError::invalid(
                "ratePlanId",
                format!(
                    "is not a rate plan of place {}: {ask_quote}",
                    place.place_id
                ),
            )
        })?),
    };
    let room_type = match (room_type_id, plan) {
        (Some(id), _) => facts.room_type(Some(id)).ok_or_else(|| {
            DomainError::invalid(
                "roomTypeId",
                format!(
                    "is not a room type of place {}: {ask_quote}",
                    place.place_id
                ),
            )
        })?,
        (None, Some(plan)) => facts
            .room_types
            .iter()
            .find(|t| plan.sells(&t.room_type_id))
            .ok_or_else(|| DomainError::invalid("ratePlanId", "sells no room type"))?,
        (None, None) => facts
            .room_type(None)
            .ok_or_else(|| DomainError::invalid("roomTypeId", "the place has no room type"))?,
    };
    let id = &room_type.room_type_id;
    let plan = match plan {
        Some(plan) if plan.sells(id) => plan,
        Some(plan) => {
            return Err(DomainError::invalid(
                "ratePlanId",
                format!(
                    "rate plan '{}' does not sell room type '{id}': {ask_quote}",
                    plan.rate_plan_id
                ),
            ));
        }
        None => facts
            .rate_plans
            .iter()
            .find(|p| p.sells(id))
            .ok_or_else(|| DomainError::invalid("roomTypeId", "no rate plan sells it"))?,
    };
    Ok((room_type, plan))
}

/// The offer `booking` at `place` (read just now) gets, as booked at `now`: the quoted one while
/// the token holds, else the place's as it is. The token's single use is the booking's to record
/// (with the reservation it makes).
pub async fn price_booking(
    table: &dyn Table,
    place: &Place,
    booking: Booking<'_>,
    now: OffsetDateTime,
) -> DomainResult<Offer> {
    let Booking {
        user_id,
        stay,
        rooms,
        room_type_id,
        rate_plan_id,
        token,
    } = booking;
    let (room_type, plan) = choose(place, room_type_id, rate_plan_id)?;
    // Stay rules are the place's now, whatever was quoted: they say what may be sold at all.
    super::restrictions::check(&place.facts.restrictions, &room_type.room_type_id, stay)?;
    let current = || offer(&place.facts, room_type, plan, stay, rooms, now);
    let Some(token) = token else {
        return current();
    };
    check_token(token)?;
    let quoted: Option<QuotedPrice> = records::get(table, &QuotedPrice::key(token)).await?;
    let Some(quoted) = quoted else {
        return Err(DomainError::PriceChanged {
            detail: "the quote is unknown or too old: quote again".into(),
            total: current()?.total,
        });
    };
    if quoted.place_id != place.place_id
        || quoted.check_in != stay.check_in
        || quoted.check_out != stay.check_out
        || quoted.rooms != rooms
    {
        return Err(DomainError::invalid(
            "priceToken",
            "was quoted for another place, stay or number of rooms",
        ));
    }
    if quoted.user_id != user_id {
        return Err(DomainError::invalid(
            "priceToken",
            "was quoted for another user",
        ));
    }
    let as_quoted = quoted.offers.iter().find(|o| {
        o.room_type.room_type_id == room_type.room_type_id
            && o.plan.rate_plan_id == plan.rate_plan_id
    });
    if quoted.valid_at(now)
        && let Some(q) = as_quoted
    {
        let sold = Sold {
            room_type: q.room_type.clone(),
            plan: q.plan.clone(),
            nights: q.nights.clone(),
        };
        return price_offer(&place.facts, sold, &q.policy, stay, rooms, now);
    }
    if !quoted.offers.is_empty() && as_quoted.is_none() {
        return Err(DomainError::invalid(
            "ratePlanId",
            "the quote has no offer of this room type and rate plan: quote again",
        ));
    }
    // Expired, or quoted before plans: good only while the price is still the same.
    let now_offer = current()?;
    let quoted_total = as_quoted.map_or(quoted.total, |q| q.total);
    if quoted_total == now_offer.total {
        return Ok(now_offer);
    }
    Err(DomainError::PriceChanged {
        detail: format!(
            "the quote of {quoted_total} expired at {} and the price changed: the total is now {}",
            quoted.valid_until, now_offer.total
        ),
        total: now_offer.total,
    })
}
