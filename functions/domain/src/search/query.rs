//! One search: the request's rules, the reads (one Query of the city's catalogue partition and one
//! per calendar month the stay touches, eventually consistent), what is free per night, the price
//! of the stay, the order (cheapest first, then the place id) and the pages.
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, OffsetDateTime};

use super::keys::*;
use super::read_units::ReadUnits;
use super::{SearchPlace, SearchService};
use crate::error::{DomainError, DomainResult};
use crate::item::from_item;
use crate::place::{
    DEFAULT_GUESTS, MAX_CITY_CHARS, MAX_GUESTS, PriceRule, Prices, Restriction, StayAsked, offer,
    pricing, query_integer, restrictions,
};
use crate::reservation::MAX_ROOMS_PER_RESERVATION;
use crate::stay::Stay;
use crate::store::{Item, Query};
use crate::terms::{Currency, PolicySnapshot};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 50;

/// Where a page ends in the search's order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    total: i64,
    place_id: String,
}

/// A validated `GET /v1/search`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// Trimmed, as given.
    pub city: String,
    pub stay: Stay,
    pub rooms: i64,
    pub guests: Option<i64>,
    pub limit: usize,
    after: Option<Position>,
}

/// One place of a result page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub place_id: String,
    pub name: String,
    pub city: String,
    pub address: String,
    pub description: String,
    pub guests: i64,
    pub instant_book: bool,
    pub nightly_price: i64,
    /// What the stay costs for the rooms asked under the cheapest rate plan: the amount a
    /// reservation of it under that plan would have.
    pub total: i64,
    /// The fewest rooms free on any night of the stay.
    pub free: i64,
    pub currency: Currency,
    /// The cheapest plan (the first of equal ones) and its policy, as if booked now.
    pub rate_plan_id: String,
    pub rate_plan_name: String,
    pub cancellation_policy: PolicySnapshot,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    pub items: Vec<SearchHit>,
    pub next_cursor: Option<String>,
    /// What the reads of this search cost on DynamoDB.
    #[serde(skip)]
    pub read_units: ReadUnits,
}

impl SearchRequest {
    /// From the query string; the stay follows a reservation's rules (`today` is UTC's).
    pub fn parse(q: &BTreeMap<String, String>, today: Date) -> DomainResult<SearchRequest> {
        let given = q.get("city").map(String::as_str).unwrap_or_default();
        if given.chars().count() > MAX_CITY_CHARS {
            return Err(DomainError::invalid(
                "city",
                format!("at most {MAX_CITY_CHARS} characters"),
            ));
        }
        let city = given.trim();
        if city.is_empty() {
            return Err(DomainError::invalid("city", "required, not blank"));
        }
        let StayAsked { stay, rooms } = StayAsked::parse(q, today)?;
        let max_guests = MAX_GUESTS * MAX_ROOMS_PER_RESERVATION;
        let guests = query_integer(q, "guests", (1, max_guests))?;
        let limit =
            query_integer(q, "limit", (1, MAX_LIMIT as i64))?.map_or(DEFAULT_LIMIT, |l| l as usize);
        let mut request = SearchRequest {
            city: city.to_string(),
            stay,
            rooms,
            guests,
            limit,
            after: None,
        };
        if let Some(cursor) = q.get("cursor") {
            request.after =
                Some(request.decode_cursor(cursor).ok_or_else(|| {
                    DomainError::invalid("cursor", "not a cursor of this search")
                })?);
        }
        Ok(request)
    }

    /// What a cursor is bound to: the same search (city, stay, rooms, guests), any page size.
    fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            city_key(&self.city),
            self.stay.check_in_str(),
            self.stay.check_out_str(),
            self.rooms,
            self.guests.unwrap_or(0)
        )
    }

    /// What a cursor's position is checked against: the search and the position, hashed.
    fn check(&self, total: i64, place_id: &str) -> String {
        let text = format!("{}|{total}|{place_id}", self.fingerprint());
        format!("{:016x}", fnv1a(&text))
    }

    /// Opaque to clients: lowercase hex of `<check>:<total>:<placeId>`.
    fn encode_cursor(&self, at: &Position) -> String {
        let check = self.check(at.total, &at.place_id);
        let text = format!("{check}:{}:{}", at.total, at.place_id);
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// `None` for anything `encode_cursor` did not make for this search: a client may send
    /// anything, and an altered cursor fails its check.
    fn decode_cursor(&self, cursor: &str) -> Option<Position> {
        let canonical = cursor.len().is_multiple_of(2)
            && cursor.len() <= 1_000
            && cursor
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !canonical {
            return None;
        }
        let bytes = (0..cursor.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, ':');
        let (check, total, place_id) = (parts.next()?, parts.next()?, parts.next()?);
        let total: i64 = total.parse().ok()?;
        (check == self.check(total, place_id)).then(|| Position {
            total,
            place_id: place_id.to_string(),
        })
    }
}

