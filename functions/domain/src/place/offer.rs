//! Offers: a stay priced under one rate plan, with its policy resolved. The one function quote,
//! search and booking all price through, so the three cannot disagree.
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::model::PlaceFacts;
use super::pricing::{NightPrice, stay_nights};
use super::restrictions;
use super::room_type::{BookedRoomType, RoomType};
use crate::error::{DomainError, DomainResult};
use crate::stay::Stay;
use crate::terms::{CancellationPolicy, Currency, PolicySnapshot, RatePlan};

/// The plan as a booking keeps it (a copy: the owner may change or drop the plan later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookedPlan {
    pub rate_plan_id: String,
    pub name: String,
    pub price_adjustment_percent: i32,
}

/// A stay in one room type under one plan: what each night costs a room, what it all costs, and
/// what a cancel keeps when booked at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub room_type: BookedRoomType,
    #[serde(flatten)]
    pub plan: BookedPlan,
    /// Per room, after the plan's adjustment.
    pub nights: Vec<NightPrice>,
    pub rooms: i64,
    pub total: i64,
    pub currency: Currency,
    pub cancellation_policy: PolicySnapshot,
}

/// The part of an offer a quote keeps, so a booking within its validity gets exactly it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotedOffer {
    /// `standard` in quotes stored before room types.
    #[serde(default)]
    pub room_type: BookedRoomType,
    pub plan: BookedPlan,
    pub policy: CancellationPolicy,
    pub nights: Vec<NightPrice>,
    pub total: i64,
}

impl QuotedOffer {
    pub fn of(offer: &Offer, policy: &CancellationPolicy) -> Self {
        Self {
            room_type: offer.room_type.clone(),
            plan: offer.plan.clone(),
            policy: policy.clone(),
            nights: offer.nights.clone(),
            total: offer.total,
        }
    }
}

/// `plan`'s nights of `stay` in a room of `room_type`.
pub fn plan_nights(room_type: &RoomType, plan: &RatePlan, stay: &Stay) -> Vec<NightPrice> {
    stay_nights(room_type.prices(), stay)
        .into_iter()
        .map(|n| NightPrice {
            date: n.date,
            nightly_price: plan.night_price(n.nightly_price),
        })
        .collect()
}

/// What is sold, before it is priced for some rooms: a room type under a plan, at these prices
/// of a room per night.
#[derive(Debug, Clone)]
pub struct Sold {
    pub room_type: BookedRoomType,
    pub plan: BookedPlan,
    pub nights: Vec<NightPrice>,
}

/// Prices `sold` for `rooms` and resolves `policy` as booked at `now`.
pub fn price_offer(
    place: &PlaceFacts,
    sold: Sold,
    policy: &CancellationPolicy,
    stay: &Stay,
    rooms: i64,
    now: OffsetDateTime,
) -> DomainResult<Offer> {
    let Sold {
        room_type,
        plan,
        nights,
    } = sold;
    let too_large = || DomainError::invalid("rooms", "the amount is too large");
    let per_night: Vec<i64> = nights
        .iter()
        .map(|n| n.nightly_price.checked_mul(rooms).ok_or_else(too_large))
        .collect::<DomainResult<_>>()?;
    let total = per_night
        .iter()
        .try_fold(0i64, |sum, n| sum.checked_add(*n))
        .ok_or_else(too_large)?;
    let zone = place.time_zone.zone()?;
    let check_in = (stay.check_in, place.check_in_time);
    let cancellation_policy = policy.resolve(&zone, place.currency, now, check_in, &per_night)?;
    Ok(Offer {
        room_type,
        plan,
        nights,
        rooms,
        total,
        currency: place.currency,
        cancellation_policy,
    })
}

/// The offer of `plan` for `rooms` rooms of `room_type` for `stay`, booked at `now` (the stay
/// rules are the caller's to check: `offers`, a booking, search).
pub fn offer(
    place: &PlaceFacts,
    room_type: &RoomType,
    plan: &RatePlan,
    stay: &Stay,
    rooms: i64,
    now: OffsetDateTime,
) -> DomainResult<Offer> {
    let booked = BookedPlan {
        rate_plan_id: plan.rate_plan_id.clone(),
        name: plan.name.clone(),
        price_adjustment_percent: plan.price_adjustment_percent,
    };
    let sold = Sold {
        room_type: room_type.booked(),
        plan: booked,
        nights: plan_nights(room_type, plan, stay),
    };
    price_offer(place, sold, &plan.cancellation_policy, stay, rooms, now)
}

/// Every `(room type, plan)` offer the stay rules allow, room types then plans in the owner's
/// order; a 422 (the first room type's refusal) when they allow none.
pub fn offers(
    place: &PlaceFacts,
    stay: &Stay,
    rooms: i64,
    now: OffsetDateTime,
) -> DomainResult<Vec<Offer>> {
    let mut offers = Vec::new();
    let mut refusal = None;
    for room_type in &place.room_types {
        if let Err(e) = restrictions::check(&place.restrictions, &room_type.room_type_id, stay) {
            refusal.get_or_insert(e);
            continue;
        }
        for plan in place
            .rate_plans
            .iter()
            .filter(|p| p.sells(&room_type.room_type_id))
        {
            offers.push(offer(place, room_type, plan, stay, rooms, now)?);
        }
    }
    match refusal {
        Some(e) if offers.is_empty() => Err(e),
        _ => Ok(offers),
    }
}
