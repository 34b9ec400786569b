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
    DEFAULT_GUESTS, MAX_CITY_CHARS, MAX_GUESTS, PriceRule, Prices, Restriction, STANDARD_ROOM_TYPE,
    StayAsked, covers, offer, pricing, query_integer, restrictions,
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
    /// The guests one room of the offer's room type sleeps.
    pub guests: i64,
    pub instant_book: bool,
    /// The offer's room type's price of a night no price rule covers.
    pub nightly_price: i64,
    /// What the stay costs for the rooms asked under the cheapest offer: the amount a reservation
    /// of that room type and rate plan would have.
    pub total: i64,
    /// The fewest rooms of the offer's room type free on any night of the stay.
    pub free: i64,
    pub currency: Currency,
    /// The cheapest offer (the first of equal ones): its room type, plan and policy, as if booked
    /// now.
    pub room_type_id: String,
    pub room_type_name: String,
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

/// Rooms held on each night of the stay, per place and room type, from the month items of the
/// stay. Built once per search, so pricing 10,000 places does not allocate a key per place and
/// night.
struct Held<'a> {
    nights: usize,
    by_place: HashMap<&'a str, Vec<(&'a str, Vec<i64>)>>,
}

impl<'a> Held<'a> {
    /// `months`: the stay's nights in each calendar month it touches, in order, with that
    /// month's items.
    fn new(months: &'a [(Vec<Date>, Vec<Item>)]) -> Held<'a> {
        let nights = months.iter().map(|(dates, _)| dates.len()).sum();
        let mut by_place: HashMap<&str, Vec<(&str, Vec<i64>)>> = HashMap::new();
        let mut first = 0;
        for (dates, items) in months {
            // Where each day of the month falls in the stay.
            let mut index = [None; 32];
            for (i, d) in dates.iter().enumerate() {
                index[usize::from(d.day())] = Some(first + i);
            }
            for item in items {
                let Some(place) = item.get("sk").and_then(Value::as_str).and_then(place_of_sk)
                else {
                    continue;
                };
                let types = by_place.entry(place).or_default();
                for (attr, value) in item {
                    let Some((day, room_type)) = parse_day_attr(attr) else {
                        continue;
                    };
                    let Some(i) = index[usize::from(day)] else {
                        continue;
                    };
                    let at = match types.iter().position(|(t, _)| *t == room_type) {
                        Some(at) => at,
                        None => {
                            types.push((room_type, vec![0; nights]));
                            types.len() - 1
                        }
                    };
                    types[at].1[i] = value.as_i64().unwrap_or(0);
                }
            }
            first += dates.len();
        }
        Held { nights, by_place }
    }

    /// The fewest rooms free on any night of the stay, for a room type of `room_count` rooms.
    fn least_free(&self, place_id: &str, room_type: &str, room_count: i64) -> i64 {
        let held = self
            .by_place
            .get(place_id)
            .and_then(|types| types.iter().find(|(t, _)| *t == room_type))
            .map(|(_, held)| held);
        (0..self.nights)
            .map(|i| (room_count - held.map_or(0, |h| h[i])).max(0))
            .min()
            .unwrap_or(0)
    }
}

/// What ranking needs of a catalogue item, read in place: every place of the city is ranked, but
/// only the page's places are decoded whole (`SearchPlace`, descriptions and all). Absent fields
/// default as `PlaceFacts`'s do; without `roomTypes`, the top-level fields are its one room type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ranked<'a> {
    place_id: &'a str,
    /// The top-level fields of a place of one room type; absent when `roomTypes` lists them.
    #[serde(default)]
    room_count: i64,
    #[serde(default)]
    nightly_price: i64,
    #[serde(default = "default_guests")]
    guests: i64,
    #[serde(default)]
    price_rules: Vec<PriceRule>,
    #[serde(default, borrow)]
    room_types: Vec<RankedRoomType<'a>>,
    #[serde(default = "standard_adjustment")]
    rate_plans: Vec<RankedPlan>,
    #[serde(default)]
    restrictions: Vec<Restriction>,
}

/// Of a room type, what ranking needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RankedRoomType<'a> {
    room_type_id: &'a str,
    room_count: i64,
    #[serde(default = "default_guests")]
    max_guests: i64,
    nightly_price: i64,
    #[serde(default)]
    price_rules: Vec<PriceRule>,
}

impl RankedRoomType<'_> {
    fn prices(&self) -> Prices<'_> {
        Prices {
            nightly_price: self.nightly_price,
            rules: &self.price_rules,
        }
    }
}

/// Of a rate plan, what ranking needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RankedPlan {
    #[serde(default)]
    price_adjustment_percent: i32,
    #[serde(default)]
    room_type_ids: Option<Vec<String>>,
}

fn default_guests() -> i64 {
    DEFAULT_GUESTS
}

fn standard_adjustment() -> Vec<RankedPlan> {
    vec![RankedPlan {
        price_adjustment_percent: 0,
        room_type_ids: None,
    }]
}