/// FNV-1a, 64 bits: a check that catches altered cursors (not a secret: a client that forges one
/// only moves its own page).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Rooms held on each night of the stay, per place, from the month items of the stay. Built once
/// per search, so pricing 10,000 places does not allocate a key per place and night.
struct Held<'a> {
    nights: usize,
    by_place: HashMap<&'a str, Vec<i64>>,
}

impl<'a> Held<'a> {
    /// `months`: the stay's nights in each calendar month it touches, in order, with that
    /// month's items.
    fn new(months: &'a [(Vec<Date>, Vec<Item>)]) -> Held<'a> {
        let nights = months.iter().map(|(dates, _)| dates.len()).sum();
        let mut by_place: HashMap<&str, Vec<i64>> = HashMap::new();
        let mut first = 0;
        for (dates, items) in months {
            let attrs: Vec<String> = dates.iter().map(|d| day_attr(*d)).collect();
            for item in items {
                let Some(place) = item.get("sk").and_then(Value::as_str).and_then(place_of_sk)
                else {
                    continue;
                };
                let held = by_place.entry(place).or_insert_with(|| vec![0; nights]);
                for (i, attr) in attrs.iter().enumerate() {
                    held[first + i] = item.get(attr).and_then(Value::as_i64).unwrap_or(0);
                }
            }
            first += dates.len();
        }
        Held { nights, by_place }
    }

    /// The fewest rooms free on any night of the stay, for a place of `room_count` rooms.
    fn least_free(&self, place_id: &str, room_count: i64) -> i64 {
        let held = self.by_place.get(place_id);
        (0..self.nights)
            .map(|i| (room_count - held.map_or(0, |h| h[i])).max(0))
            .min()
            .unwrap_or(0)
    }
}

/// What ranking needs of a catalogue item, read in place: every place of the city is ranked, but
/// only the page's places are decoded whole (`SearchPlace`, descriptions and all). Absent fields
/// default as `PlaceFacts`'s do.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ranked<'a> {
    place_id: &'a str,
    room_count: i64,
    nightly_price: i64,
    #[serde(default = "default_guests")]
    guests: i64,
    #[serde(default)]
    price_rules: Vec<PriceRule>,
    #[serde(default = "standard_adjustment")]
    rate_plans: Vec<RankedPlan>,
    #[serde(default)]
    restrictions: Vec<Restriction>,
}

/// Of a rate plan, what ranking needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RankedPlan {
    #[serde(default)]
    price_adjustment_percent: i32,
}

fn default_guests() -> i64 {
    DEFAULT_GUESTS
}

fn standard_adjustment() -> Vec<RankedPlan> {
    vec![RankedPlan {
        price_adjustment_percent: 0,
    }]
}

impl<'a> Ranked<'a> {
    fn of(item: &'a Item) -> DomainResult<Ranked<'a>> {
        Ranked::deserialize(item)
            .map_err(|e| DomainError::Misconfigured(format!("stored item does not decode: {e}")))
    }

    fn prices(&self) -> Prices<'_> {
        Prices {
            nightly_price: self.nightly_price,
            rules: &self.price_rules,
        }
    }
}

/// A place that has the rooms free every night: the stay's total there, and where its item is.
struct Match<'a> {
    total: i64,
    place_id: &'a str,
    free: i64,
    index: usize,
    /// The cheapest plan's index.
    plan: usize,
}

impl Match<'_> {
    /// Where it sorts: cheapest first, then by place id.
    fn position(&self) -> (i64, &str) {
        (self.total, self.place_id)
    }
}

impl SearchService {
    /// The page of places in the request's city with `rooms` free on every night of the stay.
    pub async fn search(&self, q: &BTreeMap<String, String>) -> DomainResult<SearchPage> {
        let now = self.clock.now();
        let today = now.date();
        let request = SearchRequest::parse(q, today)?;
        let key = city_key(&request.city);
        let catalogue = self.query_all(catalogue_partition(&key)).await?;
        let mut read_units = ReadUnits::eventually_consistent_query(&catalogue);
        let mut months = Vec::new();
        for (month, nights) in nights_by_month(&request.stay) {
            let items = self.query_all(month_partition(&key, &month)).await?;
            read_units = read_units + ReadUnits::eventually_consistent_query(&items);
            months.push((nights, items));
        }
        let held = Held::new(&months);
        let mut matches = Vec::new();
        for (index, item) in catalogue.iter().enumerate() {
            let place = Ranked::of(item)?;
            if let Some((total, free, plan)) = priced(&request, &place, &held)? {
                matches.push(Match {
                    total,
                    place_id: place.place_id,
                    free,
                    index,
                    plan,
                });
            }
        }
        matches.sort_by(|a, b| a.position().cmp(&b.position()));
        let after = request.after.as_ref();
        let mut rest = matches
            .iter()
            .filter(|m| after.is_none_or(|at| m.position() > (at.total, at.place_id.as_str())));
        let items = rest
            .by_ref()
            .take(request.limit)
            .map(|m| hit(from_item(catalogue[m.index].clone())?, &request, m, now))
            .collect::<DomainResult<Vec<SearchHit>>>()?;
        let next_cursor = match (rest.next(), items.last()) {
            (Some(_), Some(last)) => Some(request.encode_cursor(&Position {
                total: last.total,
                place_id: last.place_id.clone(),
            })),
            _ => None,
        };
        Ok(SearchPage {
            items,
            next_cursor,
            read_units,
        })
    }

    async fn query_all(&self, partition: String) -> DomainResult<Vec<Item>> {
        let q = Query {
            partition,
            sk_prefix: Some("PLACE#".into()),
            eventually_consistent: true,
            ..Default::default()
        };
        Ok(self.table.query(&q).await?)
    }
}

/// The cheapest plan's total, the fewest free rooms and that plan of `place` for `request`, if it
/// sleeps the guests and has the rooms free every night.
fn priced(
    request: &SearchRequest,
    place: &Ranked,
    held: &Held,
) -> DomainResult<Option<(i64, i64, usize)>> {
    if request
        .guests
        .is_some_and(|g| place.guests.saturating_mul(request.rooms) < g)
    {
        return Ok(None);
    }
    if restrictions::check(&place.restrictions, &request.stay).is_err() {
        return Ok(None);
    }
    let free = held.least_free(place.place_id, place.room_count);
    if free < request.rooms {
        return Ok(None);
    }
    let calendar = pricing::stay_nights(place.prices(), &request.stay);
    // As `place::offer` prices a plan: each night adjusted (rounded down), times the rooms.
    let cheapest = place
        .rate_plans
        .iter()
        .enumerate()
        .map(|(i, plan)| {
            let adjust = 100 + i64::from(plan.price_adjustment_percent);
            let per_room: i64 = calendar
                .iter()
                .map(|n| n.nightly_price * adjust / 100)
                .sum();
            (per_room.saturating_mul(request.rooms), i)
        })
        .min();
    Ok(cheapest.map(|(total, plan)| (total, free, plan)))
}

/// A place of the page, with what the stay costs there under its cheapest plan (priced again by
/// the one offer function, which a test holds equal to the ranking) and the fewest rooms free.
fn hit(
    place: SearchPlace,
    request: &SearchRequest,
    m: &Match<'_>,
    now: OffsetDateTime,
) -> DomainResult<SearchHit> {
    let SearchPlace {
        place_id, facts, ..
    } = place;
    let plan = facts
        .rate_plans
        .get(m.plan)
        .ok_or_else(|| DomainError::Misconfigured("a ranked plan vanished".into()))?;
    let offer = offer(&facts, plan, &request.stay, request.rooms, now)?;
    let (total, free) = (m.total, m.free);
    Ok(SearchHit {
        currency: offer.currency,
        rate_plan_id: offer.plan.rate_plan_id,
        rate_plan_name: offer.plan.name,
        cancellation_policy: offer.cancellation_policy,
        place_id,
        name: facts.name,
        city: facts.city,
        address: facts.address,
        description: facts.description,
        guests: facts.guests,
        instant_book: facts.instant_book,
        nightly_price: facts.nightly_price,
        total,
        free,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        serde_json::from_value(v).expect("an object")
    }

    #[test]
    fn ranking_reads_an_item_as_the_whole_place_decodes_it() {
        let sparse = item(
            json!({"pk": "SEARCH#CITY#seoul", "sk": "PLACE#p1", "placeId": "p1",
            "name": "Hanok", "roomCount": 3, "nightlyPrice": 100000, "placeVersion": 1}),
        );
        let full = item(json!({"placeId": "p2", "name": "Loft", "roomCount": 5,
            "nightlyPrice": 90000, "placeVersion": 2, "guests": 4, "extra": [1, {"a": null}],
            "priceRules": [{"from": "2027-01-01", "to": "2027-02-01", "nightlyPrice": 7,
                "days": ["SAT"]}]}));
        for it in [sparse, full] {
            let whole: SearchPlace = from_item(it.clone()).expect("decodes");
            let ranked = Ranked::of(&it).expect("decodes");
            assert_eq!(ranked.place_id, whole.place_id);
            assert_eq!(ranked.room_count, whole.facts.room_count);
            assert_eq!(ranked.guests, whole.facts.guests);
            assert_eq!(ranked.prices(), whole.facts.prices());
        }
        let broken = item(json!({"placeId": "p3", "roomCount": "3", "nightlyPrice": 1}));
        assert!(matches!(
            Ranked::of(&broken),
            Err(DomainError::Misconfigured(_))
        ));
    }
}