impl<'a> Ranked<'a> {
    fn of(item: &'a Item) -> DomainResult<Ranked<'a>> {
        let mut ranked = Ranked::deserialize(item)
            .map_err(|e| DomainError::Misconfigured(format!("stored item does not decode: {e}")))?;
        if ranked.room_types.is_empty() {
            ranked.room_types.push(RankedRoomType {
                room_type_id: STANDARD_ROOM_TYPE,
                room_count: ranked.room_count,
                max_guests: ranked.guests,
                nightly_price: ranked.nightly_price,
                price_rules: std::mem::take(&mut ranked.price_rules),
            });
        }
        Ok(ranked)
    }
}

/// A place that has the rooms free every night: the stay's total there, and where its item is.
struct Match<'a> {
    total: i64,
    place_id: &'a str,
    free: i64,
    index: usize,
    /// The cheapest offer's room type and plan (indices).
    room_type: usize,
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
            if let Some(cheapest) = priced(&request, &place, &held) {
                matches.push(Match {
                    total: cheapest.total,
                    place_id: place.place_id,
                    free: cheapest.free,
                    index,
                    room_type: cheapest.room_type,
                    plan: cheapest.plan,
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

/// The cheapest offer of a place: its total, the fewest rooms of its room type free, and which
/// room type and plan (indices) it is.
struct Cheapest {
    total: i64,
    free: i64,
    room_type: usize,
    plan: usize,
}

/// The cheapest offer of `place` for `request` (the first of equal ones, in the owner's order)
/// among the room types that sleep the guests, allow the stay and have the rooms free every night.
fn priced(request: &SearchRequest, place: &Ranked, held: &Held) -> Option<Cheapest> {
    let mut cheapest: Option<Cheapest> = None;
    for (t, room_type) in place.room_types.iter().enumerate() {
        let sleeps = request
            .guests
            .is_none_or(|g| room_type.max_guests.saturating_mul(request.rooms) >= g);
        let id = room_type.room_type_id;
        if !sleeps || restrictions::check(&place.restrictions, id, &request.stay).is_err() {
            continue;
        }
        let free = held.least_free(place.place_id, id, room_type.room_count);
        if free < request.rooms {
            continue;
        }
        let calendar = pricing::stay_nights(room_type.prices(), &request.stay);
        // As `place::offer` prices a plan: each night adjusted (rounded down), times the rooms.
        for (p, plan) in place.rate_plans.iter().enumerate() {
            if !covers(plan.room_type_ids.as_deref(), id) {
                continue;
            }
            let adjust = 100 + i64::from(plan.price_adjustment_percent);
            let per_room: i64 = calendar
                .iter()
                .map(|n| n.nightly_price * adjust / 100)
                .sum();
            let total = per_room.saturating_mul(request.rooms);
            if cheapest.as_ref().is_none_or(|c| total < c.total) {
                cheapest = Some(Cheapest {
                    total,
                    free,
                    room_type: t,
                    plan: p,
                });
            }
        }
    }
    cheapest
}

/// A place of the page, with what the stay costs there under its cheapest offer (priced again by
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
    let vanished = || DomainError::Misconfigured("a ranked offer vanished".into());
    let plan = facts.rate_plans.get(m.plan).ok_or_else(vanished)?;
    let room_type = facts.room_types.get(m.room_type).ok_or_else(vanished)?;
    let offer = offer(&facts, room_type, plan, &request.stay, request.rooms, now)?;
    let (total, free) = (m.total, m.free);
    Ok(SearchHit {
        currency: offer.currency,
        room_type_id: offer.room_type.room_type_id,
        room_type_name: offer.room_type.name,
        rate_plan_id: offer.plan.rate_plan_id,
        rate_plan_name: offer.plan.name,
        cancellation_policy: offer.cancellation_policy,
        guests: room_type.max_guests,
        nightly_price: room_type.nightly_price,
        place_id,
        name: facts.name,
        city: facts.city,
        address: facts.address,
        description: facts.description,
        instant_book: facts.instant_book,
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
        let hotel = item(json!({"placeId": "p4", "name": "Hotel", "placeVersion": 1,
            "roomTypes": [{"roomTypeId": "room-1", "name": "Double", "roomCount": 4, "nightlyPrice": 100},
                          {"roomTypeId": "suite", "name": "Suite", "roomCount": 1, "maxGuests": 4,
                           "nightlyPrice": 300, "priceRules": [{"from": "2027-01-01", "to": "2027-02-01", "nightlyPrice": 9}]}]}));
        let full = item(json!({"placeId": "p2", "name": "Loft", "roomCount": 5,
            "nightlyPrice": 90000, "placeVersion": 2, "guests": 4, "extra": [1, {"a": null}],
            "priceRules": [{"from": "2027-01-01", "to": "2027-02-01", "nightlyPrice": 7,
                "days": ["SAT"]}]}));
        for it in [sparse, full, hotel] {
            let whole: SearchPlace = from_item(it.clone()).expect("decodes");
            let ranked = Ranked::of(&it).expect("decodes");
            assert_eq!(ranked.place_id, whole.place_id);
            assert_eq!(ranked.room_types.len(), whole.facts.room_types.len());
            for (r, w) in ranked.room_types.iter().zip(&whole.facts.room_types) {
                assert_eq!(r.room_type_id, w.room_type_id);
                assert_eq!(r.room_count, w.room_count);
                assert_eq!(r.max_guests, w.max_guests);
                assert_eq!(r.prices(), w.prices());
            }
        }
        let broken = item(json!({"placeId": "p3", "roomCount": "3", "nightlyPrice": 1}));
        assert!(matches!(
            Ranked::of(&broken),
            Err(DomainError::Misconfigured(_))
        ));
    }
}
